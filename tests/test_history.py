"""The run history: a hive-partitioned Parquet dataset, appended atomically, readable by anyone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

import schemas.io
from conftest import PROJECT_ROOT
from orchestrator.history import store as history
from schemas import io, tables

RUN_A = "20261129T120000Z-aaaaaa"  # host bench-1, fingerprint f1
RUN_B = "20261129T130000Z-bbbbbb"  # host bench-1, fingerprint f1, later the same day
RUN_C = "20261130T090000Z-cccccc"  # another host with another fingerprint, the next day
FRAMEWORKS = ("pytorch", "onnxruntime")
SAMPLES_PER_CELL = 7


def _filler(field: pa.Field, index: int) -> Any:
    """A non-null value of the field's type, so every column is filled."""
    if pa.types.is_string(field.type):
        return f"{field.name}-{index}"
    if pa.types.is_integer(field.type):
        return index + 1
    if pa.types.is_floating(field.type):
        return 1.5 + index
    if pa.types.is_boolean(field.type):
        return True
    raise AssertionError(f"no filler for {field}")


def summary_row(run_id: str, framework: str, index: int) -> dict[str, Any]:
    """A SUMMARY row with every column filled."""
    row = {field.name: _filler(field, index) for field in tables.SUMMARY}
    row.update(
        run_id=run_id,
        cell_id=f"{run_id}-{framework}",
        config_id=f"{framework}-offline-b1000-t2",
        framework=framework,
        model="spam-mlp",
        scenario="offline",
        batch_size=1000,
        threads=2,
        cpus="0,1",
        precision="fp32",
        mode="isolated",
        status="ok",
        error="",
        warnings="",
    )
    return row


def samples_table(run_id: str, frameworks: tuple[str, ...] = FRAMEWORKS) -> pa.Table:
    """A SAMPLES table: SAMPLES_PER_CELL timed calls for each framework."""
    rows = [
        {
            "run_id": run_id,
            "cell_id": f"{run_id}-{framework}",
            "config_id": f"{framework}-offline-b1000-t2",
            "framework": framework,
            "model": "mlp",
            "repeat": 0,
            "pid": 1000 + f,
            "iteration": i,
            "latency_ns": 1_000_000 + 10 * i + f,
        }
        for f, framework in enumerate(frameworks)
        for i in range(SAMPLES_PER_CELL)
    ]
    return pa.Table.from_pylist(rows, schema=tables.SAMPLES)


def make_run(
    output: Path,
    run_id: str,
    hostname: str = "bench-1",
    fingerprint: str | None = "f1",
    git_commit: str | None = "0123abc",
    packages: dict[str, str | None] | None = None,
) -> Path:
    """A run directory as the orchestrator writes it; None leaves a key out of environment.json."""
    run_dir = output / run_id
    run_dir.mkdir(parents=True)
    rows = [summary_row(run_id, framework, i) for i, framework in enumerate(FRAMEWORKS)]
    io.write_table(pa.Table.from_pylist(rows, schema=tables.SUMMARY), run_dir / "summary.parquet")
    io.write_table(samples_table(run_id), run_dir / "samples.parquet")
    environment: dict[str, Any] = {
        "host": {"hostname": hostname, "cpu_model": "AMD EPYC", "logical_cpus": 2, "allowed_cpus": [0, 1]},
        "python": {"version": "3.11.7"},
    }
    if fingerprint is not None:
        environment["fingerprint"] = fingerprint
    if git_commit is not None:
        environment["git_commit"] = git_commit
    environment["packages"] = packages if packages is not None else {"numpy": "2.4.6", "torch": None}
    io.write_json(environment, run_dir / "environment.json")
    io.write_json({"run_id": run_id}, run_dir / "plan.json")
    return run_dir


@pytest.fixture
def hist(tmp_path: Path) -> Path:
    """A history holding RUN_A and RUN_B (bench-1, f1) and RUN_C (another host, f2)."""
    history_dir = tmp_path / "history"
    results = tmp_path / "results"
    history.append_run(history_dir, make_run(results, RUN_A))
    history.append_run(history_dir, make_run(results, RUN_B))
    history.append_run(history_dir, make_run(results, RUN_C, hostname="other host!", fingerprint="f2"))
    return history_dir


def _files(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*") if path.is_file())


def test_append_writes_hive_partitions(tmp_path: Path) -> None:
    history_dir = tmp_path / "history"
    written = history.append_run(history_dir, make_run(tmp_path / "results", RUN_A))
    partition = Path("date=2026-11-29") / "host=bench-1" / f"{RUN_A}.parquet"
    assert written == [history_dir / "samples" / partition, history_dir / "summary" / partition]
    assert _files(history_dir) == sorted(written)
    for path in written:
        names = pq.read_schema(path).names
        assert "date" not in names and "host" not in names
    assert pq.read_schema(written[1]).names == [
        *tables.SUMMARY.names,
        "fingerprint",
        "git_commit",
        "versions_json",
    ]


def test_plain_pyarrow_reads_the_history(hist: Path) -> None:
    summary = ds.dataset(hist / "summary", format="parquet", partitioning="hive").to_table()
    assert summary.num_rows == 3 * len(FRAMEWORKS)
    runs = {(row["run_id"], str(row["date"]), str(row["host"])) for row in summary.to_pylist()}
    assert runs == {
        (RUN_A, "2026-11-29", "bench-1"),
        (RUN_B, "2026-11-29", "bench-1"),
        (RUN_C, "2026-11-30", "other_host"),
    }
    samples = pq.read_table(hist / "samples")  # a directory: hive partitions by default
    assert samples.num_rows == 3 * len(FRAMEWORKS) * SAMPLES_PER_CELL
    assert {"date", "host"} <= set(samples.column_names)
    same_day = ds.dataset(hist / "samples", format="parquet", partitioning="hive").to_table(
        filter=ds.field("host") == "bench-1"
    )
    assert set(same_day.column("run_id").to_pylist()) == {RUN_A, RUN_B}


def test_read_history_has_partitions_and_comparability_columns(hist: Path) -> None:
    table = history.read_history(hist)
    assert table.num_rows == 3 * len(FRAMEWORKS)
    rows = {row["run_id"]: row for row in table.to_pylist()}
    assert rows[RUN_C]["host"] == "other_host" and rows[RUN_C]["date"] == "2026-11-30"
    assert rows[RUN_A]["fingerprint"] == "f1" and rows[RUN_C]["fingerprint"] == "f2"
    assert rows[RUN_A]["git_commit"] == "0123abc"
    assert json.loads(rows[RUN_A]["versions_json"]) == {"numpy": "2.4.6", "torch": None}
    assert history.run_ids(hist) == [RUN_A, RUN_B, RUN_C]


def test_read_history_of_nothing_is_empty(tmp_path: Path) -> None:
    table = history.read_history(tmp_path / "nowhere")
    assert table.num_rows == 0
    assert {"fingerprint", "date", "host"} <= set(table.column_names)
    assert history.latest_comparable(tmp_path / "nowhere", "f1") is None


def test_latest_comparable_picks_newest_same_fingerprint(hist: Path) -> None:
    assert history.latest_comparable(hist, "f1") == RUN_B
    assert history.latest_comparable(hist, "f1", before_run_id=RUN_B) == RUN_A
    assert history.latest_comparable(hist, "f1", before_run_id=RUN_A) is None
    # RUN_C is newer, but on other hardware; a new run not yet in the history works too.
    assert history.latest_comparable(hist, "f1", before_run_id="20261201T000000Z-dddddd") == RUN_B
    assert history.latest_comparable(hist, "f2") == RUN_C
    assert history.latest_comparable(hist, "f2", before_run_id=RUN_C) is None
    assert history.latest_comparable(hist, "unknown") is None


def test_run_without_fingerprint_loads_but_is_never_comparable(tmp_path: Path) -> None:
    history_dir = tmp_path / "history"
    old = make_run(tmp_path / "results", RUN_A, fingerprint=None, git_commit=None, packages={})
    history.append_run(history_dir, old)
    row = history.read_history(history_dir).to_pylist()[0]
    assert row["fingerprint"] is None and row["git_commit"] is None
    assert history.latest_comparable(history_dir, "f1") is None


def test_load_history_run_round_trips(hist: Path, tmp_path: Path) -> None:
    rows, samples = history.load_history_run(hist, RUN_C)
    original = pq.read_table(tmp_path / "results" / RUN_C / "summary.parquet").to_pylist()
    assert [{k: row[k] for k in tables.SUMMARY.names} for row in rows] == original
    assert {row["host"] for row in rows} == {"other_host"} and rows[0]["fingerprint"] == "f2"
    assert samples.equals(samples_table(RUN_C))
    with pytest.raises(history.HistoryError, match="not in the history"):
        history.load_history_run(hist, "20200101T000000Z-000000")


def test_load_run_dir(tmp_path: Path) -> None:
    rows, samples, fingerprint = history.load_run_dir(make_run(tmp_path, RUN_A))
    assert len(rows) == len(FRAMEWORKS) and samples.num_rows == len(FRAMEWORKS) * SAMPLES_PER_CELL
    assert fingerprint == "f1"


def test_appending_a_run_twice_is_a_no_op(hist: Path, tmp_path: Path) -> None:
    before = {path: path.read_bytes() for path in _files(hist)}
    assert history.append_run(hist, tmp_path / "results" / RUN_B) == []
    assert {path: path.read_bytes() for path in _files(hist)} == before
    assert history.read_history(hist).num_rows == 3 * len(FRAMEWORKS)


def test_a_failed_append_leaves_no_trace_and_can_be_retried(
    hist: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write_table, real_atomic_write = schemas.io.write_table, schemas.io.atomic_write
    calls: list[Path] = []

    def torn(tmp: str) -> None:
        Path(tmp).write_bytes(b"PAR1 half a file")
        raise OSError("disk full")

    def failing_write_table(table: pa.Table, path: Path) -> None:
        calls.append(path)
        if len(calls) == 2:  # dies half-way through the second file, the summary
            real_atomic_write(path, torn)
        real_write_table(table, path)

    run_dir = make_run(tmp_path / "results", "20261201T000000Z-dddddd")
    before = history.read_history(hist)
    monkeypatch.setattr(schemas.io, "write_table", failing_write_table)
    with pytest.raises(OSError, match="disk full"):
        history.append_run(hist, run_dir)
    monkeypatch.undo()

    assert [path.parent.parent.parent.name for path in calls] == ["samples", "summary"]
    assert not [path for path in _files(hist) if path.name.endswith(".tmp")]
    assert history.read_history(hist).equals(before)
    assert "20261201T000000Z-dddddd" not in history.run_ids(hist)
    assert history.latest_comparable(hist, "f1") == RUN_B
    with pytest.raises(history.HistoryError):
        history.load_history_run(hist, "20261201T000000Z-dddddd")

    assert len(history.append_run(hist, run_dir)) == 2  # the retry completes the run
    assert history.latest_comparable(hist, "f1") == "20261201T000000Z-dddddd"
    assert history.read_history(hist).num_rows == 4 * len(FRAMEWORKS)


def test_run_dir_must_be_named_by_a_run_id(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path, RUN_A)
    renamed = run_dir.rename(tmp_path / "my-run")
    with pytest.raises(history.HistoryError, match="not a run id"):
        history.append_run(tmp_path / "history", renamed)


@pytest.mark.parametrize(
    ("hostname", "expected"),
    [
        ("bench-1.example.org", "bench-1.example.org"),
        ("my host/with=odd%chars", "my_host_with_odd_chars"),
        ("", "unknown"),
        (None, "unknown"),
        ("..", "unknown"),
        ("ÿþ", "unknown"),
    ],
)
def test_sanitise_host(hostname: str | None, expected: str) -> None:
    assert history.sanitise_host(hostname) == expected


def test_pandas_reads_the_history(hist: Path) -> None:
    import pandas as pd  # [dev] installs it: missing is a failure, not a skip

    frame = pd.read_parquet(hist / "summary")
    assert len(frame) == 3 * len(FRAMEWORKS)
    assert set(frame["host"].astype(str)) == {"bench-1", "other_host"}


def test_duckdb_reads_the_history(hist: Path) -> None:
    import duckdb  # [dev] installs it: missing is a failure, not a skip

    pattern = str(hist / "summary" / "**" / "*.parquet")
    query = f"SELECT host, count(*) FROM read_parquet('{pattern}', hive_partitioning = true) GROUP BY host"
    assert dict(duckdb.sql(query).fetchall()) == {
        "bench-1": 2 * len(FRAMEWORKS),
        "other_host": len(FRAMEWORKS),
    }


def test_polars_reads_the_history(hist: Path) -> None:
    import polars as pl  # [dev] installs it: missing is a failure, not a skip

    frame = pl.read_parquet(str(hist / "samples" / "**" / "*.parquet"), hive_partitioning=True)
    assert frame.height == 3 * len(FRAMEWORKS) * SAMPLES_PER_CELL
    assert set(frame["host"].cast(pl.Utf8).to_list()) == {"bench-1", "other_host"}


def test_an_unreadable_file_in_the_history_is_named_and_skipped(hist: Path, tmp_path: Path) -> None:
    """Random bytes where a summary should be: the reader names the file, once, and goes on."""
    bad = hist / "summary" / "date=2026-11-29" / "host=bench-1" / "part.parquet"
    bad.write_bytes(os.urandom(3000))
    proc = subprocess.run(
        [sys.executable, "-m", "orchestrator", "compare", str(hist), str(hist)],
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    skipped = [line for line in proc.stderr.splitlines() if "skipped" in line]
    assert len(skipped) == 1, proc.stderr  # once, however many times the history is read
    assert skipped[0].startswith(f"history: skipped {bad}: not a readable Parquet file (")
    assert "magic bytes" in skipped[0]
    assert history.run_ids(hist) == [RUN_A, RUN_B, RUN_C]  # the readable runs are all still there

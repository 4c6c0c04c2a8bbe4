"""The browsable history (``history report``): written from a history of fake-runner nights,
opened from disk in headless Chromium -- every configuration listed and plotted, the version
change marked, the injected regression listed with the runs on each side, no JavaScript error,
no request off the disk -- and its Atom feed parsed."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from rich.console import Console

from browser import Chromium
from conftest import run_cli
from orchestrator.history import store
from orchestrator.history.compare import is_regression
from orchestrator.history.regressions import record_and_compare
from orchestrator.history.site.series import build_series, changes_in

ATOM = "{http://www.w3.org/2005/Atom}"
# A budget that gives each process enough calls for a p50 and a verdict, in a few seconds (a
# batch of 64, not the MLP's 1000: the offline calls are what takes the time).
BUDGET = ["--warmup", "3", "--min-iterations", "100", "--min-time", "0", "--batch-size", "64"]


@dataclass(frozen=True)
class Nights:
    """A history of five nights of one fake-runner run and its site."""

    history: Path
    site: Path
    stdout: str
    old: str  # stored as schema version 5, not gated
    base: str  # gated against old
    upgraded: str  # the framework's version changed; gated
    slow: str  # every call slower: the gate's regression, recorded
    slow_again: str  # appended without the gate: judged by the site


def later_copy(run_dir: Path, minutes: int, factor: float = 1.0, version: str | None = None) -> Path:
    """The run as another night ``minutes`` later: its own run id, calls ``factor`` times as long."""
    moment = datetime.strptime(run_dir.name[:16], "%Y%m%dT%H%M%SZ") + timedelta(minutes=minutes)
    copy = run_dir.with_name(f"{moment:%Y%m%dT%H%M%SZ}-{minutes + 1000:06d}")
    shutil.copytree(run_dir, copy)
    for name in ("summary.parquet", "samples.parquet"):
        table = pq.read_table(copy / name)
        columns = {"run_id": pa.array([copy.name] * table.num_rows, pa.string())}
        for column in table.column_names:
            if column == "latency_ns":
                columns[column] = pc.cast(pc.round(pc.multiply(table[column], factor)), pa.int64())
            elif column.startswith("latency_ms_") and not column.endswith("spread_pct"):
                columns[column] = pc.multiply(table[column], factor)
        if version and "framework_version" in table.column_names:
            columns["framework_version"] = pa.array([version] * table.num_rows, pa.string())
        for column, values in columns.items():
            index = table.schema.get_field_index(column)
            table = table.set_column(index, table.schema.field(column), values)
        pq.write_table(table, copy / name)  # the schema's metadata (its version) kept
    return copy


def slowdown(run_dir: Path) -> float:
    """A factor every process of every configuration shows: 3x beyond the run's own spread."""
    samples = pq.read_table(run_dir / "samples.parquet", columns=["config_id", "pid", "latency_ns"])
    spreads = []
    for config in set(samples["config_id"].to_pylist()):
        mine = samples.filter(pc.equal(samples["config_id"], config))
        pids, latencies = mine["pid"].to_numpy(), mine["latency_ns"].to_numpy()
        p50s = [np.median(latencies[pids == pid]) for pid in np.unique(pids)]
        spreads.append(max(p50s) / min(p50s))
    return 3.0 * max(spreads)


def as_schema_5(history: Path, run_id: str) -> None:
    """Rewrite a stored run as the tool of schema version 5 wrote it (no cpus_observed, cpu_wait_s)."""
    partition = store.partition_of(history, run_id)
    for kind in ("summary", "samples"):
        path = history / kind / partition / f"{run_id}.parquet"
        table = pq.read_table(path)
        table = table.drop_columns([c for c in ("cpus_observed", "cpu_wait_s") if c in table.column_names])
        pq.write_table(table.replace_schema_metadata({b"schema_version": b"5"}), path)


@pytest.fixture(scope="module")
def nights(tmp_path_factory: pytest.TempPathFactory) -> Nights:
    root = tmp_path_factory.mktemp("nights")
    args = ["--frameworks", "fake", "--repeats", "2", "--scenario", "both", "--output", "runs", *BUDGET]
    assert run_cli(args, cwd=root).returncode == 0
    (base,) = list((root / "runs").iterdir())
    history, console = root / "history", Console(record=True, width=200)
    old = later_copy(base, -60)
    store.append_run(history, old)
    as_schema_5(history, old.name)
    upgraded = later_copy(base, 60, version="numpy-99.0.0")
    factor = slowdown(base)
    slow, slow_again = later_copy(upgraded, 60, factor), later_copy(upgraded, 120, factor)
    statuses = [record_and_compare(run, history, (), 10.0, console) for run in (base, upgraded, slow)]
    assert statuses == [0, 0, 1], console.export_text()
    store.append_run(history, slow_again)  # not gated: the site judges it
    proc = run_cli(["history", "report", "history", "--output", "site"], cwd=root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    names = (old.name, base.name, upgraded.name, slow.name, slow_again.name)
    return Nights(history, root / "site", proc.stdout, *names)


def test_the_index_lists_and_plots_every_configuration(nights: Nights, chromium: Chromium) -> None:
    page = chromium.open(nights.site / "index.html", selectors={"configurations": "#configurations tbody tr"})
    assert page.errors == [] and page.requests == []
    assert page.counts["plots"] == 1 and page.counts["plot_svgs"] >= 1
    assert page.counts["configurations"] == 2  # offline and single-stream, one machine
    assert "2 configurations, 4 regression(s) (3 runs judged by the gate, 1 here)" in nights.stdout


def test_each_configuration_page_draws_its_trend_band_and_markers(nights: Nights, chromium: Chromium) -> None:
    pages = sorted(nights.site.glob("c-*.html"))
    assert len(pages) == 2
    legend = {
        name: f".legendtext:has-text('{text}')"
        for name, text in (
            ("band", "95 % interval"),
            ("upgrade", "framework changed"),
            ("gate", "regression"),
        )
    }
    for path in pages:
        page = chromium.open(path, selectors={**legend, "runs": "#runs tbody tr"})
        assert page.errors == [] and page.requests == []
        assert page.counts["plot_svgs"] >= 1
        assert page.counts["band"] == 1 and page.counts["upgrade"] == 1 and page.counts["gate"] == 1
        assert page.counts["runs"] == 5  # the schema-5 night among them
    assert "numpy-99.0.0" in pages[0].read_text()


def test_the_regressions_page_shows_the_injected_regression_with_both_runs(
    nights: Nights, chromium: Chromium
) -> None:
    rows = {
        "slow": f"#regressions tbody tr:has-text('{nights.slow}')",
        "slow_again": f"#regressions tbody tr:has-text('{nights.slow_again}')",
        "judged_here": "#regressions tbody tr:has-text('judged here')",
    }
    page = chromium.open(nights.site / "regressions.html", selectors=rows)
    assert page.errors == [] and page.requests == []
    assert page.counts["table_rows"] == 4
    assert page.counts["slow"] == 2 and page.counts["slow_again"] == 2  # both configurations
    assert page.counts["judged_here"] == 2  # the run appended without the gate
    text = (nights.site / "regressions.html").read_text()
    assert nights.upgraded in text  # the run on the other side of the recorded verdict


def test_the_feed_is_atom_and_lists_the_regressions_newest_first(nights: Nights) -> None:
    feed = ET.parse(nights.site / "feed.xml").getroot()
    assert feed.tag == f"{ATOM}feed"
    entries = feed.findall(f"{ATOM}entry")
    assert len(entries) == 4
    ids = [entry.findtext(f"{ATOM}id") for entry in entries]
    assert len(set(ids)) == 4 and nights.slow_again in str(ids[0]) and nights.slow in str(ids[-1])
    for entry in entries:
        assert "p50 +" in str(entry.findtext(f"{ATOM}title"))
        link = entry.find(f"{ATOM}link")
        assert link is not None and (nights.site / link.get("href", "")).is_file()


def test_runs_of_an_older_schema_join_their_series(nights: Nights) -> None:
    series = build_series(store.read_history(nights.history).to_pylist())
    assert [len(one.rows) for one in series] == [5, 5]
    old = [row for one in series for row in one.rows if row["run_id"] == nights.old]
    assert len(old) == 2 and all(row["cpus_observed"] is None for row in old)


@pytest.mark.parametrize("what", ["not a history", "empty", "missing"])
def test_what_is_not_a_history_is_one_line_and_exit_2(tmp_path: Path, what: str) -> None:
    target = tmp_path / "store"
    if what == "not a history":
        target.mkdir()
        (target / "summary.parquet").write_bytes(b"")  # a run directory's file, not a history
    elif what == "empty":
        (target / "summary").mkdir(parents=True)
    proc = run_cli(["history", "report", str(target), "--output", "site"], cwd=tmp_path)
    assert proc.returncode == 2
    (line,) = proc.stderr.strip().splitlines()
    assert str(target) in line and ("not a history" in line or "holds no run" in line)
    assert not (tmp_path / "site").exists()


def _row(run_id: str, **values: object) -> dict[str, object]:
    return {"run_id": run_id, "framework": "onnxruntime", **values}


def test_changes_are_what_differs_between_consecutive_runs_and_known_on_both_sides() -> None:
    rows = [
        _row("20260101T000000Z-a", framework_version=None, environment_key="e1", fingerprint="f1"),
        _row("20260102T000000Z-b", framework_version="1.22", environment_key="e1", fingerprint="f1"),
        _row("20260103T000000Z-c", framework_version="1.23", environment_key="e2", fingerprint="f1",
             versions_json='{"numpy": "2.3"}'),
        _row("20260104T000000Z-d", framework_version="1.23", environment_key="e2", fingerprint="f2",
             versions_json='{"numpy": "2.4"}'),
    ]  # fmt: skip
    changes = [(change.run_id[-1], change.kind, change.text) for change in changes_in(rows)]
    assert changes == [
        ("c", "framework", "onnxruntime 1.22 \u2192 1.23"),
        ("c", "environment", "environment: recipe e1 \u2192 e2"),
        ("d", "environment", "environment: numpy 2.3 \u2192 2.4"),
        ("d", "host", "host hardware: f1 \u2192 f2"),
    ]


def test_the_gates_rule_is_one_function() -> None:
    assert is_regression("slower", 12.0, False, None, 10.0)
    assert not is_regression("slower?", 50.0, False, None, 10.0)  # one process a side: never
    assert not is_regression("slower", 8.0, False, None, 10.0)
    assert is_regression("same", 1.0, True, 15.0, 10.0) and not is_regression("same", 1.0, False, 15.0, 10.0)

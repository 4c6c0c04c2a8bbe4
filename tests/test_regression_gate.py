"""The regression gate judges a run against a window of past runs, on process-level evidence:
a creep of 4 % a night trips a 10 % gate once it adds up; one process a side is never enough."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from rich.console import Console

from conftest import summary_row
from orchestrator.cli.compare import compare_main
from orchestrator.figures.stats import UNCONFIRMED_SLOWER, latency_stats
from orchestrator.history import store as history
from orchestrator.history.compare import compare_runs
from orchestrator.history.regressions import record_and_compare
from schemas import io, tables

CALLS = 2000


def make_run(root: Path, night: int, factor: float, processes: int = 3) -> Path:
    """A finished run on night ``night``: one cell whose processes centre on 1 ms x ``factor``."""
    run_id = f"202611{night + 10:02d}T010000Z-abc{night:03d}"
    run_dir = root / run_id
    run_dir.mkdir(parents=True)
    rng = np.random.default_rng(night)
    per_process = [
        rng.lognormal(np.log(1e6 * factor), 0.02, CALLS).astype(np.int64) for _ in range(processes)
    ]
    everything = np.concatenate(per_process)
    stats = latency_stats(everything)
    row = summary_row(0, "onnxruntime", run_id=run_id, status="ok", parity_ok=True, peak_rss_mb=100.0)
    row.update(stats.columns(), config_id="mlp-onnxruntime-cfg", repeats=processes, repeats_ok=processes)
    io.write_table(pa.Table.from_pylist([row], schema=tables.SUMMARY), run_dir / "summary.parquet")
    samples = {
        "run_id": [run_id] * everything.size,
        "cell_id": [f"c{i}" for i, ns in enumerate(per_process) for _ in ns],
        "config_id": ["mlp-onnxruntime-cfg"] * everything.size,
        "framework": ["onnxruntime"] * everything.size,
        "model": ["mlp"] * everything.size,
        "repeat": [i for i, ns in enumerate(per_process) for _ in ns],
        "pid": [1000 + i for i, ns in enumerate(per_process) for _ in ns],
        "iteration": [j for ns in per_process for j in range(ns.size)],
        "latency_ns": everything.tolist(),
    }
    io.write_table(pa.table(samples, schema=tables.SAMPLES), run_dir / "samples.parquet")
    io.write_json({"fingerprint": "f1", "host": {"hostname": "bench"}}, run_dir / "environment.json")
    return run_dir


def test_a_creep_of_4_percent_a_night_trips_a_10_percent_gate(tmp_path: Path) -> None:
    store = tmp_path / "history"
    runs = [make_run(tmp_path / "runs", night, 1.04**night) for night in range(4)]
    console = Console(record=True, width=200)
    statuses = []
    for run_dir in runs:
        statuses.append(record_and_compare(run_dir, store, (), 10.0, console))
    assert statuses == [0, 0, 0, 1]  # 4 %, 8 % since the first: not yet; 12.5 % since it: yes
    assert "the last 3 comparable runs" in console.export_text()
    # Against the night before alone, the last night is 4 % slower: it would have passed.
    last, before = (
        history.load_history_run(store, runs[-1].name),
        history.load_history_run(store, runs[-2].name),
    )
    alone = compare_runs(before[0], before[1], last[0], last[1], "f1", "f1")
    assert alone.regressions(10.0) == []


def test_one_process_a_side_is_shown_but_never_a_regression(tmp_path: Path) -> None:
    base = make_run(tmp_path / "runs", 0, 1.0, processes=1)
    slow = make_run(tmp_path / "runs", 1, 1.5, processes=1)
    base_rows, base_samples, _ = history.load_run_dir(base)
    new_rows, new_samples, _ = history.load_run_dir(slow)
    report = compare_runs(base_rows, base_samples, new_rows, new_samples, "f1", "f1")
    (cell,) = report.compared
    assert cell.latency_verdict == UNCONFIRMED_SLOWER and cell.evidence == "1 vs 1"
    assert report.regressions(10.0) == []
    assert "Unconfirmed (1, one process a side)" in report.to_markdown()


def test_the_gate_with_one_process_a_side_says_latency_was_not_judged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = make_run(tmp_path / "runs", 0, 1.0, processes=1)
    new = make_run(tmp_path / "runs", 1, 1.0, processes=1)
    assert compare_main([str(base), str(new), "--fail-on-regression", "10"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "latency not judged for 1 of 1 compared cell(s), too few worker processes" in out
    assert "(base vs new): onnxruntime 1 vs 1." in out
    assert "--repeats 2 or more" in out
    assert "no regression of 10 % or more in what could be judged" in out


def test_comparing_a_run_with_itself_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = make_run(tmp_path / "runs", 0, 1.0)
    assert compare_main([str(run), str(run), "--fail-on-regression", "10"]) == 0
    out = capsys.readouterr().out
    assert f"same run: both name run {run.name}, nothing to compare" in out
    assert "regression" not in out  # no verdict on a run against itself

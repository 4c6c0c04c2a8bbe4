"""The whole pipeline driven by the fake runner: plan, artifacts, subprocess, aggregation."""

import json
import os
from pathlib import Path

import psutil
import pyarrow.parquet as pq
import pytest

from conftest import only_run_dir, summary_rows
from orchestrator.display import QuietDisplay
from orchestrator.plan import Plan, PlanError
from orchestrator.run import execute


def quick_plan(output: Path, **overrides: object) -> Plan:
    settings: dict[str, object] = dict(
        frameworks=("fake",), warmup=2, min_iterations=7, min_time_s=0.0, output=output
    )
    settings.update(overrides)
    return Plan(**settings)  # type: ignore[arg-type]


def test_fake_run_end_to_end(output: Path) -> None:
    record = execute(quick_plan(output, batch_size=64, threads=1, cpus=(0,)), QuietDisplay())
    run_dir = only_run_dir(output)
    assert record.run_dir == run_dir
    row = summary_rows(run_dir)["fake"]
    assert row["status"] == "ok", row["error"]
    assert row["batch_size"] == 64 and row["threads"] == 1 and row["cpus"] == "0"
    assert row["affinity_observed"] == "0"
    assert row["iterations"] >= 7
    assert row["latency_ms_min"] <= row["latency_ms_p50"] <= row["latency_ms_p99"] <= row["latency_ms_max"]
    assert row["max_abs_diff"] <= 1e-4 and row["parity_ok"]
    for column in ("rss_mb_baseline", "rss_mb_import", "rss_mb_load", "peak_rss_mb", "uss_mb", "cpu_percent"):
        assert row[column] > 0, column
    assert row["peak_rss_mb"] >= row["uss_mb"] * 0.5

    samples = pq.read_table(run_dir / "samples.parquet").to_pylist()
    assert len(samples) == row["iterations"]
    assert [s["iteration"] for s in samples] == list(range(row["iterations"]))
    assert all(s["latency_ns"] > 0 and s["cell_id"] == row["cell_id"] for s in samples)

    job = json.loads((run_dir / "cells" / row["cell_id"] / "job.json").read_text())
    assert job["cpus"] == [0] and job["threads"] == 1 and job["batch_size"] == 64
    plan = json.loads((run_dir / "plan.json").read_text())
    assert plan["run_id"] == record.run_id and plan["cells"][0]["cell_id"] == row["cell_id"]
    environment = json.loads((run_dir / "environment.json").read_text())
    assert environment["packages"]["numpy"] and environment["host"]["allowed_cpus"]


def test_each_run_gets_its_own_directory(output: Path) -> None:
    first = execute(quick_plan(output), QuietDisplay())
    second = execute(quick_plan(output), QuietDisplay())
    assert first.run_dir != second.run_dir
    assert (first.run_dir / "summary.parquet").is_file() and (second.run_dir / "summary.parquet").is_file()


def test_a_timed_out_cell_leaves_no_process_and_the_next_cell_runs(output: Path) -> None:
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    record = execute(quick_plan(output, timeout_s=0.001), QuietDisplay())
    assert record.rows[0]["status"] == "timeout"
    assert "--timeout" in record.rows[0]["error"]
    assert {p.pid for p in psutil.Process().children(recursive=True)} == before


def test_the_batch_size_may_exceed_the_default_rows(output: Path) -> None:
    record = execute(quick_plan(output, batch_size=1500, min_iterations=2, warmup=0), QuietDisplay())
    assert record.rows[0]["status"] == "ok" and record.rows[0]["parity_ok"]


def test_threads_default_to_the_cpus_asked_for() -> None:
    assert Plan(cpus=(0,)).threads == 1
    assert Plan().threads == len(os.sched_getaffinity(0))


@pytest.mark.parametrize(
    ("overrides", "flag"),
    [
        ({"frameworks": ()}, "--frameworks"),
        ({"frameworks": ("mxnet",)}, "--frameworks"),
        ({"cpus": (10_000,)}, "--cpus"),
        ({"threads": 0}, "--threads"),
        ({"timeout_s": 0.0}, "--timeout"),
    ],
)
def test_invalid_plans_name_their_flag(overrides: dict[str, object], flag: str) -> None:
    with pytest.raises(PlanError) as error:
        Plan(**overrides)  # type: ignore[arg-type]
    assert error.value.flag == flag

"""The whole pipeline driven by the fake runner: plan, artifacts, subprocess, aggregation."""

import json
import os
from pathlib import Path

import psutil
import pyarrow.parquet as pq
import pytest

from conftest import FIRST_CPU, only_run_dir, summary_rows
from orchestrator.execute.display import QuietDisplay
from orchestrator.execute.run import execute
from orchestrator.plan.errors import PlanError
from orchestrator.plan.plan import Plan


def quick_plan(output: Path, **overrides: object) -> Plan:
    settings: dict[str, object] = dict(
        frameworks=("fake",), warmup=2, min_iterations=7, min_time_s=0.0, output=output
    )
    settings.update(overrides)
    return Plan(**settings)  # type: ignore[arg-type]


def test_fake_run_end_to_end(output: Path) -> None:
    record = execute(quick_plan(output, batch_sizes=(64,), threads=(1,), cpus=(FIRST_CPU,)), QuietDisplay())
    run_dir = only_run_dir(output)
    assert record.run_dir == run_dir
    row = summary_rows(run_dir)["fake"]
    assert row["status"] == "ok", row["error"]
    assert row["batch_size"] == 64 and row["threads"] == 1 and row["cpus"] == str(FIRST_CPU)
    assert row["affinity_observed"] == str(FIRST_CPU)
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
    assert job["cpus"] == [FIRST_CPU] and job["threads"] == 1 and job["batch_size"] == 64
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
    record = execute(quick_plan(output, batch_sizes=(1500,), min_iterations=2, warmup=0), QuietDisplay())
    assert record.rows[0]["status"] == "ok" and record.rows[0]["parity_ok"]


def test_threads_default_to_the_cpus_asked_for() -> None:
    assert Plan(cpus=(FIRST_CPU,)).threads == (1,)
    assert Plan().threads == (len(os.sched_getaffinity(0)),)


@pytest.mark.parametrize(
    ("overrides", "flag"),
    [
        ({"frameworks": ()}, "--frameworks"),
        ({"frameworks": ("mxnet",)}, "--frameworks"),
        ({"cpus": (10_000,)}, "--cpus"),
        ({"threads": (0,)}, "--threads"),
        ({"batch_sizes": ()}, "--batch-size"),
        ({"scenarios": ("serve",)}, "--scenario"),
        ({"scenarios": ("server",)}, "--latency-bound-ms"),
        ({"scenarios": ("server",), "latency_bound_ms": 10.0}, "--target-qps"),
        ({"target_qps": (100.0,)}, "--target-qps"),
        ({"max_batch": 4}, "--max-batch"),
        ({"precisions": ("int4",)}, "--precision"),
        ({"precisions": ("fp32", "fp32")}, "--precision"),
        ({"repeats": 0}, "--repeats"),
        ({"timeout_s": 0.0}, "--timeout"),
    ],
)
def test_invalid_plans_name_their_flag(overrides: dict[str, object], flag: str) -> None:
    with pytest.raises(PlanError) as error:
        Plan(**overrides)  # type: ignore[arg-type]
    assert error.value.flag == flag


def test_single_stream_checks_every_row(output: Path) -> None:
    record = execute(quick_plan(output, scenarios=("single-stream",)), QuietDisplay())
    (row,) = record.rows
    assert row["status"] == "ok" and row["parity_ok"], row["error"]
    assert row["scenario"] == "single-stream" and row["batch_size"] == 1
    assert row["throughput_per_s"] == pytest.approx(1000 / row["latency_ms_p50"])


def test_repeats_are_summarised_as_the_median_over_processes(output: Path) -> None:
    record = execute(quick_plan(output, frameworks=("fake", "noop"), repeats=3), QuietDisplay())
    assert [row["framework"] for row in record.rows] == ["fake", "noop"]
    cells = pq.read_table(record.run_dir / "cells.parquet").to_pylist()
    assert len(cells) == 6
    for row in record.rows:
        mine = [c for c in cells if c["config_id"] == row["config_id"]]
        assert row["repeats"] == row["repeats_ok"] == 3
        assert len({c["pid"] for c in mine}) == 3  # three distinct processes
        assert row["latency_ms_p50"] == pytest.approx(sorted(c["latency_ms_p50"] for c in mine)[1])
        # Three process medians are too few for a 95 % interval: none is claimed.
        assert row["latency_ms_p50_ci_low"] is None and row["latency_ms_p50_ci_high"] is None
        assert row["throughput_per_s"] == pytest.approx(1000 / (row["latency_ms_p50"] / 1e3))
        assert row["latency_ms_p50_spread_pct"] >= 0
    samples = pq.read_table(record.run_dir / "samples.parquet")
    assert set(samples.column("pid").to_pylist()) == {c["pid"] for c in cells}


def test_a_failed_repeat_fails_the_configuration_but_keeps_the_others(output: Path) -> None:
    record = execute(quick_plan(output, frameworks=("fake-raise",), repeats=2), QuietDisplay())
    (row,) = record.rows
    assert row["status"] == "failed" and row["repeats_ok"] == 0
    assert row["error"].startswith("2 of 2 repeats failed: RuntimeError")


def test_noop_measures_the_harness_and_skips_parity(output: Path) -> None:
    record = execute(quick_plan(output, frameworks=("noop",)), QuietDisplay())
    (row,) = record.rows
    assert row["status"] == "ok"
    assert row["parity_ok"] is None and row["max_abs_diff"] is None
    assert row["latency_ms_p50"] > 0


def test_in_process_mode_carries_memory_over_and_isolated_does_not(output: Path) -> None:
    # 'fake-import-heavy' is not needed: the fake runners' numpy work is small, so the
    # carried-over memory is measured on real imports in test_frameworks; here the shape.
    plan = quick_plan(output, frameworks=("fake", "noop"), modes=("isolated", "in-process"))
    record = execute(plan, QuietDisplay())
    modes = {(row["framework"], row["mode"]): row for row in record.rows}
    assert set(modes) == {(f, m) for f in ("fake", "noop") for m in ("isolated", "in-process")}
    cells = pq.read_table(record.run_dir / "cells.parquet").to_pylist()
    shared_pids = {c["pid"] for c in cells if c["mode"] == "in-process"}
    isolated_pids = {c["pid"] for c in cells if c["mode"] == "isolated"}
    assert len(shared_pids) == 1 and len(isolated_pids) == 2
    assert all(row["status"] == "ok" for row in record.rows)
    # noop runs second: in the shared worker it starts with all that fake's cell left behind (at
    # least what fake had loaded); in a process of its own it starts below that.
    carried = modes[("noop", "in-process")]["rss_mb_baseline"]
    assert carried >= modes[("fake", "in-process")]["rss_mb_load"]
    assert modes[("noop", "isolated")]["rss_mb_baseline"] < carried


def test_a_crash_in_a_shared_worker_marks_the_cells_it_never_reached(output: Path) -> None:
    plan = quick_plan(output, frameworks=("fake-segfault", "fake"), modes=("in-process",))
    rows = {row["framework"]: row for row in execute(plan, QuietDisplay()).rows}
    assert rows["fake-segfault"]["error"] == "runner killed by SIGSEGV; it wrote no result"
    assert rows["fake"]["status"] == "failed"
    assert rows["fake"]["error"] == "not run: the shared worker ended first (runner killed by SIGSEGV)"


def test_options_are_validated_by_each_runners_declaration() -> None:
    with pytest.raises(PlanError, match=r"--option: onnxruntime.spin: onnxruntime has no option 'spin'"):
        Plan(frameworks=("onnxruntime",), options={"onnxruntime": {"spin": ("on",)}})
    with pytest.raises(PlanError, match=r"expected one of all, extended, basic, disabled"):
        Plan(frameworks=("onnxruntime",), options={"onnxruntime": {"graph_optimization": ("max",)}})
    with pytest.raises(PlanError, match="not among the frameworks run"):
        Plan(frameworks=("onnxruntime",), options={"jax": {"params": ("constants",)}})


def test_a_swept_option_and_tune_make_one_configuration_per_option_set() -> None:
    sweep = Plan(frameworks=("onnxruntime", "fake"), options={"onnxruntime": {"spinning": ("on", "off")}})
    cells = [(c.framework, json.loads(c.options_json)) for c in sweep.cells()]
    assert cells == [
        ("onnxruntime", {"graph_optimization": "all", "spinning": "on"}),
        ("onnxruntime", {"graph_optimization": "all", "spinning": "off"}),
        ("fake", {}),
    ]
    tuned = Plan(frameworks=("onnxruntime",), tune=True)
    tried = [json.loads(c.options_json) for c in tuned.cells()]
    assert tried[0] == {"graph_optimization": "all", "spinning": "on"}  # the defaults first
    assert len(tried) == 1 + 3 + 1  # then every other choice, one at a time
    assert len({c.config_id for c in tuned.cells()}) == len(tried)

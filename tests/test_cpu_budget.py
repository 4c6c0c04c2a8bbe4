"""The CPUs a cell ran on are read back from every thread of its runner, shown where they differ
from --cpus, and a comparison of cells on different CPU sets is warned `cpu-budget`."""

import os
import subprocess
import sys
import threading
from pathlib import Path

from rich.console import Console
from test_compare import compare_one, latencies

from conftest import (
    ALLOWED_CPUS,
    FIRST_CPU,
    PROJECT_ROOT,
    cpu_list,
    need_allowed_cpus,
    only_run_dir,
    summary_row,
    summary_rows,
)
from orchestrator.execute.aggregate import with_comparison_warnings
from orchestrator.figures.trust import cpu_budget_warnings
from orchestrator.report.console_table import summary_view
from orchestrator.report.labels import warning_codes
from runners import probes


def test_the_cpus_are_the_union_of_every_threads_mask_not_the_main_threads() -> None:
    need_allowed_cpus(2, "a runner to narrow its mask")
    narrowed, done = threading.Event(), threading.Event()

    def narrow() -> None:  # os.sched_setaffinity(0, ...) sets the calling thread's mask only
        os.sched_setaffinity(0, {FIRST_CPU})
        narrowed.set()
        done.wait()

    thread = threading.Thread(target=narrow)
    thread.start()
    try:
        narrowed.wait()
        before = probes.thread_samples()
        assert before[thread.native_id or 0].cpus == str(FIRST_CPU)
        activity = probes.thread_activity(before, probes.thread_samples(), 1.0)
    finally:
        done.set()
        thread.join()
    assert activity.cpus == cpu_list(ALLOWED_CPUS)
    assert f"{FIRST_CPU} on 1 thread" in activity.affinity.split(" | ")


def test_only_the_contenders_on_other_cpus_than_asked_are_warned() -> None:
    found = cpu_budget_warnings("0,1", {"jax": "0", "onnxruntime": "0,1", "skipped": None})
    assert found == {
        "jax": "cpu-budget: ran on CPUs 0 (1) where --cpus 0,1 was asked, compared with cells on 0,1 (2)"
    }
    assert cpu_budget_warnings("0,1", {"jax": "0,1", "onnxruntime": "0,1"}) == {}
    assert cpu_budget_warnings("0,1", {"jax": "0"}) == {}  # nothing to compare it with


def rows_on(jax_cpus: str) -> list[dict[str, object]]:
    common = {"status": "ok", "threads": 1, "cpus": "0,1", "latency_ms_p50": 1.0, "iterations": 10}
    return [
        summary_row(0, "jax", cpus_observed=jax_cpus, cpus_allowed=len(jax_cpus.split(",")), **common),
        summary_row(1, "onnxruntime", cpus_observed="0,1", cpus_allowed=2, warnings="noisy: x", **common),
    ]


def test_a_table_of_cells_on_different_cpus_warns_and_shows_where_each_ran() -> None:
    marked = with_comparison_warnings(rows_on("0"))
    assert str(marked[0]["warnings"]).startswith("cpu-budget: ran on CPUs 0 (1) where --cpus 0,1")
    assert marked[1]["warnings"] == "noisy: x"
    assert warning_codes(marked[0]) == "cpu-budget"  # one code in the narrow column
    console = Console(width=200, record=True)
    console.print(summary_view(marked, None))
    text = console.export_text()
    assert "ran on CPUs" in text and "cpu-budget" in text
    same = with_comparison_warnings(rows_on("0,1"))
    assert [row["warnings"] for row in same] == [None, "noisy: x"]
    console = Console(width=200, record=True)
    console.print(summary_view(same, None))
    assert "ran on CPUs" not in console.export_text()


def test_jax_at_one_thread_records_the_one_cpu_it_ran_on(tmp_path: Path) -> None:
    """For real: JAX narrows its mask to --threads CPUs; ONNX Runtime keeps the plan's."""
    need_allowed_cpus(2, "a runner to narrow its mask")
    two = cpu_list(ALLOWED_CPUS[:2])
    proc = subprocess.run(
        [sys.executable, "-m", "orchestrator", "--frameworks", "jax,onnxruntime", "--threads", "1",
         "--cpus", two, "--output", str(tmp_path), "--warmup", "3", "--min-iterations", "10",
         "--min-time", "0"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    rows = summary_rows(only_run_dir(tmp_path))
    assert set(rows) == {"jax", "onnxruntime"}, proc.stdout + proc.stderr
    jax, ort = rows["jax"], rows["onnxruntime"]
    assert jax["status"] == ort["status"] == "ok", (jax["error"], ort["error"])
    assert jax["cpus"] == ort["cpus"] == two  # as asked
    assert (jax["cpus_observed"], jax["cpus_allowed"]) == (str(FIRST_CPU), 1)
    assert (ort["cpus_observed"], ort["cpus_allowed"]) == (two, 2)
    assert "cpu-budget:" in (jax["warnings"] or "") and "cpu-budget" not in (ort["warnings"] or "")
    assert "ran on CPUs" in proc.stdout and "cpu-budget" in proc.stdout


def test_compare_does_not_judge_a_cell_that_ran_on_other_cpus() -> None:
    ns = latencies(1)
    narrowed = compare_one(ns, ns * 2, {"cpus_observed": "0,1"}, {"cpus_observed": "0"})
    assert not narrowed.compared
    assert [item.reason for item in narrowed.not_compared] == ["ran on other CPUs (base 0,1, new 0)"]
    same = compare_one(ns, ns, {"cpus_observed": "0,1"}, {"cpus_observed": "0,1"})
    assert len(same.compared) == 1
    before = compare_one(ns, ns, {"cpus_observed": None}, {"cpus_observed": "0"})  # an older run
    assert len(before.compared) == 1

"""Every fault a framework can commit, injected through the fake runner: the run survives it.

Each case runs the faulty cell first and a healthy one after it, through the real CLI.
"""

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import (
    QUICK,
    TWO_CPUS,
    cpu_list,
    need_allowed_cpus,
    only_run_dir,
    run_cli,
    summary_rows,
    survivors,
)

FaultRun = Callable[[str], tuple[Path, "subprocess.CompletedProcess[str]"]]


@pytest.fixture(scope="module")
def fault_run(tmp_path_factory: pytest.TempPathFactory) -> FaultRun:
    """The run of ``fake-<fault>`` then ``fake``, made once for every test that reads it (the
    segfault's is read twice): its directory and the finished CLI process."""
    done: dict[str, tuple[Path, subprocess.CompletedProcess[str]]] = {}

    def run(fault: str) -> tuple[Path, subprocess.CompletedProcess[str]]:
        if fault not in done:
            root = tmp_path_factory.mktemp(fault)
            done[fault] = (
                root,
                run_cli(["--frameworks", f"fake-{fault},fake", "--timeout", "4", *QUICK], cwd=root),
            )
        return done[fault]

    return run


@pytest.mark.parametrize(
    ("fault", "status", "reason", "exit_status"),
    [
        ("raise", "failed", "RuntimeError: injected fault: the kernel refused the shape", 1),
        ("segfault", "failed", "runner killed by SIGSEGV; it wrote no result", 1),
        ("oom-kill", "failed", "runner killed by SIGKILL; it wrote no result", 1),
        ("hang", "timeout", "no result within --timeout 4 s", 1),
        ("exit", "failed", "runner exited with status 3; it wrote no result", 1),
        (
            "garbage",
            "failed",
            "runner exited with status 0; its result.parquet is corrupt or of another schema",
            1,
        ),
        # Not installed is not this run's fault; installed and broken is a fault to fix.
        ("import-missing", "skipped", "ModuleNotFoundError: No module named 'fakeframework'", 0),
        ("import-error", "failed", "ImportError: libfake.so: cannot open shared object file", 1),
        (
            "import-crash",
            "failed",
            "RuntimeError: fakeframework was compiled against an incompatible numpy",
            1,
        ),
    ],
)
def test_a_fault_in_one_cell_costs_only_that_cell(
    fault_run: FaultRun, fault: str, status: str, reason: str, exit_status: int
) -> None:
    tmp_path, proc = fault_run(fault)
    assert proc.returncode == exit_status, proc.stdout + proc.stderr
    run_dir = only_run_dir(tmp_path / "results")
    rows = summary_rows(run_dir)
    faulty = rows[f"fake-{fault}"]
    assert (faulty["status"], faulty["error"]) == (status, reason)
    assert rows["fake"]["status"] == "ok" and rows["fake"]["parity_ok"]
    assert reason in proc.stdout  # the table says why, too
    log = run_dir / "cells" / faulty["cell_id"] / "stderr.log"
    assert log.is_file()
    assert not survivors(tmp_path)


def test_a_segfault_leaves_a_python_stack_in_the_cell_log(fault_run: FaultRun) -> None:
    tmp_path, _ = fault_run("segfault")
    run_dir = only_run_dir(tmp_path / "results")
    faulty = summary_rows(run_dir)["fake-segfault"]
    assert "Segmentation fault" in (run_dir / "cells" / faulty["cell_id"] / "stderr.log").read_text()


def test_diverging_outputs_are_flagged_not_ranked(tmp_path: Path) -> None:
    proc = run_cli(["--frameworks", "fake-diverge,fake", *QUICK], cwd=tmp_path)
    assert proc.returncode == 1
    rows = summary_rows(only_run_dir(tmp_path / "results"))
    assert rows["fake-diverge"]["status"] == "ok"
    assert rows["fake-diverge"]["parity_ok"] is False
    assert rows["fake-diverge"]["max_abs_diff"] == pytest.approx(0.01, rel=1e-3)
    assert "DIVERGED" in proc.stdout


def test_a_runner_computing_beyond_its_threads_is_flagged(tmp_path: Path) -> None:
    """threads_observed and the CPU figure are measured, not echoed: a pool the thread settings
    do not reach (JAX's did, before its mask was narrowed) shows, and is flagged."""
    need_allowed_cpus(2, "a second thread computing beside the first")
    cpus = cpu_list(TWO_CPUS)
    proc = run_cli(
        ["--frameworks", "fake-extra-threads,fake", "--threads", "1", "--cpus", cpus, "--min-time", "1"],
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    rows = summary_rows(only_run_dir(tmp_path / "results"))
    extra, honest = rows["fake-extra-threads"], rows["fake"]
    assert "threads-not-honoured" not in (honest["warnings"] or "")
    assert honest["threads_observed"] == 1
    flagged = "threads-not-honoured" in (extra["warnings"] or "")
    assert extra["threads_observed"] >= 2  # the extra thread computed, whatever its share
    # Flagged exactly when the measured CPU time shows it (a busy neighbour can starve it).
    assert flagged == (extra["cpu_percent"] > 120), extra["cpu_percent"]

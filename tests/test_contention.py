"""Two busy loops on the runner's CPU make a real run warn `contention`: the wait for a CPU is
read from the kernel (schedstat), whatever the length of a call."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import FIRST_CPU, summary_rows
from orchestrator.display import QuietDisplay
from orchestrator.plan import Plan
from orchestrator.run import execute

BUSY_LOOP = "import os, sys; os.sched_setaffinity(0, {int(sys.argv[1])})\nwhile True: pass"


def need_schedstat() -> None:
    """The wait is schedstat's run_delay (CONFIG_SCHED_INFO): skip where the kernel keeps
    none, and fail under CI=1, whose kernels should."""
    if Path(f"/proc/self/task/{os.getpid()}/schedstat").is_file():
        return
    reason = "this kernel keeps no /proc/*/task/*/schedstat (CONFIG_SCHED_INFO is off)"
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def test_two_busy_loops_on_the_runners_cpu_make_it_warn(tmp_path: Path) -> None:
    need_schedstat()
    loops = [subprocess.Popen([sys.executable, "-c", BUSY_LOOP, str(FIRST_CPU)]) for _ in range(2)]
    try:
        plan = Plan(
            frameworks=("noop",),
            threads=(1,),
            cpus=(FIRST_CPU,),
            warmup=10,
            min_iterations=1000,
            max_iterations=300_000,
            min_time_s=0.5,
            output=tmp_path,
        )
        record = execute(plan, QuietDisplay())
    finally:
        for loop in loops:
            loop.kill()
            loop.wait()
    row = summary_rows(record.run_dir)["noop"]
    assert row["status"] == "ok", row["error"]
    assert row["cpu_wait_s"] is not None and row["cpu_wait_s"] > 0
    assert "contention:" in (row["warnings"] or ""), row["warnings"]

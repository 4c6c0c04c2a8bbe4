"""Two busy loops on the runner's CPU make a real run warn `contention`: the wait for a CPU is
read from the kernel (schedstat), whatever the length of a call."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import FIRST_CPU, summary_rows
from orchestrator.execute.display import QuietDisplay
from orchestrator.execute.run import execute
from orchestrator.plan.plan import Plan
from runners.probes import ThreadSample, thread_activity

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


def test_the_wait_counted_is_the_computing_threads_and_none_when_none_computed() -> None:
    # Thread 1 computed for the whole second and waited 0.3 s; thread 2, a sleeper woken now
    # and then (LoadGen's issuer), waited 0.2 s behind it: its own process, not a neighbour.
    before = {1: ThreadSample(0.0, 0, "0", 0.0), 2: ThreadSample(0.0, 0, "0", 0.0)}
    after = {1: ThreadSample(0.7, 50, "0", 0.3), 2: ThreadSample(0.01, 40, "0", 0.2)}
    activity = thread_activity(before, after, 1.0)
    assert (activity.busy_threads, activity.busy_waited_s, activity.involuntary_switches) == (1, 0.3, 90)
    idle = {1: ThreadSample(0.01, 5, "0", 0.2), 2: ThreadSample(0.01, 5, "0", 0.2)}
    assert thread_activity(before, idle, 1.0).busy_waited_s is None  # nothing computed: not judged
    unknown = {1: ThreadSample(0.7, 50, "0", None)}
    assert thread_activity(before, unknown, 1.0).busy_waited_s is None  # no schedstat

"""Worker entry point: ``python -m runners --job CELL/job.json [--job ...] [--events-fd N]``.

Order matters here. The CPU affinity is set first and the thread environment second, both
before anything is imported that could start a thread (numpy's BLAS does, on import).
Several jobs run one after another in this one process (in-process mode); they share the
affinity and thread count, which the plan guarantees.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from runners.lifeline import start_watchdog
from runners.registry import shipped
from runners.threads import runner_env
from schemas.job import JobSpec


def main(argv: list[str] | None = None) -> int:
    """Run the jobs named on the command line; 0 when every result was written as ok/skipped."""
    parser = argparse.ArgumentParser(prog="python -m runners", description=__doc__)
    parser.add_argument("--job", required=True, action="append", help="path of a cell's job.json")
    parser.add_argument("--events-fd", type=int, default=None, help="pipe for phase events")
    parser.add_argument(
        "--lifeline-fd", type=int, default=None, help="pipe whose end-of-file means the parent is gone"
    )
    parser.add_argument(
        "--budget", type=float, default=None, help="seconds each job may take before the runner kills itself"
    )
    args = parser.parse_args(argv)

    for fd in (args.events_fd, args.lifeline_fd):  # ours alone: a framework's child must not hold it
        if fd is not None:
            os.set_inheritable(fd, False)
    # First: the parent may already be gone. Forked while no thread exists (only safe then).
    watchdog = start_watchdog(args.lifeline_fd, args.budget, keep_fds=_given(args.events_fd))
    jobs = [JobSpec.from_file(Path(path)) for path in args.job]
    cpus = jobs[0].cpus
    record = shipped(jobs[0].framework)
    if len(jobs) == 1 and record is not None and record.threads_by_affinity and jobs[0].threads < len(cpus):
        # No thread-count API (JAX): the pool follows the affinity mask, so the mask is what
        # holds it to --threads (one thread included). Recorded as affinity_observed.
        cpus = cpus[: jobs[0].threads]
    os.sched_setaffinity(0, cpus)
    for job in jobs:
        env = runner_env(job.framework, job.threads, str(Path(job.result_path).parent / "keras"))
        if "KERAS_BACKEND" in os.environ:  # a shared worker: Keras has one backend per process,
            env.pop("KERAS_BACKEND", None)  # the first framework's (the JAX runner checks it)
        os.environ.update(env)

    from runners.worker import run_job  # numpy and psutil: only after the two above

    status = 0
    for job in jobs:
        watchdog.extend(args.budget)  # each job of a shared worker has a budget of its own
        if len(jobs) > 1:
            _log_to(Path(job.result_path).parent / "stderr.log")
        status = max(status, run_job(job, args.events_fd, isolated=len(jobs) == 1))
    return status


def _log_to(path: Path) -> None:
    """Send this process's stdout and stderr (a framework's native output too) to ``path``."""
    sys.stdout.flush()
    sys.stderr.flush()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o666)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


def _given(fd: int | None) -> tuple[int, ...]:
    return () if fd is None else (fd,)


if __name__ == "__main__":
    sys.exit(main())

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

from runners.threads import thread_env
from schemas.job import JobSpec


def main(argv: list[str] | None = None) -> int:
    """Run the jobs named on the command line; 0 when every result was written as ok/skipped."""
    parser = argparse.ArgumentParser(prog="python -m runners", description=__doc__)
    parser.add_argument("--job", required=True, action="append", help="path of a cell's job.json")
    parser.add_argument("--events-fd", type=int, default=None, help="pipe for phase events")
    args = parser.parse_args(argv)

    if args.events_fd is not None:  # ours alone: a child of the framework must not hold it open
        os.set_inheritable(args.events_fd, False)
    jobs = [JobSpec.from_file(Path(path)) for path in args.job]
    cpus = jobs[0].cpus
    if len(jobs) == 1 and jobs[0].framework == "jax" and 1 < jobs[0].threads < len(cpus):
        # JAX has no thread-count API; its pool follows the affinity mask, so the mask is what
        # holds it to --threads. Recorded as affinity_observed.
        cpus = cpus[: jobs[0].threads]
    os.sched_setaffinity(0, cpus)
    for job in jobs:
        os.environ.update(thread_env(job.framework, job.threads))

    from runners.worker import run_job  # numpy, pyarrow, psutil: only after the two above

    return max(run_job(job, args.events_fd) for job in jobs)


if __name__ == "__main__":
    sys.exit(main())

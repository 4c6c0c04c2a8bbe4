"""Worker entry point: ``python -m runners --job CELL/job.json [--events-fd N]``.

Order matters here. The CPU affinity is set first and the thread environment second, both
before anything is imported that could start a thread (numpy's BLAS does, on import).
"""

from __future__ import annotations

import argparse
import os
import sys

from runners.threads import thread_env
from schemas.job import JobSpec


def main(argv: list[str] | None = None) -> int:
    """Run the job named on the command line; exit 0 when a result was written as ok/skipped."""
    parser = argparse.ArgumentParser(prog="python -m runners", description=__doc__)
    parser.add_argument("--job", required=True, help="path of the cell's job.json")
    parser.add_argument("--events-fd", type=int, default=None, help="pipe for phase events")
    args = parser.parse_args(argv)

    job = JobSpec.from_file(args.job)
    os.sched_setaffinity(0, job.cpus)
    os.environ.update(thread_env(job.framework, job.threads))

    from runners.worker import run_job  # numpy, pyarrow, psutil: only after the two above

    return run_job(job, args.events_fd)


if __name__ == "__main__":
    sys.exit(main())

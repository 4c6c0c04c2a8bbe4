"""``python -m orchestrator compare BASE NEW``: two runs cell by cell; exit 1 on a regression."""

from __future__ import annotations

import argparse

from orchestrator.execute.display import make_console
from orchestrator.history.compare import (
    compare_runs,
)
from orchestrator.history.regressions import load_run, verdict
from orchestrator.history.store import HistoryError
from schemas import io


def compare_main(argv: list[str]) -> int:
    """``python -m orchestrator compare BASE NEW``: per-cell changes; exit 1 on a regression."""
    parser = argparse.ArgumentParser(
        prog="python -m orchestrator compare",
        description="Compare two runs cell by cell: p50, p99, throughput, CPU and peak memory, with a "
        "Mann-Whitney test on the per-call samples. Only cells of the same configuration on "
        "comparable hosts are compared; the others are listed with the reason.",
    )
    parser.add_argument("base", help="run directory, history directory (its latest run) or HISTORY@RUN_ID")
    parser.add_argument("new", help="the same forms as BASE")
    parser.add_argument(
        "--fail-on-regression",
        type=float,
        default=None,
        metavar="PCT",
        help="exit 1 when a cell is significantly slower, or uses more memory, by PCT %% or more",
    )
    parser.add_argument(
        "--min-effect",
        type=float,
        default=5.0,
        metavar="PCT",
        help="smallest change called slower/faster, in %% (default: 5)",
    )
    args = parser.parse_args(argv)
    try:
        base, new = load_run(args.base), load_run(args.new)
    except (HistoryError, io.SchemaError, OSError) as exc:
        parser.exit(2, f"{parser.prog}: error: {exc}\n")
    report = compare_runs(
        base.rows, base.samples, new.rows, new.samples, base.fingerprint, new.fingerprint, args.min_effect
    )
    console = make_console()
    console.print(f"base {base.name}\nnew  {new.name}")
    console.print(report.to_table())
    if report.same_run:  # its cells match themselves: the table shows the matching, not a change
        console.print(f"same run: both name run {report.base_run_id}, nothing to compare")
        return 0
    return verdict(console, report, args.fail_on_regression)

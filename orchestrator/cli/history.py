"""``python -m orchestrator history report HISTORY_DIR --output site/``: the browsable history.

Writes a static site (index of configurations, a trend page each, the regressions the gate
found, an Atom feed) that opens from ``file://`` -- see ``orchestrator.history.site``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from orchestrator.history.store import HistoryError
from schemas import io

EXIT_OK, EXIT_USAGE = 0, 2


class _Parser(argparse.ArgumentParser):
    """Usage mistakes as one line, exit 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def _parser() -> _Parser:
    parser = _Parser(prog="python -m orchestrator history", description="Reports over a run history.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    report = commands.add_parser(
        "report",
        help="write the browsable history site",
        description="Write a static site of the history that opens from disk (no server, no network): "
        "every configuration with its p50 trend and 95 % band, where the framework version, environment "
        "or host changed, the regressions the gate found with the runs on each side, and feed.xml (Atom).",
    )
    report.add_argument("history", type=Path, metavar="HISTORY_DIR", help="a --history directory")
    report.add_argument("--output", type=Path, required=True, metavar="DIR", help="where to write the site")
    report.add_argument(
        "--fail-on-regression",
        type=float,
        default=10.0,
        metavar="PCT",
        help="for runs the gate did not judge (appended without --fail-on-regression, or by merge): "
        "the gate's threshold to judge them by (default: 10, as configs/nightly.toml)",
    )
    report.add_argument(
        "--compare-window",
        type=int,
        default=5,
        metavar="N",
        help="for those runs: judge each cell against each of the last N comparable runs (default: 5)",
    )
    report.add_argument(
        "--base-url", default="", metavar="URL", help="where the site is published (the feed's links)"
    )
    return parser


def history_main(argv: list[str]) -> int:
    """``python -m orchestrator history report ...``; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.compare_window < 1:
        parser.error(f"--compare-window: expected 1 or more, got {args.compare_window}")
    if args.output.exists() and not args.output.is_dir():
        parser.exit(
            EXIT_USAGE, f"{parser.prog}: error: --output {args.output}: a file, expected a directory\n"
        )
    from orchestrator.history.site import write_site  # here: plotly only when a site is written

    try:
        site = write_site(
            args.history,
            args.output,
            threshold_pct=args.fail_on_regression,
            window=args.compare_window,
            base_url=args.base_url,
        )
    except (HistoryError, io.SchemaError) as exc:
        parser.exit(EXIT_USAGE, f"{parser.prog} report: error: {exc}\n")
    found = site.findings
    print(
        f"history site: {site.runs} runs, {site.series} configurations, {len(found.regressions)} "
        f"regression(s) ({found.gated_runs} runs judged by the gate, {found.replayed_runs} here)"
    )
    for line in found.not_judged:
        print(f"not judged: {line}")
    print(f"site: {site.index}")
    print(f"feed: {site.index.parent / 'feed.xml'}")
    return EXIT_OK

"""``python -m orchestrator merge``: runs from many machines (a fleet's, or any run directories)
into one history.

    python -m orchestrator merge results/fleet-*/ --history nightly-history
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from pathlib import Path

from orchestrator.history import store as history
from schemas import io, tables
from schemas.io import SchemaError

EXIT_OK, EXIT_SOME_REFUSED, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def find_run_dirs(paths: Iterable[Path]) -> list[Path]:
    """Every run directory at or under ``paths`` (a directory holding summary.parquet whose name
    is a run id), each once, in order of run id."""
    found: dict[Path, None] = {}
    for path in paths:
        candidates = [path] if (path / "summary.parquet").is_file() else []
        candidates += [summary.parent for summary in sorted(path.rglob("*/summary.parquet"))]
        for candidate in candidates:
            try:
                history.run_date(candidate.name)
            except history.HistoryError:
                continue
            found.setdefault(candidate.resolve(), None)
    return sorted(found, key=lambda run_dir: run_dir.name)


def _existing_dirs(parser: argparse.ArgumentParser, paths: list[Path]) -> None:
    for path in paths:
        if not path.is_dir():
            parser.error(f"{path}: not a directory")


def _machine_of(run_dir: Path) -> str:
    """The machine a fleet asked for (``<fleet>/runs/<machine>/<run_id>``), else the host name."""
    fleet = run_dir.parent.parent.parent
    if run_dir.parent.parent.name == "runs" and (fleet / "fleet.json").is_file():
        return run_dir.parent.name
    return str((history.read_environment(run_dir).get("host") or {}).get("hostname") or "unknown")


def _say(line: str) -> None:
    print(line, file=sys.stderr)


def _partial(run_dir: Path) -> bool:
    """A run cut short (a cell interrupted): a local run never enters the history so either."""
    try:
        rows = io.read_table(run_dir / "summary.parquet", tables.SUMMARY).to_pylist()
    except io.SchemaError:
        return False  # append_run names the problem
    return any(row["status"] == "interrupted" for row in rows)


def merge_main(argv: list[str]) -> int:
    """Append every run under the directories to the history; already-merged runs add nothing."""
    parser = _Parser(
        prog="python -m orchestrator merge",
        description="Merge runs from many machines (run directories, fleet directories or any "
        "directory holding them) into one Parquet history. Merging a run twice adds nothing.",
    )
    parser.add_argument(
        "dirs",
        nargs="+",
        type=Path,
        metavar="DIR",
        help="run directories, fleet directories, or any directory holding them",
    )
    parser.add_argument(
        "--history", type=Path, required=True, metavar="STORE", help="the history to merge into"
    )
    args = parser.parse_args(argv)
    _existing_dirs(parser, args.dirs)
    run_dirs = find_run_dirs(args.dirs)
    if not run_dirs:
        parser.error(f"no run directory (one holding summary.parquet) under {', '.join(map(str, args.dirs))}")
    added = present = refused = 0
    for run_dir in run_dirs:
        if _partial(run_dir):
            refused += 1
            print(
                f"{parser.prog}: refused {run_dir}: it was interrupted; a partial run is no baseline",
                file=sys.stderr,
            )
            continue
        try:
            written = history.append_run(args.history, run_dir)
        except (SchemaError, history.HistoryError, OSError) as exc:
            refused += 1
            print(f"{parser.prog}: refused {run_dir}: {exc}", file=sys.stderr)
            continue
        if written:
            added += 1
            print(f"merged {run_dir.name} ({_host(run_dir)})")
        else:
            present += 1
    print(f"{added} run(s) merged, {present} already in {args.history}, {refused} refused")
    return EXIT_SOME_REFUSED if refused else EXIT_OK


def _host(run_dir: Path) -> str:
    host = history.read_environment(run_dir).get("host") or {}
    return str(host.get("hostname") or "unknown host")

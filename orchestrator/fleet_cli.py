"""``python -m orchestrator merge`` and ``python -m orchestrator machines``: runs from many
machines into one history, and the cross-machine report over them.

    python -m orchestrator merge results/fleet-*/ --history nightly-history
    python -m orchestrator machines results/fleet-20261129T010000Z-ab12cd/ --reference-machine icelake
    python -m orchestrator machines --history nightly-history
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from pathlib import Path

from orchestrator import history
from orchestrator.display import make_console
from orchestrator.machines import (
    MachinesError,
    history_machine_runs,
    machines_tables,
    read_machine_runs,
    write_machines_report,
)
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
    parser.add_argument("dirs", nargs="+", type=Path, metavar="DIR")
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


def machines_main(argv: list[str]) -> int:
    """The cross-machine report over run directories, or over a history's newest run per host."""
    parser = _Parser(
        prog="python -m orchestrator machines",
        description="Frameworks x machines: p50, throughput and peak memory per model and scenario, "
        "relative to one machine. Reads run directories (the newest run per machine), or a history.",
    )
    parser.add_argument("dirs", nargs="*", type=Path, metavar="DIR")
    parser.add_argument("--history", type=Path, default=None, metavar="STORE")
    parser.add_argument("--reference-machine", default=None, metavar="MACHINE")
    parser.add_argument(
        "--output", type=Path, default=None, metavar="DIR", help="write machines.md and machines.png here"
    )
    args = parser.parse_args(argv)
    if bool(args.dirs) == (args.history is not None):
        parser.error("give run directories or --history STORE (one of them)")
    _existing_dirs(parser, args.dirs)
    try:
        if args.history is not None:
            runs = history_machine_runs(args.history)
        else:
            run_dirs = find_run_dirs(args.dirs)
            runs = read_machine_runs(run_dirs, [_machine_of(run_dir) for run_dir in run_dirs], _say)
        tables = machines_tables(runs, args.reference_machine)
    except (MachinesError, SchemaError, history.HistoryError) as exc:
        parser.exit(EXIT_USAGE, f"{parser.prog}: error: {exc}\n")
    console = make_console()
    for heading, table in tables:
        console.print(heading, markup=False, highlight=False)
        console.print(table)
    if args.output is not None:
        args.output.mkdir(parents=True, exist_ok=True)
        for path in write_machines_report(runs, args.output, args.reference_machine):
            console.print(f"report: {path}")
    return EXIT_OK

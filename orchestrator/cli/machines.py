"""``python -m orchestrator machines``: the cross-machine report over a fleet's runs or a history::

python -m orchestrator machines results/fleet-20261129T010000Z-ab12cd/ --reference-machine icelake
python -m orchestrator machines --history nightly-history
"""

from __future__ import annotations

from pathlib import Path

from orchestrator.cli.merge import (
    EXIT_OK,
    EXIT_USAGE,
    _existing_dirs,
    _machine_of,
    _Parser,
    _say,
    find_run_dirs,
)
from orchestrator.execute.display import make_console
from orchestrator.fleet.machines import (
    MachinesError,
    history_machine_runs,
    machines_tables,
    read_machine_runs,
    write_machines_report,
)
from orchestrator.history import store as history
from schemas.io import SchemaError


def machines_main(argv: list[str]) -> int:
    """The cross-machine report over run directories, or over a history's newest run per host."""
    parser = _Parser(
        prog="python -m orchestrator machines",
        description="Frameworks x machines: p50, throughput and peak memory per model and scenario, "
        "relative to one machine. Reads run directories (the newest run per machine), or a history.",
    )
    parser.add_argument(
        "dirs",
        nargs="*",
        type=Path,
        metavar="DIR",
        help="run directories, a fleet's directory, or any directory holding them; of several runs "
        "of one machine the newest is reported",
    )
    parser.add_argument(
        "--history",
        type=Path,
        default=None,
        metavar="STORE",
        help="read a Parquet history instead of DIRs: its newest run of each machine",
    )
    parser.add_argument(
        "--reference-machine",
        default=None,
        metavar="MACHINE",
        help="the machine the others' p50 is a ratio to, named as the report heads it (a fleet's "
        "machine, else the host name) (default: the first one listed)",
    )
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

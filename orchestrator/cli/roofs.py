"""``python -m orchestrator roofs``: this machine's roofs -- peak compute per precision and
memory bandwidth, theoretical and measured -- at each thread count, as a run records them::

python -m orchestrator roofs --cpus 0,1 --threads 1,2            # cached, or measured once
python -m orchestrator roofs --cpus 0,1 --threads 1,2 --measure  # measured again, cache replaced
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from orchestrator.cli.flags import EXIT_OK, EXIT_USAGE, _cpu_list, _envs_root, _positive_ints
from orchestrator.execute.display import make_console
from orchestrator.execute.roofs import (
    bench_python,
    default_cache,
    machine_roofs,
    measured_record,
    roofs_record,
)
from orchestrator.figures.roofs import MachineRoofs, at_least_fewer_threads
from orchestrator.host import allowed_cpus, read_cpu_info
from orchestrator.report.labels import describe_roofs


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def roofs_main(argv: list[str]) -> int:
    """Show (and cache) the roofs of ``--threads`` threads on the first of ``--cpus``."""
    parser = _Parser(prog="python -m orchestrator roofs", description=__doc__.split("::")[0])
    parser.add_argument(
        "--cpus", type=_cpu_list, default=None, metavar="LIST", help="default: every allowed CPU"
    )
    parser.add_argument(
        "--threads", type=_positive_ints, default=None, metavar="LIST", help="default: one per CPU"
    )
    parser.add_argument("--measure", action="store_true", help="measure again, replacing the cached figures")
    parser.add_argument("--envs-dir", type=Path, default=None, metavar="DIR", help="where environments live")
    parser.add_argument("--json", action="store_true", help="print environment.json's roofs record")
    args = parser.parse_args(argv)
    cpus = tuple(args.cpus or allowed_cpus())
    outside = sorted(set(cpus) - set(allowed_cpus()))
    if outside:
        parser.exit(EXIT_USAGE, f"{parser.prog}: error: --cpus: {outside} not among the allowed CPUs\n")
    bench = bench_python({}, Path(sys.executable), _envs_root(args))
    cpu = read_cpu_info()
    found: dict[int, MachineRoofs] = {}
    for threads in args.threads or [len(cpus)]:
        on = cpus[:threads] if threads <= len(cpus) else cpus
        record = measured_record(
            cpu, on, threads, bench, "measure" if args.measure else "cached", default_cache()
        )
        found[threads] = machine_roofs(cpu, on, threads, record)
    found = at_least_fewer_threads(found)
    console = make_console()
    if args.json:
        console.print_json(json.dumps(roofs_record(found)))
        return EXIT_OK
    console.print(f"{cpu.model}; micro-benchmark in {bench.words}", markup=False, highlight=False)
    for roofs in found.values():
        console.print(describe_roofs(roofs.to_json()) or "-", markup=False, highlight=False)
    widest = found[max(found)]
    for name, roof in [*widest.compute.items(), ("bandwidth", widest.bandwidth)]:
        console.print(
            f"  {name}: {roof.basis}; measured: {roof.measured_basis}", markup=False, highlight=False
        )
    return EXIT_OK

"""Command line: flags -> a validated Plan -> a run -> the final table and an exit status.

Exit status: 0 every cell ok (or skipped, unless --strict), within the parity tolerance and, a
LoadGen scenario, judged VALID; 1 a cell failed, timed out, diverged or was judged INVALID by
LoadGen, or the run could not be written; 2 a usage or input
error (nothing is run); 130 / 143 interrupted by SIGINT / SIGTERM (finished cells are kept).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

from rich.console import Console

from orchestrator.cli.config import ConfigError, load_config_keys
from orchestrator.cli.flags import (
    EXIT_CELLS_NOT_OK,
    EXIT_OK,
    EXIT_USAGE,
    _envs_root,
    _refuse_unavailable_versions,
    _where,
)
from orchestrator.cli.run_flags import build_parser
from orchestrator.execute.display import PipeGuard, make_console, make_display
from orchestrator.execute.env_status import ConsoleStatus
from orchestrator.execute.environments import Environment
from orchestrator.execute.inputs import InputError, load_inputs
from orchestrator.execute.roofs import bench_python, roofs_source, run_mode, run_roofs
from orchestrator.execute.run import (
    Interrupted,
    OutOfMemory,
    OutputError,
    RunInterrupted,
    RunRecord,
    execute,
    resolve_environments,
)
from orchestrator.figures.roofs import MachineRoofs
from orchestrator.figures.stats import MIN_PROCESSES
from orchestrator.history.compare import latencies_by_config, process_p50s_by_config
from orchestrator.history.regressions import record_and_compare
from orchestrator.history.store import HistoryError
from orchestrator.host import read_cpu_info
from orchestrator.plan.errors import PlanError
from orchestrator.plan.options import TUNE_REPEATS, tuning_summary
from orchestrator.plan.plan import Plan
from orchestrator.plan.validation import MODES
from orchestrator.plan.workloads import Workload, builtin, is_builtin
from orchestrator.report.console_table import notes, settings_lines, summary_view, version_parts, wrapped
from orchestrator.report.contamination import isolation_table
from orchestrator.report.formats import write_reports
from orchestrator.report.labels import settings_parts, varying_keys
from orchestrator.report.markdown import roofs_line
from schemas import io, tables


def _check_output_dir(output: Path) -> None:
    """Refuse an --output that exists as a file or cannot be written into."""
    _check_writable_dir(output, "--output")


def _check_writable_dir(path: Path, flag: str) -> None:
    """Refuse a directory flag that names a file, or a place where it cannot be created or
    written, before anything runs."""
    existing = path
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if not existing.is_dir():
        raise PlanError(flag, f"{existing} is not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise PlanError(flag, f"{existing} is not writable")
    try:  # the permission bits say nothing to root, nor of /proc or a read-only mount: try
        os.rmdir(tempfile.mkdtemp(prefix=".probe-", dir=existing))
    except OSError as exc:
        raise PlanError(flag, f"cannot create {path} in {existing}: {exc.strerror or exc}") from None


def _modes(args: argparse.Namespace) -> tuple[str, ...]:
    """The modes the flags ask for: isolated unless --in-process or --no-isolate says otherwise."""
    if args.compare_isolation and (args.in_process or args.isolate is not None):
        other = "--in-process" if args.in_process else "--isolate" if args.isolate else "--no-isolate"
        raise PlanError("--compare-isolation", f"runs both modes itself; it cannot be combined with {other}")
    if args.compare_isolation:
        return MODES
    if args.in_process and args.isolate:
        raise PlanError("--in-process", "cannot be combined with --isolate (use --compare-isolation)")
    return ("in-process",) if args.in_process or args.isolate is False else ("isolated",)


def _plan_from(args: argparse.Namespace, workloads: dict[str, Workload], input_rows: int | None) -> Plan:
    shapes: dict[str, tuple[int, ...]] = {}
    for name, dims in args.shape:
        if name in shapes:
            raise PlanError("--shape", f"{name} is given twice")
        shapes[name] = dims
    plan = Plan(
        frameworks=args.frameworks,
        models=tuple(workloads),
        specs={name: workload.model.spec for name, workload in workloads.items()},
        seq_len=args.seq_len,
        image_size=args.image_size,
        shapes=shapes,
        environment=args.environment,
        options=_options(args.option),
        tune=args.tune,
        batch_sizes=args.batch_size,
        threads=args.threads,
        # The CPUs are each machine's, checked there when a fleet runs the plan.
        cpus=None if args.executor == "slurm" else args.cpus,
        scenarios=args.scenario,
        target_qps=args.target_qps,
        latency_bound_ms=args.latency_bound_ms,
        find_peak=args.find_peak,
        samples_per_query=args.samples_per_query,
        max_batch=args.max_batch,
        instances=args.instances,
        repeats=args.repeats,
        modes=_modes(args),
        precisions=args.precision,
        warmup=args.warmup,
        min_iterations=args.min_iterations,
        max_iterations=args.max_iterations,
        min_time_s=args.min_time,
        seed=args.seed,
        calibration_samples=args.calibration_samples,
        output=args.output,
        timeout_s=args.timeout,
        inputs=args.inputs,
        input_rows=input_rows,
    )
    if args.baseline is not None and args.baseline not in plan.frameworks:
        raise PlanError("--baseline", f"expected one of the frameworks run ({', '.join(plan.frameworks)})")
    return plan


def _options(given: list[tuple[str, str, tuple[str, ...]]]) -> dict[str, dict[str, tuple[str, ...]]]:
    options: dict[str, dict[str, tuple[str, ...]]] = {}
    for framework, key, values in given:
        if key in options.get(framework, {}):
            raise PlanError("--option", f"{framework}.{key} is given twice")
        options.setdefault(framework, {})[key] = values
    return options


def _workloads(args: argparse.Namespace, console: Console) -> dict[str, Workload]:
    """--model entries, resolved: built-ins by name, the user's files by path (read as far as
    their inputs, by the framework that reads the format, in its environment)."""
    workloads: dict[str, Workload] = {}
    for entry in args.model:
        if is_builtin(entry):
            workload = builtin(entry)
        else:
            from orchestrator.execute.user_models import resolve_user_model

            workload = resolve_user_model(
                Path(entry),
                set(workloads),
                args.environment,
                _envs_root(args),
                ConsoleStatus(console, args.quiet),  # reused: said once, by the run's own line
                args.torch_index_url,
            )
        if workload.name in workloads:
            raise PlanError("--model", f"{entry} is given twice")
        workloads[workload.name] = workload
    return workloads


def _parse(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """Flags, over the --config file's values, over the defaults.

    ``args.from_config`` maps each dest the config file set (and no flag overrode) to how to
    name it in an error: ``--config FILE: key 'in-process'``.
    """
    first, _ = parser.parse_known_args(argv)
    from_config: dict[str, str] = {}
    if first.config is not None:
        try:
            values, spelled = load_config_keys(first.config, parser)
        except ConfigError as exc:
            parser.exit(EXIT_USAGE, f"{parser.prog}: error: --config {exc}\n")
        parser.set_defaults(**values)
        typed = _flags_typed(parser, argv)
        from_config = {
            dest: f"--config {first.config}: key {key!r}"
            for dest, key in spelled.items()
            if dest not in typed
        }
    args = parser.parse_args(argv)
    args.from_config = from_config
    if args.tune and "repeats" not in from_config and "repeats" not in _flags_typed(parser, argv):
        # A winner is named only beyond the spread between processes: each try needs several.
        args.repeats = max(args.repeats, TUNE_REPEATS)
    # --report csv --report md, or report = ["csv", "md"]: every kind, once, in order
    args.report = tuple(dict.fromkeys(args.report))
    return args


def _flags_typed(parser: argparse.ArgumentParser, argv: list[str] | None) -> set[str]:
    """The dests the command line itself set (not a default, not the config file): the same
    flags, every default suppressed and no value converted, so only what was typed lands."""
    probe = argparse.ArgumentParser(add_help=False)
    for action in parser._actions:
        if not action.option_strings or action.dest == "help":
            continue
        if isinstance(action, argparse.BooleanOptionalAction):
            kind: Any = argparse.BooleanOptionalAction
        elif action.nargs == 0:
            kind = "store_true"
        elif isinstance(action, argparse._AppendAction):
            kind = "append"
        else:
            kind = "store"
        probe.add_argument(*action.option_strings, dest=action.dest, action=kind, default=argparse.SUPPRESS)
    given, _ = probe.parse_known_args(argv)
    return set(vars(given))


def run_main(argv: list[str]) -> int:
    """``python -m orchestrator [flags]``: plan, run, show and record; returns the exit status."""
    parser = build_parser()
    args = _parse(parser, argv)
    try:
        if args.fail_on_regression is not None and args.history is None:
            raise PlanError("--fail-on-regression", "needs --history, the runs to compare with")
        if args.fail_on_regression is not None and args.repeats < MIN_PROCESSES:
            # One process's calls are not independent draws: the gate could judge memory only.
            raise PlanError(
                "--repeats",
                f"--fail-on-regression needs {MIN_PROCESSES} or more processes a side to judge "
                f"latency; got --repeats {args.repeats} (use --repeats 3)",
            )
        if args.history is not None:
            _check_writable_dir(args.history, "--history")
        workloads = _workloads(args, make_console())
        plan = _plan_from(args, workloads, None)
        if args.inputs is not None:
            workloads, plan = _with_user_inputs(args, workloads, plan)
        _check_output_dir(plan.output)
    except InputError as exc:
        parser.exit(EXIT_USAGE, f"{parser.prog}: error: {exc}\n")
    except MemoryError as exc:  # reading a model or --inputs; nothing is written yet
        parser.exit(
            EXIT_CELLS_NOT_OK, f"{parser.prog}: error: out of memory: {exc or 'an allocation failed'}\n"
        )
    except PlanError as exc:
        where = _where(exc.flag, args, parser)
        if where == exc.flag:
            parser.error(f"argument {exc}")
        parser.exit(EXIT_USAGE, f"{parser.prog}: error: {where}: {str(exc).split(': ', 1)[1]}\n")

    stdout = PipeGuard(sys.stdout)
    console = make_console(stdout)
    if args.executor == "slurm":
        status = _run_fleet(parser, args, argv, plan, console)
    else:
        status = _run(parser, args, plan, workloads, console)
    if stdout.broken:  # the reader went away (| head): say so where it can still be read
        print(
            f"{parser.prog}: stdout was closed before the run ended (broken pipe); the run went on "
            f"and every result was written (exit status {status})",
            file=sys.stderr,
        )
    return status


def _run(
    parser: argparse.ArgumentParser,
    args: argparse.Namespace,
    plan: Plan,
    workloads: dict[str, Workload],
    console: Console,
) -> int:
    """Run the plan, show and record it; the exit status."""
    assert plan.threads is not None and plan.cpus is not None
    if max(plan.threads) > len(plan.cpus):
        print(
            f"{parser.prog}: warning: --threads {max(plan.threads)} on {len(plan.cpus)} CPU(s) "
            "oversubscribes them; latencies will measure the contention",
            file=sys.stderr,
        )
    said = ConsoleStatus(console, args.quiet)
    environments, export = resolve_environments(plan, workloads, _envs_root(args), said, args.torch_index_url)
    _refuse_unavailable_versions(parser, args, environments)
    said.summary()
    try:
        roofs = _roofs(plan, environments, args, console)
    except ValueError as exc:  # $INFERENCE_BENCH_ROOFS_MODE: nothing is written yet
        parser.exit(EXIT_USAGE, f"{parser.prog}: error: {exc}\n")
    _raise_on_signals()
    try:
        record = execute(
            plan, make_display(console, args.quiet), workloads, environments, export, args.config, roofs
        )
    except OutputError as exc:
        parser.exit(EXIT_USAGE, f"{parser.prog}: error: argument --output: {exc}\n")
    except RunInterrupted as stop:
        _show(console, stop.record, args.baseline)
        console.print(f"interrupted by {stop}: finished cells are kept, the others marked interrupted")
        return 128 + stop.signum
    except OSError as exc:
        print(
            f"{parser.prog}: error: writing the run failed, earlier files are intact: {exc}", file=sys.stderr
        )
        return EXIT_CELLS_NOT_OK
    except OutOfMemory as exc:
        where = f"what was written is in {exc.run_dir}"
        print(f"{parser.prog}: error: out of memory: {exc}; {where}", file=sys.stderr)
        return EXIT_CELLS_NOT_OK
    finally:
        _default_signals()
    return _after_run(parser, args, record, console)


def _roofs(
    plan: Plan, environments: dict[str, Environment], args: argparse.Namespace, console: Console
) -> dict[int, MachineRoofs]:
    """The machine's roofs at each thread count of the run: cached, or measured once now
    (``python -m orchestrator roofs --measure`` measures again; $INFERENCE_BENCH_ROOFS_MODE)."""
    mode = run_mode()
    bench = bench_python(environments, Path(sys.executable), _envs_root(args))
    roofs = run_roofs(read_cpu_info(), plan.cells(), bench, mode)
    if not args.quiet and mode != "off":
        console.print(f"roofs: {roofs_source(roofs)} in {bench.words}", markup=False, highlight=False)
    return roofs


def _after_run(
    parser: argparse.ArgumentParser, args: argparse.Namespace, record: RunRecord, console: Console
) -> int:
    """A finished run shown, reported and added to the history; the exit status."""
    _show(console, record, args.baseline)
    if args.compare_isolation:
        console.print(isolation_table(record.rows))
    if args.tune:
        _show_tuning(console, record)
    if args.report:
        for path in write_reports(record.rows, record.run_dir, args.report, args.baseline):
            console.print(f"report: {path}")
    status = exit_status(record.rows, strict=args.strict)
    if args.history is not None:
        try:
            regressed = record_and_compare(
                record.run_dir,
                args.history,
                args.report,
                args.fail_on_regression,
                console,
                args.compare_window,
            )
        except (HistoryError, OSError) as exc:
            print(f"{parser.prog}: error: --history {args.history}: {exc}", file=sys.stderr)
            return EXIT_CELLS_NOT_OK
        status = max(status, regressed)
    return status


def _run_fleet(
    parser: argparse.ArgumentParser, args: argparse.Namespace, argv: list[str], plan: Plan, console: Console
) -> int:
    """--executor slurm: the same command line, run as a local plan by one job per machine."""
    from orchestrator.fleet import executor as fleet
    from orchestrator.fleet import slurm

    settings = slurm.SlurmSettings(
        partition=args.slurm_partition,
        account=args.slurm_account,
        time_min=args.slurm_time,
        constraint=args.slurm_constraint,
        nodelist=args.slurm_nodelist,
    )
    try:
        fleet.split_machines(settings)  # a bad host list or constraint list: refused before submitting
    except ValueError as exc:
        flag, _, message = str(exc).partition(": ")
        parser.exit(EXIT_USAGE, f"{parser.prog}: error: {_where(flag, args, parser)}: {message}\n")
    return fleet.run_fleet(argv, settings, plan.output, console, args.quiet, args.reference_machine)


def _with_user_inputs(
    args: argparse.Namespace, workloads: dict[str, Workload], plan: Plan
) -> tuple[dict[str, Workload], Plan]:
    """The one model's workload with the user's --inputs, checked, and the plan that fits them."""
    ((name, workload),) = workloads.items()
    sample_shapes = {key: shape[1:] for key, shape in plan.call_shapes(name, 1).items()}
    arrays = load_inputs(args.inputs, workload.model.spec, sample_shapes)
    rows = min(len(array) for array in arrays.values())
    workload = dataclasses.replace(workload, inputs=arrays)
    return {name: workload}, _plan_from(args, {name: workload}, rows)


def exit_status(rows: list[dict[str, Any]], strict: bool) -> int:
    """0 when every row is ok, agrees with the reference and -- a LoadGen scenario -- was judged
    VALID by LoadGen (skipped rows too, unless strict). An INVALID run did not meet its bound
    (or LoadGen's other rules): a finding, like a divergence, not a figure to pass on."""
    for row in rows:
        if row["status"] == "skipped" and not strict:
            continue
        if row["status"] != "ok" or row["parity_ok"] is False:
            return EXIT_CELLS_NOT_OK
        if row.get("loadgen_validity") not in (None, "VALID"):
            return EXIT_CELLS_NOT_OK
    return EXIT_OK


def _show(console: Console, record: RunRecord, baseline: str | None) -> None:
    """The final table, every value whole at the console's width (a pipe gets its natural width),
    then why each cell that is not ok is not, with its log, and every warning in full."""
    console.print(f"run {record.run_id}")
    width = console.width if console.is_terminal else None
    settings = settings_lines(settings_parts(record.rows, varying_keys(record.rows)), width)
    versions = settings_lines(version_parts(record.rows), width, "versions:")  # as each reported it
    roofs = roofs_line(record.run_dir)
    for line in settings + versions + ([f"roofs: {roofs}"] if roofs else []):
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    console.print(summary_view(record.rows, width, baseline=baseline, relative=True))

    def log_of(row: dict[str, Any]) -> str | None:
        return log_note(record.run_dir / "cells" / str(row["cell_id"]) / "stderr.log")

    for note in notes(record.rows, log_of):
        for line in wrapped(note, width):
            console.print(line, markup=False, highlight=False, soft_wrap=True)
    console.print(f"results: {record.run_dir}")


def log_note(log: Path) -> str | None:
    """Where a cell's log is, said beside its reason: ``log: PATH``, or that it is empty (the
    runner wrote nothing: an interrupted or a timed-out cell often), or None when there is none."""
    if not log.is_file():
        return None
    return f"log: {log}" if log.stat().st_size else f"log {log} is empty"


def _show_tuning(console: Console, record: RunRecord) -> None:
    """What --tune found, per framework: the option set that beats the default beyond noise
    (compare's test), or that none does; every try and its verdict is in tuning.json."""
    try:
        samples = io.read_table(record.run_dir / "samples.parquet", tables.SAMPLES)
    except (OSError, io.SchemaError):  # no calls to judge by: every try is "not judged"
        samples = tables.SAMPLES.empty_table()
    found = tuning_summary(record.rows, latencies_by_config(samples), process_p50s_by_config(samples))
    io.write_json(found, record.run_dir / "tuning.json")
    for entry in found:
        console.print(f"tune {entry['verdict']}", markup=False, highlight=False)
    console.print(f"tuning: {record.run_dir / 'tuning.json'}")


def _default_signals() -> None:
    """Ctrl-C and SIGTERM as Python handles them by default, once the run is saved."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _raise_on_signals() -> None:
    """Turn SIGINT and SIGTERM into :class:`Interrupted`, so the run can save and clean up."""

    def handler(signum: int, frame: object) -> None:
        raise Interrupted(signum)

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)

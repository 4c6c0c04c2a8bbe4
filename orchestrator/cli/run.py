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

from models.registry import DEFAULT_MODEL, MODELS
from orchestrator.cli.config import ConfigError, load_config_keys
from orchestrator.cli.flags import (
    EXIT_CELLS_NOT_OK,
    EXIT_OK,
    EXIT_USAGE,
    _add_torch_index_flag,
    _count,
    _cpu_list,
    _envs_root,
    _framework_list,
    _model_list,
    _OneLineParser,
    _option,
    _percent,
    _positive_float,
    _positive_floats,
    _positive_int,
    _positive_ints,
    _positive_seconds,
    _refuse_unavailable_versions,
    _report_kinds,
    _scenarios,
    _seconds,
    _shape,
    _where,
)
from orchestrator.execute.display import PipeGuard, make_console, make_display
from orchestrator.execute.env_status import ConsoleStatus
from orchestrator.execute.environments import (
    default_root,
)
from orchestrator.execute.inputs import InputError, load_inputs
from orchestrator.execute.run import (
    Interrupted,
    OutOfMemory,
    OutputError,
    RunInterrupted,
    RunRecord,
    execute,
    resolve_environments,
)
from orchestrator.figures.stats import MIN_PROCESSES
from orchestrator.history.compare import latencies_by_config, process_p50s_by_config
from orchestrator.history.regressions import record_and_compare
from orchestrator.history.store import HistoryError
from orchestrator.host import allowed_cpus
from orchestrator.plan.framework_refs import ENVIRONMENTS
from orchestrator.plan.options import TUNE_REPEATS, tuning_summary
from orchestrator.plan.plan import MODES, PRECISIONS, Plan, PlanError, format_cpus
from orchestrator.plan.workloads import Workload, builtin, is_builtin
from orchestrator.report.console_table import notes, settings_lines, summary_view, version_parts, wrapped
from orchestrator.report.contamination import isolation_table
from orchestrator.report.formats import write_reports
from orchestrator.report.labels import settings_parts, varying_keys
from runners.registry import FRAMEWORKS
from schemas import io, tables

# The end of --help: the subcommands, a few examples, the exit status (laid out by hand).
_EPILOG = """\
subcommands (each has its own --help):
  compare BASE NEW       two runs (or history entries) cell by cell, with a significance test
  setup                  build the frameworks' environments now, rather than on first use
  merge DIR... --history STORE
                         merge runs from many machines into one Parquet history
  machines DIR...        frameworks x machines: the cross-machine report of runs or a history

examples:
  python -m orchestrator
      every framework on the mlp, offline, each cell in a fresh process
  python -m orchestrator --frameworks onnxruntime,openvino --model resnet50 --report md,png
      two frameworks on a zoo model, with summary.md and charts in the run directory
  python -m orchestrator --frameworks onnxruntime@1.31.1,onnxruntime
      a pinned version against the environment's own
  python -m orchestrator --frameworks onnxruntime --scenario server --find-peak --latency-bound-ms 5
      the highest rate LoadGen judges VALID under a 5 ms p99
  python -m orchestrator compare results/RUN_A results/RUN_B --fail-on-regression 5

exit status:
  0    every cell ok or skipped (framework not installed), within the parity tolerance and,
       in a LoadGen scenario, judged VALID
  1    a cell failed, timed out, diverged or was judged INVALID by LoadGen, or was skipped
       under --strict; a regression beyond --fail-on-regression; or a result could not be
       written (earlier files stay intact)
  2    usage or input error (nothing run, nothing written)
  130  interrupted by SIGINT (143: SIGTERM); finished cells are kept
"""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; every flag says what it does and its default."""
    defaults = Plan()
    parser = _OneLineParser(
        prog="python -m orchestrator",
        description="Benchmark CPU inference of one model across frameworks, each in a fresh,\n"
        "pinned subprocess, with the same weights and inputs and a parity check.",
        usage="python -m orchestrator [options]\n"
        "       python -m orchestrator {compare,setup,merge,machines} ... (see below)",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,  # the epilog's lines as written
    )
    what = parser.add_argument_group("what to measure")
    what.add_argument(
        "--frameworks",
        type=_framework_list,
        default=defaults.frameworks,
        metavar="LIST",
        help=f"comma list of frameworks to run, in order (default: {','.join(FRAMEWORKS)}); "
        "name@VERSION runs that version in an environment of its own (e.g. "
        "onnxruntime@1.31.1,onnxruntime@1.32.0); add 'noop' to measure the harness's own cost per call",
    )
    what.add_argument(
        "--model",
        type=_model_list,
        default=(DEFAULT_MODEL,),
        metavar="LIST",
        help=f"the model: {', '.join(MODELS)}, or your own file (.onnx, .pt2, .keras, a SavedModel "
        "directory, an OpenVINO .xml); a comma list sweeps them (default: mlp, the article's)",
    )
    what.add_argument(
        "--scenario",
        type=_scenarios,
        default=("offline",),
        metavar="LIST",
        help="the tool's own loops -- offline: the whole batch in one call (throughput); "
        "single-stream: one sample per call, cycling through the inputs (latency); both -- and "
        "MLPerf LoadGen's: server (Poisson arrivals at --target-qps, judged against "
        "--latency-bound-ms), multi-stream, loadgen-single-stream, loadgen-offline; a comma list "
        "runs several (default: offline)",
    )
    what.add_argument(
        "--target-qps",
        type=_positive_floats,
        default=(),
        metavar="Q[,Q...]",
        help="server: the rate LoadGen offers, queries per second; a list sweeps it",
    )
    what.add_argument(
        "--latency-bound-ms",
        type=_positive_float,
        default=None,
        metavar="MS",
        help="server: the p99 latency a run must stay under to be VALID",
    )
    what.add_argument(
        "--find-peak",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="server: find the highest rate that stays VALID under the bound (every probe kept)",
    )
    what.add_argument(
        "--samples-per-query",
        type=_positive_int,
        default=8,
        metavar="N",
        help="multi-stream: samples in each query, one call (default: 8)",
    )
    what.add_argument(
        "--max-batch",
        type=_positive_int,
        default=1,
        metavar="N",
        help="server, loadgen-offline: gather up to N queued samples into one call, as servers do "
        "(a short batch is padded to N: the model's shape is static) (default: 1, off)",
    )
    what.add_argument(
        "--batch-size",
        type=_positive_ints,
        default=defaults.batch_sizes,
        metavar="N[,N...]",
        help="samples per call in the offline scenario; a list sweeps them "
        "(default: the model's own: mlp 1000, the zoo 1)",
    )
    what.add_argument(
        "--seq-len",
        type=_positive_int,
        default=None,
        metavar="N",
        help="tokens per sequence for text models (default: the model's own, distilbert 128)",
    )
    what.add_argument(
        "--image-size",
        type=_positive_int,
        default=None,
        metavar="N",
        help="height and width of images for image models (default: the model's own, resnet50 224)",
    )
    what.add_argument(
        "--shape",
        type=_shape,
        action="append",
        default=[],
        metavar="NAME=DIMS",
        help="fill a dynamic dim: an input's dims of one sample (without the batch), e.g. "
        "input_ids=128, or one named dim, e.g. sequence=128; repeat for several",
    )
    what.add_argument(
        "--threads",
        type=_positive_ints,
        default=None,
        metavar="N[,N...]",
        help="compute threads per framework; a list sweeps them (default: one per CPU in --cpus)",
    )
    what.add_argument(
        "--cpus",
        type=_cpu_list,
        default=None,
        metavar="LIST",
        help=f"CPUs each runner is pinned to, e.g. 0 or 0,1 or 0-3 "
        f"(default: all allowed, here {format_cpus(allowed_cpus())})",
    )
    what.add_argument(
        "--precision",
        choices=list(PRECISIONS),
        default=defaults.precision,
        help="compute precision; a framework that cannot run it is skipped, the precision it "
        "really used is read back, and the parity tolerance follows (default: fp32)",
    )
    what.add_argument(
        "--inputs",
        type=Path,
        default=None,
        metavar="FILE",
        help="benchmark on your own tensors: a Parquet file with one column per named model "
        "input, one row per sample (default: seeded random inputs)",
    )
    what.add_argument(
        "--seed",
        type=_count,
        default=defaults.seed,
        metavar="N",
        help=f"seed of the generated weights and inputs (default: {defaults.seed})",
    )
    how = parser.add_argument_group("how to measure")
    how.add_argument(
        "--option",
        type=_option,
        action="append",
        default=[],
        metavar="FW.KEY=VALUE",
        help="an execution option of one framework, e.g. tensorflow.jit_compile=false, "
        "jax.params=constants, onnxruntime.spinning=off, openvino.performance_hint=throughput, "
        "pytorch.compile=true; a comma list of values sweeps them; repeat for several",
    )
    how.add_argument(
        "--instances",
        type=_positive_int,
        default=1,
        metavar="N",
        help="run N copies of each cell's runner at once, each pinned to its own share of --cpus "
        "(N x threads <= CPUs); the summary holds their summed throughput, CPU and memory and the "
        "latency of one copy (default: 1)",
    )
    how.add_argument(
        "--tune",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="also try every other choice of every framework's options, one at a time from the "
        "defaults, and name the set that beats the defaults beyond the noise between processes, "
        f"by compare's test (each try runs in {TUNE_REPEATS} processes unless --repeats says "
        "otherwise; all of them are kept in the run)",
    )
    how.add_argument(
        "--environment",
        choices=list(ENVIRONMENTS),
        default=defaults.environment,
        help="own: each framework in an environment of its own, built with uv on first use "
        "(default); shared: all in one environment, as the article (and --in-process) has it; "
        "current: this interpreter, as it is",
    )
    how.add_argument(
        "--envs-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help=f"where the environments live (default: {default_root()})",
    )
    _add_torch_index_flag(how)
    how.add_argument(
        "--isolate",
        action=argparse.BooleanOptionalAction,
        default=None,  # None: neither form given; the default mode is isolated either way
        help="run each cell in its own fresh subprocess (the default); --no-isolate is --in-process",
    )
    how.add_argument(
        "--in-process",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="run all frameworks one after another in one shared worker, as the article did; "
        "its memory figures include every framework loaded before",
    )
    how.add_argument(
        "--compare-isolation",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="run both modes and show what sharing a process did to memory, latency and CPU",
    )
    how.add_argument(
        "--repeats",
        type=_positive_int,
        default=defaults.repeats,
        metavar="K",
        help="run each cell in K fresh processes, interleaved across frameworks; the summary "
        f"reports the median over processes and its spread (default: {defaults.repeats})",
    )
    how.add_argument(
        "--warmup",
        type=_count,
        default=defaults.warmup,
        metavar="N",
        help=f"untimed calls before measuring (default: {defaults.warmup})",
    )
    how.add_argument(
        "--min-iterations",
        type=_positive_int,
        default=defaults.min_iterations,
        metavar="N",
        help=f"timed calls at least (default: {defaults.min_iterations})",
    )
    how.add_argument(
        "--max-iterations",
        type=_positive_int,
        default=defaults.max_iterations,
        metavar="N",
        help=f"stop after this many timed calls even if --min-time has not passed "
        f"(default: {defaults.max_iterations:,})",
    )
    how.add_argument(
        "--min-time",
        type=_seconds,
        default=defaults.min_time_s,
        metavar="SECONDS",
        help=f"timed loop lasts at least this long (default: {defaults.min_time_s:g})",
    )
    how.add_argument(
        "--timeout",
        type=_positive_seconds,
        default=defaults.timeout_s,
        metavar="SECONDS",
        help=f"a cell still running after this is killed and marked timeout; a LoadGen run may "
        f"take this long on top of its schedule (1,024 queries at the offered rate), each probe "
        f"of a peak search likewise (default: {defaults.timeout_s:g})",
    )
    out = parser.add_argument_group("output")
    out.add_argument(
        "--output",
        type=Path,
        default=defaults.output,
        metavar="DIR",
        help=f"directory that receives a new run directory per run (default: {defaults.output}/)",
    )
    out.add_argument(
        "--report",
        type=_report_kinds,
        action="extend",
        default=[],
        metavar="LIST",
        help="also write reports into the run directory: any of csv,md,png",
    )
    out.add_argument(
        "--baseline",
        default=None,
        metavar="FRAMEWORK",
        help="relative columns against this framework (default: the fastest)",
    )
    out.add_argument(
        "--history",
        type=Path,
        default=None,
        metavar="DIR",
        help="append the run to this Parquet history (hive-partitioned by date and host) and "
        "compare it with the latest run there from a comparable host",
    )
    out.add_argument(
        "--compare-window",
        type=_positive_int,
        default=5,
        metavar="N",
        help="with --history: judge each cell against each of the last N comparable runs, so a "
        "slow creep adds up to a regression (default: 5)",
    )
    out.add_argument(
        "--fail-on-regression",
        type=_percent,
        default=None,
        metavar="PCT",
        help="with --history: exit 1 when a cell got significantly slower, or uses more "
        "memory, by PCT %% or more",
    )
    out.add_argument(
        "--strict",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="treat a skipped framework (not installed, fails to import) as a failure: exit 1",
    )
    out.add_argument(
        "--quiet", action=argparse.BooleanOptionalAction, default=False, help="print only the final table"
    )
    fleet = parser.add_argument_group("where: this machine, or a Slurm cluster (one job per machine)")
    fleet.add_argument(
        "--executor",
        choices=["local", "slurm"],
        default="local",
        help="local: run here (default); slurm: one exclusive Slurm job per machine asked for, "
        "each running this plan, results under --output (shared by the machines)",
    )
    fleet.add_argument("--slurm-partition", default=None, metavar="NAME", help="the partition to submit to")
    fleet.add_argument("--slurm-account", default=None, metavar="NAME", help="the account to charge")
    fleet.add_argument(
        "--slurm-time",
        type=_slurm_minutes,
        default=60,
        metavar="TIME",
        help="each job's time limit: minutes, or [D-]HH:MM:SS (default: 60)",
    )
    fleet.add_argument(
        "--slurm-constraint",
        default=None,
        metavar="LIST",
        help="one job per entry, each on a node with those features (an entry may use Slurm's & and |)",
    )
    fleet.add_argument(
        "--slurm-nodelist",
        default=None,
        metavar="HOSTS",
        help="one job per node of this Slurm host list (node[1-3],other)",
    )
    fleet.add_argument(
        "--reference-machine",
        default=None,
        metavar="MACHINE",
        help="the cross-machine report is relative to this machine (default: the first)",
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        metavar="FILE",
        help="read any of these options from a TOML file (keys named like the flags, e.g. "
        "batch-size = [1, 1000]); flags on the command line override it. "
        "See also: python -m orchestrator compare --help",
    )
    return parser


def _slurm_minutes(text: str) -> int:
    """A Slurm time limit as whole minutes, rounded up, in sbatch's forms: ``MM``, ``MM:SS``,
    ``HH:MM:SS``, ``D-HH``, ``D-HH:MM``, ``D-HH:MM:SS``."""
    days = 0
    rest = text.strip()
    if "-" in rest:
        day_text, rest = rest.split("-", 1)
        days = int(day_text) if day_text.isdigit() else -1
    parts = rest.split(":")
    if days < 0 or not 1 <= len(parts) <= 3 or not all(part.isdigit() for part in parts):
        raise argparse.ArgumentTypeError(f"expected minutes or [D-]HH:MM:SS, got {text!r}")
    numbers = [int(part) for part in parts]
    if "-" in text:  # after a day count: HH, HH:MM or HH:MM:SS
        hours, minutes, seconds = [*numbers, 0, 0][:3]
    else:  # MM, MM:SS or HH:MM:SS
        hours, minutes, seconds = [0, *numbers, 0][:3] if len(numbers) < 3 else numbers
    total = (days * 24 + hours) * 60 + minutes + (seconds > 0)
    if total < 1:
        raise argparse.ArgumentTypeError(f"expected at least one minute, got {text!r}")
    return total


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
        precision=args.precision,
        warmup=args.warmup,
        min_iterations=args.min_iterations,
        max_iterations=args.max_iterations,
        min_time_s=args.min_time,
        seed=args.seed,
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
    _raise_on_signals()
    try:
        record = execute(
            plan, make_display(console, args.quiet), workloads, environments, export, args.config
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
    for line in settings + versions:
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

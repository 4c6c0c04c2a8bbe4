"""The run subcommand's flags, grouped by concern as ``--help`` shows them: what to measure, how
to measure, the output, and where (this machine or a Slurm cluster)."""

from __future__ import annotations

import argparse
from pathlib import Path

from models.registry import DEFAULT_MODEL, MODELS
from orchestrator.cli.flags import (
    _add_torch_index_flag,
    _count,
    _cpu_list,
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
    _precisions,
    _report_kinds,
    _scenarios,
    _seconds,
    _shape,
)
from orchestrator.execute.environments import (
    default_root,
)
from orchestrator.host import allowed_cpus
from orchestrator.plan.cells import format_cpus
from orchestrator.plan.framework_refs import ENVIRONMENTS
from orchestrator.plan.options import TUNE_REPEATS
from orchestrator.plan.plan import Plan
from orchestrator.plan.scenarios import ASKED_SCENARIOS, OWN_SCENARIOS
from orchestrator.report.formats import EXPORTERS
from runners.registry import FRAMEWORKS
from schemas.precisions import PRECISIONS
from schemas.scenarios import DEFAULT as DEFAULT_SCENARIO
from schemas.scenarios import SCENARIOS as SCENARIO_TABLE

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
    _what_frameworks_models_scenarios(what, defaults)
    _what_queries_and_shapes(what, defaults)
    _what_cpus_precision_inputs(what, defaults)
    how = parser.add_argument_group("how to measure")
    _how_options_and_environments(how, defaults)
    _how_isolation(how)
    _how_timing(how, defaults)
    out = parser.add_argument_group("output")
    _output_flags(out, defaults)
    fleet = parser.add_argument_group("where: this machine, or a Slurm cluster (one job per machine)")
    _where_flags(fleet)
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


def _what_frameworks_models_scenarios(what: argparse._ArgumentGroup, defaults: Plan) -> None:
    """Which frameworks and models, which scenarios, and the server scenario's load."""
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
        default=(DEFAULT_SCENARIO,),
        metavar="LIST",
        help=_scenario_help(),
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


def _what_queries_and_shapes(what: argparse._ArgumentGroup, defaults: Plan) -> None:
    """The peak search, LoadGen's query sizes, and the inputs' batch and shapes."""
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
        "input_ids=128, or one open dim by the name the file gives it (tokens=16) or a flag's "
        "symbol (seq=128, image=224); not the batch axis (--batch-size); repeat for several",
    )


def _scenario_help() -> str:
    """--scenario's help, from the table of scenarios: each name --scenario takes, what it measures."""
    own = " and ".join(OWN_SCENARIOS)
    each = [f"{name}: {SCENARIO_TABLE[name].measures}" for name in ASKED_SCENARIOS]
    return f"{'; '.join(each)}; both: {own}; a comma list runs several (default: {DEFAULT_SCENARIO})"


def _what_cpus_precision_inputs(what: argparse._ArgumentGroup, defaults: Plan) -> None:
    """Threads and CPUs, the precision, the user's inputs and the seed."""
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
        type=_precisions,
        default=defaults.precisions,
        metavar="LIST",
        help=f"compute precisions, a comma list of {', '.join(PRECISIONS)}; a list sweeps them, "
        "fp32 first (the baseline of each cell's speed-up); a framework that has no path for one "
        "skips it, the precision it really used is read back, and the model's acceptance for "
        "that precision judges its outputs (default: fp32)",
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
    what.add_argument(
        "--calibration-samples",
        type=_positive_int,
        default=defaults.calibration_samples,
        metavar="N",
        help="samples of the seeded calibration set an int8 quantizer calibrates on, drawn like the "
        f"inputs from a seed stream of their own (default: {defaults.calibration_samples})",
    )


def _how_options_and_environments(how: argparse._ArgumentGroup, defaults: Plan) -> None:
    """Framework options, instances, tuning, and where each framework's environment comes from."""
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


def _how_isolation(how: argparse._ArgumentGroup) -> None:
    """How the frameworks are kept apart: a process each, or one for all."""
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


def _how_timing(how: argparse._ArgumentGroup, defaults: Plan) -> None:
    """Repeats, warm-up, how many calls and for how long, the timeout."""
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


def _output_flags(out: argparse._ArgumentGroup, defaults: Plan) -> None:
    """Where results go, the report files, the baseline and the history gate."""
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
        help=f"also write reports into the run directory: any of {','.join(EXPORTERS)} (html: "
        "report.html, one self-contained page to open in a browser)",
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


def _where_flags(fleet: argparse._ArgumentGroup) -> None:
    """This machine or a Slurm cluster, and the cluster's settings."""
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

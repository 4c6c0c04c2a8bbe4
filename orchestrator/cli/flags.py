"""What the subcommands share: flag value types (a one-line error naming the flag), the
exit statuses, where a setting came from, and the environments flags."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from orchestrator.execute.environments import (
    PYTORCH_CPU_INDEX,
    TORCH_INDEX_VARIABLE,
    Environment,
    default_root,
    unavailable_versions,
)
from orchestrator.plan.options import parse as parse_option
from orchestrator.plan.scenarios import ASKED_SCENARIOS, OWN_SCENARIOS
from orchestrator.report.formats import EXPORTERS
from schemas.precisions import PRECISIONS

EXIT_OK = 0


EXIT_CELLS_NOT_OK = 1


EXIT_USAGE = 2


class _OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is a single line naming the flag (and exit status 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def _typed(
    convert: Callable[[str], Any], check: Callable[[Any], bool], expected: str
) -> Callable[[str], Any]:
    """An argparse type: ``convert`` the text, then ``check`` it; the error says what was expected."""

    def parse(text: str) -> Any:
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not check(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value

    return parse


def _parse_cpus(text: str) -> tuple[int, ...] | None:
    """'0', '0,1' or '0-3' -> CPU numbers; None if malformed."""
    cpus: list[int] = []
    for part in text.split(","):
        low, _, high = part.strip().partition("-")
        first, last = int(low), int(high or low)
        if first < 0 or last < first:
            return None
        cpus.extend(range(first, last + 1))
    return tuple(cpus)


def _parse_names(text: str) -> tuple[str, ...] | None:
    """'a,b' -> ('a', 'b'); None if any name is empty."""
    names = tuple(name.strip() for name in text.split(","))
    return names if all(names) else None


def _parse_shape(text: str) -> tuple[str, tuple[int, ...]] | None:
    """'input_ids=128' or 'image=3x224x224' -> (name, dims); None if malformed."""
    name, sep, dims = text.partition("=")
    values = tuple(int(part) for part in dims.lower().split("x")) if sep and dims else ()
    return (name.strip(), values) if name.strip() and values and all(v >= 1 for v in values) else None


_cpu_list = _typed(_parse_cpus, bool, "CPU numbers such as 0, 0,1 or 0-3")


_framework_list = _typed(_parse_names, bool, "a comma list of framework names (name or name@VERSION)")


_model_list = _typed(_parse_names, bool, "a comma list of model names or model files")


_shape = _typed(_parse_shape, bool, "NAME=DIMS such as input_ids=128 or pixel_values=3x224x224")


def _parse_option(text: str) -> tuple[str, str, tuple[str, ...]] | None:
    try:
        return parse_option(text)
    except ValueError:
        return None


_option = _typed(_parse_option, bool, "FRAMEWORK.KEY=VALUE[,VALUE...] such as tensorflow.jit_compile=false")


_positive_ints = _typed(
    lambda text: tuple(int(part) for part in text.split(",")),
    lambda values: all(v >= 1 for v in values),
    "a positive integer or a comma list of them",
)


_precisions = _typed(
    _parse_names,
    lambda names: all(name in PRECISIONS for name in names) and len(set(names)) == len(names),
    f"a comma list of {', '.join(PRECISIONS)}, each once",
)


_positive_int = _typed(int, lambda v: v >= 1, "a positive integer")


_count = _typed(int, lambda v: v >= 0, "zero or a positive integer")


_seconds = _typed(float, lambda v: v >= 0 and v != float("inf"), "zero or more seconds")


_positive_seconds = _typed(float, lambda v: 0 < v < float("inf"), "a positive number of seconds")


_percent = _typed(float, lambda v: 0 <= v < float("inf"), "a percentage, 0 or more")


_report_kinds = _typed(
    lambda text: tuple(part.strip() for part in text.split(",")),
    lambda kinds: all(kind in EXPORTERS for kind in kinds),
    f"a comma list of {', '.join(EXPORTERS)}",
)


# --scenario's names: the plan's scenarios (server-peak comes from --find-peak), and "both" for
# the tool's own two.
_SCENARIO_NAMES = list(ASKED_SCENARIOS)


def _parse_scenarios(text: str) -> tuple[str, ...] | None:
    names: list[str] = []
    for name in (part.strip() for part in text.split(",")):
        if name == "both":
            names += OWN_SCENARIOS
        elif name in _SCENARIO_NAMES:
            names.append(name)
        else:
            return None
    return tuple(names) if names and len(set(names)) == len(names) else None


_scenarios = _typed(
    _parse_scenarios, bool, f"a comma list of {', '.join(_SCENARIO_NAMES)} (or both), each once"
)


_positive_floats = _typed(
    lambda text: tuple(float(part) for part in text.split(",")),
    lambda values: all(0 < v < float("inf") for v in values),
    "a positive number or a comma list of them",
)


_positive_float = _typed(float, lambda v: 0 < v < float("inf"), "a positive number")


def _where(flag: str, args: argparse.Namespace, parser: argparse.ArgumentParser) -> str:
    """``--config FILE: key 'x'`` when ``flag``'s value came from the config file, else the flag."""
    action = parser._option_string_actions.get(flag)
    origin: dict[str, str] = getattr(args, "from_config", {})
    return origin.get(action.dest, flag) if action is not None else flag


def _add_torch_index_flag(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    parser.add_argument(
        "--torch-index-url",
        type=_index_url,
        default=None,
        metavar="URL",
        help=f"a mirror of PyTorch's CPU wheel index to install torch from (default: "
        f"${TORCH_INDEX_VARIABLE}, else a wheel folder in $PIP_FIND_LINKS that holds the pinned "
        f"torch, else {PYTORCH_CPU_INDEX})",
    )


def _index_url(text: str) -> str:
    """An index URL as uv takes one: http(s) or file."""
    if not text.startswith(("http://", "https://", "file://")) or len(text.split("://", 1)[1]) == 0:
        raise argparse.ArgumentTypeError(f"expected an http://, https:// or file:// URL, got {text!r}")
    return text


def _refuse_unavailable_versions(
    parser: argparse.ArgumentParser, args: argparse.Namespace, environments: dict[str, Environment]
) -> None:
    """A framework asked for at a version that cannot be installed: a usage error, before the
    run directory exists."""
    unavailable = unavailable_versions(environments)
    if unavailable:
        where = _where("--frameworks", args, parser)
        where = f"argument {where}" if where.startswith("--") else where
        parser.exit(EXIT_USAGE, f"{parser.prog}: error: {where}: {unavailable[0]}\n")


def _envs_root(args: argparse.Namespace) -> Path:
    return args.envs_dir if args.envs_dir is not None else default_root()

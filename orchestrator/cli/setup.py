"""``python -m orchestrator setup``: build the frameworks' environments ahead of a run."""

from __future__ import annotations

import sys
from pathlib import Path

from orchestrator.cli.flags import (
    EXIT_CELLS_NOT_OK,
    EXIT_OK,
    _add_torch_index_flag,
    _envs_root,
    _framework_list,
    _OneLineParser,
    _refuse_unavailable_versions,
)
from orchestrator.execute.display import make_console
from orchestrator.execute.env_status import ConsoleStatus
from orchestrator.execute.environments import (
    default_root,
    resolve,
)
from orchestrator.plan.framework_refs import FrameworkRef
from runners.registry import FRAMEWORKS


def setup_main(argv: list[str]) -> int:
    """``python -m orchestrator setup``: build (or check) the environments a run would use."""
    parser = _OneLineParser(
        prog="python -m orchestrator setup",
        description="Build each framework's environment now (a run builds them on first use).",
    )
    parser.add_argument(
        "--frameworks",
        type=_framework_list,
        default=tuple(FRAMEWORKS),
        metavar="LIST",
        help=f"comma list of frameworks whose environments to build, name or name@VERSION "
        f"(default: {','.join(FRAMEWORKS)})",
    )
    parser.add_argument(
        "--environment",
        choices=["own", "shared"],
        default="own",
        help="own: an environment per framework (default); shared: all in one, as --in-process uses",
    )
    parser.add_argument(
        "--envs-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help=f"where the environments live (default: {default_root()})",
    )
    _add_torch_index_flag(parser)
    args = parser.parse_args(argv)
    refs = [FrameworkRef.parse(text) for text in args.frameworks]
    unknown = [ref.name for ref in refs if ref.name not in FRAMEWORKS]
    if unknown:
        parser.error(
            f"argument --frameworks: unknown name {unknown[0]!r}; expected one of {', '.join(FRAMEWORKS)}"
        )
    status = ConsoleStatus(make_console())
    environments = resolve(refs, args.environment, _envs_root(args), status, args.torch_index_url)
    _refuse_unavailable_versions(parser, args, environments)
    status.summary()
    failed = {label: env for label, env in environments.items() if env.error}
    for label, env in failed.items():
        print(f"{parser.prog}: error: {label}: {env.error} (log: {env.log})", file=sys.stderr)
    return EXIT_CELLS_NOT_OK if failed else EXIT_OK

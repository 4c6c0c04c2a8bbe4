"""The command line: argv in, an exit status out. Nothing imports this package.

One module per subcommand (``run`` is the default one, the others are named by the first
argument); ``flags`` holds what they share. Each subcommand is imported only when it is asked
for, so ``compare`` does not load the run machinery.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m orchestrator``; returns the exit status."""
    argv = sys.argv[1:] if argv is None else argv
    command = argv[0] if argv else None
    if command == "compare":
        from orchestrator.cli.compare import compare_main

        return compare_main(argv[1:])
    if command == "setup":
        from orchestrator.cli.setup import setup_main

        return setup_main(argv[1:])
    if command == "merge":
        from orchestrator.cli.merge import merge_main

        return merge_main(argv[1:])
    if command == "history":
        from orchestrator.cli.history import history_main

        return history_main(argv[1:])
    if command == "machines":
        from orchestrator.cli.machines import machines_main

        return machines_main(argv[1:])
    if command == "roofs":
        from orchestrator.cli.roofs import roofs_main

        return roofs_main(argv[1:])
    from orchestrator.cli.run import run_main

    return run_main(argv)

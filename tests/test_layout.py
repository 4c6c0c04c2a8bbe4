"""The parent's code stays in small rooms: no function or method in orchestrator/ over 60 lines
(the project's guide), so each can be read in one screen."""

from __future__ import annotations

import ast

from conftest import PROJECT_ROOT

LIMIT = 60


def long_functions(package: str) -> list[str]:
    """Every function or method under ``package`` longer than LIMIT lines, as ``path:line name (N lines)``."""
    long = []
    for path in sorted((PROJECT_ROOT / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > LIMIT:
                    long.append(f"{path.relative_to(PROJECT_ROOT)}:{node.lineno} {node.name} ({lines} lines)")
    return long


def test_no_function_in_the_orchestrator_is_over_60_lines() -> None:
    long = long_functions("orchestrator")
    assert not long, "functions over 60 lines:\n" + "\n".join(long)


def test_no_function_in_the_runners_is_over_60_lines() -> None:
    long = long_functions("runners")
    assert not long, "functions over 60 lines:\n" + "\n".join(long)

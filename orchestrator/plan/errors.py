"""What every part of the plan raises on a bad setting, and a helper they share."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class PlanError(ValueError):
    """A setting is invalid; ``flag`` names the command-line option it came from."""

    def __init__(self, flag: str, message: str) -> None:
        super().__init__(f"{flag}: {message}")
        self.flag = flag


def first_duplicate(values: Iterable[Any]) -> Any:
    """The first value given twice, or None."""
    seen = set()
    for value in values:
        if value in seen:
            return value
        seen.add(value)
    return None

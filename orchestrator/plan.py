"""The benchmark plan: validated settings, expanded into cells, frozen before anything runs."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from runners.registry import ALL_RUNNERS, FRAMEWORKS
from schemas.model import MODEL_NAME

DEFAULT_ROWS = 1000
PARITY_TOLERANCE = 1e-4  # max |output - reference| for a float32 cell


class PlanError(ValueError):
    """A setting is invalid; ``flag`` names the command-line option it came from."""

    def __init__(self, flag: str, message: str) -> None:
        super().__init__(f"{flag}: {message}")
        self.flag = flag


def allowed_cpus() -> tuple[int, ...]:
    """CPUs this process may run on (its affinity mask), sorted."""
    return tuple(sorted(os.sched_getaffinity(0)))


@dataclass(frozen=True)
class Cell:
    """One subprocess's worth of work: a framework at one batch size and thread count."""

    index: int
    framework: str
    batch_size: int
    threads: int
    cpus: tuple[int, ...]

    @property
    def cell_id(self) -> str:
        return f"{self.index:02d}-{self.framework}-b{self.batch_size}-t{self.threads}"


@dataclass(frozen=True)
class Plan:
    """Everything a run needs to know, checked at construction."""

    frameworks: tuple[str, ...] = tuple(FRAMEWORKS)
    batch_size: int = DEFAULT_ROWS
    threads: int | None = None  # None: one per CPU in ``cpus``
    cpus: tuple[int, ...] | None = None  # None: every allowed CPU
    warmup: int = 50
    min_iterations: int = 200
    min_time_s: float = 2.0
    seed: int = 0
    output: Path = Path("results")
    timeout_s: float = 300.0
    mode: str = "isolated"
    inputs: Path | None = None  # the user's --inputs file; None: seeded random inputs
    input_rows: int | None = None  # rows in that file
    model: str = field(default=MODEL_NAME)

    def __post_init__(self) -> None:
        if not self.frameworks:
            raise PlanError("--frameworks", "expected at least one framework")
        unknown = [name for name in self.frameworks if name not in ALL_RUNNERS]
        if unknown:
            raise PlanError(
                "--frameworks",
                f"unknown framework {unknown[0]!r}; expected a comma list of {', '.join(FRAMEWORKS)}",
            )
        if len(set(self.frameworks)) != len(self.frameworks):
            raise PlanError("--frameworks", "a framework is named twice")
        allowed = allowed_cpus()
        cpus = allowed if self.cpus is None else tuple(sorted(set(self.cpus)))
        if not cpus:
            raise PlanError("--cpus", "expected at least one CPU")
        outside = [c for c in cpus if c not in allowed]
        if outside:
            raise PlanError("--cpus", f"CPU {outside[0]} is not in the allowed set {format_cpus(allowed)}")
        object.__setattr__(self, "cpus", cpus)
        if self.threads is None:
            object.__setattr__(self, "threads", len(cpus))
        for flag, value in (
            ("--batch-size", self.batch_size),
            ("--threads", self.threads),
            ("--min-iterations", self.min_iterations),
        ):
            if not isinstance(value, int) or value < 1:
                raise PlanError(flag, f"expected a positive integer, got {value!r}")
        if self.warmup < 0:
            raise PlanError("--warmup", f"expected zero or more iterations, got {self.warmup}")
        if self.min_time_s < 0:
            raise PlanError("--min-time", f"expected zero or more seconds, got {self.min_time_s}")
        if self.input_rows is not None and self.batch_size > self.input_rows:
            raise PlanError(
                "--batch-size",
                f"{self.batch_size} exceeds the {self.input_rows} rows of --inputs {self.inputs}",
            )
        if not self.timeout_s > 0:
            raise PlanError("--timeout", f"expected a positive number of seconds, got {self.timeout_s}")

    @property
    def rows(self) -> int:
        """Rows of inputs: the user's, or the article's 1000 (more if a batch needs them)."""
        return self.input_rows or max(DEFAULT_ROWS, self.batch_size)

    def cells(self) -> list[Cell]:
        """The cells to run, in order: one per framework."""
        assert self.threads is not None and self.cpus is not None
        return [
            Cell(index, name, self.batch_size, self.threads, self.cpus)
            for index, name in enumerate(self.frameworks)
        ]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, stored in the run directory as plan.json."""
        data = asdict(self)
        data["output"] = str(self.output)
        data["inputs"] = None if self.inputs is None else str(self.inputs)
        data["cells"] = [asdict(cell) | {"cell_id": cell.cell_id} for cell in self.cells()]
        return data


def format_cpus(cpus: tuple[int, ...] | list[int]) -> str:
    """CPUs as a comma list, as --cpus takes them."""
    return ",".join(str(c) for c in cpus)

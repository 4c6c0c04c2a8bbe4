"""The benchmark plan: validated settings, expanded into cells, frozen before anything runs."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil

from runners.registry import ALL_RUNNERS, FRAMEWORKS
from schemas.model import FEATURES, MODEL_NAME

DEFAULT_ROWS = 1000

# offline: the whole batch in one call (throughput). single-stream: one sample per call,
# cycling through the input rows (per-request latency), as MLPerf LoadGen names them.
SCENARIOS = ("offline", "single-stream")

# isolated: one fresh process per cell. in-process: every framework of a repeat in one shared
# worker, one after another, as the article did -- to show what that does to the figures.
MODES = ("isolated", "in-process")

# Largest |output - reference| a cell may show at each precision. bfloat16 keeps 8 bits of
# mantissa (relative error ~4e-3), and this network's outputs sit around 0.5.
PARITY_TOLERANCE = {"fp32": 1e-4, "bf16": 2e-2}


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
    """One framework measured once, at one configuration, in one worker process."""

    index: int
    framework: str
    scenario: str
    batch_size: int
    threads: int
    cpus: tuple[int, ...]
    precision: str
    mode: str
    repeat: int

    @property
    def config_id(self) -> str:
        """What the cell measures, the same for every repeat of it."""
        suffix = "" if self.mode == "isolated" else "-inproc"
        return f"{self.framework}-{self.scenario}-b{self.batch_size}-t{self.threads}-{self.precision}{suffix}"

    @property
    def cell_id(self) -> str:
        """Unique within a run: its position, its configuration and its repeat."""
        return f"{self.index:03d}-{self.config_id}-r{self.repeat}"


@dataclass(frozen=True)
class Plan:
    """Everything a run needs to know, checked at construction."""

    frameworks: tuple[str, ...] = tuple(FRAMEWORKS)
    batch_sizes: tuple[int, ...] = (DEFAULT_ROWS,)
    threads: tuple[int, ...] | None = None  # None: one per CPU in ``cpus``
    cpus: tuple[int, ...] | None = None  # None: every allowed CPU
    scenarios: tuple[str, ...] = ("offline",)
    repeats: int = 1
    modes: tuple[str, ...] = ("isolated",)
    precision: str = "fp32"
    warmup: int = 50
    min_iterations: int = 200
    # Enough for any percentile; stops a 50 ns noop call from filling memory in --min-time.
    max_iterations: int = 1_000_000
    min_time_s: float = 2.0
    seed: int = 0
    output: Path = Path("results")
    timeout_s: float = 300.0
    inputs: Path | None = None  # the user's --inputs file; None: seeded random inputs
    input_rows: int | None = None  # rows in that file
    model: str = field(default=MODEL_NAME)

    def __post_init__(self) -> None:
        self._check_names("--frameworks", self.frameworks, tuple(ALL_RUNNERS), shown=tuple(FRAMEWORKS))
        self._check_names("--scenario", self.scenarios, SCENARIOS)
        self._check_names("--mode", self.modes, MODES)
        if self.precision not in PARITY_TOLERANCE:
            raise PlanError(
                "--precision", f"expected one of {', '.join(PARITY_TOLERANCE)}, got {self.precision!r}"
            )
        allowed = allowed_cpus()
        cpus = allowed if self.cpus is None else tuple(sorted(set(self.cpus)))
        if not cpus:
            raise PlanError("--cpus", "expected at least one CPU")
        outside = [c for c in cpus if c not in allowed]
        if outside:
            raise PlanError("--cpus", f"CPU {outside[0]} is not in the allowed set {format_cpus(allowed)}")
        object.__setattr__(self, "cpus", cpus)
        if self.threads is None:
            object.__setattr__(self, "threads", (len(cpus),))
        for flag, values in (("--batch-size", self.batch_sizes), ("--threads", self.threads)):
            if not values or any(not isinstance(v, int) or v < 1 for v in values or ()):
                raise PlanError(flag, f"expected positive integers, got {values!r}")
        for flag, value in (("--min-iterations", self.min_iterations), ("--repeats", self.repeats)):
            if not isinstance(value, int) or value < 1:
                raise PlanError(flag, f"expected a positive integer, got {value!r}")
        if self.max_iterations < self.min_iterations:
            raise PlanError(
                "--max-iterations",
                f"expected at least --min-iterations ({self.min_iterations}), got {self.max_iterations}",
            )
        if self.warmup < 0:
            raise PlanError("--warmup", f"expected zero or more iterations, got {self.warmup}")
        if self.min_time_s < 0:
            raise PlanError("--min-time", f"expected zero or more seconds, got {self.min_time_s}")
        offline = "offline" in self.scenarios
        if offline and self.input_rows is not None and max(self.batch_sizes) > self.input_rows:
            raise PlanError(
                "--batch-size",
                f"{max(self.batch_sizes)} exceeds the {self.input_rows} rows of --inputs {self.inputs}",
            )
        # Inputs, reference and the runner's copies: a few times the batch; refuse what cannot fit.
        need_mb = 4 * self.rows * FEATURES * 4 / 2**20
        available_mb = psutil.virtual_memory().available / 2**20
        if need_mb > available_mb:
            raise PlanError(
                "--batch-size",
                f"{max(self.batch_sizes)} rows need ~{need_mb:,.0f} MB, more than the "
                f"{available_mb:,.0f} MB available",
            )
        if not self.timeout_s > 0:
            raise PlanError("--timeout", f"expected a positive number of seconds, got {self.timeout_s}")

    @staticmethod
    def _check_names(
        flag: str, names: tuple[str, ...], known: tuple[str, ...], shown: tuple[str, ...] = ()
    ) -> None:
        if not names:
            raise PlanError(flag, "expected at least one name")
        unknown = [name for name in names if name not in known]
        if unknown:
            raise PlanError(flag, f"unknown name {unknown[0]!r}; expected one of {', '.join(shown or known)}")
        if len(set(names)) != len(names):
            raise PlanError(flag, "a name is given twice")

    @property
    def rows(self) -> int:
        """Rows of inputs: the user's, or the article's 1000 (more if an offline batch needs them)."""
        if self.input_rows:
            return self.input_rows
        if "offline" not in self.scenarios:
            return DEFAULT_ROWS
        return max(DEFAULT_ROWS, *self.batch_sizes)

    def cells(self) -> list[Cell]:
        """Every cell, in run order.

        Frameworks vary fastest and repeats slowest (A B C A B C, never A A B B C C), so that
        drift on the machine touches every framework alike.
        """
        assert self.threads is not None and self.cpus is not None
        cells: list[Cell] = []
        for mode in self.modes:
            for repeat in range(self.repeats):
                for scenario in self.scenarios:
                    batch_sizes = self.batch_sizes if scenario == "offline" else (1,)
                    for batch_size in batch_sizes:
                        for threads in self.threads:
                            for framework in self.frameworks:
                                cells.append(
                                    Cell(
                                        len(cells),
                                        framework,
                                        scenario,
                                        batch_size,
                                        threads,
                                        self.cpus,
                                        self.precision,
                                        mode,
                                        repeat,
                                    )
                                )
        return cells

    @property
    def parity_tolerance(self) -> float:
        return PARITY_TOLERANCE[self.precision]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, stored in the run directory as plan.json."""
        data = asdict(self)
        data["output"] = str(self.output)
        data["inputs"] = None if self.inputs is None else str(self.inputs)
        data["cells"] = [asdict(cell) | {"cell_id": cell.cell_id} for cell in self.cells()]
        return data


def launch_groups(cells: list[Cell]) -> list[list[Cell]]:
    """The cells each worker process runs, in run order.

    An isolated cell has a process to itself; the in-process cells of one repeat, scenario,
    batch size and thread count -- every framework at one configuration -- share one worker,
    in plan order. (A worker cannot change PyTorch's or TensorFlow's thread pools once set.)
    """
    groups: list[list[Cell]] = []
    shared: dict[tuple[int, str, int, int], list[Cell]] = {}
    for cell in cells:
        if cell.mode == "isolated":
            groups.append([cell])
            continue
        key = (cell.repeat, cell.scenario, cell.batch_size, cell.threads)
        if key not in shared:
            shared[key] = []
            groups.append(shared[key])
        shared[key].append(cell)
    return groups


def format_cpus(cpus: tuple[int, ...] | list[int]) -> str:
    """CPUs as a comma list, as --cpus takes them."""
    return ",".join(str(c) for c in cpus)

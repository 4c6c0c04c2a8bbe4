"""A plan's cells -- one framework measured once, at one configuration, in one worker process --
and how they are grouped into worker processes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from schemas.configuration import CONTENDER_COLUMNS, config_id


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
    model: str = "mlp"
    framework_pin: str | None = None
    target_qps: float | None = None  # server: the offered rate (all instances together)
    latency_bound_ms: float | None = None  # server, server-peak
    instances: int = 1  # copies of the runner at once, each on its own share of ``cpus``
    instance: int = 0
    cpu_share: tuple[int, ...] = ()  # this instance's CPUs (empty: all of ``cpus``)
    environment: str = "own"
    input_shapes: str = "{}"  # JSON: input name -> the shape of one call's array
    options_json: str = "{}"

    @property
    def framework_label(self) -> str:
        """``onnxruntime`` or ``onnxruntime@1.31.1``."""
        return self.framework if self.framework_pin is None else f"{self.framework}@{self.framework_pin}"

    @property
    def settings(self) -> dict[str, Any]:
        """The cell's configuration columns, as a summary row holds them."""
        return {
            "model": self.model,
            "framework": self.framework,
            "framework_pin": self.framework_pin,
            "environment": self.environment,
            "scenario": self.scenario,
            "target_qps": self.target_qps,
            "latency_bound_ms": self.latency_bound_ms,
            "batch_size": self.batch_size,
            "input_shapes": self.input_shapes,
            "threads": self.threads,
            "cpus": format_cpus(self.cpus),
            "precision": self.precision,
            "options_json": self.options_json,
            "instances": self.instances,
            "mode": self.mode,
        }

    @property
    def config_id(self) -> str:
        """What the cell measures, the same for every repeat of it."""
        return config_id(self.settings)

    @property
    def cell_id(self) -> str:
        """Unique within a run: its position, its configuration, its repeat (and instance)."""
        instance = f"-i{self.instance}" if self.instances > 1 else ""
        return f"{self.index:03d}-{self.config_id}-r{self.repeat}{instance}"

    @property
    def pinned_to(self) -> tuple[int, ...]:
        """The CPUs this cell's process is pinned to: its instance's share, or all of them."""
        return self.cpu_share or self.cpus


def launch_groups(cells: list[Cell]) -> list[list[Cell]]:
    """The cells each worker process runs, in run order.

    An isolated cell has a process to itself; the in-process cells of one repeat and one
    configuration but the framework share one worker, in plan order. (A worker cannot change
    PyTorch's or TensorFlow's thread pools once set.)
    """
    groups: list[list[Cell]] = []
    shared: dict[tuple[Any, ...], list[Cell]] = {}
    for cell in cells:
        if cell.mode == "isolated":
            groups.append([cell])
            continue
        settings = cell.settings
        key = (cell.repeat, *(v for k, v in settings.items() if k not in CONTENDER_COLUMNS))
        if key not in shared:
            shared[key] = []
            groups.append(shared[key])
        shared[key].append(cell)
    return groups


def format_cpus(cpus: tuple[int, ...] | list[int]) -> str:
    """CPUs as a comma list, as --cpus takes them."""
    return ",".join(str(c) for c in cpus)

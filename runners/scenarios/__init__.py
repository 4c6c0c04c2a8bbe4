"""Scenarios: how a cell's calls are issued and timed, each one module with one ``measure``.

``loop``: the tool's own back-to-back loop (single-stream, offline). ``loadgen``: MLPerf LoadGen
issuing the queries (server, server-peak, multi-stream, and LoadGen's single-stream/offline).
The Runner (runners/base.py) owns the stages around it -- import, load, first call, warm-up --
and hands a scenario one :class:`Measurement`; the scenario fills its figures and returns the
latencies it timed. Which module measures a cell is :func:`measure_for`'s choice, read from the job.
"""

from __future__ import annotations

import importlib
from array import array
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from runners.events import EventPipe
from schemas.job import JobSpec
from schemas.scenarios import scenario

if TYPE_CHECKING:
    from runners.base import Runner


@dataclass
class Measurement:
    """What a scenario measures with: the loaded runner, its prepared samples and the job."""

    runner: Runner
    job: JobSpec
    samples: list[Any]  # the prepared feeds of the tool's loop, in turn
    pool: dict[str, np.ndarray] | None  # every stored input, for LoadGen's queries
    per_call_ns: float  # the warm-up's median call: sizes the first chunk or query
    figures: dict[str, Any]  # filled in: timed_s, cpu_percent, thread activity, ...
    events: EventPipe


class Scenario(Protocol):
    """A scenario module: ``measure`` times the calls and returns one latency in ns per call
    (the tool's loop) or per query (LoadGen)."""

    def measure(self, measurement: Measurement) -> array[int]: ...


def measure_for(job: JobSpec) -> Scenario:
    """The scenario module that measures ``job`` (its row's ``module`` in schemas/scenarios.py),
    imported here, in the runner, only when it is used."""
    module: Any = importlib.import_module(f"runners.scenarios.{scenario(job.scenario).module}")
    return module  # type: ignore[no-any-return]

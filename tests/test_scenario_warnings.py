"""Each scenario is judged by what is abnormal for it: queueing under the server's Poisson
arrivals is what that scenario measures, so its spread is no `noisy, heavy-tail` warning."""

import numpy as np
import pytest

from orchestrator.execute.aggregate import CellOutcome, cell_row, summarise_configs
from orchestrator.figures.stats import latency_stats
from orchestrator.figures.trust import HEAVY_TAIL, NOISY, assess
from orchestrator.host import MachineState
from orchestrator.plan.cells import Cell

MS = 1_000_000  # ns


def queued_latencies_ns(calls: int = 4000, utilisation: float = 0.8, seed: int = 5) -> np.ndarray:
    """A steady model (1 ms a call, 1 % jitter) behind a queue of Poisson arrivals: each
    query's wait plus its call (Lindley's recursion), as a server cell's latencies are."""
    rng = np.random.default_rng(seed)
    service = rng.normal(1.0, 0.01, calls)
    gaps = rng.exponential(1.0 / utilisation, calls)
    latency = np.empty(calls)
    wait = 0.0
    for i in range(calls):
        latency[i] = wait + service[i]
        wait = max(0.0, latency[i] - gaps[i])  # what the next query finds still to do
    return (latency * MS).astype(np.int64)


def codes(warnings: list[str]) -> set[str]:
    return {warning.split(":", 1)[0] for warning in warnings}


def test_queueing_is_noisy_and_heavy_tailed_by_nature() -> None:
    latencies = queued_latencies_ns()
    assert {NOISY, HEAVY_TAIL} <= codes(assess(latencies))  # as judged for a back-to-back loop
    assert not {NOISY, HEAVY_TAIL} & codes(assess(latencies, queueing=True))


def outcome_of(scenario: str, latencies: np.ndarray) -> CellOutcome:
    cell = Cell(
        index=0, framework="fake", scenario=scenario, batch_size=1, threads=1, cpus=(0,),
        precision="fp32", mode="isolated", repeat=0,
        target_qps=800.0 if scenario == "server" else None,
        latency_bound_ms=50.0 if scenario in ("server", "server-peak") else None,
    )  # fmt: skip
    row = cell_row("20260101T000000Z-abc123", cell)
    row.update(latency_stats(latencies).columns(), status="ok", iterations=latencies.size)
    return CellOutcome(cell, row, latencies)


@pytest.mark.parametrize("scenario", ["server", "server-peak", "loadgen-offline"])
def test_a_queueing_scenario_is_not_warned_for_its_queue(scenario: str) -> None:
    (row,) = summarise_configs([outcome_of(scenario, queued_latencies_ns())], MachineState.read())
    assert not {NOISY, HEAVY_TAIL} & codes((row["warnings"] or "").split("; ")), row["warnings"]


@pytest.mark.parametrize("scenario", ["offline", "single-stream", "multi-stream", "loadgen-single-stream"])
def test_a_back_to_back_scenario_with_that_spread_is_warned(scenario: str) -> None:
    (row,) = summarise_configs([outcome_of(scenario, queued_latencies_ns())], MachineState.read())
    assert {NOISY, HEAVY_TAIL} <= codes((row["warnings"] or "").split("; ")), row["warnings"]

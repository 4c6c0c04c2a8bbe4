"""The scenarios a plan can run, and their rules: which flags each takes, how many samples one
model call of each holds, and which configurations each expands into."""

from __future__ import annotations

from orchestrator.plan.errors import PlanError, first_duplicate
from schemas.scenarios import SCENARIOS as TABLE
from schemas.scenarios import scenario as record

# Every fact about a scenario is its row of the table (schemas/scenarios.py); these are views of it.
# The tool's own loops (runners/scenarios/loop.py) and MLPerf LoadGen's scenarios, LoadGen issuing
# the queries (runners/scenarios/loadgen.py); the value is LoadGen's name for the scenario.
OWN_SCENARIOS = tuple(name for name, s in TABLE.items() if s.loadgen is None)
LOADGEN_SCENARIOS = {name: s.loadgen for name, s in TABLE.items() if s.loadgen is not None}
SCENARIOS = (*OWN_SCENARIOS, *LOADGEN_SCENARIOS)
# Scenarios whose queries wait in a queue for the model (Scenario.queues).
QUEUEING_SCENARIOS = frozenset(name for name, s in TABLE.items() if s.queues)
# The scenarios whose call takes --batch-size samples (the others take one sample, a multi-stream
# query or --max-batch): a --batch-size with none of them would be silently ignored.
BATCHED_SCENARIOS = tuple(name for name, s in TABLE.items() if s.batch == "batch-size")
# The names --scenario takes: a scenario asked for under another's name (server-peak: server
# with --find-peak) is not one of them.
ASKED_SCENARIOS = tuple(name for name in SCENARIOS if TABLE[name].asked_as is None)


def _taking(flag: str) -> tuple[str, ...]:
    """The scenarios --scenario names whose row says ``flag`` applies to them."""
    return tuple(name for name in ASKED_SCENARIOS if flag in TABLE[name].flags)


def check_load(
    scenarios: tuple[str, ...],
    *,
    target_qps: tuple[float, ...],
    find_peak: bool,
    latency_bound_ms: float | None,
    max_batch: int,
    samples_per_query: int,
) -> None:
    """The LoadGen settings fit the scenarios asked for."""
    server = bool(set(_taking("--latency-bound-ms")) & set(scenarios))
    if server and latency_bound_ms is None:
        raise PlanError("--latency-bound-ms", "the server scenario needs the latency its p99 must stay under")
    if server and not target_qps and not find_peak:
        raise PlanError("--target-qps", "the server scenario needs a rate to offer (or --find-peak)")
    if not server and (target_qps or find_peak or latency_bound_ms is not None):
        flag = "--target-qps" if target_qps else "--find-peak" if find_peak else "--latency-bound-ms"
        raise PlanError(flag, "is for the server scenario (--scenario server)")
    if any(not q > 0 for q in target_qps) or (latency_bound_ms is not None and not latency_bound_ms > 0):
        raise PlanError("--target-qps", "expected positive rates and a positive latency bound")
    duplicate = first_duplicate(target_qps)
    if duplicate is not None:
        raise PlanError("--target-qps", f"{duplicate:g} is given twice")
    batching = set(_taking("--max-batch")) & set(scenarios)
    if max_batch > 1 and not batching:
        names = " or ".join(_taking("--max-batch"))
        raise PlanError("--max-batch", f"batches queued queries under load: for {names}")
    if samples_per_query != 8 and not set(_taking("--samples-per-query")) & set(scenarios):
        raise PlanError("--samples-per-query", "is for the multi-stream scenario")
    if max_batch < 1 or samples_per_query < 1:
        raise PlanError("--max-batch", "expected a positive number of samples")


def call_batches(
    scenario: str, *, batch_sizes: tuple[int, ...], samples_per_query: int, max_batch: int
) -> tuple[int, ...]:
    """The batch of one model call in ``scenario``: the offline sizes, one sample, the samples
    of a multi-stream query, or a server's --max-batch (a short batch is padded up to it)."""
    return {
        "batch-size": batch_sizes,
        "query": (samples_per_query,),
        "max-batch": (max_batch,),
        "one": (1,),
    }[record(scenario).batch]


def cell_scenarios(
    scenarios: tuple[str, ...], *, target_qps: tuple[float, ...], find_peak: bool
) -> list[str]:
    """The scenarios cells run: --scenario's, the server's as a rate, a peak search, or both."""
    found: list[str] = []
    for scenario in scenarios:
        # Those asked for under its name: itself (a server at its rates, if given), its peak search.
        asked = [name for name, s in TABLE.items() if name == scenario or s.asked_as == scenario]
        if len(asked) == 1:
            found.append(scenario)
            continue
        found += [name for name in asked if (find_peak if TABLE[name].find_peak else target_qps)]
    return found


def loads(
    scenario: str, *, target_qps: tuple[float, ...], latency_bound_ms: float | None
) -> list[tuple[float | None, float | None]]:
    """(target QPS, latency bound) of each configuration of ``scenario``."""
    row = record(scenario)
    if "--latency-bound-ms" not in row.flags:
        return [(None, None)]
    if row.find_peak:
        return [(None, latency_bound_ms)]
    return [(qps, latency_bound_ms) for qps in target_qps]

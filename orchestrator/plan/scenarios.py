"""The scenarios a plan can run, and their rules: which flags each takes, how many samples one
model call of each holds, and which configurations each expands into."""

from __future__ import annotations

from orchestrator.plan.errors import PlanError, first_duplicate

# The tool's own loops -- offline: the whole batch in one call (throughput); single-stream: one
# sample per call, cycling through the input rows (per-request latency) -- and MLPerf LoadGen's
# scenarios, LoadGen issuing the queries (runners/scenarios/loadgen.py): server at a target rate, server-peak
# (the highest rate that stays valid: --find-peak), multi-stream, and LoadGen's own single-stream
# and offline, to set beside the tool's. The value is LoadGen's name for the scenario.
OWN_SCENARIOS = ("offline", "single-stream")
LOADGEN_SCENARIOS = {
    "server": "server",
    "server-peak": "server",
    "multi-stream": "multi-stream",
    "loadgen-single-stream": "single-stream",
    "loadgen-offline": "offline",
}
SCENARIOS = (*OWN_SCENARIOS, *LOADGEN_SCENARIOS)
# Scenarios whose queries arrive on their own schedule and wait in a queue for the model (the
# server's Poisson arrivals, LoadGen's offline query of every sample at once): a query's
# latency is its wait plus the call, and its spread is what the scenario measures.
QUEUEING_SCENARIOS = frozenset({"server", "server-peak", "loadgen-offline"})
# The scenarios whose call takes --batch-size samples (the others take one sample, a multi-stream
# query or --max-batch): a --batch-size with none of them would be silently ignored.
BATCHED_SCENARIOS = ("offline", "loadgen-offline")


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
    server = "server" in scenarios
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
    batching = {"server", "loadgen-offline"} & set(scenarios)
    if max_batch > 1 and not batching:
        raise PlanError("--max-batch", "batches queued queries under load: for server or loadgen-offline")
    if samples_per_query != 8 and "multi-stream" not in scenarios:
        raise PlanError("--samples-per-query", "is for the multi-stream scenario")
    if max_batch < 1 or samples_per_query < 1:
        raise PlanError("--max-batch", "expected a positive number of samples")


def call_batches(
    scenario: str, *, batch_sizes: tuple[int, ...], samples_per_query: int, max_batch: int
) -> tuple[int, ...]:
    """The batch of one model call in ``scenario``: the offline sizes, one sample, the samples
    of a multi-stream query, or a server's --max-batch (a short batch is padded up to it)."""
    if scenario in ("offline", "loadgen-offline"):
        return batch_sizes
    if scenario == "multi-stream":
        return (samples_per_query,)
    if scenario in ("server", "server-peak"):
        return (max_batch,)
    return (1,)


def cell_scenarios(
    scenarios: tuple[str, ...], *, target_qps: tuple[float, ...], find_peak: bool
) -> list[str]:
    """The scenarios cells run: --scenario's, the server's as a rate, a peak search, or both."""
    found: list[str] = []
    for scenario in scenarios:
        if scenario == "server":
            found += ["server"] if target_qps else []
            found += ["server-peak"] if find_peak else []
        else:
            found.append(scenario)
    return found


def loads(
    scenario: str, *, target_qps: tuple[float, ...], latency_bound_ms: float | None
) -> list[tuple[float | None, float | None]]:
    """(target QPS, latency bound) of each configuration of ``scenario``."""
    if scenario == "server":
        return [(qps, latency_bound_ms) for qps in target_qps]
    if scenario == "server-peak":
        return [(None, latency_bound_ms)]
    return [(None, None)]

"""The table of scenarios: one record per scenario, every fact the plan, the runner and the
report need about it. A scenario's behaviour is one module under runners/scenarios/ (``module``);
nothing else compares a scenario's name.

Stdlib only: the parent and the runner both read it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scenario:
    """One way of issuing a cell's calls."""

    name: str  # as --scenario and the results name it
    measures: str  # what its figures say, for --help and the report
    module: str  # the runners/scenarios/ module whose measure() times it: "loop" or "loadgen"
    metric: str  # its headline figure
    loadgen: str | None = None  # LoadGen's own name for it (TestScenario), None for the tool's loop
    # Queries arrive on their own schedule and wait in a queue for the model (the server's
    # Poisson arrivals, LoadGen's offline query of every sample at once): a query's latency is
    # its wait plus the call, and its spread is what the scenario measures.
    queues: bool = False
    batch: str = "one"  # one call's batch: "batch-size" (--batch-size), "one", "query", "max-batch"
    cycles_samples: bool = False  # one sample per call, cycling through the input rows
    flags: tuple[str, ...] = ()  # the flags that apply to it alone (or with the others named so)
    find_peak: bool = False  # searches for the highest rate that stays valid (INVALID above it)
    asked_as: str | None = None  # the --scenario name that asks for it, when not its own

    @property
    def batch_loop(self) -> bool:
        """The tool's own loop calling the model on the first --batch-size rows of the inputs,
        back to back (offline): the cells whose batch a fixed-batch model and --inputs' rows
        must fit, and the ones the sweep chart draws against batch size and threads."""
        return self.loadgen is None and self.batch == "batch-size"

    @property
    def draws_samples(self) -> bool:
        """Its calls draw samples from the stored inputs (cycling through them, or LoadGen's pool
        of them) rather than always taking the same first rows: it needs the model's
        single-stream samples of inputs."""
        return self.cycles_samples or self.loadgen is not None


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "offline",
            "the whole batch in one call, back to back",
            "loop",
            "throughput (samples/s)",
            batch="batch-size",
            flags=("--batch-size",),
        ),
        Scenario(
            "single-stream",
            "one sample per call, cycling through the input rows, back to back",
            "loop",
            "per-request latency (ms)",
            cycles_samples=True,
        ),
        Scenario(
            "server",
            "LoadGen's Poisson arrivals at --target-qps, judged against --latency-bound-ms",
            "loadgen",
            "p99 latency under load, VALID or INVALID",
            loadgen="server",
            queues=True,
            batch="max-batch",
            flags=("--target-qps", "--latency-bound-ms", "--max-batch"),
        ),
        Scenario(
            "server-peak",
            "the highest server rate that stays VALID (--find-peak)",
            "loadgen",
            "peak queries/s",
            loadgen="server",
            queues=True,
            batch="max-batch",
            flags=("--find-peak", "--latency-bound-ms", "--max-batch"),
            find_peak=True,
            asked_as="server",
        ),
        Scenario(
            "multi-stream",
            "LoadGen's queries of --samples-per-query samples, one after another",
            "loadgen",
            "per-query latency (ms)",
            loadgen="multi-stream",
            batch="query",
            flags=("--samples-per-query",),
        ),
        Scenario(
            "loadgen-single-stream",
            "LoadGen's single-stream, beside the tool's own",
            "loadgen",
            "per-query latency (ms)",
            loadgen="single-stream",
        ),
        Scenario(
            "loadgen-offline",
            "LoadGen's offline: every sample in one query, batched by --max-batch",
            "loadgen",
            "throughput (samples/s)",
            loadgen="offline",
            queues=True,
            batch="batch-size",
            flags=("--batch-size", "--max-batch"),
        ),
    )
}


# --scenario's default; a history written before the scenario column holds only its cells.
DEFAULT = "offline"


def scenario(name: str) -> Scenario:
    """The record of scenario ``name`` (a KeyError names an unknown one)."""
    return SCENARIOS[name]

"""A scenario is one module plus one row of schemas/scenarios.py: the plan, the job, the summary
and the runner read its facts from the row, never from its name."""

from __future__ import annotations

import pytest

from orchestrator.plan import scenarios as plan_scenarios
from schemas.scenarios import SCENARIOS, Scenario


def test_the_plans_scenario_rules_are_views_of_the_table() -> None:
    assert tuple(SCENARIOS) == plan_scenarios.SCENARIOS
    assert {"server", "server-peak", "loadgen-offline"} == plan_scenarios.QUEUEING_SCENARIOS
    assert plan_scenarios.BATCHED_SCENARIOS == ("offline", "loadgen-offline")
    assert "server-peak" not in plan_scenarios.ASKED_SCENARIOS  # asked for as server --find-peak
    for name, row in SCENARIOS.items():
        assert row.name == name and row.module in ("loop", "loadgen")
        assert (row.module == "loadgen") == (row.loadgen is not None), name


def test_a_new_scenario_is_its_row(monkeypatch: pytest.MonkeyPatch) -> None:
    """A row added to the table sets its call's batch, its loads and the module that measures it."""
    from runners.scenarios import measure_for
    from schemas.job import JobSpec, ModelJob

    row = Scenario("burst", "bursts of queries", "loop", "p99 latency (ms)", batch="query")
    monkeypatch.setitem(SCENARIOS, "burst", row)
    assert plan_scenarios.call_batches("burst", batch_sizes=(4, 8), samples_per_query=3, max_batch=2) == (3,)
    assert plan_scenarios.loads("burst", target_qps=(5.0,), latency_bound_ms=None) == [(None, None)]
    job = JobSpec(
        cell_id="c", framework="fake", scenario="burst", precision="fp32", batch_size=1, threads=1,
        cpus=(0,), warmup=0, min_iterations=1, max_iterations=1, min_time_s=0.0,
        model=ModelJob(name="mlp", ref="mlp", directory="/nowhere", inputs={}, output="output"),
        result_path="/nowhere/result.parquet",
    )  # fmt: skip
    assert measure_for(job).__name__ == "runners.scenarios.loop"  # type: ignore[attr-defined]

"""The host record and its fingerprint describe the machine, whatever --cpus the run was given."""

import json
from pathlib import Path

from conftest import ALLOWED_CPUS, FIRST_CPU, need_allowed_cpus, only_run_dir
from orchestrator.execute.display import QuietDisplay
from orchestrator.execute.run import execute
from orchestrator.plan.plan import Plan


def environment_of(output: Path, cpus: tuple[int, ...] | None) -> dict[str, object]:
    plan = Plan(frameworks=("noop",), warmup=1, min_iterations=3, min_time_s=0.0, output=output, cpus=cpus)
    execute(plan, QuietDisplay())
    record: dict[str, object] = json.loads((only_run_dir(output) / "environment.json").read_text())
    return record


def test_a_run_on_a_subset_of_the_cpus_records_the_whole_host(tmp_path: Path) -> None:
    need_allowed_cpus(2, "a strict subset in --cpus")
    subset = environment_of(tmp_path / "subset", (FIRST_CPU,))
    every = environment_of(tmp_path / "every", None)
    host = subset["host"]
    assert isinstance(host, dict)
    # Not the CPUs the orchestrator moved itself to while the runners measured.
    assert host["allowed_cpus"] == list(ALLOWED_CPUS)
    assert subset["fingerprint"] == every["fingerprint"]

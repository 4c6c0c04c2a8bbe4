"""The host record and its fingerprint describe the machine, whatever --cpus the run was given."""

import json
import os
from pathlib import Path

import psutil
import pytest

from conftest import ALLOWED_CPUS, FIRST_CPU, only_run_dir
from orchestrator.display import QuietDisplay
from orchestrator.plan import Plan
from orchestrator.run import execute


def need_two_allowed_cpus() -> None:
    """Skip with the reason where this process may use one CPU only; under CI=1 fail instead
    when the machine has more (then it is the CI's setup that took them away)."""
    if len(ALLOWED_CPUS) >= 2:
        return
    reason = f"needs 2 allowed CPUs for a strict subset in --cpus; this process may use {ALLOWED_CPUS}"
    if os.environ.get("CI") and (psutil.cpu_count(logical=True) or 1) > 1:
        pytest.fail(reason + ", on a machine that has more")
    pytest.skip(reason)


def environment_of(output: Path, cpus: tuple[int, ...] | None) -> dict[str, object]:
    plan = Plan(frameworks=("noop",), warmup=1, min_iterations=3, min_time_s=0.0, output=output, cpus=cpus)
    execute(plan, QuietDisplay())
    record: dict[str, object] = json.loads((only_run_dir(output) / "environment.json").read_text())
    return record


def test_a_run_on_a_subset_of_the_cpus_records_the_whole_host(tmp_path: Path) -> None:
    need_two_allowed_cpus()
    subset = environment_of(tmp_path / "subset", (FIRST_CPU,))
    every = environment_of(tmp_path / "every", None)
    host = subset["host"]
    assert isinstance(host, dict)
    # Not the CPUs the orchestrator moved itself to while the runners measured.
    assert host["allowed_cpus"] == list(ALLOWED_CPUS)
    assert subset["fingerprint"] == every["fingerprint"]

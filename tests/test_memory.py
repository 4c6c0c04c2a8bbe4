"""Inputs that do not fit in memory are refused before anything is written, with how much is
needed and how much is available; an allocation that fails later is one line too."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

from conftest import PROJECT_ROOT, QUICK
from orchestrator.host import memory_budget

LIMIT = 3 * 2**30  # a 3 GB address space, as a batch system or `ulimit -v` may set


# The child's first statement, before it imports anything of the tool's.
_LIMITED = f"import resource\nresource.setrlimit(resource.RLIMIT_AS, ({LIMIT}, {LIMIT}))"


def orchestrator(args: list[str], cwd: Path, code: str = "") -> subprocess.CompletedProcess[str]:
    """The CLI in a fresh interpreter under the 3 GB limit (``code`` runs first, e.g. a fault)."""
    env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT))
    script = f"{_LIMITED}\n{code}\nimport sys\nfrom orchestrator.cli import main\nsys.exit(main())"
    return subprocess.run(
        [sys.executable, "-c", script, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def test_inputs_larger_than_the_address_space_limit_are_refused_before_anything_is_written(
    tmp_path: Path,
) -> None:
    # 5 M samples x 200 float32 features: 3.7 GB of inputs alone.
    proc = orchestrator(["--frameworks", "noop", "--batch-size", "5000000", *QUICK], cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "--batch-size" in lines[0] and "5,000,000 samples of inputs take 3,815 MB" in lines[0]
    assert "RLIMIT_AS 3,072 MB" in lines[0] and "the machine's available memory" in lines[0]
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "results").exists()  # no run directory, not even plan.json


_FAULT = """
import orchestrator.execute.artifacts as artifacts
def write_inputs(arrays, path):
    raise MemoryError("Unable to allocate 3.73 GiB for an array with shape (5000000, 200)")
artifacts.write_inputs = write_inputs
"""


def test_an_allocation_that_fails_later_is_one_line(tmp_path: Path) -> None:
    proc = orchestrator(["--frameworks", "noop", "--batch-size", "10", *QUICK], cwd=tmp_path, code=_FAULT)
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "error: out of memory: Unable to allocate 3.73 GiB" in lines[0]
    assert "what was written is in results/" in lines[0]


def test_the_budget_names_every_limit_it_read() -> None:
    budget = memory_budget()
    assert budget.available_bytes > 0
    assert any(limit.startswith("the machine's available memory") for limit in budget.limits)
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    assert any("RLIMIT_AS" in limit for limit in budget.limits) == (soft != resource.RLIM_INFINITY)

"""The test suite's fault runners are the test suite's alone: a user's run cannot name them."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import FAKE_RUNNERS, PROJECT_ROOT
from runners.registry import EXTRA_RUNNERS_VARIABLE, FRAMEWORKS, TOOLS, all_runners


def plain_env() -> dict[str, str]:
    """This process's environment without what the test suite adds: a user's shell."""
    env = {name: value for name, value in os.environ.items() if name != EXTRA_RUNNERS_VARIABLE}
    return {**env, "PYTHONPATH": str(PROJECT_ROOT)}


@pytest.mark.parametrize("name", ["fake", "fake-kill-orchestrator", "fak"])
def test_a_users_run_cannot_name_a_fake(tmp_path: Path, name: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "orchestrator", "--frameworks", name, "--quiet"],
        cwd=tmp_path,
        env=plain_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert f"unknown name {name!r}" in proc.stderr and "--frameworks" in proc.stderr
    said = proc.stderr.split("did you mean", 1)
    assert len(said) == 1 or "fake" not in said[1], proc.stderr
    assert not (tmp_path / "results").exists()  # nothing written


def test_only_the_named_file_registers_runners(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(EXTRA_RUNNERS_VARIABLE)
    assert set(all_runners()) == set(FRAMEWORKS) | set(TOOLS)
    monkeypatch.setenv(EXTRA_RUNNERS_VARIABLE, str(FAKE_RUNNERS))
    assert {"fake", "fake-kill-orchestrator"} <= set(all_runners())

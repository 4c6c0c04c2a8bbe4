"""Runners die with their parent, however it dies, and never outlive their own deadline.

The parent is killed with SIGKILL -- no handler runs, nothing is cleaned up -- while its runner
warms up, while it measures, and while it hangs with a child of its own; a few seconds later
no process of that run may be left.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import PROJECT_ROOT, QUICK, run_cli, survivors
from fake_runners import HANG_MARKER

# Long enough that only a kill ends the phase the test catches the runner in.
_CASES = {
    "warming up": ["--frameworks", "fake", "--warmup", "100000000", "--min-iterations", "10"],
    "measuring": ["--frameworks", "fake", "--warmup", "3", "--min-iterations", "10", "--min-time", "3600"],
    "hanging": ["--frameworks", "fake-hang", *QUICK],
}


def _wait_until_gone(root: Path, within_s: float) -> list[object]:
    deadline = time.monotonic() + within_s
    while survivors(root) and time.monotonic() < deadline:
        time.sleep(0.1)
    return survivors(root)


@pytest.mark.parametrize("phase", list(_CASES))
def test_a_parent_killed_with_sigkill_leaves_no_runner(tmp_path: Path, phase: str) -> None:
    output = tmp_path / "results"
    parent = subprocess.Popen(
        [sys.executable, "-m", "orchestrator", *_CASES[phase], "--output", str(output), "--timeout", "3600"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert parent.stdout is not None
        if phase == "hanging":  # the runner and the grandchild it started
            deadline = time.monotonic() + 60
            while not any(HANG_MARKER in p.cmdline() for p in survivors(output)):
                assert time.monotonic() < deadline and parent.poll() is None
                time.sleep(0.05)
        else:
            for line in parent.stdout:  # the plain display: one timestamped line per phase
                if line.rstrip().endswith(f"fake: {phase}"):
                    break
            else:
                pytest.fail(f"the run ended before {phase}")
        assert survivors(output), "no runner to orphan"
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
    finally:
        if parent.poll() is None:
            parent.kill()
    left = _wait_until_gone(output, within_s=5.0)
    assert not left, [p.cmdline() for p in left]  # type: ignore[attr-defined]


def test_a_runner_without_its_parent_stops_at_its_own_deadline(tmp_path: Path) -> None:
    """The second line: a runner run by hand (no lifeline) still dies at its --budget."""
    proc = run_cli(["--frameworks", "fake", *QUICK], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    (job_path,) = (tmp_path / "results").glob("*/cells/*/job.json")
    job = json.loads(job_path.read_text())
    job["framework"] = "fake-hang"
    job_path.write_text(json.dumps(job))
    started = time.monotonic()
    runner = subprocess.run(
        [sys.executable, "-m", "runners", "--job", str(job_path), "--budget", "2"],
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        start_new_session=True,  # as the launcher starts it: the group it kills is its own
    )
    assert runner.returncode == -signal.SIGKILL
    assert "ran past its own deadline" in runner.stderr
    assert time.monotonic() - started < 30
    assert not _wait_until_gone(tmp_path, within_s=5.0)  # the hanging grandchild went too

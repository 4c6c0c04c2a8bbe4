"""SIGINT / SIGTERM during a real run: workers stopped, finished cells kept, exit 128 + signal."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from conftest import PROJECT_ROOT, QUICK, summary_rows, survivors
from fake_runners import HANG_MARKER


def wait_for(condition: Callable[[], bool], process: subprocess.Popen[str], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, f"the run ended early: {process.communicate()}"
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


@pytest.mark.parametrize(("signum", "exit_status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_an_interrupted_run_keeps_what_finished(tmp_path: Path, signum: int, exit_status: int) -> None:
    output = tmp_path / "results"
    parent = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "orchestrator",
            "--frameworks",
            "fake,fake-hang,fake-exit",
            "--output",
            str(output),
            "--timeout",
            "120",
            *QUICK,
        ],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # Wait until the first cell is saved and the hanging runner has spawned its grandchild.
        wait_for(lambda: output.exists() and any(output.glob("*/summary.parquet")), parent)
        wait_for(lambda: any(HANG_MARKER in p.cmdline() for p in survivors(output)), parent)
        workers = parent_and_children(parent.pid)
        parent.send_signal(signum)
        stdout, stderr = parent.communicate(timeout=60)
    finally:
        if parent.poll() is None:
            parent.kill()
    assert parent.returncode == exit_status, stderr
    (run_dir,) = output.iterdir()
    rows = summary_rows(run_dir)
    assert rows["fake-hang"]["status"] == "interrupted"
    assert signal.Signals(signum).name in rows["fake-hang"]["error"]
    statuses = [row["status"] for row in summary_rows_in_order(run_dir)]
    assert statuses == ["ok", "interrupted", "interrupted"]
    assert (run_dir / "samples.parquet").is_file()
    assert "interrupted" in stdout
    time.sleep(0.2)
    assert not [p for p in workers if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert not survivors(output)


def parent_and_children(pid: int) -> list[psutil.Process]:
    process = psutil.Process(pid)
    return [process, *process.children(recursive=True)]


def summary_rows_in_order(run_dir: Path) -> list[dict[str, object]]:
    import pyarrow.parquet as pq

    return pq.read_table(run_dir / "summary.parquet").to_pylist()


def test_in_process_an_interrupt_keeps_the_cells_the_shared_worker_finished(tmp_path: Path) -> None:
    # One worker runs both: fake finishes (the display says done), then fake-hang hangs. The
    # interrupted run must keep fake's figures, as the screen showed them, not mark it interrupted.
    output = tmp_path / "results"
    parent = subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "--frameworks", "fake,fake-hang", "--in-process",
         "--environment", "current", "--output", str(output), "--timeout", "120", *QUICK],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        wait_for(
            lambda: output.exists() and any(HANG_MARKER in p.cmdline() for p in survivors(output)), parent
        )
        parent.send_signal(signal.SIGINT)
        stdout, stderr = parent.communicate(timeout=60)
    finally:
        if parent.poll() is None:
            parent.kill()
    assert parent.returncode == 130, stderr
    (run_dir,) = output.iterdir()
    rows = summary_rows(run_dir)
    assert (rows["fake"]["status"], rows["fake-hang"]["status"]) == ("ok", "interrupted")
    assert "fake: done, p50" in stdout

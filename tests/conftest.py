"""Shared helpers: run the real CLI in a subprocess and read what it wrote."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# A budget small enough for CI, large enough for every stage to run.
QUICK = ["--warmup", "3", "--min-iterations", "10", "--min-time", "0"]


def run_cli(
    args: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """``python -m orchestrator ARGS`` in a fresh interpreter, as a user would run it."""
    full_env = dict(os.environ)
    full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), (env or {}).get("PYTHONPATH")]))
    full_env.update({k: v for k, v in (env or {}).items() if k != "PYTHONPATH"})
    return subprocess.run(
        [sys.executable, "-m", "orchestrator", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def only_run_dir(output: Path) -> Path:
    """The single run directory a run created under ``output``."""
    runs = [p for p in output.iterdir() if p.is_dir()]
    assert len(runs) == 1, runs
    return runs[0]


def summary_rows(run_dir: Path) -> dict[str, dict[str, Any]]:
    """summary.parquet as {framework: row}."""
    return {row["framework"]: row for row in pq.read_table(run_dir / "summary.parquet").to_pylist()}


@pytest.fixture
def output(tmp_path: Path) -> Path:
    return tmp_path / "results"

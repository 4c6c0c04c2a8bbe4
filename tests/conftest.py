"""Shared helpers: run the real CLI in a subprocess and read what it wrote."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import psutil
import pyarrow.parquet as pq
import pytest

# The headless-browser fixture, for every test module (tests/browser.py says how it works).
from browser import chromium  # noqa: F401
from runners.registry import EXTRA_RUNNERS_VARIABLE
from schemas import tables

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# The test suite's own runners (``fake``, ``fake-<fault>``), registered for this process and
# every process it starts; a user's run has none of them.
FAKE_RUNNERS = Path(__file__).resolve().parent / "fake_runners.py"
os.environ[EXTRA_RUNNERS_VARIABLE] = str(FAKE_RUNNERS)
# The suite's runs record the theoretical roofs only: a micro-benchmark per CPU set and thread
# count would cost each a few seconds. tests/test_roofs.py measures, and runs with a cache.
os.environ.setdefault("INFERENCE_BENCH_ROOFS_MODE", "off")

# A budget small enough for CI, large enough for every stage to run.
QUICK = ["--warmup", "3", "--min-iterations", "10", "--min-time", "0"]

# The CPUs this test process may use, whatever their number and ids (CI machines differ):
# tests pin to these, never to CPU 0 or 1 by number.
ALLOWED_CPUS = tuple(sorted(os.sched_getaffinity(0)))
FIRST_CPU = ALLOWED_CPUS[0]
# Up to two allowed CPUs, for tests that want more than one thread where the machine has them.
TWO_CPUS = ALLOWED_CPUS[:2]


def cpu_list(cpus: tuple[int, ...]) -> str:
    """CPUs as --cpus takes them and the results record them: "3" or "3,5"."""
    return ",".join(str(cpu) for cpu in cpus)


def cpu_has_bf16() -> bool:
    """Whether this CPU has bfloat16 arithmetic (AVX512-BF16, AMX-BF16 or AVX-NE-CONVERT).

    The same test as OpenVINO's CPU plugin for a native bf16 path; without it OpenVINO
    compiles f32 whatever it is asked.
    """
    flags: set[str] = set()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            flags.update(line.split(":", 1)[1].split())
            break
    return bool(flags & {"avx512_bf16", "amx_bf16", "avx_ne_convert"})


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


Row = dict[str, Any]
RUN_ID = "20260101T000000Z-abc123"


def summary_row(index: int, framework: str, batch_size: int = 1000, threads: int = 2, **values: Any) -> Row:
    """A row with every SUMMARY column: the plan's settings, then ``values``; the rest null.

    Built from the schema rather than from a Plan, so it follows the schema as it grows.
    """
    settings: Row = {
        "run_id": RUN_ID,
        "cell_id": f"{index:03d}-{framework}-b{batch_size}-t{threads}-r0",
        "config_id": f"{framework}-b{batch_size}-t{threads}",
        "framework": framework,
        "model": "mlp",
        "environment": "own",
        "input_shapes": json.dumps({"input": [batch_size, 200]}),
        "options_json": "{}",
        "instances": 1,
        "scenario": "offline",
        "batch_size": batch_size,
        "threads": threads,
        "cpus": "0,1",  # a recorded value, never used to pin anything
        "cpus_allowed": 2,
        "precision": "fp32",
        "mode": "isolated",
        "parity_tolerance": 1e-4,
        "repeats": 1,
        "repeats_ok": 0,
    }
    merged = settings | values
    unknown = set(values) - set(tables.SUMMARY.names)
    assert not unknown, f"not summary columns: {unknown}"
    return {name: merged.get(name) for name in tables.SUMMARY.names}


@pytest.fixture
def output(tmp_path: Path) -> Path:
    return tmp_path / "results"


def survivors(root: Path) -> list[psutil.Process]:
    """Live runners of a run under ``root``, and their children: every process whose command
    line names a job.json there (the orchestrator itself names only the directory).

    Scoped to one test's directory, so that two suites on one machine never see each other's.
    """
    found = []
    for process in psutil.process_iter(["cmdline", "status"]):
        cmdline = process.info["cmdline"] or []
        jobs = [part for part in cmdline if part.startswith(str(root)) and part.endswith("job.json")]
        if jobs and process.info["status"] != psutil.STATUS_ZOMBIE:
            found.append(process)
    return found


def need_allowed_cpus(count: int, why: str) -> None:
    """Skip, saying ``why``, where this process may use fewer than ``count`` CPUs; under CI=1
    fail instead when the machine has them (then the CI's set-up took them away)."""
    if len(ALLOWED_CPUS) >= count:
        return
    reason = f"needs {count} allowed CPUs ({why}); this process may use {cpu_list(ALLOWED_CPUS)}"
    if os.environ.get("CI") and (psutil.cpu_count(logical=True) or 1) >= count:
        pytest.fail(reason + ", on a machine that has more")
    pytest.skip(reason)


def colour_pixels(image: Any, colour: str) -> Any:
    """A mask of the pixels of ``image`` (an RGB(A) array of floats, as matplotlib reads a PNG)
    painted ``colour`` (any matplotlib colour), to within antialiasing's rounding."""
    import matplotlib.colors
    import numpy as np

    target = np.array(matplotlib.colors.to_rgb(colour))
    return np.all(np.abs(image[..., :3] - target) < 0.02, axis=-1)


def ink_pixels(image: Any) -> Any:
    """A mask of the pixels that are not the white background: text, axes, bars, lines."""
    import numpy as np

    return np.any(image[..., :3] < 0.9, axis=-1)

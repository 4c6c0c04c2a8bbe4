"""A year of nightly runs: how long the regression gate and the history site take, and how much
disk the history uses.

Synthesises NIGHTS nights of the shipped nightly matrix (configs/nightly.toml: its frameworks,
both scenarios, its batch, repeats and min-time) on one host, each night a run directory with a
summary row per configuration and a samples row per timed call -- as many calls per process as
min-time buys at that configuration's latency -- and gates each night into the history through
the real path (``record_and_compare``, as ``--history --fail-on-regression`` does). Injected:
a few regressions (a latency step, a memory step), a framework upgrade and an environment
rebuild. Then measures, on the full history:

- the gate: the last night's ``record_and_compare`` (compare with the last 5 comparable runs,
  append), and ``python -m orchestrator compare HISTORY@PREVIOUS HISTORY --fail-on-regression``;
- the site: ``python -m orchestrator history report HISTORY --output SITE``;
- the disk: the history's bytes by kind (summary, samples, gate verdicts) and the site's.

    .venv/bin/python scripts/history_scale.py                      # 365 nights into a temp dir
    .venv/bin/python scripts/history_scale.py --nights 30 --keep /tmp/year   # keep the history

Prints figures; asserts nothing. The machine may be shared: say so with the figures.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from rich.console import Console

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from orchestrator.figures.stats import bootstrap_ci, latency_stats  # noqa: E402
from orchestrator.history.regressions import record_and_compare  # noqa: E402
from schemas import io, tables  # noqa: E402
from schemas.configuration import config_id  # noqa: E402

# The MLP's p50 on a 2-vCPU machine, ms: single-stream (one sample a call) and offline (batch
# 1000), of the order this project measures; the calls per process follow from min-time.
P50_MS = {
    "pytorch": (0.060, 2.4),
    "tensorflow": (0.210, 3.1),
    "jax": (0.045, 2.2),
    "onnxruntime": (0.022, 1.6),
    "openvino": (0.030, 1.8),
}
PEAK_RSS_MB = {"pytorch": 420.0, "tensorflow": 610.0, "jax": 380.0, "onnxruntime": 95.0, "openvino": 160.0}
VERSIONS = {
    "pytorch": "2.12.0",
    "tensorflow": "2.20.0",
    "jax": "0.8.1",
    "onnxruntime": "1.23.2",
    "openvino": "2025.3.0",
}


@dataclass(frozen=True)
class Injection:
    """Something that happens from ``night`` on to one framework's cells (None: every one)."""

    night: int
    framework: str | None
    scenario: str | None
    latency: float = 1.0  # factor on every call
    memory: float = 1.0  # factor on peak RSS
    version: str | None = None  # the framework's new version
    environment: bool = False  # its environment rebuilt (recipe hash changes)


def injections(nights: int) -> list[Injection]:
    """A latency step, an upgrade that brings one, a memory step, an environment rebuild."""
    at = lambda share: max(1, int(nights * share))  # noqa: E731
    return [
        Injection(at(0.25), "onnxruntime", "single-stream", latency=1.25),
        Injection(at(0.45), "pytorch", None, version="2.13.0"),
        Injection(at(0.45), "pytorch", "offline", latency=1.30),
        Injection(at(0.60), None, None, environment=True),
        Injection(at(0.80), "tensorflow", "offline", memory=1.20),
    ]


def matrix(config: dict[str, Any]) -> list[tuple[str, str, int]]:
    """(framework, scenario, batch) of every configuration the nightly config runs."""
    scenarios = ["offline", "single-stream"] if config["scenario"] == "both" else [config["scenario"]]
    batch = int(config["batch-size"][0])
    return [(fw, sc, batch if sc == "offline" else 1) for fw in config["frameworks"] for sc in scenarios]


def night_rows(
    run_id: str,
    night: int,
    cells: list[tuple[str, str, int]],
    config: dict[str, Any],
    rng: np.random.Generator,
) -> tuple[list[dict[str, Any]], pa.Table]:
    """One night's summary rows and samples table."""
    rows, samples = [], []
    repeats, min_time = int(config["repeats"]), float(config["min-time"])
    for index, (framework, scenario, batch) in enumerate(cells):
        state = _state(night, framework, scenario)
        p50_ms = P50_MS[framework][0 if scenario == "single-stream" else 1] * state["latency"]
        row = _settings(run_id, index, framework, scenario, batch, state)
        per_process = [
            rng.lognormal(
                np.log(p50_ms * 1e6 * rng.normal(1.0, 0.01)), 0.05, max(20, int(min_time / (p50_ms / 1e3)))
            ).astype(np.int64)
            for _ in range(repeats)
        ]
        p50s = [float(np.median(calls)) / 1e6 for calls in per_process]
        everything = np.concatenate(per_process)
        low, high = bootstrap_ci(np.asarray(p50s) * 1e6, q=50.0)
        row.update(latency_stats(everything).columns())
        row.update(
            latency_ms_p50=float(np.median(p50s)), latency_ms_p50_ci_low=low, latency_ms_p50_ci_high=high,
            latency_ms_p50_spread_pct=(max(p50s) - min(p50s)) / float(np.median(p50s)) * 100.0,
            iterations=int(everything.size), throughput_per_s=batch / (float(np.median(p50s)) / 1e3),
            peak_rss_mb=PEAK_RSS_MB[framework] * state["memory"] * rng.normal(1.0, 0.003),
        )  # fmt: skip
        rows.append(row)
        samples.append(_samples(run_id, row, per_process))
    return rows, pa.concat_tables(samples)


def _state(night: int, framework: str, scenario: str) -> dict[str, Any]:
    """The latency and memory factors, version and environment of a cell on ``night``."""
    state: dict[str, Any] = {"latency": 1.0, "memory": 1.0, "version": VERSIONS[framework], "environment": 0}
    for change in INJECTIONS:
        if night < change.night or change.framework not in (None, framework):
            continue
        if change.scenario not in (None, scenario):
            continue
        state["latency"] *= change.latency
        state["memory"] *= change.memory
        state["version"] = change.version or state["version"]
        state["environment"] += int(change.environment)
    return state


def _settings(
    run_id: str, index: int, framework: str, scenario: str, batch: int, state: dict[str, Any]
) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "run_id": run_id, "cell_id": f"{index:03d}-{framework}-{scenario}-r0", "framework": framework,
        "framework_version": f"{framework}-{state['version']}", "model": "mlp", "environment": "own",
        "environment_key": f"{framework}-recipe-{state['environment']}",
        "input_shapes": json.dumps({"input": [batch, 200]}), "options_json": "{}", "instances": 1,
        "scenario": scenario, "batch_size": batch, "threads": 2, "cpus": "0,1", "cpus_allowed": 2,
        "precision": "fp32", "precision_effective": "fp32", "mode": "isolated", "status": "ok",
        "parity_ok": True, "parity_tolerance": 1e-4, "max_abs_diff": 1e-6, "repeats": 5, "repeats_ok": 5,
        "cpu_percent": 198.0,
    }  # fmt: skip
    settings["config_id"] = config_id(settings)
    return {name: settings.get(name) for name in tables.SUMMARY.names}


def _samples(run_id: str, row: dict[str, Any], per_process: list[np.ndarray]) -> pa.Table:
    sizes = [calls.size for calls in per_process]
    total = sum(sizes)
    return pa.table(
        {
            "run_id": [run_id] * total,
            "cell_id": np.repeat([f"{row['cell_id'][:-1]}{i}" for i in range(len(sizes))], sizes).astype(
                object
            ),
            "config_id": [row["config_id"]] * total,
            "framework": [row["framework"]] * total,
            "model": ["mlp"] * total,
            "repeat": np.repeat(np.arange(len(sizes)), sizes),
            "pid": np.repeat(np.arange(len(sizes)) + 4000, sizes),
            "iteration": np.concatenate([np.arange(size) for size in sizes]),
            "latency_ns": np.concatenate(per_process),
        },
        schema=tables.SAMPLES,
    )


def write_night(root: Path, night: int, start: datetime, config: dict[str, Any], cells: list[Any]) -> Path:
    """Night ``night``'s run directory (summary, samples, environment.json)."""
    moment = start + timedelta(days=night)
    run_id = f"{moment:%Y%m%dT%H%M%SZ}-{night:06x}"
    run_dir = root / run_id
    run_dir.mkdir(parents=True)
    rows, samples = night_rows(run_id, night, cells, config, np.random.default_rng(night))
    io.write_table(pa.Table.from_pylist(rows, schema=tables.SUMMARY), run_dir / "summary.parquet")
    io.write_table(samples, run_dir / "samples.parquet")
    environment = {
        "fingerprint": "epyc-2vcpu-24g", "git_commit": f"{night:040x}",
        "host": {"hostname": "nightly-box"}, "packages": {"numpy": "2.4.6", "pyarrow": "26.0.1"},
    }  # fmt: skip
    io.write_json(environment, run_dir / "environment.json")
    return run_dir


def disk_bytes(path: Path) -> int:
    return sum(file.stat().st_size for file in path.rglob("*") if file.is_file())


def timed(command: list[str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    return time.perf_counter() - started, done


INJECTIONS: list[Injection] = []


def build(history: Path, runs: Path, nights: int, config: dict[str, Any]) -> tuple[list[float], int]:
    """Gate every night into ``history``; the gate's seconds per night and the samples rows."""
    cells = matrix(config)
    start = datetime(2026, 1, 1, 2, 0, 0, tzinfo=UTC)
    quiet = Console(file=open("/dev/null", "w"), width=200)  # noqa: SIM115
    gate_s, sample_rows = [], 0
    for night in range(nights):
        run_dir = write_night(runs, night, start, config, cells)
        sample_rows += io.read_table(run_dir / "samples.parquet", tables.SAMPLES).num_rows
        started = time.perf_counter()
        record_and_compare(
            run_dir, history, (), float(config["fail-on-regression"]), quiet, int(config["compare-window"])
        )
        gate_s.append(time.perf_counter() - started)
        shutil.rmtree(run_dir)  # the history holds the run now
        if night % 30 == 0 or night == nights - 1:
            size_mb = disk_bytes(history) / 1e6
            print(
                f"night {night + 1}/{nights}: gate {gate_s[-1]:.2f} s, history {size_mb:.0f} MB", flush=True
            )
    return gate_s, sample_rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nights", type=int, default=365)
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "nightly.toml")
    parser.add_argument("--keep", type=Path, default=None, help="build the history here and keep it")
    args = parser.parse_args()
    config = tomllib.loads(args.config.read_text())
    INJECTIONS.extend(injections(args.nights))
    work = args.keep or Path(tempfile.mkdtemp(prefix="history-scale-"))
    history, runs, site = work / "history", work / "runs", work / "site"
    started = time.perf_counter()
    gate_s, sample_rows = build(history, runs, args.nights, config)
    print(f"built {args.nights} nights in {time.perf_counter() - started:.0f} s")
    run_ids = sorted(path.stem for path in history.glob("summary/*/*/*.parquet"))
    compare_s, compare = timed(
        [sys.executable, "-m", "orchestrator", "compare", f"{history}@{run_ids[-2]}", str(history),
         "--fail-on-regression", str(config["fail-on-regression"])]
    )  # fmt: skip
    site_s, report = timed(
        [sys.executable, "-m", "orchestrator", "history", "report", str(history), "--output", str(site)]
    )
    print(report.stdout.strip() or report.stderr.strip())
    kinds = {kind: disk_bytes(history / kind) for kind in ("summary", "samples", "gate")}
    print(f"\n{args.nights} nights x {len(matrix(config))} configurations x {config['repeats']} processes; "
          f"{sample_rows:,} timed calls ({sample_rows / args.nights:,.0f} a night)")  # fmt: skip
    print(f"gate (record_and_compare), last night:    {gate_s[-1]:.2f} s (first night {gate_s[0]:.2f} s)")
    print(f"compare HISTORY@PREVIOUS HISTORY (CLI):   {compare_s:.2f} s, exit {compare.returncode}")
    print(f"history report (CLI, the whole site):     {site_s:.2f} s, exit {report.returncode}")
    print("history on disk: " + ", ".join(f"{kind} {size / 1e6:.1f} MB" for kind, size in kinds.items())
          + f"; total {sum(kinds.values()) / 1e6:.1f} MB")  # fmt: skip
    print(f"site on disk: {disk_bytes(site) / 1e6:.1f} MB ({len(list(site.glob('*.html')))} pages)")
    if args.keep is None:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()

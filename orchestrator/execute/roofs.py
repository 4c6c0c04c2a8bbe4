"""The machine's roofs for a run: theoretical from the CPU (``orchestrator.figures.roofs``),
measured by ``python -m runners.roofs`` in a subprocess pinned to the run's CPUs at each thread
count the run keeps busy -- in PyTorch's environment where one is built (the run's own, or one
built before under the same environments directory), else in this interpreter with numpy
(fp32 and bandwidth only). Never in this process: it imports no framework.

Measured figures are cached per machine under ``$INFERENCE_BENCH_ROOFS`` (default
``~/.cache/inference-bench/roofs``), one JSON file per key: the CPU model, its flags, the CPUs
and threads of the measurement, and the interpreter and environment (its recipe hash: the
framework versions) that measured. ``python -m orchestrator roofs --measure`` measures again
and replaces the cached figure. ``$INFERENCE_BENCH_ROOFS_MODE`` sets what a run does: ``cached``
(the default: the cache, measuring what it lacks), ``measure`` (always again) or ``off``
(nothing measured: the theoretical roofs only -- the test suite's default, so that its runs do
not each pay for a micro-benchmark).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.execute.environments import Environment, recipe_for
from orchestrator.execute.launcher import worker_env
from orchestrator.figures.roofs import (
    MachineRoofs,
    Roof,
    at_least_fewer_threads,
    bandwidth_unknown,
    peak_rates,
    theoretical_gflops,
)
from orchestrator.host import CpuInfo
from orchestrator.plan.cells import Cell
from orchestrator.plan.framework_refs import FrameworkRef
from schemas.files import write_bytes

ROOFS_MODES = ("cached", "measure", "off")
CACHE_VARIABLE = "INFERENCE_BENCH_ROOFS"
MODE_VARIABLE = "INFERENCE_BENCH_ROOFS_MODE"
# The framework whose environment measures bf16 and int8 (torch.matmul, torch._int_mm).
_MEASURED_IN = "pytorch"
_TIMEOUT_S = 120.0


class RoofsError(RuntimeError):
    """The micro-benchmark failed; the message is its last line."""


def default_cache() -> Path:
    """$INFERENCE_BENCH_ROOFS, else ``roofs`` in the user's cache directory."""
    if os.environ.get(CACHE_VARIABLE):
        return Path(os.environ[CACHE_VARIABLE])
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "inference-bench" / "roofs"


def run_mode() -> str:
    """What a run does about the measured roofs ($INFERENCE_BENCH_ROOFS_MODE, default ``cached``);
    ValueError naming the variable for a value not in :data:`ROOFS_MODES`."""
    mode = os.environ.get(MODE_VARIABLE) or "cached"
    if mode not in ROOFS_MODES:
        raise ValueError(f"${MODE_VARIABLE} is {mode!r}; expected one of {', '.join(ROOFS_MODES)}")
    return mode


@dataclass(frozen=True)
class Bench:
    """Where the micro-benchmark runs: an interpreter, and what identifies its versions."""

    python: Path
    versions: str  # the environment's recipe hash, or the interpreter's path for this one
    words: str  # how it was chosen, for the record


def bench_python(environments: dict[str, Environment], python: Path, root: Path) -> Bench:
    """PyTorch's environment among the run's, else one built before under ``root`` (the
    environments directory), else ``python`` (this interpreter: numpy only)."""
    for label, env in environments.items():
        if label.split("@")[0] == _MEASURED_IN and env.python is not None:
            return Bench(env.python, env.key or str(env.python), f"the run's {label} environment")
    roots = {env.path.parent for env in environments.values() if env.kind == "own" and env.path is not None}
    for where in [root, *sorted(roots - {root})]:
        recipe = recipe_for([FrameworkRef(_MEASURED_IN)], _MEASURED_IN)
        built = where / recipe.directory_name
        if (built / ".complete").is_file():
            return Bench(
                built / "bin" / "python", recipe.key, f"the {_MEASURED_IN} environment built in {where}"
            )
    return Bench(python, str(python), "this interpreter (no PyTorch environment built): numpy, fp32 only")


def thread_counts(cells: Iterable[Cell]) -> dict[int, tuple[int, ...]]:
    """Each thread count the run keeps busy at once (threads x instances) and the CPUs to
    measure it on: as many of the cell's CPUs as it has threads (all of them when it has more)."""
    found: dict[int, tuple[int, ...]] = {}
    for cell in cells:
        busy = cell.threads * cell.instances
        found.setdefault(busy, cell.cpus[:busy] if busy <= len(cell.cpus) else cell.cpus)
    return dict(sorted(found.items()))


# Which kernels runners/roofs.py measures: a roof cached from other kernels is measured again.
# 2: oneDNN's linear beside torch.matmul (MKL's float32 ran its AVX2 path on an AVX-512 EPYC).
_KERNELS = 2


def cache_key(cpu: CpuInfo, cpus: tuple[int, ...], threads: int, bench: Bench) -> str:
    """What makes a measured roof reusable: the CPU, its flags, where and how wide, and what measured."""
    identity = [cpu.model, sorted(cpu.flags), list(cpus), threads, bench.versions, _KERNELS]
    return hashlib.sha256(json.dumps(identity).encode()).hexdigest()[:20]


def measure(bench: Bench, cpus: tuple[int, ...], threads: int, seconds: float = 0.3) -> dict[str, Any]:
    """Run the micro-benchmark pinned to ``cpus`` with ``threads`` threads; its record."""
    command = [str(bench.python), "-m", "runners.roofs", "--cpus", ",".join(map(str, cpus))]
    command += ["--threads", str(threads), "--seconds", str(seconds)]
    try:
        done = subprocess.run(
            command, env=worker_env(), capture_output=True, text=True, timeout=_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RoofsError(f"the roofs micro-benchmark did not finish: {exc}") from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        raise RoofsError(f"the roofs micro-benchmark failed: {last}")
    record: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    record["measured_in"] = bench.words
    return record


def measured_record(
    cpu: CpuInfo, cpus: tuple[int, ...], threads: int, bench: Bench, mode: str, cache: Path
) -> dict[str, Any] | str:
    """The micro-benchmark's record for ``threads`` on ``cpus``: the cached one (``cached``),
    a fresh one that replaces it (``measure``, or nothing cached); or why there is none
    (``off``: nothing measured, the theoretical roofs only)."""
    if mode == "off":
        return "not measured (roofs off)"
    path = cache / f"{cache_key(cpu, cpus, threads, bench)}.json"
    if mode == "cached" and path.is_file():
        try:
            return dict(json.loads(path.read_text()), cached=str(path))
        except (OSError, ValueError):
            pass  # unreadable: measured again below
    try:
        record = measure(bench, cpus, threads)
    except RoofsError as exc:
        return str(exc)
    cache.mkdir(parents=True, exist_ok=True)
    write_bytes(json.dumps(record, indent=1).encode(), path)
    return dict(record, cached=None)


def machine_roofs(
    cpu: CpuInfo, cpus: tuple[int, ...], threads: int, record: dict[str, Any] | str
) -> MachineRoofs:
    """The theoretical roofs of ``threads`` threads on ``cpus`` beside the measured ``record``
    (or why there is none)."""
    cores = min(threads, cpu.physical_cores(cpus))
    theory = theoretical_gflops(
        peak_rates(cpu.flags, cpu.vendor, cpu.family), cores, cpu.clock_mhz, cpu.clock_source
    )
    measured = record.get("gflops", {}) if isinstance(record, dict) else {}
    kernels = record.get("kernels", {}) if isinstance(record, dict) else {}
    compute = {
        name: Roof(value, measured.get(name), words, kernels.get(name) or str(record))
        for name, (value, words) in theory.items()
    }
    if isinstance(record, dict):
        bandwidth = Roof(None, record.get("triad_gbs"), bandwidth_unknown(), str(record.get("triad")))
        by = {
            key: record.get(key)
            for key in ("framework", "measured_in", "python", "affinity", "threads_observed", "cached")
        }
    else:
        bandwidth = Roof(None, None, bandwidth_unknown(), record)
        by = {"why_not": record}
    return MachineRoofs(cpus, threads, compute, bandwidth, by)


def run_roofs(
    cpu: CpuInfo, cells: list[Cell], bench: Bench, mode: str, cache: Path | None = None
) -> dict[int, MachineRoofs]:
    """The roofs of each thread count the run's cells keep busy, none lower than a smaller
    count's (:func:`at_least_fewer_threads`); one thread is measured too, as that floor, where
    the run has cells of more threads only (a busy machine disturbs a wide measurement most)."""
    cache = cache or default_cache()
    wanted = thread_counts(cells)
    counts = dict(wanted)
    if wanted and 1 not in wanted:
        counts = {1: wanted[min(wanted)][:1], **wanted}
    found = at_least_fewer_threads(
        {
            threads: machine_roofs(
                cpu, cpus, threads, measured_record(cpu, cpus, threads, bench, mode, cache)
            )
            for threads, cpus in counts.items()
        }
    )
    return {threads: found[threads] for threads in wanted}


def roofs_source(roofs: dict[int, MachineRoofs]) -> str:
    """Where the run's measured roofs came from, read from their records: the cache, a
    measurement just now, both (one thread count cached, another not), or neither."""
    cached = [bool(r.measured_by.get("cached")) for r in roofs.values() if "why_not" not in r.measured_by]
    if not cached:
        return "not measured (see environment.json's roofs)"
    if all(cached):
        return "from the cache"
    return "measured now" if not any(cached) else "from the cache and measured now"


def roofs_record(roofs: dict[int, MachineRoofs]) -> dict[str, Any]:
    """environment.json's ``roofs``: the largest thread count's at the top level (CONTRACT.md's
    shape), every thread count's under ``by_threads``."""
    if not roofs:
        return {}
    widest = roofs[max(roofs)].to_json()
    return {**widest, "by_threads": {str(threads): found.to_json() for threads, found in roofs.items()}}

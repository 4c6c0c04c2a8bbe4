"""The plan's settings checked one concern at a time, before anything is written: each check
takes the settings it judges and raises PlanError naming the flag."""

from __future__ import annotations

import math

import numpy as np

from models.spec import ModelSpec
from orchestrator.host import MemoryBudget
from orchestrator.plan.cells import format_cpus
from orchestrator.plan.errors import PlanError, first_duplicate
from orchestrator.plan.framework_refs import ENVIRONMENTS, FrameworkRef
from runners.registry import FRAMEWORKS, all_runners
from schemas.precisions import PRECISIONS

# isolated: one fresh process per cell. in-process: every framework of a repeat in one shared
# worker, one after another, as the article did -- to show what that does to the figures.
MODES = ("isolated", "in-process")

# Copies of the inputs a run holds at its peak (see check_memory).
_COPIES_OF_INPUTS = 4


def check_frameworks(frameworks: tuple[str, ...]) -> list[FrameworkRef]:
    """Each --frameworks entry, parsed: a known runner, a version only for a framework, none twice."""
    if not frameworks:
        raise PlanError("--frameworks", "expected at least one name")
    refs = [FrameworkRef.parse(text) for text in frameworks]
    shown = ", ".join(FRAMEWORKS)
    known = all_runners()
    for ref in refs:
        if ref.name not in known:
            close = [name for name in known if name.startswith(ref.name[:3])]
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise PlanError("--frameworks", f"unknown name {ref.name!r}{hint}; expected one of {shown}, noop")
        if ref.version is not None and ref.name not in FRAMEWORKS:
            raise PlanError("--frameworks", f"{ref.name} has no versions: it is not a framework")
    duplicate = first_duplicate([ref.label for ref in refs])
    if duplicate is not None:
        raise PlanError("--frameworks", f"{duplicate} is given twice")
    return refs


def check_names(flag: str, names: tuple[str, ...], known: tuple[str, ...]) -> None:
    """At least one name, each known, none twice."""
    if not names:
        raise PlanError(flag, "expected at least one name")
    unknown = [name for name in names if name not in known]
    if unknown:
        raise PlanError(flag, f"unknown name {unknown[0]!r}; expected one of {', '.join(known)}")
    duplicate = first_duplicate(names)
    if duplicate is not None:
        raise PlanError(flag, f"{duplicate} is given twice")


def check_choices(
    *, precisions: tuple[str, ...], environment: str, modes: tuple[str, ...], refs: list[FrameworkRef]
) -> None:
    """The precisions and environment are known ones; a pinned version needs an environment of its own."""
    check_names("--precision", precisions, PRECISIONS)
    if environment not in ENVIRONMENTS:
        raise PlanError("--environment", f"expected one of {', '.join(ENVIRONMENTS)}, got {environment!r}")
    if "in-process" in modes and any(ref.version for ref in refs):
        raise PlanError(
            "--frameworks", "framework@VERSION cannot run in-process: one process holds one version"
        )
    if environment != "own" and any(ref.version for ref in refs):
        raise PlanError("--frameworks", f"framework@VERSION needs --environment own, not {environment}")


def check_cpus(
    cpus: tuple[int, ...] | None,
    *,
    allowed: tuple[int, ...],
    instances: int,
    threads: tuple[int, ...] | None,
    modes: tuple[str, ...],
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The CPUs (default: every allowed one) and the thread counts (default: one per CPU of an
    instance's share), checked against the allowed set and the instances' needs."""
    cpus = allowed if cpus is None else tuple(sorted(set(cpus)))
    if not cpus:
        raise PlanError("--cpus", "expected at least one CPU")
    outside = [c for c in cpus if c not in allowed]
    if outside:
        raise PlanError("--cpus", f"CPU {outside[0]} is not in the allowed set {format_cpus(allowed)}")
    if instances < 1:
        raise PlanError("--instances", f"expected a positive number, got {instances}")
    if threads is None:
        threads = (max(1, len(cpus) // instances),)
    # One instance may oversubscribe (warned as contention); copies must not share CPUs.
    if instances > 1 and instances * max(threads) > len(cpus):
        raise PlanError(
            "--instances",
            f"{instances} instances x {max(threads)} threads need {instances * max(threads)} CPUs; "
            f"--cpus has {len(cpus)}",
        )
    if instances > 1 and "in-process" in modes:
        raise PlanError("--instances", "runs copies in processes of their own; not with --in-process")
    return cpus, threads


def check_counts(
    *,
    batch_sizes: tuple[int, ...],
    threads: tuple[int, ...],
    min_iterations: int,
    max_iterations: int,
    repeats: int,
    warmup: int,
    min_time_s: float,
    timeout_s: float,
    calibration_samples: int = 1,
) -> None:
    """Positive sizes and counts, none twice; a stop rule and a timeout that can be met."""
    for flag, values in (("--batch-size", batch_sizes), ("--threads", threads)):
        if not values or any(not isinstance(v, int) or v < 1 for v in values or ()):
            raise PlanError(flag, f"expected positive integers, got {values!r}")
        duplicate = first_duplicate(values)
        if duplicate is not None:
            raise PlanError(flag, f"{duplicate} is given twice")
    for flag, value in (("--min-iterations", min_iterations), ("--repeats", repeats)):
        if not isinstance(value, int) or value < 1:
            raise PlanError(flag, f"expected a positive integer, got {value!r}")
    if max_iterations < min_iterations:
        raise PlanError(
            "--max-iterations", f"expected at least --min-iterations ({min_iterations}), got {max_iterations}"
        )
    if warmup < 0:
        raise PlanError("--warmup", f"expected zero or more iterations, got {warmup}")
    if min_time_s < 0:
        raise PlanError("--min-time", f"expected zero or more seconds, got {min_time_s}")
    if not isinstance(calibration_samples, int) or calibration_samples < 1:
        raise PlanError("--calibration-samples", f"expected a positive integer, got {calibration_samples!r}")
    if not timeout_s > 0:
        raise PlanError("--timeout", f"expected a positive number of seconds, got {timeout_s}")


def check_memory(
    name: str, spec: ModelSpec, rows: int, sample_shapes: list[tuple[int, ...]], budget: MemoryBudget
) -> None:
    """Refuse inputs that cannot fit, before anything is written: this process makes them
    in numpy, converts them to Arrow and writes them (about 3x), a runner loads its own
    copy (1x), under the least of the machine's memory, RLIMIT_AS/DATA and the cgroup."""
    sample_bytes = sum(
        math.prod(shape[1:]) * np.dtype(item.dtype).itemsize
        for item, shape in zip(spec.inputs, sample_shapes)
    )
    inputs = rows * sample_bytes
    need = _COPIES_OF_INPUTS * inputs
    if need > budget.available_bytes:
        raise PlanError(
            "--batch-size",
            f"model {name}: {rows:,} samples of inputs take {inputs / 2**20:,.0f} MB and a run holds "
            f"~{_COPIES_OF_INPUTS}x that ({need / 2**20:,.0f} MB), more than the {budget.describe()}",
        )

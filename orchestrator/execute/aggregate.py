"""Turns each cell's result.parquet into rows: one per cell, one per configuration, samples.

The parity check against the numpy reference happens here, in the parent, for every cell.
"""

from __future__ import annotations

import json
import math
import os
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from models.spec import Flops, Tolerance, TopOne
from orchestrator.execute.artifacts import PreparedModel
from orchestrator.execute.environments import Environment
from orchestrator.execute.launcher import Exit
from orchestrator.figures.accuracy import accuracy_figures, accuracy_shortfall
from orchestrator.figures.fidelity import fidelity, shortfall
from orchestrator.figures.roofs import ROOFLINE_COLUMNS
from orchestrator.figures.speedup import speedups_vs_fp32
from orchestrator.figures.stats import bootstrap_ci, latency_stats, throughput_per_s
from orchestrator.figures.trust import assess, cpu_budget_warnings, printed_percentiles
from orchestrator.host import MachineState
from orchestrator.plan.cells import Cell
from orchestrator.plan.measurement import Measurement
from orchestrator.plan.scenarios import QUEUEING_SCENARIOS
from runners.precision import UNOBSERVED
from schemas import io, tables
from schemas.configuration import CONTENDER_COLUMNS, config_key
from schemas.precisions import BASELINE
from schemas.scenarios import scenario

# Result columns copied into the cell's row unchanged.
_COPIED = (
    "framework_version",
    "precision_effective",
    "settings_json",
    "threads_observed",
    "os_threads",
    "affinity_observed",
    "cpus_observed",
    "cpu_wait_s",
    "import_s",
    "load_s",
    "first_inference_ms",
    "ready_s",
    "quantize_s",
    "iterations",
    "timed_s",
    "cpu_percent",
    "ctx_switches_involuntary",
    "rss_mb_baseline",
    "rss_mb_import",
    "rss_mb_load",
    "peak_rss_mb",
    "uss_mb",
    "pss_mb",
    "python",
    "modules_json",
    "loadgen_json",
)

# Statuses, worst first: the status a configuration reports when its repeats disagree.
_SEVERITY = ("failed", "timeout", "interrupted", "skipped", "ok")


@dataclass(frozen=True)
class CellOutcome:
    """A finished cell: its row in cells.parquet, its per-call latencies and its outputs."""

    cell: Cell
    row: dict[str, Any]
    latencies_ns: np.ndarray
    load_average_1min: float | None = None  # of the machine, read as the cell ended
    outputs: np.ndarray | None = None  # one row per distinct sample, for a model with no reference


@dataclass(frozen=True)
class Reference:
    """What a cell's outputs are checked against: values of the first rows, and the tolerance."""

    values: np.ndarray  # [rows, *output shape of one sample]
    kind: str
    tolerance: Tolerance | None  # None: the model declares none at this precision (compare only)
    top1: TopOne | None = None  # how a sample's output names a class (None: not a classifier)
    precision: str = BASELINE  # the cell's, as asked: whose acceptance ``tolerance`` is


def summarise_cell(
    run_id: str,
    measurement: Measurement,
    cell: Cell,
    result_path: Path,
    exit: Exit,
    reference: Reference | None,
    prepared: PreparedModel,
    environment: Environment,
    started: bool = True,
) -> CellOutcome:
    """Build the cell's row from its result file and how its worker process ended.

    ``started`` is False for a cell of a shared (in-process) worker that never announced a
    phase: the worker ended before reaching it, and the cell is reported as not run.
    """
    row = cell_row(run_id, cell, prepared, environment, measurement)
    latencies = np.empty(0, dtype=np.int64)
    load = os.getloadavg()[0]
    result = _read_result(result_path)
    if isinstance(result, str):
        if not started:
            ended = "timed out" if exit.timed_out else _why_no_result(exit, "").rstrip("; ")
            row.update(status="failed", error=f"not run: the shared worker ended first ({ended})")
        elif exit.timed_out:
            row.update(status="timeout", error=f"no result within --timeout {measurement.timeout_s:g} s")
        else:
            row.update(status="failed", error=_why_no_result(exit, result))
        return CellOutcome(cell, row, latencies, load)
    row.update({name: result[name] for name in _COPIED}, pid=result["pid"])
    row["cpus_allowed"] = cpu_count(row["cpus_observed"])  # read back by the runner, not the plan's
    row.update(status=result["status"], error=result["error"])
    outputs = None
    if result["status"] == "ok":
        latencies = np.asarray(result["latencies_ns"], dtype=np.int64)
        if latencies.size:
            stats = latency_stats(latencies)
            row.update(stats.columns(), throughput_per_s=throughput_per_s(cell.batch_size, stats.p50))
        if result.get("loadgen_json"):
            row.update(loadgen_figures(result["loadgen_json"]))
        if result["outputs"] is not None:
            outputs = np.asarray(result["outputs"], np.float32)
            if reference is not None:
                row.update(parity(outputs, reference))
            elif cell.precision == BASELINE:
                row.update(
                    parity_reference=f"{cell.framework_label}: the first to run it, the reference of the rest"
                )
            else:
                row.update(parity_reference=f"none: no {BASELINE} outputs of this configuration came first")
            outputs = _by_sample(outputs, _samples_in(cell, prepared))
            if prepared.labels is not None:
                row.update(_accuracy(outputs, prepared, reference, row))
    return CellOutcome(cell, row, latencies, load, outputs)


def _accuracy(
    outputs: np.ndarray, prepared: PreparedModel, reference: Reference | None, row: dict[str, Any]
) -> dict[str, Any]:
    """The accuracy columns of a model with labels, and -- where it falls below the model's
    acceptance at the cell's precision -- the verdict failed, the reason beside the fidelity's."""
    assert prepared.labels is not None
    figures = accuracy_figures(outputs, prepared.labels, prepared.reference)
    if reference is not None:
        below = accuracy_shortfall(figures, reference.tolerance, reference.precision)
        if below is not None:
            reasons = "; ".join(filter(None, [row.get("fidelity_shortfall"), below]))
            figures.update(parity_ok=False, fidelity_shortfall=reasons)
    return figures


def loadgen_figures(text: str) -> dict[str, Any]:
    """A LoadGen cell's figures are LoadGen's own: its latency percentiles (from its issue of a
    query to the completion), its achieved rate, its verdict."""
    found = json.loads(text)
    figures: dict[str, Any] = {
        column: found[column] for column in _LOADGEN_LATENCIES if found.get(column) is not None
    }
    if found.get("samples_per_s") is not None:
        figures["throughput_per_s"] = float(found["samples_per_s"])
    figures["loadgen_validity"] = found.get("validity")
    figures["peak_qps"] = found.get("peak_qps")
    return figures


_LOADGEN_LATENCIES = (
    "latency_ms_p50", "latency_ms_p90", "latency_ms_p95", "latency_ms_p99", "latency_ms_p999",
    "latency_ms_mean", "latency_ms_min", "latency_ms_max",
)  # fmt: skip


def _samples_in(cell: Cell, prepared: PreparedModel) -> int:
    """Distinct samples whose outputs a cell returns: the batch, or the single-stream samples."""
    if not scenario(cell.scenario).cycles_samples:
        return cell.batch_size
    rows = min(len(np.load(path, mmap_mode="r")) for path in prepared.input_paths.values())
    return min(prepared.spec.single_stream_samples, rows)


def _by_sample(outputs: np.ndarray, samples: int) -> np.ndarray:
    """Flat outputs as [samples, *one sample's output]; flat when that cannot be told."""
    return outputs.reshape(samples, -1) if samples and outputs.size % samples == 0 else outputs


def parity(outputs: np.ndarray, reference: Reference) -> dict[str, Any]:
    """max_abs_diff, max_rel_diff, the tolerance, the fidelity figures and the verdict of flat
    ``outputs`` against the reference's rows (the first rows of the outputs: the reference may
    cover fewer). The verdict fails a difference over the tolerance, and a fidelity figure
    under the floor of the model's acceptance at the cell's precision (``fidelity_shortfall``
    says which).

    Non-finite outputs are compared by where they are: a NaN or an infinity must sit where the
    reference has the same (``parity_nonfinite`` says what is where); the differences, the
    tolerance and the fidelity figures are those of the values finite in both.
    """
    values = reference.values
    per_row = int(np.prod(values.shape[1:])) if values.ndim > 1 else 1
    flat = outputs.ravel()
    if values.size == 0 or flat.size % per_row or flat.size == 0:
        return {"parity_reference": reference.kind, "parity_ok": False, "max_abs_diff": float("inf")}
    rows = min(flat.size // per_row, len(values))
    got = flat[: rows * per_row].astype(np.float64)
    want = values[:rows].reshape(-1).astype(np.float64)
    columns = _difference(got, want, reference)
    found = fidelity(got.reshape(rows, per_row), want.reshape(rows, per_row), reference.top1)
    columns.update(found.columns(), fidelity_shortfall=None)
    if reference.tolerance is not None:
        below = shortfall(found, reference.tolerance, reference.precision)
        if below is not None:
            columns.update(parity_ok=False, fidelity_shortfall=below)
    return columns


def _difference(got: np.ndarray, want: np.ndarray, reference: Reference) -> dict[str, Any]:
    """The largest difference of flat ``got`` from ``want``, against the tolerance."""
    note, mismatched = nonfinite_note(got, want)
    both = np.isfinite(got) & np.isfinite(want)
    # Nothing finite in both (all NaN, in the same places): no value differs.
    diff = float(np.max(np.abs(got[both] - want[both]))) if both.any() else 0.0
    finite = want[np.isfinite(want)]
    scale = float(np.max(np.abs(finite))) if finite.size else 0.0
    limit = None if reference.tolerance is None else reference.tolerance.limit(finite)
    verdict = False if mismatched else None if limit is None else bool(diff <= limit)
    return {
        "max_abs_diff": diff,
        "max_rel_diff": diff / scale if scale else None,
        "parity_tolerance": None if limit is None or math.isinf(limit) else limit,  # inf: floors only
        "parity_reference": reference.kind,
        "parity_ok": verdict,
        "parity_nonfinite": note,
    }


# Kinds of output value, as codes: finite, NaN, +inf, -inf.
_KIND_NAMES = ("finite", "NaN", "+inf", "-inf")


def _kinds(values: np.ndarray) -> np.ndarray:
    codes = np.zeros(values.shape, np.int8)
    codes[np.isnan(values)] = 1
    codes[np.isposinf(values)] = 2
    codes[np.isneginf(values)] = 3
    return codes


def nonfinite_note(got: np.ndarray, want: np.ndarray) -> tuple[str | None, int]:
    """What is non-finite where, in ``got`` against the reference ``want`` (flat, same size):
    ``"12 of 1000 outputs NaN in both, same places"``, ``"3 NaN where the reference is finite"``;
    None when both are all finite. Also how many positions differ in kind (any fails parity)."""
    have, expect = _kinds(got), _kinds(want)
    if not (have.any() or expect.any()):
        return None, 0
    parts = []
    for code in (1, 2, 3):
        same = int(np.count_nonzero((have == code) & (expect == code)))
        if same:
            parts.append(f"{same} of {got.size} outputs {_KIND_NAMES[code]} in both, same places")
    differ = have != expect
    pairs, counts = np.unique(have[differ].astype(np.int16) * 4 + expect[differ], return_counts=True)
    for pair, count in zip(pairs.tolist(), counts.tolist()):
        parts.append(f"{count} {_KIND_NAMES[pair // 4]} where the reference is {_KIND_NAMES[pair % 4]}")
    return "; ".join(parts), int(np.count_nonzero(differ))


# One cell's parity figures, taken together from the worst of several.
_PARITY_COLUMNS = (
    "max_abs_diff", "max_rel_diff", "parity_tolerance", "parity_ok", "parity_nonfinite",
    "cosine_min", "cosine_mean", "sqnr_db", "top1_agreement", "fidelity_shortfall",
)  # fmt: skip


def interrupted_outcome(run_id: str, measurement: Measurement, cell: Cell, signal_name: str) -> CellOutcome:
    """A cell that a signal stopped before it finished (or started)."""
    row = cell_row(run_id, cell, measurement=measurement)
    row.update(status="interrupted", error=f"{signal_name} arrived before this cell finished")
    return CellOutcome(cell, row, np.empty(0, dtype=np.int64))


def skipped_outcome(
    run_id: str,
    measurement: Measurement,
    cell: Cell,
    reason: str,
    prepared: PreparedModel,
    environment: Environment,
) -> CellOutcome:
    """A cell that was not run, for ``reason`` (its environment, or its framework and model)."""
    row = cell_row(run_id, cell, prepared, environment, measurement)
    row.update(status="skipped", error=reason)
    return CellOutcome(cell, row, np.empty(0, dtype=np.int64))


def cell_row(
    run_id: str,
    cell: Cell,
    prepared: PreparedModel | None = None,
    environment: Environment | None = None,
    measurement: Measurement | None = None,
) -> dict[str, Any]:
    """A cells.parquet row with what the plan says about ``cell`` and nothing measured yet."""
    row: dict[str, Any] = {name: None for name in tables.CELLS.names}
    row.update(cell.settings)
    row.update(
        run_id=run_id,
        cell_id=cell.cell_id,
        config_id=cell.config_id,
        repeat=cell.repeat,
        instance=cell.instance,
    )
    if prepared is not None:
        spec = prepared.spec
        shapes = {name: tuple(shape) for name, shape in json.loads(cell.input_shapes).items()}
        # At this cell's own shapes, never the model's defaults.
        flops = prepared.model.flops(shapes, prepared.files) if shapes else Flops(None, "no input shapes")
        row.update(
            model_source=spec.source,
            model_sha256=prepared.sha256,
            model_parameters=spec.parameters,
            model_flops_per_sample=flops.per_sample,
            model_flops_basis=flops.basis,
            model_io_bytes_per_sample=io_bytes_per_sample(prepared, shapes),
            inputs_sha256=prepared.inputs_sha256,
        )
    if measurement is not None:
        row.update(measurement_json=measurement.to_json())
    if environment is not None:
        row.update(environment_key=environment.key)
    return row


def io_bytes_per_sample(prepared: PreparedModel, shapes: dict[str, tuple[int, ...]]) -> float | None:
    """Bytes of one sample's inputs (at their dtypes) and output (float32, its size from the
    reference; left out where the model has none): the activations a call must move at the
    least, beside its weights. None without input shapes."""
    if not shapes:
        return None
    dtypes = {spec.name: np.dtype(spec.dtype).itemsize for spec in prepared.spec.inputs}
    total = sum(math.prod(shape[1:]) * dtypes.get(name, 4) for name, shape in shapes.items())
    if prepared.reference is not None and prepared.reference.ndim > 1:
        total += math.prod(prepared.reference.shape[1:]) * 4
    return float(total)


def _read_result(path: Path) -> dict[str, Any] | str:
    """The result row, or why it could not be read."""
    if not path.exists():
        return "it wrote no result"
    try:
        table = io.read_table(path, tables.RESULT)
    except io.SchemaError:
        return f"its {path.name} is corrupt or of another schema"
    if table.num_rows != 1:
        return f"its {path.name} has {table.num_rows} rows, expected 1"
    return table.to_pylist()[0]  # type: ignore[no-any-return]


def _why_no_result(exit: Exit, problem: str) -> str:
    if exit.signal_name:
        return f"runner killed by {exit.signal_name}; {problem}"
    return f"runner exited with status {exit.returncode}; {problem}"


def summarise_configs(outcomes: list[CellOutcome], machine: MachineState) -> list[dict[str, Any]]:
    """One summary row per configuration: the median over its repeats, and their spread. The
    instances of a repeat, which ran at once, count as one: see :func:`combine_instances`."""
    groups: dict[str, dict[int, list[CellOutcome]]] = {}
    for outcome in outcomes:
        groups.setdefault(outcome.cell.config_id, {}).setdefault(outcome.cell.repeat, []).append(outcome)
    return [
        _summarise_config([combine_instances(copies) for copies in repeats.values()], machine)
        for repeats in groups.values()
    ]


# Figures of copies running at once that add up: what the deployment of N copies costs and does.
_SUMMED = (
    "throughput_per_s",
    "cpu_percent",
    "peak_rss_mb",
    "uss_mb",
    "pss_mb",
    "rss_mb_load",
    "rss_mb_import",
    "peak_qps",  # each copy finds its own peak at the same time: together they serve the sum
    "cpu_wait_s",
)


def cpu_count(cpus: str | None) -> int | None:
    """How many CPUs a list such as "0,1,3" names; None for None."""
    return None if cpus is None else len(cpu_union([cpus]))


def cpu_union(lists: list[str | None]) -> list[int]:
    """Every CPU named in any of these comma lists, sorted."""
    return sorted({int(cpu) for cpus in lists if cpus for cpu in cpus.split(",") if cpu.strip()})


def _union_of(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """cpus_observed and cpus_allowed of rows that ran together or repeat one configuration."""
    observed = [row.get("cpus_observed") for row in rows]
    if all(cpus is None for cpus in observed):
        return {"cpus_observed": None, "cpus_allowed": None}
    union = cpu_union(observed)
    return {"cpus_observed": ",".join(map(str, union)), "cpus_allowed": len(union)}


def combine_instances(copies: list[CellOutcome]) -> CellOutcome:
    """The instances of one repeat as one outcome: throughput, CPU and memory summed over the
    copies (what they do and cost together), latency that of one copy -- the percentiles of all
    their calls pooled (of LoadGen's, the median over copies) -- and the worst status."""
    if len(copies) == 1:
        return copies[0]
    worst = min(copies, key=lambda outcome: _SEVERITY.index(outcome.row["status"]))
    if worst.row["status"] != "ok":
        row = dict(worst.row)
        row["error"] = f"instance {worst.cell.instance} of {len(copies)}: {worst.row['error']}"
        return CellOutcome(worst.cell, row, np.empty(0, dtype=np.int64), worst.load_average_1min)
    first = copies[0]
    row = dict(first.row)
    latencies = np.concatenate([outcome.latencies_ns for outcome in copies])
    if latencies.size:
        row.update(latency_stats(latencies).columns())
    if row.get("loadgen_json"):
        for column in _LOADGEN_LATENCIES:
            values = [o.row[column] for o in copies if o.row.get(column) is not None]
            row[column] = statistics.median(values) if values else None
    for column in _SUMMED:
        values = [o.row[column] for o in copies if o.row.get(column) is not None]
        row[column] = sum(values) if values else None
    row["iterations"] = sum(o.row["iterations"] or 0 for o in copies)
    row["ctx_switches_involuntary"] = sum(o.row["ctx_switches_involuntary"] or 0 for o in copies)
    row.update(_union_of([o.row for o in copies]))  # each copy on its share: together, all of them
    diffs = [o.row["max_abs_diff"] for o in copies if o.row["max_abs_diff"] is not None]
    if diffs:
        worst_diff = max(
            copies, key=lambda o: (o.row["parity_ok"] is False, o.row["max_abs_diff"] or 0.0)
        ).row
        row.update({k: worst_diff[k] for k in _PARITY_COLUMNS})
    return CellOutcome(first.cell, row, latencies, first.load_average_1min, first.outputs)


def _summarise_config(group: list[CellOutcome], machine: MachineState) -> dict[str, Any]:
    rows = [outcome.row for outcome in group]
    ok = [outcome for outcome in group if outcome.row["status"] == "ok"]
    summary = {name: rows[0].get(name) for name in tables.SUMMARY.names}
    summary.update(repeats=len(group), repeats_ok=len(ok))

    worst = min(rows, key=lambda row: _SEVERITY.index(row["status"]))
    summary.update(status=worst["status"], error=worst["error"])
    if len(group) > 1 and worst["status"] != "ok":
        count = sum(row["status"] == worst["status"] for row in rows)
        summary["error"] = f"{count} of {len(group)} repeats {worst['status']}: {worst['error']}"
    if not ok:
        return summary

    ok_rows = [outcome.row for outcome in ok]
    for name in (
        "framework_version",
        "precision_effective",
        "settings_json",
        "affinity_observed",
        "python",
        "modules_json",
        "parity_reference",
        "loadgen_validity",
        "loadgen_json",
    ):
        summary[name] = ok_rows[0][name]
    summary.update(_union_of(ok_rows))
    for field in tables.SUMMARY:
        if field.name in _MEDIAN_OVER_REPEATS:
            summary[field.name] = _median([row[field.name] for row in ok_rows], field.type)
    summary.update(_parity_over_repeats(ok_rows))

    p50s: list[float] = [row["latency_ms_p50"] for row in ok_rows]
    if ok_rows[0].get("loadgen_json") or ok[0].cell.instances > 1:  # measured, or the copies' sum
        rates = [row["throughput_per_s"] for row in ok_rows if row["throughput_per_s"] is not None]
        summary["throughput_per_s"] = statistics.median(rates) if rates else None
    else:  # samples per second at the summary's own p50, as documented: not a median of throughputs
        summary["throughput_per_s"] = throughput_per_s(ok[0].cell.batch_size, statistics.median(p50s))
    low: float | None
    high: float | None
    if len(ok) == 1:
        low, high = bootstrap_ci(ok[0].latencies_ns, q=50.0)
    elif len(ok) >= _PROCESSES_FOR_CI:  # the processes are what varies: resample them
        low, high = bootstrap_ci(np.asarray(p50s) * 1e6, q=50.0)
    else:
        # Resampling 2-5 process medians gives [min, max], which covers the true median far
        # less often than 95 % (75 % for 3). No interval, then; the spread column says it.
        low = high = None
    summary.update(
        latency_ms_p50_ci_low=low,
        latency_ms_p50_ci_high=high,
        latency_ms_p50_spread_pct=100.0 * (max(p50s) - min(p50s)) / statistics.median(p50s),
        warnings="; ".join(_warnings(ok, p50s, machine)) or None,
    )
    return summary


def _parity_over_repeats(ok_rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The worst repeat's parity figures, and a verdict that is all of the repeats'; nothing
    when a repeat has no figure."""
    diffs = [row["max_abs_diff"] for row in ok_rows]
    if not all(diff is not None for diff in diffs):
        return {}
    worst_row = max(ok_rows, key=lambda row: (row["parity_ok"] is False, row["max_abs_diff"]))
    parity = {name: worst_row[name] for name in _PARITY_COLUMNS if name != "parity_ok"}
    verdicts = [row["parity_ok"] for row in ok_rows]
    parity["parity_ok"] = None if None in verdicts else all(verdicts)
    return parity


def with_comparison_warnings(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Summary rows (copies) with the warnings that only a comparison between rows can give:
    ``cpu-budget`` where the contenders of one comparison (rows that differ only in framework,
    version and options, as "x fastest" ranks them) ran on different CPU sets."""
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(config_key(row, without=CONTENDER_COLUMNS), []).append(row)
    found: dict[str, str] = {}
    for group in groups.values():
        ran_on = {row["cell_id"]: row.get("cpus_observed") for row in group if row["status"] == "ok"}
        found |= cpu_budget_warnings(str(group[0]["cpus"]), ran_on)
    marked = []
    for row in rows:
        if row["cell_id"] in found:
            row = dict(row, warnings="; ".join(filter(None, [row.get("warnings"), found[row["cell_id"]]])))
        marked.append(row)
    return marked


def with_speedups(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Summary rows (copies) with ``speedup_vs_fp32``: a comparison between rows, like the
    cpu-budget warning, made once every row of the run so far is summarised."""
    found = speedups_vs_fp32(rows)
    return [dict(row, speedup_vs_fp32=found[row["cell_id"]]) for row in rows]


def _warnings(ok: list[CellOutcome], p50s: list[float], machine: MachineState) -> list[str]:
    """Reasons to doubt the configuration's figures, one per kind (the first process's wording)."""
    by_kind: dict[str, str] = {}
    for index, outcome in enumerate(ok):
        cell = outcome.cell
        found = assess(
            outcome.latencies_ns,
            percentiles=printed_percentiles(outcome.latencies_ns.size),
            repeat_p50s_ms=p50s if index == 0 else (),
            clock_resolution_s=machine.clock_resolution_s,
            load_average_1min=outcome.load_average_1min,
            own_busy_cpus=min(cell.threads, len(cell.pinned_to)) * cell.instances,
            allowed_cpus=outcome.row["cpus_allowed"] or len(cell.pinned_to),
            cpufreq=machine.cpufreq,
            ctx_switches_involuntary=outcome.row["ctx_switches_involuntary"],
            cpu_wait_s=outcome.row["cpu_wait_s"],
            cpu_s=_cpu_s(outcome.row),
            threads=cell.threads * cell.instances,  # the copies together
            cpu_percent=outcome.row["cpu_percent"],
            threads_observed=outcome.row["threads_observed"],
            queueing=cell.scenario in QUEUEING_SCENARIOS,
        )
        for warning in found:
            by_kind.setdefault(warning.split(":", 1)[0], warning)
    invalid = [o.row for o in ok if o.row.get("loadgen_validity") not in (None, "VALID")]
    if (
        invalid and not scenario(ok[0].cell.scenario).find_peak
    ):  # a peak search is INVALID by design, above the peak
        reason = json.loads(invalid[0]["loadgen_json"] or "{}").get("invalid_reason") or "no reason given"
        by_kind["loadgen-invalid"] = f"loadgen-invalid: {len(invalid)} of {len(ok)} runs INVALID: {reason}"
    asked = ok[0].cell.precision.split("-")[0]  # int8-static and int8-dynamic run int8
    # Unobserved is not a different precision: the settings say why nothing could be read.
    compiled = {o.row["precision_effective"] for o in ok} - {asked, UNOBSERVED, None}
    diffs = [o.row["max_rel_diff"] for o in ok if o.row["max_rel_diff"] is not None]
    if compiled:
        # What the framework compiled, read back (XLA's CPU backend computes bf16 dots in fp32).
        by_kind["precision"] = f"precision: {asked} asked, the framework compiled {sorted(compiled)[0]}"
    elif asked == "bf16" and diffs and max(diffs) <= _FP32_AGREEMENT:
        # bfloat16 rounds every weight to 8 bits of mantissa: outputs this close to the float32
        # reference mean some of the model still runs in float32.
        by_kind["precision"] = (
            f"precision: {asked} reported, but outputs agree with fp32 to "
            f"{max(diffs):.0e} of the largest; part of the model likely runs in fp32"
        )
    return list(by_kind.values())


def _cpu_s(row: dict[str, Any]) -> float | None:
    """CPU seconds the cell's process(es) got over the timed loop."""
    if row["cpu_percent"] is None or row["timed_s"] is None:
        return None
    return float(row["cpu_percent"]) / 100.0 * float(row["timed_s"])


# A bf16 cell closer than this to the float32 reference (relative to its largest output) is not
# fully reduced: bf16 alone would give ~4e-3. (An int8 model's error depends on its calibration
# and its outputs' spread -- the seeded MLP's is 2e-5 -- so no such bound tells int8 apart.)
_FP32_AGREEMENT = 1e-4


# Fewest processes whose bootstrap interval of the median is near its nominal 95 %.
_PROCESSES_FOR_CI = 6

# Measured figures a summary row takes as the median over its ok repeats.
_MEDIAN_OVER_REPEATS = frozenset(
    field.name
    for field in tables.SUMMARY
    if (pa.types.is_floating(field.type) or pa.types.is_integer(field.type))
    and field.name
    not in ("batch_size", "threads", "repeats", "repeats_ok", "cpus_allowed", "parity_tolerance")
    and not field.name.startswith("latency_ms_p50_")
    and not field.name.startswith("model_")
    and field.name not in _PARITY_COLUMNS  # the worst repeat's, with its verdict
    and field.name != "speedup_vs_fp32"  # between configurations: with_speedups
    and field.name not in ROOFLINE_COLUMNS  # of the summary row itself, under the run's roofs
)


def _median(values: list[Any], arrow_type: pa.DataType) -> Any:
    present = [value for value in values if value is not None]
    if not present:
        return None
    median = statistics.median(present)
    convert: Callable[[Any], Any] = int if pa.types.is_integer(arrow_type) else float
    return convert(median)


def write_cells(outcomes: list[CellOutcome], path: Path) -> None:
    """Write cells.parquet, one row per cell (atomically)."""
    io.write_table(pa.Table.from_pylist([o.row for o in outcomes], schema=tables.CELLS), path)


def write_summary(rows: list[dict[str, Any]], path: Path) -> None:
    """Write summary.parquet, one row per configuration (atomically)."""
    io.write_table(pa.Table.from_pylist(rows, schema=tables.SUMMARY), path)


def write_samples(parts: list[pa.Table], path: Path) -> None:
    """Write samples.parquet from each cell's :func:`samples_of`, atomically."""
    io.write_table(pa.concat_tables(parts) if parts else tables.SAMPLES.empty_table(), path)


def samples_of(outcome: CellOutcome) -> pa.Table:
    """The cell's rows of samples.parquet: one per timed call."""
    count = outcome.latencies_ns.size
    per_cell = [
        pa.repeat(pa.scalar(outcome.row[fld.name], type=fld.type), count)
        for fld in tables.SAMPLES
        if fld.name not in ("iteration", "latency_ns")
    ]
    per_call = [pa.array(np.arange(count, dtype=np.int64)), pa.array(outcome.latencies_ns)]
    return pa.Table.from_arrays(per_cell + per_call, schema=tables.SAMPLES)

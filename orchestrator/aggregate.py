"""Turns each cell's result.parquet into a summary row and samples, with the parity check."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from orchestrator.launcher import Exit
from orchestrator.plan import PARITY_TOLERANCE, Cell, Plan, format_cpus
from orchestrator.stats import latency_stats, max_abs_diff, throughput_per_s
from schemas import io, tables

# Result columns copied into the summary unchanged.
_COPIED = (
    "framework_version",
    "precision",
    "settings_json",
    "threads_observed",
    "os_threads",
    "affinity_observed",
    "import_s",
    "load_s",
    "first_inference_ms",
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
)


@dataclass(frozen=True)
class CellOutcome:
    """A finished cell: its summary row and its per-call latencies."""

    row: dict[str, Any]
    latencies_ns: np.ndarray


def summarise_cell(
    run_id: str, plan: Plan, cell: Cell, result_path: Path, exit: Exit, reference: np.ndarray
) -> CellOutcome:
    """Build the cell's summary row from its result file and how its process ended."""
    row = base_row(run_id, plan, cell)
    latencies = np.empty(0, dtype=np.int64)
    result = _read_result(result_path)
    if exit.timed_out:
        row.update(status="timeout", error=f"no result within --timeout {plan.timeout_s:g} s")
    elif isinstance(result, str):
        row.update(status="failed", error=_why_no_result(exit, result))
    else:
        row.update({name: result[name] for name in _COPIED})
        row.update(status=result["status"], error=result["error"])
        if result["status"] == "ok":
            latencies = np.asarray(result["latencies_ns"], dtype=np.int64)
            stats = latency_stats(latencies)
            row.update(stats.columns(), throughput_per_s=throughput_per_s(cell.batch_size, stats.p50))
            diff = max_abs_diff(np.asarray(result["outputs"], np.float32), reference)
            row.update(max_abs_diff=diff, parity_ok=diff <= PARITY_TOLERANCE)
    return CellOutcome(row, latencies)


def interrupted_row(run_id: str, plan: Plan, cell: Cell, signal_name: str) -> dict[str, Any]:
    """The summary row of a cell that a signal stopped before it finished (or started)."""
    return base_row(run_id, plan, cell) | {
        "status": "interrupted",
        "error": f"{signal_name} arrived before this cell finished",
    }


def base_row(run_id: str, plan: Plan, cell: Cell) -> dict[str, Any]:
    """A summary row with what the plan says about ``cell`` and nothing measured yet."""
    row: dict[str, Any] = {name: None for name in tables.SUMMARY.names}
    row.update(
        run_id=run_id,
        cell_id=cell.cell_id,
        framework=cell.framework,
        model=plan.model,
        batch_size=cell.batch_size,
        threads=cell.threads,
        cpus=format_cpus(cell.cpus),
        cpus_allowed=len(cell.cpus),
        mode=plan.mode,
        parity_tolerance=PARITY_TOLERANCE,
    )
    return row


def _read_result(path: Path) -> dict[str, Any] | str:
    """The result row, or why it could not be read."""
    if not path.exists():
        return "it wrote no result"
    try:
        table = io.read_table(path, tables.RESULT)
    except io.SchemaError:
        return f"its {path.name} is corrupt or of another schema"
    if table.num_rows != 1:
        return f"its result has {table.num_rows} rows, expected 1"
    return table.to_pylist()[0]  # type: ignore[no-any-return]


def _why_no_result(exit: Exit, problem: str) -> str:
    if exit.signal_name:
        return f"runner killed by {exit.signal_name}; {problem}"
    return f"runner exited with status {exit.returncode}; {problem}"


def write_summary(rows: list[dict[str, Any]], path: Path) -> None:
    """Write summary.parquet, one row per cell (atomically)."""
    io.write_table(pa.Table.from_pylist(rows, schema=tables.SUMMARY), path)


def write_samples(outcomes: list[CellOutcome], path: Path) -> None:
    """Write samples.parquet, one row per timed call of every cell (atomically)."""
    parts = [_samples_of(outcome) for outcome in outcomes]
    io.write_table(pa.concat_tables(parts) if parts else tables.SAMPLES.empty_table(), path)


def _samples_of(outcome: CellOutcome) -> pa.Table:
    count = outcome.latencies_ns.size
    per_cell = [
        pa.array([outcome.row[fld.name]] * count, type=fld.type)
        for fld in tables.SAMPLES
        if fld.name not in ("iteration", "latency_ns")
    ]
    per_call = [pa.array(np.arange(count, dtype=np.int64)), pa.array(outcome.latencies_ns)]
    return pa.Table.from_arrays(per_cell + per_call, schema=tables.SAMPLES)

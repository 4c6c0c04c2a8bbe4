"""Each cell's speed-up over the same configuration at fp32: what a lower precision gains."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from schemas.configuration import config_key
from schemas.precisions import BASELINE


def speedups_vs_fp32(rows: Sequence[Mapping[str, Any]]) -> dict[str, float | None]:
    """By ``cell_id``: the p50 of the fp32 row of the same configuration (framework, version,
    model, scenario, shapes, threads, CPUs, options, mode: everything but the precision) over
    this row's p50 -- 2.0 is twice as fast as fp32, 1.0 for the fp32 row itself. None where
    either row is not ok or has no p50, or the run has no such fp32 row."""
    baselines: dict[tuple[Any, ...], float] = {}
    for row in rows:
        if row.get("precision") == BASELINE and _p50(row) is not None:
            baselines[config_key(row, without=("precision",))] = float(row["latency_ms_p50"])
    found: dict[str, float | None] = {}
    for row in rows:
        base = baselines.get(config_key(row, without=("precision",)))
        p50 = _p50(row)
        found[row["cell_id"]] = None if base is None or p50 is None else base / p50
    return found


def _p50(row: Mapping[str, Any]) -> float | None:
    """The row's p50, where it is ok and has one above zero."""
    p50 = row.get("latency_ms_p50")
    return float(p50) if row.get("status") == "ok" and p50 is not None and p50 > 0 else None

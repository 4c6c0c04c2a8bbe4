"""Each cell's speed-up over the same configuration at fp32: what a lower precision gains."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from schemas.configuration import config_key
from schemas.precisions import BASELINE

# What a cell's fp32 twin shares with it: everything but these (its options are matched apart).
_APART = ("precision", "options_json")


def speedups_vs_fp32(rows: Sequence[Mapping[str, Any]]) -> dict[str, float | None]:
    """By ``cell_id``: the p50 of the fp32 row of the same configuration (framework, version,
    model, scenario, shapes, threads, CPUs, options, mode: everything but the precision) over
    this row's p50 -- 2.0 is twice as fast as fp32, 1.0 for the fp32 row itself. None where
    either row is not ok or has no p50, or the run has no such fp32 row.

    Options that apply to one precision only are in the options of its cells alone: a
    quantization format in an int8 cell's, a compile switch in an fp32 cell's (PyTorch's int8
    always compiles). The twin is the fp32 row that agrees with this row on every option both
    have, the one sharing the most where several do, and of those the fastest: where the fp32
    cells swept an option the int8 cell does not run, its speed-up is over fp32 at its best.
    """
    baselines: dict[tuple[Any, ...], list[tuple[dict[str, Any], float]]] = {}
    for row in rows:
        p50 = _p50(row)
        if row.get("precision") == BASELINE and p50 is not None:
            baselines.setdefault(config_key(row, without=_APART), []).append((_options(row), p50))
    found: dict[str, float | None] = {}
    for row in rows:
        options, p50 = _options(row), _p50(row)
        twins = [
            (len(theirs.keys() & options.keys()), -base)
            for theirs, base in baselines.get(config_key(row, without=_APART), [])
            if _agree(theirs, options)
        ]
        found[row["cell_id"]] = None if not twins or p50 is None else -max(twins)[1] / p50
    return found


def _agree(one: dict[str, Any], other: dict[str, Any]) -> bool:
    """Whether two option sets hold the same value for every option both have."""
    return all(one[key] == other[key] for key in one.keys() & other.keys())


def _options(row: Mapping[str, Any]) -> dict[str, Any]:
    options = json.loads(row.get("options_json") or "{}")
    return options if isinstance(options, dict) else {}


def _p50(row: Mapping[str, Any]) -> float | None:
    """The row's p50, where it is ok and has one above zero."""
    p50 = row.get("latency_ms_p50")
    return float(p50) if row.get("status") == "ok" and p50 is not None and p50 > 0 else None

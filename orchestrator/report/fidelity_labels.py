"""How a cell's precision figures read in the console table and summary.md: its speed-up over
the same configuration at fp32, and its fidelity against the reference. Shown only when a run
has more than one precision or a cell that is not fp32, so a default run's table is unchanged."""

from __future__ import annotations

import math
from typing import Any

from schemas.precisions import BASELINE

Row = dict[str, Any]


def shows_precision(rows: list[Row]) -> bool:
    """Whether the tables show the precision columns: several precisions, or one not fp32."""
    precisions = {row.get("precision") for row in rows}
    return len(precisions) > 1 or precisions - {BASELINE, None} != set()


def format_speedup(row: Row) -> str:
    """``2.50x`` (this cell runs 2.5 times as fast as its fp32 twin); ``-`` without one."""
    value = row.get("speedup_vs_fp32")
    return "-" if value is None else f"{value:.2f}x"


def format_cosine(row: Row) -> str:
    """The least cosine over the samples, to five decimals (``0.99981``); ``-`` without it."""
    value = row.get("cosine_min")
    return "-" if value is None else f"{value:.5f}"


def format_sqnr(row: Row) -> str:
    """SQNR to a tenth of a dB (``34.0``), ``inf`` for outputs equal to the reference."""
    value = row.get("sqnr_db")
    if value is None:
        return "-"
    return ("inf" if value > 0 else "-inf") if math.isinf(value) else f"{value:.1f}"


def format_top1(row: Row) -> str:
    """Top-1 agreement as a percentage (``100.0%``); ``-`` for a model with no classes."""
    value = row.get("top1_agreement")
    return "-" if value is None else f"{100.0 * value:.1f}%"


def format_fidelity(row: Row) -> str:
    """The compact pair of the console table: ``0.99981 / 34.0 dB``; ``-`` without figures."""
    cosine, sqnr = format_cosine(row), format_sqnr(row)
    if cosine == sqnr == "-":
        return "-"
    return f"{cosine} / {sqnr} dB"

"""The final console table of a run."""

from __future__ import annotations

import math
from typing import Any

from rich.table import Table


def _fmt(value: float | None, digits: int) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:,.{digits}f}"


def _parity(row: dict[str, Any]) -> str:
    diff = row["max_abs_diff"]
    if diff is None:
        return "-"
    if row["parity_ok"]:
        return f"ok {diff:.1e}"
    return f"[bold red]DIVERGED {diff:.1e}[/]"


def _status(row: dict[str, Any]) -> str:
    colour = {"ok": "green", "skipped": "yellow"}.get(row["status"], "bold red")
    text = f"[{colour}]{row['status']}[/]"
    if row["error"]:
        text += f" {row['error']}"
    return text


def summary_table(rows: list[dict[str, Any]], title: str | None = None) -> Table:
    """One line per cell: latency, throughput, CPU, memory, start-up costs, parity, status."""
    vary = {key for key in ("batch_size", "threads") if len({row[key] for row in rows}) > 1}
    table = Table(title=title, title_justify="left")
    table.add_column("framework")
    if "batch_size" in vary:
        table.add_column("batch", justify="right")
    if "threads" in vary:
        table.add_column("threads", justify="right")
    for header in ("p50 ms", "p99 ms", "samples/s", "CPU %", "peak MB", "import s", "load s"):
        table.add_column(header, justify="right")
    table.add_column("parity")
    table.add_column("status", overflow="fold")
    for row in rows:
        cells = [row["framework"]]
        cells += [str(row[key]) for key in ("batch_size", "threads") if key in vary]
        cells += [
            _fmt(row["latency_ms_p50"], 3),
            _fmt(row["latency_ms_p99"], 3),
            _fmt(row["throughput_per_s"], 0),
            _fmt(row["cpu_percent"], 0),
            _fmt(row["peak_rss_mb"], 0),
            _fmt(row["import_s"], 2),
            _fmt(row["load_s"], 2),
            _parity(row),
            _status(row),
        ]
        table.add_row(*cells)
    return table

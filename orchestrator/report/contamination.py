"""What sharing one process did to each framework's figures: in-process against isolated.

The article ran every framework in one process; this puts a number on what that cost.
"""

from __future__ import annotations

from typing import Any

from rich.table import Table

from schemas.configuration import config_key


def _key(row: dict[str, Any]) -> tuple[Any, ...]:
    return config_key(row, without=("mode",))


def pair_modes(rows: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(isolated, in-process) summary rows of the same configuration, both ok, in run order."""
    isolated = {_key(row): row for row in rows if row["mode"] == "isolated"}
    pairs = []
    for row in rows:
        twin = isolated.get(_key(row))
        if row["mode"] == "in-process" and twin and twin["status"] == row["status"] == "ok":
            pairs.append((twin, row))
    return pairs


def _change(before: float | None, after: float | None, unit: str, relative: bool) -> str:
    if before is None or after is None:
        return "-"
    text = f"{before:,.4g} -> {after:,.4g} {unit}"
    if relative and before:
        return f"{text} ({100.0 * (after - before) / before:+.0f} %)"
    return f"{text} ({after - before:+,.0f})"


def isolation_table(rows: list[dict[str, Any]]) -> Table:
    """Per framework: memory carried in from earlier imports, peak memory, p50 and CPU %."""
    table = Table(title="in-process against isolated (isolated -> in-process)", title_justify="left")
    for header in ("framework", "RSS before import", "peak RSS", "p50", "CPU"):
        table.add_column(header, justify="left" if header == "framework" else "right")
    for isolated, shared in pair_modes(rows):
        table.add_row(
            isolated["framework"],
            _change(isolated["rss_mb_baseline"], shared["rss_mb_baseline"], "MB", relative=False),
            _change(isolated["peak_rss_mb"], shared["peak_rss_mb"], "MB", relative=False),
            _change(isolated["latency_ms_p50"], shared["latency_ms_p50"], "ms", relative=True),
            _change(isolated["cpu_percent"], shared["cpu_percent"], "%", relative=False),
        )
    return table

"""report.html's summary table: every column of the summary, one row per cell, sortable by a
click on any header (a few lines of inline JavaScript, no library)."""

from __future__ import annotations

import json
import math
from html import escape
from typing import Any

from orchestrator.report.labels import Row, format_ratio, relative_header, relative_to, supported_only

# Shown first, in this order, where the summary has them; every other column follows in the
# summary's own order.
_FIRST = (
    "framework", "model", "scenario", "batch_size", "threads", "precision", "status",
    "latency_ms_p50", "latency_ms_p99", "throughput_per_s", "cpu_percent", "peak_rss_mb",
    "max_abs_diff", "parity_ok", "warnings",
)  # fmt: skip
_LONG = 60  # characters past which a value folds into a <details>

SORT_SCRIPT = """
document.querySelectorAll("table.sortable").forEach((table) => {
  table.querySelectorAll("thead th").forEach((th, index) => {
    th.addEventListener("click", () => {
      const body = table.tBodies[0];
      const rows = Array.from(body.rows);
      const ascending = th.dataset.order !== "asc";
      table.querySelectorAll("thead th").forEach((other) => delete other.dataset.order);
      th.dataset.order = ascending ? "asc" : "desc";
      const key = (row) => row.cells[index].dataset.sort;
      const numeric = rows.every((row) => key(row) === "" || !isNaN(Number(key(row))));
      rows.sort((a, b) => {
        const x = key(a), y = key(b);
        if (x === "" || y === "") return (x === "") - (y === "");  // empty cells last, either way
        const order = numeric ? Number(x) - Number(y) : x.localeCompare(y);
        return ascending ? order : -order;
      });
      body.append(...rows);
    });
  });
});
"""


def summary_table(rows: list[Row], baseline: str | None) -> str:
    """The table as HTML: a header cell per column (its name in the summary), a row per cell.

    A tail percentile the cell's calls do not support is left empty, as in every other output
    (:func:`supported_only`: a p99 needs 1000 calls).
    """
    columns = _columns(rows)
    ratios = relative_to(rows, baseline)
    ratio_header = relative_header(baseline)
    head = "".join(
        f'<th title="click to sort">{escape(name)}</th>'
        for name in [*columns[:8], ratio_header, *columns[8:]]
    )
    body = []
    for row in rows:
        ratio = ratios.get(row["cell_id"])
        shown = supported_only(row)
        cells = [_cell(shown.get(column)) for column in columns]
        ratio_cell = f'<td data-sort="{"" if ratio is None else ratio}">{format_ratio(ratio)}</td>'
        status = escape(str(row.get("status")))
        body.append(f'<tr class="status-{status}">' + "".join([*cells[:8], ratio_cell, *cells[8:]]) + "</tr>")
    return (
        '<div class="scroll"><table id="summary" class="sortable">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
    )


def _columns(rows: list[Row]) -> list[str]:
    """Every column of the rows: the key ones first, then the rest in the summary's order."""
    present = list(dict.fromkeys(column for row in rows for column in row))
    return [column for column in _FIRST if column in present] + [c for c in present if c not in _FIRST]


def _cell(value: Any) -> str:
    """One table cell: the value shown readably, its raw form kept in data-sort for sorting."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return '<td data-sort=""></td>'
    if isinstance(value, bool):
        return f'<td data-sort="{int(value)}">{"yes" if value else "no"}</td>'
    if isinstance(value, float) and math.isinf(value):  # an SQNR where the outputs are equal
        sort = "Infinity" if value > 0 else "-Infinity"  # as JavaScript's Number() reads it
        return f'<td class="number" data-sort="{sort}">{value}</td>'
    if isinstance(value, int | float):
        return f'<td class="number" data-sort="{value!r}">{_number(value)}</td>'
    text = str(value)
    sort = escape(text[:200], quote=True)
    if len(text) <= _LONG:
        return f'<td data-sort="{sort}">{escape(text)}</td>'
    folded = f"<details><summary>{escape(text[:40])}…</summary><pre>{escape(_pretty(text))}</pre></details>"
    return f'<td data-sort="{sort}">{folded}</td>'


def _number(value: float) -> str:
    """Four significant digits; whole numbers and large figures with thousands separators."""
    if isinstance(value, int) or abs(value) >= 1e4:
        return f"{value:,.0f}"
    return f"{value:.4g}"


def _pretty(text: str) -> str:
    """A JSON value indented for reading; any other text as it is."""
    try:
        return json.dumps(json.loads(text), indent=1)
    except ValueError:
        return text

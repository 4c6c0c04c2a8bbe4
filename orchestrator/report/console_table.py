"""The final table on the console: every value whole, at any width.

Columns have priorities. At the console's width the table keeps as many of them as fit, least
important dropped first (they stay in summary.parquet and the reports); when even the essential
ones do not fit, each cell becomes a block of "name value" pairs that wrap between pairs, never
inside one. Piped output gets the table's natural width, so a CI log holds every column. Reasons
(why a cell failed, was skipped or diverged) and warnings are lines below the table, not text
squeezed into a column.
"""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rich.console import Group, RenderableType
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from orchestrator.report.fidelity_labels import format_fidelity, format_speedup, shows_precision
from orchestrator.report.labels import (
    contender_label,
    format_accuracy,
    format_accuracy_drop,
    format_ms,
    format_ratio,
    format_roof_pct,
    has_accuracy,
    relative_header,
    relative_to,
    row_label,
    tail_column,
    varying_keys,
    warning_codes,
)
from schemas.configuration import display_value, framework_label, header

Row = dict[str, Any]

# Lower is kept longer. 0: what a reader cannot do without; 4: first to go.
ESSENTIAL, IMPORTANT, USEFUL, DETAIL, EXTRA = range(5)


@dataclass(frozen=True)
class Column:
    header: str
    values: list[str]  # Rich markup, one per row
    priority: int
    numeric: bool = True

    @property
    def width(self) -> int:
        return max([Text.from_markup(v).cell_len for v in self.values] + [len(self.header)])


def _fmt(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _status(row: Row) -> str:
    colour = {"ok": "green", "skipped": "yellow"}.get(row["status"], "bold red")
    return f"[{colour}]{row['status']}[/]"


def _parity(row: Row) -> str:
    diff = row.get("max_abs_diff")
    if diff is None:
        return "-"
    if row.get("parity_ok") is False:
        return f"[bold red]DIVERGED {diff:.1e}[/]"
    return f"ok {diff:.1e}"


def columns(rows: list[Row], baseline: str | None, relative: bool) -> list[Column]:
    """Every column the table may show, with its priority."""
    vary = varying_keys(rows)
    ratios = relative_to(rows, baseline) if (relative or baseline is not None) else {}
    found = [Column("framework", [escape(contender_label(row)) for row in rows], ESSENTIAL, numeric=False)]
    for key in vary:
        found.append(
            Column(
                header(key), [escape(display_value(row.get(key))) for row in rows], ESSENTIAL, numeric=False
            )
        )
    if any(_ran_elsewhere(row) for row in rows):  # a runner narrowed its CPUs (JAX to --threads)
        ran_on = [escape(row.get("cpus_observed") or "-") for row in rows]
        found.append(Column("ran on CPUs", ran_on, ESSENTIAL, numeric=False))
    found.append(Column("p50 ms", [format_ms(row.get("latency_ms_p50")) for row in rows], ESSENTIAL))
    if any(row.get("peak_qps") is not None for row in rows):  # a peak search's finding
        found.append(Column("peak QPS", [_fmt(row.get("peak_qps"), 0) for row in rows], ESSENTIAL))
    tail_header, tail_value = tail_column(rows)
    found.append(Column(tail_header, [tail_value(row) for row in rows], DETAIL))
    if ratios:
        found.append(
            Column(
                relative_header(baseline), [format_ratio(ratios[row["cell_id"]]) for row in rows], ESSENTIAL
            )
        )
    found += [
        # Offline, batch / p50: the p50 column says it already, where CPU % says what nothing else does.
        Column("samples/s", [_fmt(row.get("throughput_per_s"), 0) for row in rows], DETAIL),
        *_roof_column(rows),
        Column("CPU %", [_fmt(row.get("cpu_percent"), 0) for row in rows], USEFUL),
        Column("peak MB", [_peak(row) for row in rows], IMPORTANT),
        Column("import s", [_fmt(row.get("import_s"), 2) for row in rows], EXTRA),
        Column("ready s", [_fmt(row.get("ready_s"), 2) for row in rows], DETAIL),
        Column("parity", [_parity(row) for row in rows], IMPORTANT),  # right: its figures align
        Column("status", [_status(row) for row in rows], ESSENTIAL, numeric=False),
    ]
    _insert_output_columns(found, rows)
    if any(row.get("loadgen_validity") for row in rows):
        verdicts = [_verdict(row.get("loadgen_validity")) for row in rows]
        found.insert(len(found) - 1, Column("LoadGen", verdicts, ESSENTIAL, numeric=False))
    if any((row.get("repeats") or 1) > 1 for row in rows):
        spread = [
            "-"
            if row.get("latency_ms_p50_spread_pct") is None
            else f"{row['latency_ms_p50_spread_pct']:.1f}% of {row['repeats_ok']}"
            for row in rows
        ]
        found.append(Column("p50 spread", spread, USEFUL))
    if any(row.get("warnings") for row in rows):
        found.append(
            Column(
                "warnings", [f"[yellow]{escape(warning_codes(row))}[/]" for row in rows], EXTRA, numeric=False
            )
        )
    return found


def _insert_output_columns(found: list[Column], rows: list[Row]) -> None:
    """The columns of what the outputs are worth, where the run has them, before parity and
    status: a precision's speed-up (beside the other ratios) and fidelity, a trained model's
    accuracy."""
    if shows_precision(rows):  # what a lower precision gains in speed, and costs in fidelity
        after_ratios = next(i for i, column in enumerate(found) if column.header == "samples/s")
        found.insert(after_ratios, Column("speed-up", [format_speedup(row) for row in rows], IMPORTANT))
        at = len(found) - 2
        found.insert(at, Column("cos min / SQNR", [format_fidelity(row) for row in rows], IMPORTANT))
    if has_accuracy(rows):  # a trained model: what its outputs get right, and what was lost
        at = len(found) - 2
        found[at:at] = [
            Column("accuracy", [format_accuracy(row) for row in rows], IMPORTANT),
            Column("vs ref", [format_accuracy_drop(row) for row in rows], USEFUL),
        ]


def _roof_column(rows: list[Row]) -> list[Column]:
    """``% roof``: each cell's share of the measured roof of the precision that executed;
    none for rows from before the roofs (or a run without them)."""
    if not any(row.get("roof_pct_measured") is not None for row in rows):
        return []
    return [Column("% roof", [format_roof_pct(row) for row in rows], USEFUL)]


def _ran_elsewhere(row: Row) -> bool:
    """The runner's threads could use other CPUs than --cpus asked (read back, where known)."""
    observed = row.get("cpus_observed")
    return observed is not None and observed != row.get("cpus")


def _verdict(validity: str | None) -> str:
    """LoadGen's verdict on a run: VALID, or INVALID / INCOMPLETE in red."""
    if validity is None:
        return "-"
    return f"[green]{validity}[/]" if validity == "VALID" else f"[bold red]{escape(validity)}[/]"


def _peak(row: Row) -> str:
    text = _fmt(row.get("peak_rss_mb"), 0)
    return (
        f"{text} shared" if row.get("mode") == "in-process" and row.get("peak_rss_mb") is not None else text
    )


def table_width(shown: list[Column]) -> int:
    """What a Rich table of these columns needs: each column plus its padding and a border."""
    return sum(column.width + 3 for column in shown) + 1


def summary_view(
    rows: list[Row],
    width: int | None,
    title: str | None = None,
    baseline: str | None = None,
    relative: bool = False,
) -> RenderableType:
    """The table at ``width`` columns (None: its natural width, for pipes and logs)."""
    every = columns(rows, baseline, relative)
    if width is None:
        return _table(every, len(rows), title)
    shown = _fitting(every, width)
    if shown is None:
        return _blocks(every, len(rows), title, width)
    return _table(shown, len(rows), title)


def _fitting(every: list[Column], width: int) -> list[Column] | None:
    """The columns of a table at most ``width`` wide: the least important dropped first (of
    equals, the rightmost), one at a time, then any dropped one that still fits put back, the
    most important first -- so a narrow column is never lost to make room that a wide one took.
    None when even the essential columns do not fit."""
    shown = list(every)
    dropped: list[Column] = []
    for column in sorted(every, key=lambda c: (c.priority, every.index(c)), reverse=True):
        if table_width(shown) <= width or column.priority == ESSENTIAL:
            break
        shown.remove(column)
        dropped.append(column)
    if table_width(shown) > width:
        return None
    for column in reversed(dropped):
        candidate = sorted([*shown, column], key=every.index)
        if table_width(candidate) <= width:
            shown = candidate
    return shown


def _table(shown: list[Column], count: int, title: str | None) -> Table:
    table = Table(title=title, title_justify="left")
    for column in shown:
        table.add_column(
            column.header, justify="right" if column.numeric else "left", no_wrap=True, min_width=column.width
        )
    for index in range(count):
        table.add_row(*(column.values[index] for column in shown))
    return table


def _blocks(every: list[Column], count: int, title: str | None, width: int) -> Group:
    """Too narrow for a table: one block per cell, "name value" pairs laid out in lines that
    break between pairs only, never inside one."""
    parts: list[RenderableType] = [Text(title)] if title else []
    for index in range(count):
        parts.append(Text.from_markup(every[0].values[index], style="bold"))
        line = Text("  ")
        for column in every[1:]:
            value = Text.from_markup(column.values[index])
            if value.plain in ("-", ""):
                continue
            pair = Text.assemble(f"{column.header} ", value)
            if line.cell_len > 2 and line.cell_len + 2 + pair.cell_len > width:
                parts.append(line)
                line = Text("  ")
            line.append_text(Text("  ") if line.cell_len > 2 else Text(""))
            line.append_text(pair)
        parts.append(line)
    return Group(*parts)


def settings_lines(parts: list[str], width: int | None, heading: str = "settings:") -> list[str]:
    """``settings: a; b; c``, its parts packed into lines of at most ``width`` columns, broken
    between parts only (None: one line, for pipes and logs)."""
    lines = [heading]
    for part in parts:
        candidate = f"{lines[-1]}{'' if lines[-1] == heading else ';'} {part}"
        if width is None or len(candidate) <= width or lines[-1] == heading:
            lines[-1] = candidate
        else:
            lines[-1] += ";"
            lines.append(f"  {part}")
    return lines if parts else []


def version_parts(rows: list[Row]) -> list[str]:
    """Each framework's version as it reported it (``onnxruntime 1.32.0``), once per framework
    and pin, in the table's order: the table's rows name a pin, not what runs without one."""
    found: dict[str, str] = {}
    for row in rows:
        if row.get("framework_version"):
            found.setdefault(framework_label(row), str(row["framework_version"]))
    return [
        f"{name} {version}" if not name.endswith(f"@{version}") else name for name, version in found.items()
    ]


def wrapped(note: str, width: int | None) -> list[str]:
    """A note below the table in lines of at most ``width`` columns, broken between words only
    (never inside a figure or a path), the lines after the first indented; whole for a pipe."""
    if width is None or len(note) <= width:
        return [note]
    glued = _GLUE.sub("\N{NO-BREAK SPACE}", note)  # "p99/p50 = 29.2", "179 %" stay in one piece
    lines = textwrap.wrap(
        glued, width, subsequent_indent="  ", break_long_words=False, break_on_hyphens=False
    )
    return [line.replace("\N{NO-BREAK SPACE}", " ") for line in lines]


# The spaces inside one figure: around "=", and between a number and its unit.
_GLUE = re.compile(r" (?==)|(?<==) |(?<=\d) (?=(?:%|ms|us|ns|s|MB|GB|x)(?:\W|$))")


def notes(rows: list[Row], log_of: Callable[[Row], str | None] | None = None) -> list[str]:
    """Lines below the table: why each cell is not ok (and ``log_of`` it: where its log is), what
    diverged, what LoadGen judged INVALID, and every warning in full."""
    vary = varying_keys(rows)
    lines = []
    for row in rows:
        name = row_label(row, vary)
        if row["status"] != "ok":
            log = log_of(row) if log_of else None
            where = f" ({log})" if log else ""
            lines.append(f"{name}: {row['status']}: {row.get('error') or 'no reason given'}{where}")
        elif row.get("parity_ok") is False:
            lines.append(f"{name}: outputs DIVERGED from {_divergence(row)}")
        elif row.get("parity_nonfinite"):
            lines.append(f"{name}: parity ok; {row['parity_nonfinite']}")
        if row["status"] == "ok" and row.get("loadgen_validity") not in (None, "VALID"):
            lines.append(f"{name}: LoadGen judged the run {row['loadgen_validity']}: {_invalid_reason(row)}")
    for row in rows:
        # The verdict has its own line above; the rest of the warnings here.
        warnings = [w for w in (row.get("warnings") or "").split("; ") if w and not w.startswith(_INVALID)]
        if warnings:
            lines.append(f"{row_label(row, vary)}: warning: {'; '.join(warnings)}")
    return lines


_INVALID = "loadgen-invalid:"


def _invalid_reason(row: Row) -> str:
    """Why LoadGen judged the run as it did, from its own log."""
    found = json.loads(row.get("loadgen_json") or "{}")
    return str(found.get("invalid_reason") or "no reason given")


def _divergence(row: Row) -> str:
    """The reference and how the outputs differ from it: where they are NaN or infinite, the
    fidelity floor they fell under, and the finite values' difference when it is over the
    tolerance."""
    reasons = [row[key] for key in ("parity_nonfinite", "fidelity_shortfall") if row.get(key)]
    difference, limit = row["max_abs_diff"] or 0.0, row.get("parity_tolerance")
    if (limit is not None and difference > limit) or not reasons:
        reasons.append(f"{difference:.3g} over the tolerance {limit or 0.0:.3g}")
    return f"{row.get('parity_reference') or 'the reference'}: {'; '.join(reasons)}"

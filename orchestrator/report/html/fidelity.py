"""Speed against fidelity, when a run measured several precisions: what a lower precision
gained in speed and what it cost in agreement with the float64 reference. Laid out as
precision.png is: fidelity across (right: less), speed up, a line joining each framework's
precisions from its fp32 cell."""

from __future__ import annotations

import math
from typing import Any

from orchestrator.report.html.chart import Chart, colours, layout, ok_rows
from orchestrator.report.labels import Row, cell_label, varying_keys
from schemas.configuration import config_key

# The first of each that some cell has is the axis: (column, axis title, log scale, higher is
# better -- then the axis runs reversed, so that right is always less fidelity or more speed).
_SPEED = (
    ("speedup_vs_fp32", "speed-up over the same cell at fp32, x", False),
    ("latency_ms_p50", "p50 latency per call, ms (log; lower: faster)", True),
)
_FIDELITY = (
    ("accuracy", "accuracy on held-out labels, 0..1 (right: less)", False, True),
    ("sqnr_db", "SQNR against the float64 reference, dB (right: less fidelity)", False, True),
    ("cosine_min", "lowest cosine with the reference (right: less fidelity)", False, True),
    ("max_abs_diff", "max |diff| from the reference (log; right: less fidelity)", True, False),
)
_DASHES = ("solid", "dash", "dot", "dashdot")
_SYMBOLS = ("circle", "square", "diamond", "triangle-up", "star", "cross")


def fidelity_chart(rows: list[Row]) -> Chart:
    """A point per ok cell, its fidelity (x) against its speed (y), symbol per precision; each
    framework's precisions joined by a line, in the order the run swept them."""
    key, title = "fidelity", "Speed against fidelity, per precision"
    drawn = ok_rows(rows)
    precisions = list(dict.fromkeys(str(row.get("precision")) for row in drawn))
    if len(precisions) < 2:
        return Chart(key, title, omitted=f"one precision in this run ({', '.join(precisions) or 'none'})")
    x_key, x_title, x_log, x_reversed = _first_present(drawn, _FIDELITY)
    y_key, y_title, y_log = _first_present(drawn, _SPEED)
    import plotly.graph_objects as go

    figure, colour, notes = go.Figure(), colours(rows), []
    for index, (name, line) in enumerate(_lines(drawn)):
        plotted = [row for row in line if row.get(x_key) is not None and row.get(y_key) is not None]
        for row in plotted:
            if not math.isfinite(row[x_key]):  # SQNR is infinite where the output equals the reference
                notes.append(
                    f"{name} {row.get('precision')}: {x_key} {row[x_key]} (its output equals the reference)"
                )
        plotted = [row for row in plotted if math.isfinite(row[x_key])]
        if plotted:
            trace = _trace(go, name, plotted, x_key, y_key, colour, precisions)
            trace.line.dash = _DASHES[index % len(_DASHES)]  # a framework's lines apart (one colour)
            figure.add_trace(trace)
    figure.update_xaxes(title=x_title, type="log" if x_log else "linear")
    figure.update_xaxes(autorange="reversed" if x_reversed else True)
    figure.update_yaxes(title=y_title, type="log" if y_log else "linear")
    return Chart(key, title, layout(figure, title, 480), notes=tuple(notes))


def _trace(
    go: Any, name: str, line: list[Row], x_key: str, y_key: str, colour: dict[str, str], precisions: list[str]
) -> Any:
    """One framework's cells at each precision, joined, each point named by its precision and by
    the precision that executed where that differs."""
    ran = [str(row.get("precision_effective") or row.get("precision")) for row in line]
    asked = [str(row.get("precision")) for row in line]
    return go.Scatter(
        x=[row[x_key] for row in line],
        y=[row[y_key] for row in line],
        mode="lines+markers+text",
        text=[a if a == r else f"{a} (ran {r})" for a, r in zip(asked, ran)],
        textposition="top center",
        name=name,
        line={"color": colour[line[0]["framework"]], "width": 1},
        marker={"size": 12, "symbol": [_SYMBOLS[precisions.index(a) % len(_SYMBOLS)] for a in asked]},
    )


def _lines(rows: list[Row]) -> list[tuple[str, list[Row]]]:
    """Each line's name and cells: the same configuration but the precision, in the run's order."""
    vary = [column for column in varying_keys(rows) if column != "precision"]
    lines: dict[tuple[Any, ...], list[Row]] = {}
    for row in rows:
        lines.setdefault(config_key(row, without=("precision",)), []).append(row)
    return [(cell_label(line[0], vary), line) for line in lines.values()]


def _first_present(rows: list[Row], choices: tuple[Any, ...]) -> Any:
    """The first choice whose column some row has a value in; else the last choice."""
    return next(
        (choice for choice in choices if any(row.get(choice[0]) is not None for row in rows)), choices[-1]
    )

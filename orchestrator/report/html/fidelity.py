"""Speed against fidelity, when a run measured several precisions: what a lower precision
gained in speed and what it cost in agreement with the float64 reference."""

from __future__ import annotations

import math

from orchestrator.report.html.chart import Chart, colours, labeller, layout, ok_rows
from orchestrator.report.labels import Row

# The first of each pair that some cell has is the axis: (column, axis title, log scale).
_SPEED = (
    ("speedup_vs_fp32", "speed-up over the same cell in fp32, x (higher: faster)", False),
    ("latency_ms_p50", "p50 latency per call, ms (log; lower: faster)", True),
)
_FIDELITY = (
    ("accuracy", "accuracy on held-out labels, 0..1 (higher: better)", False),
    ("sqnr_db", "SQNR against the reference, dB (higher: closer)", False),
    ("cosine_min", "lowest cosine with the reference (1: same)", False),
    ("max_abs_diff", "max |diff| from the reference (log; lower: closer)", True),
)
_SYMBOLS = ("circle", "square", "diamond", "triangle-up", "star", "cross")


def fidelity_chart(rows: list[Row]) -> Chart:
    """A point per ok cell: its speed (x) against its fidelity (y), symbol per precision."""
    key, title = "fidelity", "Speed against fidelity, per precision"
    drawn = ok_rows(rows)
    precisions = list(dict.fromkeys(str(row.get("precision")) for row in drawn))
    if len(precisions) < 2:
        return Chart(key, title, omitted=f"one precision in this run ({', '.join(precisions) or 'none'})")
    x_key, x_title, x_log = _first_present(drawn, _SPEED)
    y_key, y_title, y_log = _first_present(drawn, _FIDELITY)
    import plotly.graph_objects as go

    figure, colour, name = go.Figure(), colours(rows), labeller(rows)
    notes = []
    for row in drawn:
        if row.get(x_key) is None or row.get(y_key) is None:
            continue
        if not math.isfinite(row[y_key]):  # SQNR is infinite where the output equals the reference
            notes.append(f"{name(row)}: {y_key} {row[y_key]} (its output equals the reference)")
            continue
        ran = row.get("precision_effective") or row.get("precision")
        symbol = _SYMBOLS[precisions.index(str(row.get("precision"))) % len(_SYMBOLS)]
        figure.add_trace(
            go.Scatter(
                x=[row[x_key]],
                y=[row[y_key]],
                mode="markers+text",
                text=[str(row.get("precision"))],
                textposition="top center",
                name=f"{name(row)} (ran {ran})",
                marker={"size": 13, "symbol": symbol, "color": colour[row["framework"]]},
            )
        )
    figure.update_xaxes(title=x_title, type="log" if x_log else "linear")
    figure.update_yaxes(title=y_title, type="log" if y_log else "linear")
    return Chart(key, title, layout(figure, title, 480), notes=tuple(notes))


def _first_present(rows: list[Row], choices: tuple[tuple[str, str, bool], ...]) -> tuple[str, str, bool]:
    """The first choice whose column some row has a value in; else the last choice."""
    return next(
        (choice for choice in choices if any(row.get(choice[0]) is not None for row in rows)), choices[-1]
    )

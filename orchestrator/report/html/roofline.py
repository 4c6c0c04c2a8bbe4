"""The roofline: each cell's achieved GFLOP/s against its arithmetic intensity, under the
machine's roofs (environment.json ``roofs``), measured and theoretical."""

from __future__ import annotations

from typing import Any

import numpy as np

from orchestrator.report.html.chart import Chart, colours, labeller, layout, missing_columns, ok_rows
from orchestrator.report.labels import Row

COLUMNS = ("gflops_per_s", "arithmetic_intensity")
_KINDS = (("measured", "solid"), ("theoretical", "dash"))


def roofline_chart(rows: list[Row], roofs: dict[str, Any]) -> Chart:
    """A point per ok cell with FLOPs; each roof its precision's peak GFLOP/s capped by the
    bandwidth times the intensity, measured (solid) and theoretical (dashed), log-log."""
    key, title = "roofline", "Roofline: achieved GFLOP/s against arithmetic intensity"
    absent = missing_columns(rows, COLUMNS)
    if absent:
        return Chart(key, title, omitted=f"the summary has no {' or '.join(absent)} for any cell")
    name = labeller(rows)
    drawn = [row for row in ok_rows(rows) if all(row.get(column) for column in COLUMNS)]
    notes = tuple(
        f"{name(row)}: {row.get('roof_omitted') or 'no FLOPs for its shapes'}"
        for row in ok_rows(rows)
        if row not in drawn
    )
    if not drawn:
        return Chart(key, title, omitted="no ok cell has a roofline point", notes=notes)
    import plotly.graph_objects as go

    figure = go.Figure()
    intensity = [float(row["arithmetic_intensity"]) for row in drawn]
    precisions = list(dict.fromkeys(str(row.get("roof_precision") or "fp32") for row in drawn))
    notes += _roofs(figure, roofs, precisions, (min(intensity) / 10, max(intensity) * 10))
    colour = colours(rows)
    for row in drawn:
        figure.add_trace(
            go.Scatter(
                x=[row["arithmetic_intensity"]],
                y=[row["gflops_per_s"]],
                mode="markers",
                name=name(row),
                marker={"size": 12, "color": colour[row["framework"]], "line": {"width": 1, "color": "#333"}},
                hovertemplate=_hover(row),
            )
        )
    figure.update_xaxes(type="log", title="arithmetic intensity, FLOP per byte moved (log scale)")
    figure.update_yaxes(type="log", title="achieved GFLOP/s (log scale)")
    return Chart(key, title, layout(figure, title, 520), notes=notes)


def _roofs(
    figure: Any, roofs: dict[str, Any], precisions: list[str], span: tuple[float, float]
) -> tuple[str, ...]:
    """Draw each precision's roofs over ``span`` of intensity; say which could not be drawn."""
    import plotly.graph_objects as go

    if not roofs:
        return ("no roof lines: environment.json has no roofs for this machine",)
    bandwidth = roofs.get("bandwidth") or {}
    notes = []
    for precision in precisions:
        for kind, dash in _KINDS:
            peak = (roofs.get(precision) or {}).get(f"{kind}_gflops")
            gbs = bandwidth.get(f"{kind}_gbs")
            if not peak or not gbs:
                why = (roofs.get(precision) or {}).get("basis") or bandwidth.get("basis") or "unknown"
                notes.append(f"no {kind} {precision} roof: {why}")
                continue
            ridge = peak / gbs  # where the bandwidth slope meets the compute ceiling
            x = np.geomspace(min(span[0], ridge / 4), max(span[1], ridge * 4), 64)
            figure.add_trace(
                go.Scatter(
                    x=x,
                    y=np.minimum(peak, gbs * x),
                    mode="lines",
                    name=f"{kind} {precision} roof: {peak:,.0f} GFLOP/s, {gbs:,.0f} GB/s",
                    line={"dash": dash, "color": "#555", "width": 1.5},
                    hoverinfo="name",
                )
            )
    return tuple(notes)


def _hover(row: Row) -> str:
    parts = [f"{row['gflops_per_s']:.4g} GFLOP/s at {row['arithmetic_intensity']:.3g} FLOP/B"]
    for column, what in (("roof_pct_measured", "measured"), ("roof_pct_theoretical", "theoretical")):
        if row.get(column) is not None:
            parts.append(f"{row[column]:.1f} % of the {what} {row.get('roof_precision') or ''} roof")
    return "<br>".join(parts) + "<extra>%{fullData.name}</extra>"

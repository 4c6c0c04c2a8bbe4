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
    bandwidth times the intensity, measured (solid) and theoretical (dashed), log-log. A cell
    without a point is named in a note with its reason (``roof_omitted``)."""
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
    notes += _roofs(figure, roofs, drawn, (min(intensity) / 10, max(intensity) * 10))
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
    figure: Any, roofs: dict[str, Any], drawn: list[Row], span: tuple[float, float]
) -> tuple[str, ...]:
    """Draw the roofs the drawn cells ran under, over ``span`` of intensity; say which are missing.

    environment.json's ``roofs`` holds the machine's roofs at its widest thread count, and
    under ``by_threads`` those of every thread count measured: each cell is placed under the
    roofs of the threads it kept busy (threads x instances) where they are there.
    """
    if not roofs:
        return ("no roof lines: environment.json has no roofs for this machine",)
    wanted = dict.fromkeys((_busy_threads(row), str(row.get("roof_precision") or "fp32")) for row in drawn)
    several = len({threads for threads, _ in wanted}) > 1
    notes: list[str] = []
    for threads, precision in wanted:
        machine = (roofs.get("by_threads") or {}).get(threads) or roofs
        suffix = f", {threads} thread(s)" if several else ""
        for kind, dash in _KINDS:
            notes += _roof(figure, machine, precision, kind, dash, span, suffix)
    return tuple(notes)


def _roof(
    figure: Any,
    machine: dict[str, Any],
    precision: str,
    kind: str,
    dash: str,
    span: tuple[float, float],
    suffix: str,
) -> list[str]:
    """One roof line: the peak GFLOP/s, capped by bandwidth x intensity where the bandwidth is
    known, flat where it is not; or a note saying why there is none."""
    import plotly.graph_objects as go

    compute, bandwidth = machine.get(precision) or {}, machine.get("bandwidth") or {}
    peak, gbs = compute.get(f"{kind}_gflops"), bandwidth.get(f"{kind}_gbs")
    if not peak:
        return [f"no {kind} {precision} roof: {compute.get('basis') or 'not in environment.json'}"]
    x = np.geomspace(span[0], span[1], 64)
    if gbs:
        x = np.geomspace(min(span[0], peak / gbs / 4), max(span[1], peak / gbs * 4), 64)  # the ridge too
        name = f"{kind} {precision} roof{suffix}: {peak:,.0f} GFLOP/s, {gbs:,.0f} GB/s"
    else:
        name = f"{kind} {precision} roof{suffix}: {peak:,.0f} GFLOP/s (no {kind} bandwidth: flat)"
    line = {"dash": dash, "color": "#555", "width": 1.5}
    y = np.minimum(peak, gbs * x) if gbs else np.full_like(x, peak)
    figure.add_trace(go.Scatter(x=x, y=y, mode="lines", name=name, line=line, hoverinfo="name"))
    return []


def _busy_threads(row: Row) -> str:
    """The threads a cell kept busy, as by_threads names them: its threads times its instances."""
    return str((row.get("threads") or 1) * (row.get("instances") or 1))


def _hover(row: Row) -> str:
    parts = [f"{row['gflops_per_s']:.4g} GFLOP/s at {row['arithmetic_intensity']:.3g} FLOP/B"]
    for column, what in (("roof_pct_measured", "measured"), ("roof_pct_theoretical", "theoretical")):
        if row.get(column) is not None:
            parts.append(f"{row[column]:.1f} % of the {what} {row.get('roof_precision') or ''} roof")
    return "<br>".join(parts) + "<extra>%{fullData.name}</extra>"

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
    for index, row in enumerate(drawn):
        figure.add_trace(
            go.Scatter(
                x=[row["arithmetic_intensity"]],
                y=[row["gflops_per_s"]],
                mode="markers+text",
                text=[_percent(row)],
                # Cells of one model share an intensity: their labels alternate sides.
                textposition="middle right" if index % 2 == 0 else "middle left",
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
    """Draw the roofs the drawn cells ran under, over ``span`` of intensity widened to show each
    ridge (where a bandwidth slope meets its ceiling); say which roofs are missing.

    environment.json's ``roofs`` holds the machine's roofs at its widest thread count, and
    under ``by_threads`` those of every thread count measured: each cell is placed under the
    roofs of the threads it kept busy (threads x instances) where they are there.
    """
    if not roofs:
        return ("no roof lines: environment.json has no roofs for this machine",)
    import plotly.graph_objects as go

    wanted = dict.fromkeys((_busy_threads(row), str(row.get("roof_precision") or "fp32")) for row in drawn)
    several = len({threads for threads, _ in wanted}) > 1
    lines: list[tuple[str, str, float, float | None]] = []
    notes: list[str] = []
    for threads, precision in wanted:
        machine = (roofs.get("by_threads") or {}).get(threads) or roofs
        compute, bandwidth = machine.get(precision) or {}, machine.get("bandwidth") or {}
        for kind, dash in _KINDS:
            peak, gbs = compute.get(f"{kind}_gflops"), bandwidth.get(f"{kind}_gbs")
            if peak:
                lines.append(
                    (_roof_name(kind, precision, threads if several else "", peak, gbs), dash, peak, gbs)
                )
            else:
                # The roofline branch says why a measured roof is missing in measured_basis.
                why = compute.get(f"{kind}_basis") or compute.get("basis") or "not in environment.json"
                notes.append(f"no {kind} {precision} roof: {why}")
    ridges = [peak / gbs for _, _, peak, gbs in lines if gbs]
    x = np.geomspace(min([span[0], *(r / 4 for r in ridges)]), max([span[1], *(r * 4 for r in ridges)]), 96)
    for name, dash, peak, gbs in lines:
        y = np.minimum(peak, gbs * x) if gbs else np.full_like(x, peak)  # flat: no bandwidth known
        line = {"dash": dash, "color": "#555", "width": 1.5}
        figure.add_trace(go.Scatter(x=x, y=y, mode="lines", name=name, line=line, hoverinfo="name"))
    return tuple(notes)


def _roof_name(kind: str, precision: str, threads: str, peak: float, gbs: float | None) -> str:
    """``measured fp32 roof: 250 GFLOP/s, 20 GB/s``, naming the threads where several are drawn."""
    where = f", {threads} thread(s)" if threads else ""
    cap = f"{gbs:,.0f} GB/s" if gbs else f"no {kind} bandwidth: flat"
    return f"{kind} {precision} roof{where}: {peak:,.0f} GFLOP/s" + (f", {cap}" if gbs else f" ({cap})")


def _busy_threads(row: Row) -> str:
    """The threads a cell kept busy, as by_threads names them: its threads times its instances."""
    return str((row.get("threads") or 1) * (row.get("instances") or 1))


def _percent(row: Row) -> str:
    """The cell's share of its measured roof, written beside its point (``16 %``); of the
    theoretical one where none was measured (``5 % theoretical``)."""
    if row.get("roof_pct_measured") is not None:
        return f" {row['roof_pct_measured']:.0f} %"
    share = row.get("roof_pct_theoretical")
    return "" if share is None else f" {share:.0f} % theoretical"


def _hover(row: Row) -> str:
    parts = [f"{row['gflops_per_s']:.4g} GFLOP/s at {row['arithmetic_intensity']:.3g} FLOP/B"]
    for column, what in (("roof_pct_measured", "measured"), ("roof_pct_theoretical", "theoretical")):
        if row.get(column) is not None:
            parts.append(f"{row[column]:.1f} % of the {what} {row.get('roof_precision') or ''} roof")
    return "<br>".join(parts) + "<extra>%{fullData.name}</extra>"

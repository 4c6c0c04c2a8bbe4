"""Charts of a swept setting: latency against batch size, throughput against threads, and
LoadGen's p99 against the offered rate."""

from __future__ import annotations

from typing import Any

from orchestrator.report.charts import sweep_panels
from orchestrator.report.html.chart import DIVERGED, Chart, colours, layout
from orchestrator.report.labels import Row
from orchestrator.report.load_chart import load_points
from schemas.configuration import framework_label

_DASHES = ("solid", "dash", "dot", "dashdot")


def sweep_chart(rows: list[Row]) -> Chart:
    """p50 latency against batch size (log-log, bars the p50's 95 % interval) and throughput
    against threads, a line per framework (and per the other setting); the panels that apply."""
    key, title = "sweep", "Sweeps: latency against batch size, throughput against threads"
    drawn, panels = sweep_panels(rows)
    if not panels:
        return Chart(key, title, omitted="one batch size and one thread count: nothing was swept")
    from plotly.subplots import make_subplots

    names = {
        "batch_size": "p50 latency per call against batch size (log-log)",
        "threads": "throughput against compute threads",
    }
    figure = make_subplots(rows=1, cols=len(panels), subplot_titles=[names[panel] for panel in panels])
    for column, panel in enumerate(panels, start=1):
        other = "threads" if panel == "batch_size" else "batch_size"
        _panel(figure, drawn, panel, other, column, colours(rows))
    return Chart(key, title, layout(figure, title, 480))


def _panel(figure: Any, rows: list[Row], x_key: str, other: str, column: int, colour: dict[str, str]) -> None:
    import plotly.graph_objects as go

    lines = _lines(rows, x_key, other)
    for index, (line_name, points) in enumerate(lines.items()):
        x = [row[x_key] for row in points]
        if x_key == "batch_size":
            y = [row["latency_ms_p50"] for row in points]
            high = [max((row.get("latency_ms_p50_ci_high") or mid) - mid, 0.0) for row, mid in zip(points, y)]
            low = [max(mid - (row.get("latency_ms_p50_ci_low") or mid), 0.0) for row, mid in zip(points, y)]
            error = {"type": "data", "array": high, "arrayminus": low, "visible": True}
        else:
            y, error = [row.get("throughput_per_s") for row in points], None
        trace = go.Scatter(
            x=x,
            y=y,
            error_y=error,
            mode="lines+markers",
            name=line_name,
            legendgroup=line_name,
            showlegend=column == 1,
            line={"color": colour[points[0]["framework"]], "dash": _DASHES[index % len(_DASHES)]},
            marker={
                "line": {
                    "color": [DIVERGED if r.get("parity_ok") is False else "white" for r in points],
                    "width": 2,
                }
            },
        )
        figure.add_trace(trace, row=1, col=column)
    if x_key == "batch_size":
        swept = sorted({row[x_key] for row in rows})
        figure.update_xaxes(type="log", title="batch size, rows per call", tickvals=swept, row=1, col=column)
        figure.update_yaxes(type="log", title="p50 latency per call, ms", row=1, col=column)
    else:
        figure.update_xaxes(title="compute threads", dtick=1, row=1, col=column)
        figure.update_yaxes(title="samples/s", rangemode="tozero", row=1, col=column)


def _lines(rows: list[Row], x_key: str, other: str) -> dict[str, list[Row]]:
    """The points of each line, sorted along x: a line per framework, and per value of the other
    swept setting and of the precision where those vary."""
    split = [key for key in (other, "precision") if len({row.get(key) for row in rows}) > 1]
    lines: dict[str, list[Row]] = {}
    for row in sorted(rows, key=lambda r: r[x_key]):
        parts = [framework_label(row)] + [_part(key, row.get(key)) for key in split]
        lines.setdefault(" ".join(parts), []).append(row)
    return lines


def _part(key: str, value: Any) -> str:
    if key == "threads":
        return f"{value} thread{'s' * (value != 1)}"
    return f"batch {value}" if key == "batch_size" else str(value)


def load_chart(rows: list[Row]) -> Chart:
    """p99 latency against the offered rate of every LoadGen server run and peak-search probe
    (x: an INVALID run), the latency bound dashed, each peak found dotted."""
    key, title = "load", "Load: p99 latency against the offered rate (LoadGen server)"
    points = load_points(rows)
    if sum(len(found) for found in points.values()) < 2:
        return Chart(key, title, omitted="no LoadGen server figures at two offered rates or more")
    import plotly.graph_objects as go

    figure = go.Figure()
    for name, found in sorted(points.items()):
        found.sort()
        figure.add_trace(
            go.Scatter(
                x=[qps for qps, _, _ in found],
                y=[p99 for _, p99, _ in found],
                mode="lines+markers",
                name=name,
                marker={"symbol": ["circle" if valid else "x" for _, _, valid in found], "size": 9},
                hovertemplate="%{x:,.0f} QPS: p99 %{y:.3g} ms<extra>%{fullData.name}</extra>",
            )
        )
    for bound in sorted({row["latency_bound_ms"] for row in rows if row.get("latency_bound_ms") is not None}):
        figure.add_hline(y=bound, line_dash="dash", line_color="#888", annotation_text=f"bound {bound:g} ms")
    for row in rows:
        if row.get("peak_qps") is not None and row.get("status") == "ok":
            peak = f"{framework_label(row)}: peak {row['peak_qps']:,.0f} QPS"
            figure.add_vline(x=row["peak_qps"], line_dash="dot", line_color="#888", annotation_text=peak)
    figure.update_xaxes(type="log", title="offered rate, queries per second (x: an INVALID run)")
    figure.update_yaxes(type="log", title="p99 latency, ms")
    return Chart(key, title, layout(figure, title, 460))

"""Time, memory and CPU per phase of each cell: import, load, first call, timed loop."""

from __future__ import annotations

from typing import Any

from orchestrator.report.html.chart import Chart, colours, labeller, layout, ok_rows
from orchestrator.report.labels import Row

# (column, phase) of each stage's seconds, stacked in the order the runner runs them.
_SECONDS = (
    ("import_s", "import"),
    ("load_s", "load"),
    ("first_inference_ms", "first call"),
    ("timed_s", "timed loop"),
)
# (column, when read) of the resident memory after each stage.
_MEMORY = (
    ("rss_mb_baseline", "before import"),
    ("rss_mb_import", "after import"),
    ("rss_mb_load", "after load"),
    ("peak_rss_mb", "peak in the timed loop"),
)
_PHASE_GREYS = ("#9aa5b1", "#6c7a89", "#f0b429", "#3e4c59")


def phases_chart(rows: list[Row]) -> Chart:
    """Three panels side by side, a bar per ok cell: seconds per phase (stacked), RSS after each
    phase, and CPU over the timed loop (the one phase whose CPU time is recorded)."""
    key, title = "phases", "Time, memory and CPU per phase"
    drawn = ok_rows(rows)
    if not drawn:
        return Chart(key, title, omitted="no cell ran to the end")
    from plotly.subplots import make_subplots

    figure = make_subplots(
        rows=1,
        cols=3,
        shared_yaxes=True,
        horizontal_spacing=0.04,
        subplot_titles=(
            "seconds per phase",
            "resident memory (RSS) after each phase, MB",
            "CPU over the timed loop, % of one core",
        ),
    )
    name = labeller(rows)
    labels = [name(row) for row in drawn]
    _seconds(figure, drawn, labels)
    _memory(figure, drawn, labels)
    _cpu(figure, drawn, labels, colours(rows))
    figure.update_layout(barmode="stack", legend_traceorder="normal")
    figure.update_yaxes(autorange="reversed", row=1, col=1)  # first cell on top, in run order
    return Chart(key, title, layout(figure, title, 260 + 34 * len(drawn)))


def _seconds(figure: Any, rows: list[Row], labels: list[str]) -> None:
    import plotly.graph_objects as go

    for (column, phase), grey in zip(_SECONDS, _PHASE_GREYS):
        scale = 1e-3 if column.endswith("_ms") else 1.0
        values = [(row.get(column) or 0.0) * scale for row in rows]
        bar = go.Bar(x=values, y=labels, orientation="h", name=phase, marker_color=grey, legendgroup="s")
        figure.add_trace(bar, row=1, col=1)
    figure.update_xaxes(title="s", row=1, col=1)


def _memory(figure: Any, rows: list[Row], labels: list[str]) -> None:
    import plotly.graph_objects as go

    symbols = ("circle-open", "square-open", "diamond-open", "star")
    for (column, when), symbol in zip(_MEMORY, symbols):
        values = [row.get(column) for row in rows]
        marker = {"symbol": symbol, "size": 11, "color": "#3e4c59"}
        dots = go.Scatter(
            x=values, y=labels, mode="markers", name=f"RSS {when}", marker=marker, legendgroup="m"
        )
        figure.add_trace(dots, row=1, col=2)
    figure.update_xaxes(title="MB", row=1, col=2)


def _cpu(figure: Any, rows: list[Row], labels: list[str], colour: dict[str, str]) -> None:
    import plotly.graph_objects as go

    values = [row.get("cpu_percent") or 0.0 for row in rows]
    bar = go.Bar(
        x=values,
        y=labels,
        orientation="h",
        marker_color=[colour[row["framework"]] for row in rows],
        name="CPU %",
        showlegend=False,
        text=[f"{value:.0f} %" for value in values],
        textposition="outside",
        offsetgroup="cpu",  # not stacked with the seconds
    )
    figure.add_trace(bar, row=1, col=3)
    # 100 % is one core: all the cell's allowed CPUs busy is 100 % times their number.
    ceiling = 100.0 * max(row.get("cpus_allowed") or 1 for row in rows)
    figure.add_vline(x=ceiling, line_dash="dash", line_color="#888", row=1, col=3)
    figure.update_xaxes(title=f"%; dashed: all {ceiling / 100:.0f} allowed CPUs busy", row=1, col=3)
    figure.update_xaxes(range=[0, max(*values, ceiling) * 1.2], row=1, col=3)

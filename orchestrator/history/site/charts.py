"""The site's interactive charts, drawn with plotly: a configuration's trend (p50 with its 95 %
interval, peak memory, where what ran changed, where the gate found a regression) and the
index's overview of every configuration.

Each chart is an HTML fragment that expects plotly.js loaded once by the page (the site keeps
one copy of it beside the pages, see ``site.pages``); plotly is imported only here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from orchestrator.history.site.findings import Regression
from orchestrator.history.site.series import Series, run_time

if TYPE_CHECKING:
    import plotly.graph_objects as go

Row = dict[str, Any]

_LINE = "#1f77b4"
_BAND = "rgba(31, 119, 180, 0.18)"
_REGRESSION = "#c0392b"
_CHANGE_COLOURS = {"framework": "#8e44ad", "environment": "#d68910", "host": "#117a65"}
_CONFIG = {"displaylogo": False, "responsive": True}


def plotly_js() -> str:
    """plotly.js itself (minified), to be written once per site."""
    from plotly.offline import get_plotlyjs

    return str(get_plotlyjs())


def fragment(figure: go.Figure, div_id: str) -> str:
    """The chart as a ``<div>`` and its script; plotly.js must already be on the page."""
    return str(figure.to_html(full_html=False, include_plotlyjs=False, div_id=div_id, config=_CONFIG))


def _hover(row: Row) -> str:
    low, high = row.get("latency_ms_p50_ci_low"), row.get("latency_ms_p50_ci_high")
    interval = f" [{low:.4g}, {high:.4g}]" if low is not None and high is not None else ""
    return "<br>".join(
        [
            str(row["run_id"]),
            f"p50 {row['latency_ms_p50']:.4g} ms{interval}",
            f"{row.get('framework')} {row.get('framework_version') or '?'}",
            f"commit {(row.get('git_commit') or '?')[:12]}",
        ]
    )


def trend_figure(series: Series, regressions: list[Regression]) -> go.Figure:
    """p50 with its 95 % interval over the runs, peak RSS below; changes and regressions marked."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    rows = series.ok_rows
    times = [run_time(str(row["run_id"])) for row in rows]
    figure = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        row_heights=[0.7, 0.3],
        vertical_spacing=0.06,
        subplot_titles=("p50 latency (shaded: its 95 % interval)", "peak RSS"),
    )
    _add_p50_with_band(figure, rows, times)
    figure.add_trace(
        go.Scatter(
            x=times,
            y=[row.get("peak_rss_mb") for row in rows],
            mode="lines+markers",
            name="peak RSS",
            line={"color": "#7f7f7f"},
            hovertemplate="%{y:.1f} MB<extra></extra>",
        ),
        row=2,
        col=1,
    )
    _mark_changes(figure, series)
    _mark_regressions(figure, regressions)
    figure.update_yaxes(title_text="ms", row=1, col=1, rangemode="tozero")
    figure.update_yaxes(title_text="MB", row=2, col=1)
    figure.update_layout(
        height=560,
        margin={"l": 60, "r": 20, "t": 40, "b": 40},
        hovermode="closest",
        legend={"orientation": "h", "y": -0.08},
        template="plotly_white",
    )
    return figure


def _add_p50_with_band(figure: go.Figure, rows: list[Row], times: list[Any]) -> None:
    """The p50 line over its shaded 95 % interval (the p50 itself where a run has none)."""
    import plotly.graph_objects as go

    low = [row.get("latency_ms_p50_ci_low") or row["latency_ms_p50"] for row in rows]
    high = [row.get("latency_ms_p50_ci_high") or row["latency_ms_p50"] for row in rows]
    band = {"mode": "lines", "line": {"width": 0}, "hoverinfo": "skip", "legendgroup": "band"}
    figure.add_trace(go.Scatter(x=times, y=high, showlegend=False, **band), row=1, col=1)
    figure.add_trace(
        go.Scatter(x=times, y=low, fill="tonexty", fillcolor=_BAND, name="95 % interval", **band),
        row=1,
        col=1,
    )
    figure.add_trace(
        go.Scatter(
            x=times,
            y=[row["latency_ms_p50"] for row in rows],
            mode="lines+markers",
            name="p50",
            line={"color": _LINE},
            hovertext=[_hover(row) for row in rows],
            hoverinfo="text",
        ),
        row=1,
        col=1,
    )


def _mark_changes(figure: go.Figure, series: Series) -> None:
    """A dotted vertical line where the framework, environment or host changed, and a diamond
    on the p50 there that says what changed (hover)."""
    import plotly.graph_objects as go

    p50_at = {str(row["run_id"]): row["latency_ms_p50"] for row in series.ok_rows}
    for kind, colour in _CHANGE_COLOURS.items():
        changes = [change for change in series.changes if change.kind == kind and change.run_id in p50_at]
        if not changes:
            continue
        for change in changes:
            figure.add_vline(x=run_time(change.run_id), line={"dash": "dot", "color": colour, "width": 1})
        figure.add_trace(
            go.Scatter(
                x=[run_time(change.run_id) for change in changes],
                y=[p50_at[change.run_id] for change in changes],
                mode="markers",
                name=f"{kind} changed",
                marker={"symbol": "diamond", "size": 11, "color": colour},
                hovertext=[f"{change.run_id}<br>{change.text}" for change in changes],
                hoverinfo="text",
            ),
            row=1,
            col=1,
        )


def _mark_regressions(figure: go.Figure, regressions: list[Regression]) -> None:
    import plotly.graph_objects as go

    if not regressions:
        return
    figure.add_trace(
        go.Scatter(
            x=[run_time(str(found.new["run_id"])) for found in regressions],
            y=[found.new.get("latency_ms_p50") for found in regressions],
            mode="markers",
            name="regression (gate)",
            marker={"symbol": "x", "size": 13, "color": _REGRESSION, "line": {"width": 2}},
            hovertext=[_regression_hover(found) for found in regressions],
            hoverinfo="text",
        ),
        row=1,
        col=1,
    )


def _regression_hover(found: Regression) -> str:
    verdict = found.verdict
    change = verdict.get("p50_change_pct")
    shown = "?" if change is None else f"{change:+.1f} %"
    return f"regression: p50 {shown}<br>{verdict['run_id']}<br>against {verdict['base_run_id']}"


def overview_figure(all_series: list[Series]) -> go.Figure:
    """Every configuration's p50 as a share of its own median p50, over time: one glance at
    what moved, whatever each configuration's scale."""
    import plotly.graph_objects as go

    figure = go.Figure()
    for series in all_series:
        rows = series.ok_rows
        if not rows:
            continue
        values = sorted(row["latency_ms_p50"] for row in rows)
        median = values[len(values) // 2]
        figure.add_trace(
            go.Scatter(
                x=[run_time(str(row["run_id"])) for row in rows],
                y=[row["latency_ms_p50"] / median * 100.0 if median else None for row in rows],
                mode="lines+markers",
                name=series.title,
                hovertemplate="%{y:.1f} % of its median<extra>%{fullData.name}</extra>",
            )
        )
    figure.update_layout(
        height=420,
        margin={"l": 60, "r": 20, "t": 30, "b": 40},
        template="plotly_white",
        yaxis={"title": {"text": "p50, % of the configuration's median"}},
        showlegend=len(all_series) <= 12,
    )
    return figure

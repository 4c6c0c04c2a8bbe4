"""What every chart of report.html shares: the :class:`Chart` (a figure, or why there is none),
one colour per framework, the cells worth drawing, and the plotly layout they all use."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from orchestrator.report.labels import Row, cell_label, varying_keys

# plotly's own qualitative palette (plotly.colors.qualitative.Plotly) without its red, which
# marks a cell that diverged from the reference.
PALETTE = ("#636EFA", "#00CC96", "#AB63FA", "#FFA15A", "#19D3F3", "#FF6692", "#B6E880", "#FF97FF")
DIVERGED = "#c0392b"


@dataclass(frozen=True)
class Chart:
    """One chart of the page: a plotly figure, or the one-line reason it was left out."""

    key: str  # the figure's element id in the page
    title: str
    figure: Any | None = None  # a plotly.graph_objects.Figure
    omitted: str | None = None
    notes: tuple[str, ...] = ()  # what the drawn chart leaves out, and why


def colours(rows: list[Row]) -> dict[str, str]:
    """One colour per framework, in the order the frameworks first appear; the same in every chart."""
    names = list(dict.fromkeys(str(row["framework"]) for row in rows))
    return {name: PALETTE[index % len(PALETTE)] for index, name in enumerate(names)}


def ok_rows(rows: list[Row]) -> list[Row]:
    """The cells that measured something: status ok and a median latency."""
    return [row for row in rows if row.get("status") == "ok" and row.get("latency_ms_p50") is not None]


def labeller(rows: list[Row]) -> Any:
    """A function giving each row its label among ``rows``: the framework and the settings that
    vary (``fake b8 t2``), with DIVERGED where it disagreed with the reference."""
    vary = varying_keys(rows)

    def name(row: Row) -> str:
        text = cell_label(row, vary)
        return f"{text} DIVERGED" if row.get("parity_ok") is False else text

    return name


def missing_columns(rows: list[Row], columns: tuple[str, ...]) -> list[str]:
    """The ``columns`` that no row has a value in (absent from the summary, or null everywhere)."""
    return [column for column in columns if all(row.get(column) is None for row in rows)]


def layout(figure: Any, title: str, height: int) -> Any:
    """The look every chart shares: a white template, the title on the left, the legend below
    the x axis' title (a fixed 80 px under the plot, whatever the chart's height)."""
    figure.update_layout(
        template="plotly_white",
        showlegend=True,  # even for one trace: its name says how many calls or which cell it is
        title={"text": title, "x": 0.01, "xanchor": "left"},
        height=height,
        margin={"l": 60, "r": 30, "t": 70, "b": 60},
        legend={"orientation": "h", "yanchor": "top", "y": -80 / (height - 130), "xanchor": "left", "x": 0},
        hoverlabel={"namelength": -1},
    )
    return figure

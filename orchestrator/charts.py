"""The run's figure: latency, CPU and peak memory per cell, three panels side by side.

matplotlib is imported only inside the function that draws, so importing this module (or the
CLI) costs nothing when no chart is asked for.
"""

from __future__ import annotations

import io as bytes_io
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestrator.report import (
    cell_label,
    format_ratio,
    relative_to,
    run_id_of,
    varying_keys,
)
from schemas import io

if TYPE_CHECKING:
    from matplotlib.axes import Axes

Row = dict[str, Any]

_PANEL_WIDTH_IN = 5.2
_BAR_HEIGHT_IN = 0.55  # figure height per plotted cell
_FOOTNOTE_WIDTH_CHARS = 170
_LOG_SCALE_SPAN = 30.0
_DIVERGED_COLOUR = "#c0392b"
# matplotlib's default cycle without its red, which is kept for diverged cells.
_PALETTE = ("C0", "C1", "C2", "C4", "C5", "C6", "C8", "C9", "C7")


def latency_cpu_memory_chart(rows: list[Row], path: Path, baseline: str | None = None) -> Path:
    """Draw latency (p50 bar, p90 whisker, p99 marker), CPU % and peak RSS MB per ok cell.

    Cells that are not ok are listed in a footnote instead; diverged cells are hatched and
    marked. The PNG is written atomically to ``path``, which is returned.
    """
    import matplotlib

    matplotlib.use("Agg")  # no display here; must precede the pyplot import
    import matplotlib.pyplot as plt

    path = Path(path)
    plotted = [row for row in rows if row["status"] == "ok" and row["latency_ms_p50"] is not None]
    footnote = _footnote(rows, varying_keys(rows))
    footnote_lines = footnote.count("\n") + 1 if footnote else 0
    height_in = max(3.4, 1.5 + _BAR_HEIGHT_IN * len(plotted)) + 0.22 * footnote_lines
    fig, axes = plt.subplots(1, 3, figsize=(3 * _PANEL_WIDTH_IN, height_in), sharey=True)
    try:
        # Keep a strip at the bottom free of axes for the footnote; rect is (left, bottom, w, h).
        bottom = 0.22 * (footnote_lines + 0.6) / height_in if footnote else 0.0
        fig.set_layout_engine("constrained", rect=(0, bottom, 1, 1 - bottom))
        _draw(list(axes), rows, plotted, baseline)
        fig.suptitle(_title(rows, run_id_of(rows, path.parent)), fontweight="bold")
        if footnote:
            fig.text(0.01, 0.02, footnote, fontsize=8.5, color="0.25", va="bottom", ha="left")
        buffer = bytes_io.BytesIO()
        fig.savefig(buffer, format="png", dpi=110)
    finally:
        plt.close(fig)
    io.write_bytes(buffer.getvalue(), path)
    return path


def _draw(axes: list[Axes], rows: list[Row], plotted: list[Row], baseline: str | None) -> None:
    """Fill the three panels with the ok cells, or say there is nothing to plot."""
    if not plotted:
        for ax in axes:
            ax.text(0.5, 0.5, "no ok cells to plot", ha="center", va="center", transform=ax.transAxes)
            ax.set_xticks([])
            ax.set_yticks([])
        return
    vary = varying_keys(rows)
    colours = _colours([row["framework"] for row in plotted])
    positions = list(range(len(plotted)))
    latency_ax, cpu_ax, memory_ax = axes
    _latency_panel(latency_ax, plotted, colours, relative_to(rows, baseline), baseline)
    _cpu_panel(cpu_ax, plotted, colours)
    _memory_panel(memory_ax, plotted, colours)
    latency_ax.set_yticks(positions, [_tick_label(row, vary) for row in plotted])
    for tick, row in zip(latency_ax.get_yticklabels(), plotted):
        if row["parity_ok"] is False:
            tick.set_color(_DIVERGED_COLOUR)
    latency_ax.invert_yaxis()  # first cell on top, in run order
    for ax in axes:
        ax.grid(axis="x", color="0.88")
        ax.set_axisbelow(True)
        ax.spines[["top", "right"]].set_visible(False)


def _latency_panel(
    ax: Axes, rows: list[Row], colours: list[str], ratios: dict[str, float | None], baseline: str | None
) -> None:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    p50 = [row["latency_ms_p50"] for row in rows]
    p90 = [row["latency_ms_p90"] or mid for row, mid in zip(rows, p50)]
    p99 = [row["latency_ms_p99"] or mid for row, mid in zip(rows, p50)]
    # Asymmetric whisker: nothing below the median, up to p90 above it.
    whisker = [[0.0] * len(rows), [high - mid for mid, high in zip(p50, p90)]]
    _bars(ax, rows, p50, colours)
    ax.errorbar(p50, range(len(rows)), xerr=whisker, fmt="none", ecolor="black", capsize=4, lw=1.2)
    ax.scatter(p99, range(len(rows)), marker="D", s=22, color="black", zorder=3)
    for y, (row, tail) in enumerate(zip(rows, p99)):
        text = f"{row['latency_ms_p50']:#.3g} ms · {format_ratio(ratios[row['cell_id']])}"
        ax.annotate(text, (tail, y), xytext=(6, 0), textcoords="offset points", va="center", fontsize=9)
    scale = _latency_scale(ax, p50, p99)
    ax.set_title(f"(a) latency per call, ms{scale} — lower is better", loc="left")
    reference = "fastest" if baseline is None else baseline
    legend = [
        Patch(facecolor="0.7", label="p50"),
        Line2D([], [], color="black", marker="|", markersize=8, label="p90"),
        Line2D([], [], color="black", marker="D", markersize=5, linestyle="none", label="p99"),
        Line2D([], [], linestyle="none", label=f"n.nnx = p50 / p50 of {reference}"),
    ]
    # Below the axis, where an x label would go: inside it could cover a bar or an annotation.
    ax.legend(
        handles=legend,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.08),
        ncols=4,
        fontsize=8.5,
        frameon=False,
        handlelength=1.2,
        columnspacing=1.2,
    )


def _latency_scale(ax: Axes, p50: list[float], p99: list[float]) -> str:
    """A linear axis, or a log one when the figures span over 30x (batch 1 next to 1000).

    Returns a note for the panel title: empty, or " (log scale)".
    """
    low, high = min(p50), max(p99)
    if low > 0 and high / low > _LOG_SCALE_SPAN:
        ax.set_xscale("log")
        ax.set_xlim(low / 2, high * 15)  # room right of the p99 marker for the annotation
        return " (log scale)"
    ax.set_xlim(0, high * 1.6 or 1.0)
    return ""


def _cpu_panel(ax: Axes, rows: list[Row], colours: list[str]) -> None:
    cpu = [row["cpu_percent"] or 0.0 for row in rows]
    _bars(ax, rows, cpu, colours)
    _annotate(ax, cpu, "{:.0f} %")
    # 100 % is one core, so the ceiling is 100 % times the CPUs the cell was allowed.
    cpus = max(row["cpus_allowed"] or 1 for row in rows)
    ax.axvline(100.0 * cpus, color="0.4", linestyle="--", lw=1)
    ax.set_xlim(0, max(*cpu, 100.0 * cpus) * 1.25)
    ax.set_title("(b) CPU, % of one core", loc="left")
    ax.set_xlabel(f"CPU time / wall time over the timed loop; dashed: all {cpus} CPUs busy")


def _memory_panel(ax: Axes, rows: list[Row], colours: list[str]) -> None:
    peak = [row["peak_rss_mb"] or 0.0 for row in rows]
    _bars(ax, rows, peak, colours)
    _annotate(ax, peak, "{:,.0f} MB")
    ax.set_xlim(0, max(peak) * 1.3 or 1.0)
    ax.set_title("(c) peak RSS, MB — lower is better", loc="left")
    ax.set_xlabel("VmHWM over the timed loop")


def _bars(ax: Axes, rows: list[Row], values: list[float], colours: list[str]) -> None:
    """Horizontal bars, hatched where the cell diverged from the reference."""
    bars = ax.barh(range(len(rows)), values, height=0.6, color=colours)
    for bar, row in zip(bars, rows):
        if row["parity_ok"] is False:
            # Washed-out fill under red hatching: still readable, plainly not a fair figure.
            bar.set_alpha(0.45)
            bar.set_hatch("///")
            bar.set_edgecolor(_DIVERGED_COLOUR)


def _annotate(ax: Axes, values: list[float], template: str) -> None:
    for y, value in enumerate(values):
        ax.annotate(
            template.format(value), (value, y), xytext=(4, 0), textcoords="offset points", va="center"
        )


def _colours(frameworks: list[str]) -> list[str]:
    """One colour per framework, the same in every panel."""
    order = list(dict.fromkeys(frameworks))
    return [_PALETTE[order.index(name) % len(_PALETTE)] for name in frameworks]


def _tick_label(row: Row, vary: list[str]) -> str:
    label = cell_label(row, vary)
    return f"{label}\nDIVERGED {row['max_abs_diff']:.1e}" if row["parity_ok"] is False else label


def _title(rows: list[Row], run_id: str) -> str:
    """Run id, plus every plan setting that all cells share (batch size, threads, ...)."""
    if not rows:
        return f"run {run_id}"
    vary, first = varying_keys(rows), rows[0]
    shared = {
        "scenario": first.get("scenario"),
        "batch_size": f"batch {first['batch_size']}",
        "threads": f"{first['threads']} threads on CPUs {first['cpus']}",
        "precision": first.get("precision"),
        "mode": first.get("mode"),
    }
    return " · ".join([f"run {run_id}", *(str(v) for k, v in shared.items() if k not in vary and v)])


def _footnote(rows: list[Row], vary: list[str]) -> str:
    """The cells left out of the chart and why, wrapped to the figure's width."""
    missing = [
        f"{cell_label(row, vary)} — {row['status']}" + (f": {row['error']}" if row["error"] else "")
        for row in rows
        if row["status"] != "ok" or row["latency_ms_p50"] is None
    ]
    if not missing:
        return ""
    text = "Not plotted: " + "; ".join(" ".join(item.split()) for item in missing)
    return "\n".join(textwrap.wrap(text, _FOOTNOTE_WIDTH_CHARS))

"""The run's figure: latency, CPU and peak memory per cell, three panels side by side.

matplotlib is imported only inside the function that draws, so importing this module (or the
CLI) costs nothing when no chart is asked for.
"""

from __future__ import annotations

import io as bytes_io
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestrator.figures.trust import DEFAULT_THRESHOLDS, samples_needed
from orchestrator.report.labels import (
    cell_label,
    format_ratio,
    relative_to,
    run_id_of,
    shown_percentile,
    varying_keys,
)
from runners.registry import TOOLS
from schemas import io
from schemas.scenarios import DEFAULT as DEFAULT_SCENARIO
from schemas.scenarios import SCENARIOS

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
        return save_figure(fig, path, footnote)
    finally:
        plt.close(fig)


def save_figure(fig: Any, path: Path, footnote: str = "") -> Path:
    """Write ``fig`` to ``path`` as a PNG, atomically, with ``footnote`` in its bottom strip."""
    if footnote:
        fig.text(0.01, 0.02, footnote, fontsize=8.5, color="0.25", va="bottom", ha="left")
    buffer = bytes_io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
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
    _bars(ax, rows, p50, colours)
    ends = _tails(ax, rows, p50)
    for y, (row, tail) in enumerate(zip(rows, ends)):
        text = f"{row['latency_ms_p50']:#.3g} ms · {format_ratio(ratios[row['cell_id']])}"
        ax.annotate(text, (tail, y), xytext=(6, 0), textcoords="offset points", va="center", fontsize=9)
    scale = _latency_scale(ax, p50, ends)
    ax.set_title(f"(a) latency per call, ms{scale} — lower is better", loc="left")
    reference = "fastest" if baseline is None else baseline
    legend = [
        Patch(facecolor="0.7", label="p50"),
        Line2D([], [], color="black", marker="|", markersize=8, label=f"p90 ({_calls_for(90)}+ calls)"),
        Line2D(
            [],
            [],
            color="black",
            marker="D",
            markersize=5,
            linestyle="none",
            label=f"p99 ({_calls_for(99)}+ calls)",
        ),
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


def _calls_for(q: int) -> int:
    """Timed calls a cell needs for its ``q``-th percentile to be drawn."""
    return samples_needed(q, DEFAULT_THRESHOLDS.min_samples_beyond_percentile)


def _tails(ax: Axes, rows: list[Row], p50: list[float]) -> list[float]:
    """Draw each cell's p90 whisker and p99 marker where its calls support them (the rule of
    report.shown_percentile: none where too few calls lie beyond); the right end of each row."""
    p90 = [shown_percentile(row, 90) for row in rows]
    p99 = [shown_percentile(row, 99) for row in rows]
    whiskered = [y for y, high in enumerate(p90) if high is not None]
    if whiskered:  # asymmetric: nothing below the median, up to the p90 above it
        lengths = [[0.0] * len(whiskered), [(p90[y] or 0.0) - p50[y] for y in whiskered]]
        ax.errorbar(
            [p50[y] for y in whiskered],
            whiskered,
            xerr=lengths,
            fmt="none",
            ecolor="black",
            capsize=4,
            lw=1.2,
        )
    marked = [(y, high) for y, high in enumerate(p99) if high is not None]
    if marked:
        ax.scatter([x for _, x in marked], [y for y, _ in marked], marker="D", s=22, color="black", zorder=3)
    return [max(v for v in figures if v is not None) for figures in zip(p50, p90, p99)]


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


# --- sweep.png: latency against batch size, throughput against threads -------------------------

_SWEEP_PANEL_WIDTH_IN = 6.4
_SWEEP_PANEL_HEIGHT_IN = 4.6
_TITLE_CHARS_PER_IN = 10
_LINE_STYLES = ("-", "--", ":", "-.")
_MARKERS = ("o", "s", "^", "D", "v", "P")


def sweep_panels(rows: list[Row]) -> tuple[list[Row], list[str]]:
    """The rows a sweep chart draws, and its panels: ``batch_size`` and/or ``threads``.

    Rows are the ok offline cells with a median, of the isolated mode unless only in-process
    ones exist, without the harness floor (noop computes nothing, so its figures would only
    stretch the axes). A panel applies when its x variable takes at least two values there.
    """
    ok = [
        row
        for row in rows
        if _on_sweep_chart(row)
        and row["status"] == "ok"
        and row["latency_ms_p50"] is not None
        and row["framework"] not in TOOLS
    ]
    drawn = [row for row in ok if row.get("mode") != "in-process"] or ok
    panels = [key for key in ("batch_size", "threads") if len({row[key] for row in drawn}) > 1]
    return drawn, panels


def _on_sweep_chart(row: Row) -> bool:
    """Whether ``row``'s scenario is one the sweep chart draws: its row says the tool's own loop
    at --batch-size (a row without the column is from a history that held only those)."""
    record = SCENARIOS.get(row.get("scenario", DEFAULT_SCENARIO))
    return record is not None and record.batch_loop


def sweep_chart(rows: list[Row], path: Path) -> Path | None:
    """Draw p50 latency against batch size and throughput against threads, one line per framework.

    Only the panels that apply are drawn (see :func:`sweep_panels`); when none does, nothing
    is written and None is returned. Otherwise the PNG is written atomically to ``path``,
    which is returned.
    """
    drawn, panels = sweep_panels(rows)
    if not panels:
        return None
    import matplotlib

    matplotlib.use("Agg")  # no display here; must precede the pyplot import
    import matplotlib.pyplot as plt

    path = Path(path)
    width_in = len(panels) * _SWEEP_PANEL_WIDTH_IN
    footnote = _sweep_footnote(rows, drawn, int(_FOOTNOTE_WIDTH_CHARS * width_in / (3 * _PANEL_WIDTH_IN)))
    # Strips below the panels, bottom up: the footnote, then the framework legend.
    footnote_in = 0.2 * (footnote.count("\n") + 1.6) if footnote else 0.05
    colours = dict(zip(_frameworks(drawn), _colours(_frameworks(drawn))))
    diverged = any(row["parity_ok"] is False for row in drawn)
    handles = _framework_handles(colours, diverged)
    legend_cols = _legend_columns([str(handle.get_label()) for handle in handles], width_in)
    legend_in = 0.3 * -(-len(handles) // legend_cols) + 0.1
    height_in = _SWEEP_PANEL_HEIGHT_IN + footnote_in + legend_in
    fig, axes = plt.subplots(1, len(panels), figsize=(width_in, height_in), squeeze=False)
    try:
        bottom = (footnote_in + legend_in) / height_in
        fig.set_layout_engine("constrained", rect=(0, bottom, 1, 1 - bottom))
        letters = iter("ab")
        for ax, panel in zip(axes[0], panels):
            if panel == "batch_size":
                _latency_by_batch(ax, drawn, colours, next(letters))
            else:
                _throughput_by_threads(ax, drawn, colours, next(letters))
        legend = fig.legend(
            handles=handles,
            loc="lower center",
            bbox_to_anchor=(0.5, footnote_in / height_in),
            ncols=legend_cols,
            fontsize=9,
            frameon=False,
        )
        legend.set_in_layout(False)  # placed by hand in its strip
        title = _sweep_title(drawn, run_id_of(rows, path.parent))
        fig.suptitle(textwrap.fill(title, int(width_in * _TITLE_CHARS_PER_IN)), fontweight="bold")
        return save_figure(fig, path, footnote)
    finally:
        plt.close(fig)


def _latency_by_batch(ax: Axes, rows: list[Row], colours: dict[str, str], letter: str) -> None:
    """Log-log p50 latency against batch size; error bars from the p50's bootstrap interval."""
    lines = _lines(rows, "batch_size", "threads")
    with_ci = False
    for (framework, *series), points in lines.items():
        x = [row["batch_size"] for row in points]
        y = [row["latency_ms_p50"] for row in points]
        low = [max(mid - (row["latency_ms_p50_ci_low"] or mid), 0.0) for row, mid in zip(points, y)]
        high = [max((row["latency_ms_p50_ci_high"] or mid) - mid, 0.0) for row, mid in zip(points, y)]
        with_ci = with_ci or any(low) or any(high)
        style = _series_style(lines, series)
        ax.errorbar(x, y, yerr=[low, high], color=colours[framework], capsize=3, lw=1.6, ms=5, **style)
        _mark_diverged(ax, points, x, y)
    ax.set_xscale("log")
    _log_y(ax)
    _value_ticks(ax, sorted({row["batch_size"] for row in rows}))
    ax.set_xlabel("batch size, rows per call (log scale)")
    ax.set_ylabel("p50 latency per call, ms (log scale)")
    interval = "; bars: 95 % interval of the p50" if with_ci else ""
    ax.set_title(
        f"({letter}) latency against batch size — lower is better{interval}", loc="left", fontsize=10
    )
    _sweep_axes(ax, lines, "threads")


def _throughput_by_threads(ax: Axes, rows: list[Row], colours: dict[str, str], letter: str) -> None:
    """Samples per second against the thread count, one line per framework (and batch size)."""
    from matplotlib.ticker import EngFormatter

    lines = _lines(rows, "threads", "batch_size")
    for (framework, *series), points in lines.items():
        x = [row["threads"] for row in points]
        y = [row["throughput_per_s"] or 0.0 for row in points]
        ax.plot(x, y, color=colours[framework], lw=1.6, ms=5, **_series_style(lines, series))
        _mark_diverged(ax, points, x, y)
    values = [row["throughput_per_s"] for row in rows if row["throughput_per_s"]]
    if values and max(values) / min(values) > _LOG_SCALE_SPAN:
        _log_y(ax)
        scale = " (log scale)"
    else:
        ax.set_ylim(0, max(values, default=1.0) * 1.15)
        scale = ""
    ax.yaxis.set_major_formatter(EngFormatter(sep=""))
    threads = sorted({row["threads"] for row in rows})
    ax.set_xticks(threads, [str(n) for n in threads])
    ax.set_xlim(
        threads[0] - 0.25 * (threads[-1] - threads[0]), threads[-1] + 0.25 * (threads[-1] - threads[0])
    )
    ax.set_xlabel("compute threads")
    ax.set_ylabel(f"throughput, samples/s at the p50{scale}")
    ax.set_title(f"({letter}) throughput against threads — higher is better", loc="left", fontsize=10)
    _sweep_axes(ax, lines, "batch_size")


def _frameworks(rows: list[Row]) -> list[str]:
    return list(dict.fromkeys(row["framework"] for row in rows))


def _lines(rows: list[Row], x_key: str, series_key: str) -> dict[tuple[Any, ...], list[Row]]:
    """The rows of each line, sorted along x: one per framework, per ``series_key`` and precision.

    A line's key is (framework, series value, precision); the last two are None when the rows
    share them, so they need no telling apart.
    """
    keys = [key if len({row.get(key) for row in rows}) > 1 else None for key in (series_key, "precision")]
    order = _frameworks(rows)

    def line_key(row: Row) -> tuple[Any, ...]:
        return (row["framework"], *(row.get(key) if key else None for key in keys))

    lines: dict[tuple[Any, ...], list[Row]] = {}
    for row in sorted(
        rows, key=lambda r: (order.index(r["framework"]), *map(str, line_key(r)[1:]), r[x_key])
    ):
        lines.setdefault(line_key(row), []).append(row)
    return lines


def _series_values(lines: dict[tuple[Any, ...], list[Row]]) -> list[tuple[Any, ...]]:
    return sorted({tuple(series) for _, *series in lines}, key=lambda s: tuple(str(v).zfill(8) for v in s))


def _series_style(lines: dict[tuple[Any, ...], list[Row]], series: list[Any]) -> dict[str, Any]:
    """Line style and marker telling a framework's lines apart (its colour is the framework's)."""
    index = _series_values(lines).index(tuple(series))
    return {"linestyle": _LINE_STYLES[index % len(_LINE_STYLES)], "marker": _MARKERS[index % len(_MARKERS)]}


def _mark_diverged(ax: Axes, rows: list[Row], x: list[Any], y: list[Any]) -> None:
    """A red ring round every point whose cell diverged from the reference."""
    bad = [(a, b) for row, a, b in zip(rows, x, y) if row["parity_ok"] is False]
    if bad:
        ax.scatter(
            [a for a, _ in bad],
            [b for _, b in bad],
            s=110,
            facecolors="none",
            edgecolors=_DIVERGED_COLOUR,
            lw=1.8,
            zorder=4,
        )


def _log_y(ax: Axes) -> None:
    """A log y axis ticked at 1-2-5 steps, in plain numbers (0.05, 0.1, 0.2, not 10^-1)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_minor_locator(NullLocator())
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.6g}"))


def _value_ticks(ax: Axes, values: list[int]) -> None:
    """Ticks at exactly the swept values, written out (1, 8, 64, 512), on a log axis."""
    from matplotlib.ticker import FixedLocator, NullLocator

    ax.xaxis.set_major_locator(FixedLocator(values))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticklabels([f"{value:,}" for value in values])
    ax.set_xlim(values[0] / 1.6, values[-1] * 1.6)


def _sweep_axes(ax: Axes, lines: dict[tuple[Any, ...], list[Row]], key: str) -> None:
    """Grid, spines, and a legend below the axis telling the line styles (series) apart."""
    from matplotlib.lines import Line2D

    ax.grid(True, which="major", color="0.88")
    ax.set_axisbelow(True)
    ax.spines[["top", "right"]].set_visible(False)
    series = _series_values(lines)
    if len(series) < 2:
        return
    handles = [
        Line2D(
            [],
            [],
            color="0.3",
            lw=1.4,
            label=_series_label(values, key),
            **_series_style(lines, list(values)),
        )
        for values in series
    ]
    ax.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.14),
        ncols=_legend_columns([str(handle.get_label()) for handle in handles], _SWEEP_PANEL_WIDTH_IN),
        fontsize=8.5,
        frameon=False,
        handlelength=2.6,
        columnspacing=1.4,
    )


def _legend_columns(labels: list[str], width_in: float) -> int:
    """How many legend entries fit side by side in ``width_in`` at font size 8.5-9."""
    entry_in = 0.5 + 0.075 * max(len(label) for label in labels)  # the handle, then the text
    return max(1, min(len(labels), int((width_in - 0.4) / entry_in)))


def _framework_handles(colours: dict[str, str], diverged: bool) -> list[Any]:
    """Legend entries shared by both panels: a colour per framework, and the diverged mark."""
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=colour, lw=3, label=name) for name, colour in colours.items()]
    if diverged:
        ring = Line2D([], [], linestyle="none", marker="o", ms=9, mfc="none", mec=_DIVERGED_COLOUR)
        ring.set_label("diverged from the reference")
        handles.append(ring)
    return handles


def _series_label(values: tuple[Any, ...], key: str) -> str:
    """``2 threads``, ``batch 64``, ``1 thread bf16``: the parts of a line key besides framework."""
    value, precision = values
    parts = []
    if value is not None:
        parts.append(f"batch {value:,}" if key == "batch_size" else f"{value} thread{'s' * (value != 1)}")
    if precision is not None:
        parts.append(str(precision))
    return " ".join(parts)


def _sweep_title(rows: list[Row], run_id: str) -> str:
    """The summary chart's title for the drawn rows, flagging a shared (in-process) worker."""
    title = _title(rows, run_id)
    if rows and "threads" in varying_keys(rows):  # else _title names the CPUs with the threads
        title += f" · CPUs {rows[0]['cpus']}"
    if rows and rows[0].get("mode") == "in-process":
        title += " (all frameworks in one shared worker)"
    return title


def _sweep_footnote(rows: list[Row], drawn: list[Row], width: int) -> str:
    """Offline cells left out and why, and what else the run holds that this chart does not show."""
    mode = drawn[0].get("mode") if drawn else None
    offline = [row for row in rows if _on_sweep_chart(row) and row.get("mode") == mode]
    parts = [_footnote(offline, varying_keys(offline))]
    floor = [row for row in offline if row["framework"] in TOOLS and row["status"] == "ok"]
    if floor:
        names = ", ".join(dict.fromkeys(row["framework"] for row in floor))
        parts.append(f"Left out: {names}, the harness floor, which computes nothing.")
    others = sorted(
        {f"{row['scenario']} scenario" for row in rows if not _on_sweep_chart(row)}
        | {f"{row['mode']} mode" for row in rows if row.get("mode") != mode}
    )
    if others:
        parts.append("Not in this chart: " + ", ".join(others) + " cells (see summary.png).")
    text = " ".join(part for part in parts if part)
    return "\n".join(textwrap.wrap(text, width))

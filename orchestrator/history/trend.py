"""Trend report over the run history: each configuration's p50 (with its confidence band) and
peak memory, run after run, as one chart fit for a CI job page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from orchestrator.report.charts import save_figure
from schemas.configuration import config_key, label, varying


def _label(row: dict[str, Any], vary: list[str]) -> str:
    return label(row, vary)


def trend_chart(rows: list[dict[str, Any]], path: Path) -> Path | None:
    """Write ``path`` (PNG): p50 with its 95 % band and peak RSS per configuration over runs.

    ``rows`` are history summary rows (any order); only ok rows are drawn. Returns None and
    writes nothing when the history holds fewer than two runs.
    """
    ok = [row for row in rows if row["status"] == "ok" and row["latency_ms_p50"] is not None]
    run_ids = sorted({row["run_id"] for row in ok})
    if len(run_ids) < 2:
        return None
    import matplotlib

    matplotlib.use("Agg")  # no display on CI machines
    import matplotlib.pyplot as plt

    vary = [column for column in varying(ok) if column != "input_shapes"]
    position = {run_id: index for index, run_id in enumerate(run_ids)}
    series: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for row in ok:
        series.setdefault(config_key(row), []).append(row)

    figure, (latency_axis, memory_axis) = plt.subplots(1, 2, figsize=(14, 5.5))
    for points in series.values():
        points.sort(key=lambda row: row["run_id"])
        x = [position[row["run_id"]] for row in points]
        label_text = _label(points[0], vary)
        line = latency_axis.plot(x, [row["latency_ms_p50"] for row in points], marker="o", label=label_text)[
            0
        ]
        low = [row["latency_ms_p50_ci_low"] or row["latency_ms_p50"] for row in points]
        high = [row["latency_ms_p50_ci_high"] or row["latency_ms_p50"] for row in points]
        latency_axis.fill_between(x, low, high, color=line.get_color(), alpha=0.2)
        memory_axis.plot(x, [row["peak_rss_mb"] for row in points], marker="o", color=line.get_color())
    banded = any(row["latency_ms_p50_ci_low"] is not None for row in ok)
    latency_title = "p50 latency (shaded: its 95 % interval)" if banded else "p50 latency"
    for axis, title, unit in (
        (latency_axis, latency_title, "ms"),
        (memory_axis, "peak RSS", "MB"),
    ):
        axis.set_title(title)
        axis.set_ylabel(unit)
        axis.set_xticks(range(len(run_ids)))
        axis.set_xticklabels([run_id[:15] for run_id in run_ids], rotation=45, ha="right", fontsize=7)
        axis.grid(alpha=0.3)
    _plain_log_scale(latency_axis)
    handles, labels = latency_axis.get_legend_handles_labels()
    columns = 3
    figure.legend(handles, labels, loc="lower center", ncol=columns, fontsize=7, frameon=False)
    figure.suptitle(f"history: {len(run_ids)} runs")
    legend_rows = -(-len(labels) // columns)
    figure.tight_layout(rect=(0, min(0.45, 0.05 + 0.035 * legend_rows), 1, 1))
    try:
        return save_figure(figure, path)
    finally:
        plt.close(figure)


def _plain_log_scale(axis: Any) -> None:
    """A log axis labelled with plain numbers: "0.7", not matplotlib's "7x10^-1"."""
    from matplotlib.ticker import FuncFormatter, LogLocator

    axis.set_yscale("log")
    plain = FuncFormatter(lambda value, _: f"{value:g}")
    axis.yaxis.set_major_formatter(plain)
    axis.yaxis.set_minor_locator(LogLocator(subs=(2.0, 5.0)))
    axis.yaxis.set_minor_formatter(plain)

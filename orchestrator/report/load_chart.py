"""load.png: p99 latency against the offered rate, every framework, from the server cells and
the probes of every peak search: where each one's tail rises to the bound."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from orchestrator.report.charts import save_figure
from schemas.configuration import framework_label
from schemas.scenarios import SCENARIOS

Row = dict[str, Any]


def load_points(rows: list[Row]) -> dict[str, list[tuple[float, float, bool]]]:
    """(offered QPS, p99 ms, VALID) of each framework's server runs and peak-search probes."""
    points: dict[str, list[tuple[float, float, bool]]] = {}
    for row in rows:
        if (
            row.get("status") != "ok"
            or not row.get("loadgen_json")
            or not _is_server(str(row.get("scenario")))
        ):
            continue
        result = json.loads(row["loadgen_json"])
        runs = result.get("probes") or [result]
        name = _name(row)
        for run in runs:
            qps, p99 = run.get("offered_qps"), run.get("latency_ms_p99")
            if qps is not None and p99 is not None:
                points.setdefault(name, []).append((float(qps), float(p99), run.get("validity") == "VALID"))
    return points


def load_chart(rows: list[Row], path: Path) -> Path | None:
    """Write ``path`` when the run has server figures at two rates or more; else None."""
    points = load_points(rows)
    if sum(len(found) for found in points.values()) < 2:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure = load_figure(rows, points)
    try:
        return save_figure(figure, path)
    finally:
        plt.close(figure)


def load_figure(rows: list[Row], points: dict[str, list[tuple[float, float, bool]]]) -> Any:
    """The chart: each framework's p99 against the offered rate (x: an INVALID run), each peak
    found marked and labelled, the bound a dashed line labelled inside the plot, the rates as
    plain numbers."""
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(8.5, 5.2))
    for name, found in sorted(points.items()):
        found.sort()
        line = axis.plot([q for q, _, _ in found], [p for _, p, _ in found], marker="o", label=name)[0]
        invalid = [(q, p) for q, p, valid in found if not valid]
        if invalid:
            xs, ys = [q for q, _ in invalid], [p for _, p in invalid]
            axis.scatter(xs, ys, marker="x", s=70, color=line.get_color(), zorder=3)
        for peak in _peaks(rows, name):
            p99 = next((p for q, p, _ in found if q == peak), None)
            if p99 is not None:
                axis.scatter([peak], [p99], marker="*", s=220, color=line.get_color(), zorder=4)
                # Above and to the right of its star: clear of the curve's lower points and of
                # the plot's bottom edge, where the lowest p99 often is.
                axis.annotate(f"peak {peak:,.0f} QPS", (peak, p99), xytext=(9, 5), va="bottom",
                              textcoords="offset points", fontsize=8, color=line.get_color())  # fmt: skip
    axis.set_xscale("log")
    axis.set_yscale("log")
    bounds = {row["latency_bound_ms"] for row in rows if row.get("latency_bound_ms") is not None}
    for bound in sorted(bounds):
        axis.axhline(bound, color="0.4", linestyle="--", linewidth=1)
        # At the right end, inside the plot: never over the rate axis' labels on the left.
        axis.text(0.99, bound, f"bound {bound:g} ms", transform=axis.get_yaxis_transform(),
                  ha="right", va="bottom", fontsize=8, color="0.3")  # fmt: skip
    plain = _plain_log_formatter()
    for ticks in (axis.xaxis, axis.yaxis):
        ticks.set_major_formatter(plain(labelOnlyBase=False))
        ticks.set_minor_formatter(plain(labelOnlyBase=False, minor_thresholds=(2, 0.5)))
    axis.set_xlabel("offered rate, queries per second (LoadGen server, Poisson)")
    axis.set_ylabel("p99 latency, ms")
    axis.set_title("p99 latency against offered load (x: INVALID run, star: the peak found)")
    axis.grid(alpha=0.3, which="both")
    axis.legend(fontsize=8)
    figure.tight_layout()
    return figure


def _peaks(rows: list[Row], name: str) -> list[float]:
    """The peak rates the peak searches of the framework labelled ``name`` found."""
    return [
        float(row["peak_qps"])
        for row in rows
        if row.get("peak_qps") is not None and _name(row) == name and row.get("status") == "ok"
    ]


def _name(row: Row) -> str:
    return framework_label(row) if row.get("model") is None else f"{framework_label(row)} ({row['model']})"


def _plain_log_formatter() -> Any:
    """A log axis' tick formatter that writes plain numbers (20,000 rather than 2x10^4, 0.5 rather
    than 5x10^-1); which
    ticks get a label stays matplotlib's choice, so minor labels thin out over a wide range."""
    from matplotlib.ticker import LogFormatter

    class PlainLog(LogFormatter):
        def _num_to_string(self, x: float, vmin: float, vmax: float) -> str:
            return f"{x:,.0f}" if x >= 1000 else f"{x:g}"

    return PlainLog


def _is_server(name: str) -> bool:
    """Whether cells of scenario ``name`` are LoadGen server runs (at a rate, or a peak search)."""
    row = SCENARIOS.get(name)
    return row is not None and row.loadgen == "server"

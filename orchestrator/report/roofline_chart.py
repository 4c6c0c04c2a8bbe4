"""roofline.png: each cell's achieved GFLOP/s against its arithmetic intensity (FLOP per byte),
log-log, under the machine's roofs from the run's environment.json -- per precision, the
measured roof solid (min(peak, intensity x measured bandwidth)) and the theoretical one dashed
(flat: no theoretical bandwidth is known) -- one colour per framework. A cell without a point
is named in the footnote with its reason (``roof_omitted``)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

from orchestrator.report.charts import save_figure
from orchestrator.report.labels import cell_label, run_id_of, varying_keys
from schemas.configuration import framework_label

Row = dict[str, Any]

_PRECISION_COLOURS = {"fp32": "#222222", "bf16": "#8e44ad", "int8": "#b9770e"}
_FRAMEWORK_COLOURS = ("C0", "C1", "C2", "C4", "C5", "C6", "C8", "C9", "C7")
_LABELLED_POINTS = 12  # beyond this many points, the legend alone says which is which
_FOOTNOTE_CHARS = 150


def roofline_points(rows: list[Row]) -> list[Row]:
    """The rows that have a point: an achieved rate and an arithmetic intensity."""
    return [row for row in rows if row.get("gflops_per_s") and row.get("arithmetic_intensity")]


def read_roofs(run_dir: Path) -> dict[str, Any]:
    """environment.json's roofs by thread count (``{"2": {"fp32": ...}}``); empty without them."""
    try:
        roofs = json.loads((run_dir / "environment.json").read_text()).get("roofs") or {}
    except (OSError, ValueError):
        return {}
    return dict(roofs.get("by_threads") or {})


def roofline_chart(rows: list[Row], run_dir: Path) -> Path | None:
    """Write roofline.png into ``run_dir`` when a cell has a point; else None."""
    points = roofline_points(rows)
    if not points:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure = roofline_figure(rows, points, read_roofs(run_dir), run_id_of(rows, run_dir))
    try:
        return save_figure(figure, run_dir / "roofline.png", _footnote(rows, points))
    finally:
        plt.close(figure)


def roofline_figure(rows: list[Row], points: list[Row], roofs: dict[str, Any], run_id: str) -> Any:
    """The figure: roofs first (beneath), then one point per cell, log-log."""
    import matplotlib.pyplot as plt

    unplotted = len(rows) - len(points)
    figure, axis = plt.subplots(figsize=(11.0, 5.8 + (0.5 if unplotted else 0.0)))
    figure.set_layout_engine("constrained", rect=(0, 0.1 if unplotted else 0, 1, 0.9 if unplotted else 1))
    used = {(str(row["threads"] * (row.get("instances") or 1)), row.get("roof_precision")) for row in points}
    # Every point, and each roof's ridge (where bandwidth stops limiting), a decade's margin.
    intensities = [float(row["arithmetic_intensity"]) for row in points]
    intensities += [ridge for threads, precision in used if (ridge := _ridge(roofs.get(threads), precision))]
    low, high = min(intensities) / 10, max(intensities) * 10
    for threads, precision in sorted(used, key=str):
        if precision is not None and threads in roofs:
            _draw_roofs(axis, roofs[threads], precision, threads, (low, high), len(roofs) > 1)
    _draw_points(axis, rows, points)
    axis.set_xscale("log")
    axis.set_yscale("log")
    axis.set_xlim(low, high)
    axis.set_xlabel("arithmetic intensity (FLOP per byte of weights, inputs and outputs a call moves)")
    axis.set_ylabel("achieved GFLOP/s")
    axis.grid(True, which="both", alpha=0.25)
    axis.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    axis.set_title(f"run {run_id} · roofline (measured roof solid, theoretical dashed)", fontweight="bold")
    return figure


def _ridge(machine: dict[str, Any] | None, precision: str | None) -> float | None:
    """The intensity where the measured roof's bandwidth slope meets its peak."""
    if not machine or precision is None:
        return None
    peak = (machine.get(precision) or {}).get("measured_gflops")
    bandwidth = (machine.get("bandwidth") or {}).get("measured_gbs")
    return peak / bandwidth if peak and bandwidth else None


def _draw_roofs(
    axis: Any,
    machine: dict[str, Any],
    precision: str,
    threads: str,
    span: tuple[float, float],
    say_threads: bool,
) -> None:
    """One precision's roofs at one thread count: measured solid, theoretical dashed."""
    import numpy as np

    roof = machine.get(precision) or {}
    bandwidth = (machine.get("bandwidth") or {}).get("measured_gbs")
    colour = _PRECISION_COLOURS.get(precision, "0.4")
    x = np.geomspace(span[0], span[1], 200)
    suffix = f", {threads} thread(s)" if say_threads else ""
    measured, theoretical = roof.get("measured_gflops"), roof.get("theoretical_gflops")
    if measured:
        y = np.minimum(measured, x * bandwidth) if bandwidth else np.full_like(x, measured)
        axis.plot(
            x, y, "-", color=colour, linewidth=1.6, label=f"{precision} measured{suffix}: {measured:,.0f}"
        )
    if theoretical:
        axis.plot(
            x,
            np.full_like(x, theoretical),
            "--",
            color=colour,
            linewidth=1.2,
            label=f"{precision} theoretical{suffix}: {theoretical:,.0f}",
        )


def _draw_points(axis: Any, rows: list[Row], points: list[Row]) -> None:
    """One point per cell, coloured by framework; labelled when there are few."""
    frameworks = list(dict.fromkeys(framework_label(row) for row in points))
    vary = [key for key in varying_keys(rows) if key != "framework"]
    for name in frameworks:
        mine = [row for row in points if framework_label(row) == name]
        colour = _FRAMEWORK_COLOURS[frameworks.index(name) % len(_FRAMEWORK_COLOURS)]
        axis.scatter(
            [row["arithmetic_intensity"] for row in mine],
            [row["gflops_per_s"] for row in mine],
            s=46,
            color=colour,
            edgecolor="white",
            zorder=3,
            label=name,
        )
        if len(points) <= _LABELLED_POINTS:
            for row in mine:
                pct = row.get("roof_pct_measured")
                text = (cell_label(row, vary) if vary else "") + ("" if pct is None else f" {pct:.0f}%")
                nth = points.index(row)  # points at one intensity: their labels on alternate sides
                axis.annotate(
                    text.strip(),
                    (row["arithmetic_intensity"], row["gflops_per_s"]),
                    xytext=(6, 3) if nth % 2 == 0 else (-6, -10),
                    ha="left" if nth % 2 == 0 else "right",
                    textcoords="offset points",
                    fontsize=7.5,
                    color=colour,
                )


def _footnote(rows: list[Row], points: list[Row]) -> str:
    """The cells without a point, and why."""
    drawn = {id(row) for row in points}
    vary = varying_keys(rows)
    missing = [
        f"{cell_label(row, vary)}: {row.get('roof_omitted') or 'no point'}"
        for row in rows
        if id(row) not in drawn
    ]
    if not missing:
        return ""
    return "\n".join(textwrap.wrap("No point: " + "; ".join(missing), _FOOTNOTE_CHARS)[:4])

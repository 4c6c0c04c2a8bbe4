"""precision.png: each framework's speed-up over its own fp32 cell against the fidelity each
precision kept (SQNR against the float64 reference): what a lower precision gains, and costs.

One point per framework and precision, each joined to the framework's fp32 cell (speed-up 1 at
its own SQNR: the origin of its spokes); one panel per configuration but the framework and the
precision (model, scenario, batch, threads ...).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from orchestrator.plan.options import non_default
from orchestrator.report.charts import save_figure
from orchestrator.report.fidelity_labels import shows_precision
from orchestrator.report.labels import varying_keys
from schemas.configuration import CONTENDER_COLUMNS, config_key, display_value, framework_label, header
from schemas.precisions import BASELINE, PRECISIONS

Row = dict[str, Any]

_DIVERGED_COLOUR = "#c0392b"
_PALETTE = ("C0", "C1", "C2", "C4", "C5", "C6", "C8", "C9", "C7")  # matplotlib's, without red
_PANELS_PER_LINE = 3
# Where an SQNR of infinity (outputs equal to the reference) is drawn: this far beyond the
# largest finite one, and labelled so.
_INF_MARGIN_DB = 10.0


def precision_lines(rows: list[Row]) -> dict[tuple[Any, ...], dict[str, list[Row]]]:
    """The rows drawn, by panel (the configuration but contender and precision) and by line
    (the framework, its version and non-default options), each line in precision order. A row
    is drawn when it is ok and has both a speed-up and an SQNR."""
    panels: dict[tuple[Any, ...], dict[str, list[Row]]] = {}
    for row in rows:
        if row.get("status") != "ok" or row.get("speedup_vs_fp32") is None or row.get("sqnr_db") is None:
            continue
        panel = config_key(row, without=(*CONTENDER_COLUMNS, "precision"))
        options = non_default(str(row["framework"]), row.get("options_json"))
        line = framework_label(row) + (f" ({options})" if options != "default" else "")
        panels.setdefault(panel, {}).setdefault(line, []).append(row)
    for lines in panels.values():
        for found in lines.values():
            found.sort(key=lambda row: PRECISIONS.index(row["precision"]))
    return panels


def precision_chart(rows: list[Row], path: Path) -> Path | None:
    """Write ``path`` when the run has a cell at a precision other than fp32 with a speed-up
    and an SQNR to draw; else nothing, None."""
    if not shows_precision(rows):
        return None
    panels = precision_lines(rows)
    drawn = [row for lines in panels.values() for found in lines.values() for row in found]
    if not any(row["precision"] != BASELINE for row in drawn):
        return None
    import matplotlib

    matplotlib.use("Agg")  # no display here; must precede the pyplot import
    import matplotlib.pyplot as plt

    figure = precision_figure(rows, panels)
    try:
        return save_figure(figure, path)
    finally:
        plt.close(figure)


def precision_figure(rows: list[Row], panels: dict[tuple[Any, ...], dict[str, list[Row]]]) -> Any:
    """The figure: a panel per configuration, a colour per framework, spokes from its fp32."""
    import matplotlib.pyplot as plt

    count = len(panels)
    columns = min(count, _PANELS_PER_LINE)
    lines_of_panels = math.ceil(count / columns)
    figure, axes = plt.subplots(
        lines_of_panels, columns, figsize=(max(8.0, 6.2 * columns), 5.0 * lines_of_panels), squeeze=False
    )
    names = sorted({name for lines in panels.values() for name in lines})
    colours = {name: _PALETTE[index % len(_PALETTE)] for index, name in enumerate(names)}
    vary = [key for key in varying_keys(rows) if key not in (*CONTENDER_COLUMNS, "precision")]
    for axis, lines in zip(axes.flat, panels.values()):
        _panel(axis, lines, colours)
        first = next(iter(lines.values()))[0]
        shown = [f"{header(key)} {display_value(first.get(key))}" for key in vary if key != "model"]
        axis.set_title(", ".join([str(first.get("model")), *shown]), fontsize=10)
    for axis in list(axes.flat)[count:]:
        axis.set_visible(False)
    figure.suptitle(
        "Speed-up over the framework's own fp32 against fidelity to the reference\n"
        "(spokes from each framework's fp32 cell; red ring: outside the model's acceptance)",
        fontsize=11,
    )
    figure.tight_layout()
    return figure


def _panel(axis: Any, lines: dict[str, list[Row]], colours: dict[str, str]) -> None:
    """One configuration's lines: x SQNR (dB, the axis reversed: fidelity lost grows to the
    right), y speed-up; each point labelled with its precision."""
    finite = [row["sqnr_db"] for found in lines.values() for row in found if math.isfinite(row["sqnr_db"])]
    cap = (max(finite) if finite else 0.0) + _INF_MARGIN_DB
    for name, found in lines.items():
        x = [_sqnr_drawn(row["sqnr_db"], cap) for row in found]
        y = [float(row["speedup_vs_fp32"]) for row in found]
        axis.scatter(x, y, color=colours[name], label=name, zorder=3)
        origins = [(px, py) for row, px, py in zip(found, x, y) if row["precision"] == BASELINE]
        for (ox, oy), px, py in ((origin, px, py) for origin in origins[:1] for px, py in zip(x, y)):
            # a spoke from the framework's fp32 cell to each of its precisions
            axis.plot([ox, px], [oy, py], color=colours[name], linewidth=1.2, alpha=0.7)
        for row, px, py in zip(found, x, y):
            text = row["precision"] + (" (SQNR inf)" if math.isinf(row["sqnr_db"]) else "")
            axis.annotate(text, (px, py), xytext=(5, 4), textcoords="offset points", fontsize=8)
            if row.get("parity_ok") is False:
                axis.scatter([px], [py], s=160, facecolors="none", edgecolors=_DIVERGED_COLOUR, linewidths=2)
    axis.axhline(1.0, color="0.5", linestyle="--", linewidth=1)
    axis.invert_xaxis()
    axis.set_xlabel("SQNR against the float64 reference, dB (right: less fidelity)")
    axis.set_ylabel("speed-up over the same cell at fp32, x")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)


def _sqnr_drawn(value: float, cap: float) -> float:
    """An SQNR where it can be drawn: infinity at ``cap``, minus infinity at zero."""
    if math.isinf(value):
        return cap if value > 0 else 0.0
    return float(value)

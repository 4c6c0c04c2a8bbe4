"""load.png: p99 latency against the offered rate, every framework, from the server cells and
the probes of every peak search: where each one's tail rises to the bound."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from orchestrator.charts import save_figure
from schemas.configuration import framework_label

Row = dict[str, Any]


def load_points(rows: list[Row]) -> dict[str, list[tuple[float, float, bool]]]:
    """(offered QPS, p99 ms, VALID) of each framework's server runs and peak-search probes."""
    points: dict[str, list[tuple[float, float, bool]]] = {}
    for row in rows:
        if (
            row.get("status") != "ok"
            or not row.get("loadgen_json")
            or not str(row.get("scenario")).startswith("server")
        ):
            continue
        result = json.loads(row["loadgen_json"])
        runs = result.get("probes") or [result]
        name = (
            framework_label(row) if row.get("model") is None else f"{framework_label(row)} ({row['model']})"
        )
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

    bounds = {row["latency_bound_ms"] for row in rows if row.get("latency_bound_ms") is not None}
    figure, axis = plt.subplots(figsize=(8.5, 5.2))
    try:
        for name, found in sorted(points.items()):
            found.sort()
            line = axis.plot([q for q, _, _ in found], [p for _, p, _ in found], marker="o", label=name)[0]
            invalid = [(q, p) for q, p, valid in found if not valid]
            if invalid:
                axis.scatter(
                    [q for q, _ in invalid],
                    [p for _, p in invalid],
                    marker="x",
                    s=70,
                    color=line.get_color(),
                    zorder=3,
                )
        for bound in sorted(bounds):
            axis.axhline(bound, color="0.4", linestyle="--", linewidth=1)
            axis.text(axis.get_xlim()[0], bound, f" bound {bound:g} ms", va="bottom", fontsize=8, color="0.3")
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel("offered rate, queries per second (LoadGen server, Poisson)")
        axis.set_ylabel("p99 latency, ms")
        axis.set_title("p99 latency against offered load (x: INVALID run)")
        axis.grid(alpha=0.3, which="both")
        axis.legend(fontsize=8)
        figure.tight_layout()
        return save_figure(figure, path)
    finally:
        plt.close(figure)

"""The latency distribution chart: every timed call of each cell, from samples.parquet."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq

from orchestrator.report.html.chart import PALETTE, Chart, labeller, layout, ok_rows
from orchestrator.report.labels import Row

_BINS_PER_DECADE = 20  # fine enough to show two modes, coarse enough to stay a smooth line


def read_samples(path: Path) -> dict[str, np.ndarray]:
    """Each cell's timed calls in ms (all its repeats), keyed by cell_id; empty without the file."""
    if not path.exists():
        return {}
    table = pq.read_table(path, columns=["cell_id", "latency_ns"])
    samples: dict[str, np.ndarray] = {}
    for cell_id in pc.unique(table["cell_id"]).to_pylist():
        chosen = table.filter(pc.equal(table["cell_id"], cell_id))["latency_ns"]
        samples[str(cell_id)] = chosen.to_numpy().astype(np.float64) / 1e6
    return samples


def _log_bins(low: float, high: float) -> np.ndarray:
    """Edges of log-spaced bins from ``low`` to ``high``, and one empty bin beyond each end."""
    decades = max(math.log10(high / low), 0.1)
    edges = np.geomspace(low, high * 1.0001, max(int(decades * _BINS_PER_DECADE), 10) + 1)
    step = edges[1] / edges[0]
    return np.concatenate([[edges[0] / step], edges, [edges[-1] * step]])


def latency_chart(rows: list[Row], samples: dict[str, np.ndarray]) -> Chart:
    """Share of each ok cell's timed calls per latency bin, on one log-spaced grid of bins."""
    key, title = "latency", "Latency per call: the distribution of every timed call"
    drawn = [
        (row, samples[row["cell_id"]]) for row in ok_rows(rows) if samples.get(row["cell_id"]) is not None
    ]
    drawn = [(row, ms[ms > 0]) for row, ms in drawn if np.any(ms > 0)]
    if not drawn:
        return Chart(key, title, omitted="samples.parquet holds no timed call of an ok cell")
    import plotly.graph_objects as go

    edges = _log_bins(min(float(ms.min()) for _, ms in drawn), max(float(ms.max()) for _, ms in drawn))
    name = labeller(rows)
    figure = go.Figure()
    for index, (row, ms) in enumerate(drawn):
        counts, _ = np.histogram(ms, edges)
        used = np.nonzero(counts)[0]
        bins = slice(used[0] - 1, used[-1] + 2)  # an empty bin each side: the outline starts at 0
        figure.add_trace(
            go.Scatter(
                # A step from each bin's left edge to the next: x the edges, y each bin's share.
                x=edges[bins.start : bins.stop + 1],
                y=np.append(100.0 * counts[bins] / len(ms), 0.0),
                mode="lines",
                line={"shape": "hv", "color": PALETTE[index % len(PALETTE)]},
                name=f"{name(row)} ({len(ms):,} calls)",
                hovertemplate="from %{x:.4g} ms: %{y:.1f} % of calls<extra>%{fullData.name}</extra>",
            )
        )
    figure.update_xaxes(type="log", title="latency per call, ms (log scale)")
    figure.update_yaxes(title="share of the cell's timed calls, %", rangemode="tozero")
    return Chart(key, title, layout(figure, title, 460))

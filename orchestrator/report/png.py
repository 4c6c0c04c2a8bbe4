"""The ``png`` report format: summary.png, with its companions sweep.png and load.png."""

from __future__ import annotations

from pathlib import Path

from orchestrator.report.labels import Row


def write_png(rows: list[Row], run_dir: Path, baseline: str | None = None) -> Path:
    """Write summary.png: latency, CPU and peak memory per cell, side by side."""
    # Imported here: matplotlib is only worth loading for a chart.
    from orchestrator.report.charts import latency_cpu_memory_chart

    return latency_cpu_memory_chart(rows, run_dir / "summary.png", baseline)


def write_sweep_png(rows: list[Row], run_dir: Path, baseline: str | None = None) -> Path | None:
    """Write sweep.png when the offline cells sweep batch sizes or threads; else nothing, None.

    Latency against batch size and throughput against threads, one line per framework.
    """
    from orchestrator.report.charts import sweep_chart

    del baseline  # the sweep shows absolute figures, one line per framework
    return sweep_chart(rows, run_dir / "sweep.png")


def write_precision_png(rows: list[Row], run_dir: Path, baseline: str | None = None) -> Path | None:
    """Write precision.png when the run has a precision other than fp32: each framework's
    speed-up over its own fp32 against the fidelity it kept; else nothing, None."""
    from orchestrator.report.precision_chart import precision_chart

    del baseline  # each framework against its own fp32
    return precision_chart(rows, run_dir / "precision.png")


# Extra files of a kind, written after its exporter's only when the rows call for them.
def write_load_png(rows: list[Row], run_dir: Path, baseline: str | None = None) -> Path | None:
    """Write load.png when the run has server figures at two rates or more (a peak search)."""
    from orchestrator.report.load_chart import load_chart

    del baseline  # absolute figures, one line per framework
    return load_chart(rows, run_dir / "load.png")


def write_roofline_png(rows: list[Row], run_dir: Path, baseline: str | None = None) -> Path | None:
    """Write roofline.png when a cell has a point under the roofs (its FLOPs and rate known)."""
    from orchestrator.report.roofline_chart import roofline_chart

    del baseline  # absolute figures, one point per cell
    return roofline_chart(rows, run_dir)

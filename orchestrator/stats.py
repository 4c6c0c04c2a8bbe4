"""Statistics over a cell's per-call latencies and its outputs."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class LatencyStats:
    """Summary of per-call latencies, in milliseconds."""

    mean: float
    p50: float
    p90: float
    p95: float
    p99: float
    min: float
    max: float
    std: float

    def columns(self) -> dict[str, float]:
        """As summary columns: ``latency_ms_p50`` and so on."""
        return {f"latency_ms_{name}": value for name, value in asdict(self).items()}


def latency_stats(latencies_ns: np.ndarray) -> LatencyStats:
    """Mean, percentiles (linear interpolation), extremes and sample std of ``latencies_ns``."""
    ms = np.asarray(latencies_ns, dtype=np.float64) / 1e6
    if ms.size == 0:
        raise ValueError("no latencies to summarise")
    p50, p90, p95, p99 = np.percentile(ms, [50, 90, 95, 99])
    return LatencyStats(
        mean=float(ms.mean()),
        p50=float(p50),
        p90=float(p90),
        p95=float(p95),
        p99=float(p99),
        min=float(ms.min()),
        max=float(ms.max()),
        std=float(ms.std(ddof=1)) if ms.size > 1 else 0.0,
    )


def throughput_per_s(batch_size: int, p50_ms: float) -> float:
    """Samples per second when every call takes the median latency."""
    return batch_size / (p50_ms / 1e3)


def max_abs_diff(outputs: np.ndarray, reference: np.ndarray) -> float:
    """Largest absolute difference between a cell's outputs and the reference; inf if shapes differ."""
    outputs = np.asarray(outputs, dtype=np.float64).ravel()
    reference = np.asarray(reference, dtype=np.float64).ravel()
    if outputs.shape != reference.shape or not np.all(np.isfinite(outputs)):
        return float("inf")
    return float(np.max(np.abs(outputs - reference)))

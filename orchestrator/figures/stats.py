"""Statistics over a cell's per-call latencies and its outputs."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

# Working memory one chunk of bootstrap resamples may take. Each element of a chunk costs
# about 24 bytes: its int64 index, the float64 value it picks, and the copy np.percentile
# partitions. 50,000 latencies x 2000 resamples would be 2.4 GB in one go.
_BOOTSTRAP_BUDGET_BYTES = 96 * 2**20
_BOOTSTRAP_BYTES_PER_ELEMENT = 24


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


# Above this many calls the bootstrap is replaced by its closed form (below): resampling a
# million noop calls 2000 times would take the parent minutes for no gain in accuracy.
_RESAMPLE_AT_MOST = 20_000


def _order_statistic_ci(ms: np.ndarray, q: float, confidence: float) -> tuple[float, float]:
    """The large-sample limit of the percentile bootstrap of a quantile.

    In a resample of n calls, how many fall at or below the j-th smallest call is
    Binomial(n, j/n); so the resampled q-quantile's rank is k +- z sqrt(n p (1 - p)), with
    p = q/100 and k = p n. Reading those ranks off the sorted calls gives the interval the
    bootstrap converges to, without resampling.
    """
    ordered = np.sort(ms)
    n, p = ordered.size, q / 100.0
    z = statistics.NormalDist().inv_cdf(0.5 + confidence / 2.0)
    half_width = z * math.sqrt(n * p * (1.0 - p))
    low = int(np.clip(math.floor(p * n - half_width), 0, n - 1))
    high = int(np.clip(math.ceil(p * n + half_width), 0, n - 1))
    return float(ordered[low]), float(ordered[high])


def bootstrap_ci(
    latencies_ns: np.ndarray,
    q: float = 50.0,
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile-bootstrap confidence interval, in ms, of the ``q``-th percentile of the latencies.

    Resamples the calls with replacement ``resamples`` times, takes the ``q``-th percentile of
    each resample (linear interpolation, as ``latency_stats``), and returns the central
    ``confidence`` share of those estimates. The same seed gives the same interval. Calls are
    treated as independent, which a timed loop only approximates: read the interval as the
    uncertainty from sampling alone, not from drift between runs (see ``spread_across_repeats``).
    """
    ms = np.asarray(latencies_ns, dtype=np.float64).ravel() / 1e6
    if ms.size == 0:
        raise ValueError("no latencies to bootstrap")
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"percentile must be within [0, 100], got {q}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be within (0, 1), got {confidence}")
    if resamples < 1:
        raise ValueError(f"resamples must be at least 1, got {resamples}")
    if ms.size > _RESAMPLE_AT_MOST:
        return _order_statistic_ci(ms, q, confidence)
    estimates = _bootstrap_percentiles(ms, q, resamples, np.random.default_rng(seed))
    tail_pct = 50.0 * (1.0 - confidence)
    low, high = np.percentile(estimates, [tail_pct, 100.0 - tail_pct])
    return float(low), float(high)


def _bootstrap_percentiles(ms: np.ndarray, q: float, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """The ``q``-th percentile of each of ``resamples`` resamples of ``ms``, drawn in chunks.

    The chunk size depends only on the sample size, so a seed still fixes the answer.
    """
    n = ms.size
    chunk = max(1, _BOOTSTRAP_BUDGET_BYTES // (_BOOTSTRAP_BYTES_PER_ELEMENT * n))
    estimates = np.empty(resamples, dtype=np.float64)
    for start in range(0, resamples, chunk):
        stop = min(start + chunk, resamples)
        picks = ms[rng.integers(0, n, size=(stop - start, n))]
        estimates[start:stop] = np.percentile(picks, q, axis=1)
    return estimates


def spread_across_repeats(p50s_ms: Sequence[float]) -> dict[str, float]:
    """How much the per-process median moved across repeats of one cell.

    Returns ``median_ms``, ``min_ms``, ``max_ms``, ``relative_spread`` ((max - min) / median)
    and ``cv`` (sample standard deviation over the mean). One repeat has no spread: both are 0.
    """
    values = np.asarray(p50s_ms, dtype=np.float64)
    if values.size == 0:
        raise ValueError("no repeats to compare")
    median = float(np.median(values))
    if not median > 0.0 or not np.all(np.isfinite(values)):
        raise ValueError(f"repeat medians must be positive and finite, got {list(p50s_ms)}")
    low, high = float(values.min()), float(values.max())
    cv = float(values.std(ddof=1) / values.mean()) if values.size > 1 else 0.0
    return {
        "median_ms": median,
        "min_ms": low,
        "max_ms": high,
        "relative_spread": (high - low) / median,
        "cv": cv,
    }


# --- verdicts on a change of latency (compare, the regression gate, --tune) -----------------------

SLOWER, FASTER, SAME = "slower", "faster", "same"
# The calls said slower (faster), but one process a side cannot tell a change from one
# process landing in another mode: shown, never a regression. Run --repeats 3 or more.
UNCONFIRMED_SLOWER, UNCONFIRMED_FASTER = "slower?", "faster?"
# Fewer processes than MIN_PROCESSES on a side, and not even a hint of a change: "same" would
# claim what one process a side cannot show.
NOT_JUDGED = "latency not judged"
# Fewest worker processes on each side for a latency verdict to count.
MIN_PROCESSES = 2


def mann_whitney_u(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided p-value of the Mann-Whitney U test that ``a`` and ``b`` come from one distribution.

    The normal approximation with the tie correction of the variance and a continuity
    correction of 0.5 -- the same as ``scipy.stats.mannwhitneyu(a, b, method="asymptotic")``.
    Numpy only. Raises ValueError for an empty or non-finite sample.
    """
    x = np.asarray(a, dtype=np.float64).ravel()
    y = np.asarray(b, dtype=np.float64).ravel()
    if x.size == 0 or y.size == 0:
        raise ValueError("both samples need at least one value")
    both = np.concatenate([x, y])
    if not np.all(np.isfinite(both)):
        raise ValueError("samples must be finite")
    n1, n2 = float(x.size), float(y.size)
    n = n1 + n2
    # Average ranks (1-based): a group of t equal values spanning ranks k+1 .. k+t gets k + (t+1)/2.
    _, inverse, counts = np.unique(both, return_inverse=True, return_counts=True)
    counts = counts.astype(np.float64)
    average_rank = np.cumsum(counts) - (counts - 1.0) / 2.0
    rank_sum_a = float(average_rank[inverse[: x.size]].sum())
    u_a = rank_sum_a - n1 * (n1 + 1.0) / 2.0
    mean = n1 * n2 / 2.0
    tie_term = float(np.sum(counts**3 - counts))
    variance = n1 * n2 / 12.0 * ((n + 1.0) - tie_term / (n * (n - 1.0))) if n > 1 else 0.0
    if variance <= 0.0:  # every value equal: nothing tells the samples apart
        return 1.0
    z = (abs(u_a - mean) - 0.5) / math.sqrt(variance)
    return float(min(1.0, max(0.0, math.erfc(z / math.sqrt(2.0)))))


def judge_latency(
    base_ns: np.ndarray,
    new_ns: np.ndarray,
    processes: tuple[Sequence[float], Sequence[float]],
    p50_change_pct: float | None,
    *,
    min_effect_pct: float,
    alpha: float,
) -> tuple[str, float]:
    """(verdict, Mann-Whitney p-value) of ``new`` against ``base``: ``slower`` / ``faster`` when
    p < ``alpha``, the p50 moved by ``min_effect_pct`` or more and, with :data:`MIN_PROCESSES`+
    processes a side (``processes``: each side's per-process p50s), every new process is beyond
    every base one; ``slower?`` / ``faster?`` when only one process a side says so; else ``same``,
    or ``latency not judged`` with too few processes to say even that."""
    p_value = mann_whitney_u(base_ns, new_ns)
    # Why the p-value alone is not enough. The test treats every timed call as an independent
    # draw, but the calls of one process share that process's state: where its memory landed,
    # which cores its threads settled on, what its neighbours on the VM were doing. On this VM
    # two processes of one framework and settings land in one of two modes (TensorFlow 0.85 or
    # 1.1 ms, ONNX Runtime 0.40 or 0.60 ms), and with thousands of calls per process the test
    # calls any such difference significant. The process is the honest unit of noise: with two
    # or more processes on each side, a change counts only when every new process is slower
    # (faster) than every base process. A real regression -- a slower build, a busy CPU --
    # moves all of them; a different mix of modes does not separate the ranges.
    base_p50s, new_p50s = processes
    enough = len(base_p50s) >= MIN_PROCESSES and len(new_p50s) >= MIN_PROCESSES
    separated = True
    if p50_change_pct is not None and enough:
        separated = min(new_p50s) > max(base_p50s) if p50_change_pct > 0 else max(new_p50s) < min(base_p50s)
    if p50_change_pct is not None and p_value < alpha and abs(p50_change_pct) >= min_effect_pct and separated:
        if enough:
            return (SLOWER if p50_change_pct > 0 else FASTER), p_value
        # the calls of one process are not independent draws: a hint, not a verdict
        return (UNCONFIRMED_SLOWER if p50_change_pct > 0 else UNCONFIRMED_FASTER), p_value
    return (SAME if enough else NOT_JUDGED), p_value


# Below this a p-value is shown as a bound: the normal approximation's far tail (thousands of
# calls give p of 1e-300 or an underflow to 0.0) says nothing more than "far below alpha".
_SMALLEST_P_SHOWN = 0.001


def format_p_value(p_value: float) -> str:
    """A p-value to two significant digits (``0.034``, ``0.5``), or ``<0.001`` below that: never ``0``."""
    if p_value < _SMALLEST_P_SHOWN:
        return f"<{_SMALLEST_P_SHOWN:g}"
    return f"{p_value:.2g}"

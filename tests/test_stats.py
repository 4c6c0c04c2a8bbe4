"""Latency statistics and the parity measure, on synthetic samples."""

import numpy as np
import pytest

from orchestrator.figures.stats import latency_stats, max_abs_diff, throughput_per_s


def test_percentiles_of_a_known_uniform_sample() -> None:
    # 1..100 ms: the p-th percentile with linear interpolation is 1 + 0.99 p.
    stats = latency_stats(np.arange(1, 101, dtype=np.int64) * 1_000_000)
    assert stats.p50 == pytest.approx(50.5)
    assert stats.p90 == pytest.approx(90.1)
    assert stats.p99 == pytest.approx(99.01)
    assert (stats.min, stats.max) == (1.0, 100.0)
    assert stats.mean == pytest.approx(50.5)
    assert stats.std == pytest.approx(np.std(np.arange(1, 101), ddof=1))


def test_outliers_move_the_tail_not_the_median() -> None:
    rng = np.random.default_rng(1)
    base = rng.normal(2_000_000, 10_000, 10_000)
    spiky = base.copy()
    spiky[:50] = 50_000_000  # 0.5 % of calls stall for 50 ms
    calm, noisy = latency_stats(base), latency_stats(spiky)
    assert noisy.p50 == pytest.approx(calm.p50, rel=0.01)
    assert noisy.max == pytest.approx(50.0)
    assert noisy.mean > calm.mean * 1.1


def test_one_sample_has_zero_spread() -> None:
    stats = latency_stats(np.array([3_000_000]))
    assert stats.p50 == stats.p99 == 3.0
    assert stats.std == 0.0


def test_no_samples_is_an_error() -> None:
    with pytest.raises(ValueError):
        latency_stats(np.array([], dtype=np.int64))


def test_columns_carry_units_in_their_names() -> None:
    columns = latency_stats(np.array([1_000_000, 2_000_000])).columns()
    assert set(columns) == {
        f"latency_ms_{s}" for s in ("mean", "p50", "p90", "p95", "p99", "min", "max", "std")
    }


def test_throughput_is_rows_per_second_at_the_median() -> None:
    assert throughput_per_s(1000, 0.5) == pytest.approx(2_000_000)


def test_max_abs_diff() -> None:
    reference = np.array([[0.25], [0.5], [0.75]])
    assert max_abs_diff(np.array([0.25, 0.5, 0.75], np.float32), reference) == 0.0
    assert max_abs_diff(np.array([0.25, 0.5001, 0.75], np.float32), reference) == pytest.approx(
        1e-4, rel=1e-3
    )
    # A wrong shape or a NaN can never pass a tolerance.
    assert max_abs_diff(np.array([0.25, 0.5], np.float32), reference) == float("inf")
    assert max_abs_diff(np.array([0.25, np.nan, 0.75], np.float32), reference) == float("inf")

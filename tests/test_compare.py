"""Comparing two runs: the Mann-Whitney test, verdicts, and the reasons a cell is not compared."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from rich.console import Console

from orchestrator.figures.stats import (
    NOT_JUDGED,
    format_p_value,
    latency_stats,
    mann_whitney_u,
    throughput_per_s,
)
from orchestrator.history.compare import ComparisonReport, compare_runs, pct_change
from schemas import tables

N = 5000


def latencies(seed: int, factor: float = 1.0, n: int = N) -> np.ndarray:
    """Lognormal per-call latencies around 1 ms, in ns."""
    rng = np.random.default_rng(seed)
    return (rng.lognormal(mean=np.log(1e6), sigma=0.25, size=n) * factor).astype(np.int64)


def row(run_id: str, framework: str, ns: np.ndarray, **overrides: Any) -> dict[str, Any]:
    """A summary row whose latency figures come from ``ns``."""
    values: dict[str, Any] = {field.name: None for field in tables.SUMMARY}
    stats = latency_stats(ns)
    values.update(stats.columns())
    values.update(
        run_id=run_id,
        cell_id=f"{run_id}-{framework}",
        config_id=f"{framework}-cfg",
        framework=framework,
        model="mlp",
        environment="own",
        input_shapes='{"input": [1000, 200]}',
        options_json="{}",
        scenario="offline",
        batch_size=1000,
        threads=2,
        cpus="0,1",
        precision="fp32",
        mode="isolated",
        status="ok",
        parity_ok=True,
        throughput_per_s=throughput_per_s(1000, stats.p50),
        cpu_percent=190.0,
        peak_rss_mb=300.0,
        repeats=3,
        repeats_ok=3,
        latency_ms_p50_spread_pct=3.0,
    )
    values.update(overrides)
    return values


def samples(run_id: str, cells: dict[str, np.ndarray | list[np.ndarray]]) -> pa.Table:
    """A SAMPLES table holding each framework's latencies, one array per worker process; a
    single array is split among three processes, as the nightly recipe runs them."""
    columns: dict[str, list[Any]] = {name: [] for name in tables.SAMPLES.names}
    for framework, per_process in cells.items():
        processes = per_process if isinstance(per_process, list) else np.array_split(per_process, 3)
        for repeat, ns in enumerate(processes):
            columns["run_id"] += [run_id] * ns.size
            columns["cell_id"] += [f"{run_id}-{framework}-r{repeat}"] * ns.size
            columns["config_id"] += [f"{framework}-cfg"] * ns.size
            columns["framework"] += [framework] * ns.size
            columns["model"] += ["mlp"] * ns.size
            columns["repeat"] += [repeat] * ns.size
            columns["pid"] += [1000 + repeat] * ns.size
            columns["iteration"] += list(range(ns.size))
            columns["latency_ns"] += ns.tolist()
    return pa.table(columns, schema=tables.SAMPLES)


def compare_one(
    base_ns: np.ndarray,
    new_ns: np.ndarray,
    base_overrides: dict[str, Any] | None = None,
    new_overrides: dict[str, Any] | None = None,
    base_fingerprint: str | None = "f1",
    new_fingerprint: str | None = "f1",
) -> ComparisonReport:
    """Compare one pytorch cell between a base and a new run."""
    return compare_runs(
        [row("base", "pytorch", base_ns, **(base_overrides or {}))],
        samples("base", {"pytorch": base_ns}),
        [row("new", "pytorch", new_ns, **(new_overrides or {}))],
        samples("new", {"pytorch": new_ns}),
        base_fingerprint,
        new_fingerprint,
    )


# --- Mann-Whitney U -------------------------------------------------------------------------------


def test_mann_whitney_hand_computed_values() -> None:
    # U = 0, mean 4.5, variance 3*3/12*7 = 5.25: z = (4.5 - 0.5)/sqrt(5.25) = 1.7457, p = 0.0809.
    assert mann_whitney_u(np.array([1, 2, 3]), np.array([4, 5, 6])) == pytest.approx(0.0808556, abs=1e-6)
    # Three pairs of ties: ranks 1.5 1.5 3.5 | 3.5 5.5 5.5, U = 0.5; variance 0.75 * (7 - 18/30) = 4.8;
    # z = (4 - 0.5)/sqrt(4.8) = 1.5975, p = 0.1101.
    assert mann_whitney_u(np.array([1, 1, 2]), np.array([2, 3, 3])) == pytest.approx(0.1101489, abs=1e-6)
    assert mann_whitney_u(np.array([5, 5, 5]), np.array([5, 5])) == 1.0  # nothing to tell apart
    assert mann_whitney_u(np.array([1, 2, 3]), np.array([1, 2, 3])) == 1.0


def test_mann_whitney_is_symmetric_and_rejects_bad_input() -> None:
    a, b = latencies(1, n=300), latencies(2, 1.05, n=400)
    assert mann_whitney_u(a, b) == pytest.approx(mann_whitney_u(b, a))
    with pytest.raises(ValueError):
        mann_whitney_u(np.array([]), np.array([1.0]))
    with pytest.raises(ValueError):
        mann_whitney_u(np.array([np.nan]), np.array([1.0]))


def test_mann_whitney_matches_scipy() -> None:
    from scipy import stats  # a dependency of the orchestrator: missing is a failure, not a skip

    rng = np.random.default_rng(7)
    cases = [
        (latencies(1, n=50), latencies(2, 1.1, n=70)),
        (rng.integers(0, 10, 200), rng.integers(1, 11, 150)),  # many ties
        (latencies(3, n=N), latencies(4, n=N)),
        (np.array([1.0]), np.array([2.0, 3.0])),
    ]
    for a, b in cases:
        expected = stats.mannwhitneyu(a, b, alternative="two-sided", use_continuity=True, method="asymptotic")
        assert mann_whitney_u(a, b) == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-15)


# --- verdicts -------------------------------------------------------------------------------------


def test_a_twenty_percent_slowdown_is_flagged() -> None:
    report = compare_one(latencies(1), latencies(2, factor=1.2))
    [cell] = report.compared
    assert cell.latency_verdict == "slower" and cell.verdict == "slower"
    assert cell.p50_change_pct == pytest.approx(20.0, abs=3.0)
    assert cell.throughput_change_pct is not None and cell.throughput_change_pct < 0
    assert cell.p_value < 1e-6
    assert report.regressions(10.0) == [cell]
    assert report.regressions(50.0) == []


def test_a_speedup_is_faster_and_no_regression() -> None:
    report = compare_one(latencies(1), latencies(2, factor=0.8))
    assert [cell.verdict for cell in report.compared] == ["faster"]
    assert report.regressions(10.0) == []


def test_two_draws_of_one_distribution_are_the_same() -> None:
    report = compare_one(latencies(1), latencies(2))
    [cell] = report.compared
    assert cell.verdict == "same"
    assert report.regressions(0.0) == []


def compare_processes(base: list[np.ndarray], new: list[np.ndarray]) -> ComparisonReport:
    """Compare one cell measured in several worker processes on each side."""
    return compare_runs(
        [row("base", "pytorch", np.concatenate(base))],
        samples("base", {"pytorch": base}),
        [row("new", "pytorch", np.concatenate(new))],
        samples("new", {"pytorch": new}),
        "f1",
        "f1",
    )


def test_a_different_mix_of_process_modes_is_not_a_regression() -> None:
    # On a shared VM a process lands fast or slow: base 2 fast + 1 slow, new 1 fast + 2 slow.
    # Per call the difference is hugely significant and the median moved 11 %, but the ranges
    # of the two runs' processes overlap.
    fast, slow = 1.0, 1.3
    base = [latencies(1, fast), latencies(2, fast), latencies(3, slow)]
    new = [latencies(4, fast), latencies(5, slow), latencies(6, slow)]
    [cell] = compare_processes(base, new).compared
    assert cell.p_value < 1e-6 and cell.p50_change_pct > 10  # well past the 5 % minimum effect
    assert cell.verdict == "same"


def test_a_shift_of_every_process_is_a_regression() -> None:
    base = [latencies(1), latencies(2, 1.02), latencies(3, 0.99)]
    new = [latencies(4, 1.2), latencies(5, 1.22), latencies(6, 1.19)]
    report = compare_processes(base, new)
    [cell] = report.compared
    assert cell.verdict == "slower" and report.regressions(10.0) == [cell]


def test_a_change_below_the_minimum_effect_is_the_same() -> None:
    report = compare_one(latencies(1), latencies(2, factor=1.03))
    [cell] = report.compared
    assert cell.p_value < 0.01 and cell.verdict == "same"


def test_memory_growth_is_flagged() -> None:
    ns = latencies(1)
    report = compare_one(ns, latencies(2), new_overrides={"peak_rss_mb": 360.0})
    [cell] = report.compared
    assert cell.more_memory and cell.verdict == "more memory"
    assert cell.peak_rss_change_pct == pytest.approx(20.0)
    assert report.regressions(10.0) == [cell]
    # 4 MB is under the absolute floor however large a share of a tiny process it is.
    small = compare_one(
        ns, latencies(2), base_overrides={"peak_rss_mb": 10.0}, new_overrides={"peak_rss_mb": 14.0}
    )
    assert small.compared[0].verdict == "same"


def test_slower_and_more_memory_together() -> None:
    report = compare_one(latencies(1), latencies(2, factor=1.2), new_overrides={"peak_rss_mb": 400.0})
    assert report.compared[0].verdict == "slower, more memory"


# --- cells not compared ---------------------------------------------------------------------------


def test_a_different_fingerprint_is_refused() -> None:
    report = compare_one(latencies(1), latencies(2, factor=1.2), new_fingerprint="f2")
    assert report.compared == []
    [missing] = report.not_compared
    assert "host fingerprint differs" in missing.reason
    assert report.regressions(0.0) == []


def test_an_unknown_fingerprint_is_refused() -> None:
    report = compare_one(latencies(1), latencies(2), base_fingerprint=None)
    assert [m.reason for m in report.not_compared] == ["host fingerprint unknown in base run"]


def test_a_failed_cell_is_not_compared() -> None:
    report = compare_one(
        latencies(1),
        latencies(2),
        new_overrides={"status": "failed", "error": "SIGSEGV"},
    )
    assert report.compared == []
    assert [m.reason for m in report.not_compared] == ["status failed in new run"]


def test_a_diverged_cell_is_not_compared() -> None:
    report = compare_one(latencies(1), latencies(2), base_overrides={"parity_ok": False})
    assert [m.reason for m in report.not_compared] == ["parity DIVERGED in base run"]


def test_cells_missing_from_either_run_and_without_samples() -> None:
    a, b = latencies(1, n=500), latencies(2, n=500)
    base_rows = [row("base", "pytorch", a), row("base", "jax", a), row("base", "openvino", a)]
    new_rows = [row("new", "pytorch", b), row("new", "onnxruntime", b), row("new", "openvino", b)]
    report = compare_runs(
        base_rows,
        samples("base", {"pytorch": a, "jax": a, "openvino": a}),
        new_rows,
        samples("new", {"pytorch": b, "onnxruntime": b}),  # openvino's samples are missing
        "f1",
        "f1",
    )
    assert [report.label(cell.key) for cell in report.compared] == ["pytorch"]
    reasons = {report.label(m.key): m.reason for m in report.not_compared}
    assert reasons == {
        "onnxruntime": "not in base run",
        "openvino": "no latency samples in new run",
        "jax": "not in new run",
    }


def test_cells_match_on_every_setting() -> None:
    ns = latencies(1, n=500)
    report = compare_runs(
        [row("base", "pytorch", ns, threads=1)],
        samples("base", {"pytorch": ns}),
        [row("new", "pytorch", ns, threads=2)],
        samples("new", {"pytorch": ns}),
        "f1",
        "f1",
    )
    assert report.compared == []
    assert sorted((report.label(m.key), m.reason) for m in report.not_compared) == [
        ("pytorch t1", "not in new run"),
        ("pytorch t2", "not in base run"),
    ]


def test_pct_change() -> None:
    assert pct_change(100.0, 120.0) == pytest.approx(20.0)
    assert pct_change(None, 1.0) is None
    assert pct_change(0.0, 1.0) is None
    assert pct_change(float("nan"), 1.0) is None


# --- output ---------------------------------------------------------------------------------------


def test_table_and_markdown_list_compared_cells_first() -> None:
    a, b = latencies(1, n=500), latencies(2, 1.3, n=500)
    report = compare_runs(
        [row("base", "pytorch", a), row("base", "jax", a)],
        samples("base", {"pytorch": a, "jax": a}),
        [row("new", "jax", b, status="failed"), row("new", "pytorch", b)],
        samples("new", {"pytorch": b}),
        "f1",
        "f1",
    )
    markdown = report.to_markdown()
    assert "`base` -> `new`" in markdown
    lines = [
        line for line in markdown.splitlines() if line.startswith("| pytorch") or line.startswith("| jax")
    ]
    assert lines[0].startswith("| pytorch") and "**slower**" in lines[0]
    assert lines[1].startswith("| jax") and "not compared: status failed in new run" in lines[1]

    console = Console(width=250, record=True, color_system=None)
    console.print(report.to_table())
    text = console.export_text()
    assert text.index("pytorch") < text.index("jax")
    assert "status failed in new run" in text


def test_a_p_value_too_small_to_print_is_a_bound_never_zero() -> None:
    report = compare_one(latencies(1), latencies(2, 2.0))
    (cell,) = report.compared
    assert cell.p_value < 1e-300  # the normal tail underflows: printed with 2g this was "0"
    markdown = report.to_markdown()
    (line,) = [line for line in markdown.splitlines() if line.startswith("| pytorch")]
    assert "| <0.001 |" in line and "| 0 |" not in line
    assert format_p_value(0.0) == "<0.001"
    assert format_p_value(0.0342) == "0.034"
    assert format_p_value(0.5) == "0.5"


def test_one_process_a_side_is_latency_not_judged_never_same() -> None:
    a, b = latencies(1), latencies(2)
    report = compare_runs(
        [row("base", "pytorch", a)],
        samples("base", {"pytorch": [a]}),
        [row("new", "pytorch", b)],
        samples("new", {"pytorch": [b]}),
        "f1",
        "f1",
    )
    (cell,) = report.compared
    assert cell.latency_verdict == NOT_JUDGED and cell.verdict == "latency not judged"
    assert report.latency_not_judged() == [cell]
    line = report.not_judged_line()
    assert line is not None and "pytorch 1 vs 1" in line and "--repeats 2" in line
    assert "**Not judged:**" in report.to_markdown()


def test_the_p99_change_is_shown_only_where_both_runs_support_a_p99() -> None:
    a, b = latencies(1), latencies(2, 1.3)
    report = compare_one(a, b, base_overrides={"iterations": 500}, new_overrides={"iterations": 5000})
    (cell,) = report.compared
    assert cell.p99_change_pct is None and cell.p50_change_pct is not None
    both = compare_one(a, b, base_overrides={"iterations": 5000}, new_overrides={"iterations": 5000})
    assert both.compared[0].p99_change_pct is not None

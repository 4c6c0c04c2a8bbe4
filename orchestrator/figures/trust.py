"""Decides which figures should not be trusted, and says why in one short line each.

``assess`` takes plain values -- a cell's latencies, its repeats' medians, the machine state the
caller read -- and returns warnings such as ``"noisy: IQR/p50 = 0.21 within the run"``. The text
before the first colon is a stable code (the ``NOISY`` ... constants) that reports and tests may
match on; the rest is for people and may change. No warning means no check found a reason for
doubt, not that the figure is exact: its sampling error is ``stats.bootstrap_ci``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields

import numpy as np

from orchestrator.figures.stats import spread_across_repeats
from orchestrator.host import CpufreqState

NOISY = "noisy"
HEAVY_TAIL = "heavy-tail"
UNSTABLE = "unstable"
FEW_SAMPLES = "few-samples"
TIMER_RESOLUTION = "timer-resolution"
BUSY_MACHINE = "busy-machine"
GOVERNOR = "cpufreq-governor"
TURBO = "turbo"
CONTENTION = "contention"
THREADS_NOT_HONOURED = "threads-not-honoured"
CPU_BUDGET = "cpu-budget"

# The percentiles the summary reports (latency_ms_p50 ... latency_ms_p99).
REPORTED_PERCENTILES = (50.0, 90.0, 95.0, 99.0)

# For a normal distribution the interquartile range is 1.349 standard deviations.
_IQR_PER_STD = 1.349


@dataclass(frozen=True)
class Thresholds:
    """Where each check starts to warn. Every value must be positive."""

    # noisy: (p75 - p25) / p50. pyperf warns when the standard deviation is >= 10 % of the
    # mean; the IQR is its robust counterpart (1.349 std for a normal sample), so one 50 ms
    # stall among 10,000 calls -- which alone can double a std -- does not trip it.
    max_iqr_over_p50: float = 0.10 * _IQR_PER_STD
    # heavy-tail: p99 / p50, or the highest tail percentile the calls support (tail_percentile:
    # p95 under 1000 calls) over p50. pyperf flags a maximum >= 50 % above the mean; with
    # thousands of calls the maximum is one event, so apply the idea to the tail with more
    # room: when 1 % of calls take twice the median, the tail measures interruptions, not the
    # model. Judged at the percentile the table shows, so the warning quotes a supported figure.
    max_tail_over_p50: float = 2.0
    # unstable: (max - min) / median of the per-process p50s of a cell's repeats. 5 % is
    # about the smallest gap between frameworks worth ranking on this workload; a spread
    # above it means the ranking may be an accident of which process ran when.
    max_repeat_spread: float = 0.05
    # few-samples: a percentile q needs this many calls beyond it, i.e. at least
    # k / (1 - q/100) calls (p99: 1000). A rule of thumb; MLPerf's early-stopping rule is the
    # rigorous, far stricter version of the same question.
    min_samples_beyond_percentile: int = 10
    # timer-resolution: the median call must last this many clock ticks, so one tick is
    # <= 0.1 % of it. pyperf's cousin of this rule warns when a raw value is under 1 ms.
    min_resolution_multiple: float = 1000.0
    # busy-machine: (1-min load average - CPUs the benchmark keeps busy) / allowed CPUs.
    # A quarter of a CPU of someone else's runnable work per CPU we use is enough to
    # preempt our threads every few milliseconds; below it, background daemons.
    max_foreign_load_per_cpu: float = 0.25
    # contention: time the computing threads waited, runnable, for a CPU, over the CPU time
    # they got (schedstat run_delay). Not involuntary switches per call: a call of 28 ms is
    # preempted about once on an idle machine (1.07 per call, 250 Hz tick) by kernel threads
    # that run for microseconds, so that count grows with the call's length, not with the
    # disturbance. The wait is what the disturbance costs: idle, ~1 switch x ~20 us per 28 ms
    # call is under 0.1 %; two busy loops on the runner's CPUs make it wait a third of its
    # time or more. 5 % is the smallest gap worth ranking (max_repeat_spread).
    max_cpu_wait_share: float = 0.05
    # threads-not-honoured: CPU % over 100 x threads x (1 + margin) + 100 x slack. The slack
    # is what a framework's bookkeeping thread, the clock reads and the watchdog may add; a
    # second pool computing alongside the first (JAX's at one thread: 160-170 %) is far above.
    thread_budget_margin: float = 0.05
    thread_budget_slack: float = 0.15

    def __post_init__(self) -> None:
        for field in fields(self):
            if not getattr(self, field.name) > 0:
                raise ValueError(f"threshold {field.name} must be positive, got {getattr(self, field.name)}")


DEFAULT_THRESHOLDS = Thresholds()


def assess(
    latencies_ns: np.ndarray,
    *,
    percentiles: Sequence[float] = REPORTED_PERCENTILES,
    repeat_p50s_ms: Sequence[float] = (),
    clock_resolution_s: float | None = None,
    load_average_1min: float | None = None,
    own_busy_cpus: float = 0.0,
    allowed_cpus: int | None = None,
    cpufreq: CpufreqState | None = None,
    ctx_switches_involuntary: int | None = None,
    cpu_wait_s: float | None = None,
    cpu_s: float | None = None,
    threads: int | None = None,
    cpu_percent: float | None = None,
    threads_observed: int | None = None,
    queueing: bool = False,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> list[str]:
    """Warnings about one cell's figures: the samples, then the repeats, then the machine.

    ``latencies_ns`` are the cell's timed calls. Every other input is optional and its check
    is skipped when it is None (or, for ``repeat_p50s_ms``, has fewer than two values).
    ``own_busy_cpus`` is how many CPUs the benchmark itself kept busy (``cpu_percent / 100``).
    ``cpu_wait_s`` is how long the computing threads waited for a CPU over the timed loop and
    ``cpu_s`` the CPU time the process got there; ``allowed_cpus`` the CPUs it could use.

    ``queueing``: the latencies include a wait in a queue that the scenario itself makes
    (LoadGen's server under Poisson arrivals, its offline query of every sample at once). Their
    dispersion is then what the scenario measures, not a fault: the within-run checks (noisy,
    heavy-tail) are skipped, and the tail is judged by the scenario's own rule, LoadGen's
    validity against the latency bound (``loadgen-invalid``). Every other check still applies:
    what disturbs a call (contention, a busy machine, the clock's governor) disturbs it here too.
    """
    ms = np.asarray(latencies_ns, dtype=np.float64).ravel() / 1e6
    if ms.size == 0:
        raise ValueError("no latencies to assess")
    checks = [
        [] if queueing else _within_run(ms, thresholds),
        _few_samples(ms.size, percentiles, thresholds),
        _timer_resolution(ms, clock_resolution_s, thresholds),
        _across_repeats(repeat_p50s_ms, thresholds),
        _contention(cpu_wait_s, cpu_s, ctx_switches_involuntary, threads_observed, allowed_cpus, thresholds),
        _threads_not_honoured(threads, cpu_percent, threads_observed, thresholds),
        _busy_machine(load_average_1min, own_busy_cpus, allowed_cpus, thresholds),
        _cpufreq(cpufreq),
    ]
    return [warning for check in checks for warning in check]


def _within_run(ms: np.ndarray, limits: Thresholds) -> list[str]:
    # The tail is the one every output shows for this many calls (report.supported_tail): a
    # p99 of 300 calls rests on its 3 slowest and is printed nowhere, so it is not quoted here.
    tail = tail_percentile(ms.size, limits)
    p25, p50, p75, p_tail = np.percentile(ms, [25, 50, 75, tail])
    if p50 <= 0.0:
        return []  # calls below the clock's tick: the timer-resolution check speaks for them
    warnings = []
    if (p75 - p25) / p50 > limits.max_iqr_over_p50:
        warnings.append(f"{NOISY}: IQR/p50 = {(p75 - p25) / p50:.2f} within the run")
    if tail != 50 and p_tail / p50 > limits.max_tail_over_p50:  # no supported tail: nothing to judge
        warnings.append(f"{HEAVY_TAIL}: p{tail}/p50 = {p_tail / p50:.1f} within the run")
    return warnings


def _across_repeats(p50s_ms: Sequence[float], limits: Thresholds) -> list[str]:
    if len(p50s_ms) < 2:
        return []
    spread = spread_across_repeats(p50s_ms)
    if spread["relative_spread"] <= limits.max_repeat_spread:
        return []
    return [
        f"{UNSTABLE}: p50 varies {100 * spread['relative_spread']:.1f} % across {len(p50s_ms)} "
        f"repeats ({spread['min_ms']:.3g}-{spread['max_ms']:.3g} ms)"
    ]


def samples_needed(q: float, beyond: int) -> int:
    """Calls needed for ``beyond`` of them to lie above the ``q``-th percentile: k / (1 - q/100)."""
    if not 0.0 <= q < 100.0:
        raise ValueError(f"percentile must be within [0, 100), got {q}")
    # Round before the ceiling: 1000 / (100 - 99.9) is 10000.0000000006 in floating point.
    return math.ceil(round(beyond * 100.0 / (100.0 - q), 6))


# The tail percentiles the table may print, the highest first: it prints the highest one a cell
# made enough calls for (p99 needs 1000), so that what it prints is supported.
TAIL_PERCENTILES = (99, 95, 90)


def tail_percentile(calls: int, limits: Thresholds = DEFAULT_THRESHOLDS) -> int:
    """The highest tail percentile ``calls`` timed calls support; 50 when none does."""
    for q in TAIL_PERCENTILES:
        if calls >= samples_needed(q, limits.min_samples_beyond_percentile):
            return q
    return 50


def printed_percentiles(calls: int) -> tuple[float, ...]:
    """The percentiles a cell's figures are shown at: the p50 and its supported tail."""
    tail = tail_percentile(calls)
    return (50.0,) if tail == 50 else (50.0, float(tail))


def _few_samples(count: int, percentiles: Sequence[float], limits: Thresholds) -> list[str]:
    short = [
        f"p{q:g} (needs >= {needed})"
        for q in sorted(percentiles)
        if count < (needed := samples_needed(q, limits.min_samples_beyond_percentile))
    ]
    if not short:
        return []
    return [f"{FEW_SAMPLES}: {count} timed calls, too few for {', '.join(short)}"]


def _timer_resolution(ms: np.ndarray, resolution_s: float | None, limits: Thresholds) -> list[str]:
    if resolution_s is None:
        return []
    median_s = float(np.median(ms)) / 1e3
    if median_s >= limits.min_resolution_multiple * resolution_s:
        return []
    return [
        f"{TIMER_RESOLUTION}: median call {median_s * 1e6:.3g} us is under "
        f"{limits.min_resolution_multiple:g} x the clock resolution ({resolution_s * 1e9:.3g} ns)"
    ]


def _contention(
    waited_s: float | None,
    cpu_s: float | None,
    switches: int | None,
    busy: int | None,
    cpus: int | None,
    limits: Thresholds,
) -> list[str]:
    """The computing threads waited for a CPU that someone else held. A framework running more
    busy threads than it has CPUs (TensorFlow's and JAX's dispatch thread beside their pools)
    waits on itself: that is its own figure, not a disturbance, so it is not flagged
    (busy-machine still watches the rest). Not judged where the wait was not observed."""
    if waited_s is None or not cpu_s or waited_s / cpu_s <= limits.max_cpu_wait_share:
        return []
    if busy is not None and cpus is not None and busy > cpus:
        return []
    preempted = "" if switches is None else f", {switches / cpu_s:.0f} involuntary switches per CPU-second"
    return [
        f"{CONTENTION}: the computing threads waited for a CPU {100 * waited_s / cpu_s:.0f} % "
        f"as long as they ran{preempted}"
    ]


def _threads_not_honoured(
    threads: int | None, cpu_percent: float | None, busy: int | None, limits: Thresholds
) -> list[str]:
    """The framework computed on more cores than its thread budget: its figure is not one of
    ``threads`` threads, whatever its API reports."""
    if threads is None or cpu_percent is None:
        return []
    budget = 100.0 * threads * (1.0 + limits.thread_budget_margin) + 100.0 * limits.thread_budget_slack
    if cpu_percent <= budget:
        return []
    observed = "" if busy is None else f", {busy} threads busy"
    return [
        f"{THREADS_NOT_HONOURED}: {cpu_percent:.0f} % CPU over the timed loop{observed}, "
        f"more than --threads {threads} can give"
    ]


def cpu_budget_warnings(asked: str, ran_on: Mapping[str, str | None]) -> dict[str, str]:
    """Warnings for the contenders of one comparison that ran on other CPUs than the rest.

    ``asked`` is their --cpus ("0,1"); ``ran_on`` maps each contender (any key) to the CPUs its
    runner's threads could use, read back (None: not observed, left out). Where the contenders
    did not all run on one set, each whose set is not the one asked is named: its latency is
    not of the same CPU budget as the others', whatever --threads says (the JAX runner narrows
    its mask to --threads CPUs; another framework's idle CPUs still take its side work).
    """
    seen = {key: cpus for key, cpus in ran_on.items() if cpus is not None}
    if len(set(seen.values())) < 2:
        return {}
    warnings = {}
    for key, cpus in seen.items():
        if cpus == asked:
            continue
        others = sorted({other for other in seen.values() if other != cpus}, key=_cpus_sort_key)
        warnings[key] = (
            f"{CPU_BUDGET}: ran on CPUs {cpus} ({_count(cpus)}) where --cpus {asked} was asked, "
            f"compared with cells on {' / '.join(f'{o} ({_count(o)})' for o in others)}"
        )
    return warnings


def _count(cpus: str) -> int:
    return len([cpu for cpu in cpus.split(",") if cpu.strip()])


def _cpus_sort_key(cpus: str) -> tuple[int, str]:
    return (-_count(cpus), cpus)


def _busy_machine(
    load_1min: float | None, own_busy_cpus: float, allowed_cpus: int | None, limits: Thresholds
) -> list[str]:
    if load_1min is None or not allowed_cpus:
        return []
    # The load average counts our own runnable threads too; only the rest competes with us.
    foreign = load_1min - own_busy_cpus
    if foreign / allowed_cpus <= limits.max_foreign_load_per_cpu:
        return []
    return [
        f"{BUSY_MACHINE}: load average {load_1min:.2f}, ~{foreign:.2f} of it not this benchmark, "
        f"on {allowed_cpus} allowed CPUs"
    ]


def _cpufreq(state: CpufreqState | None) -> list[str]:
    # pyperf's `system tune` sets the "performance" governor and disables Turbo Boost: both
    # let the clock follow load and temperature, so a figure depends on what ran before it.
    if state is None:
        return []
    warnings = []
    governor = state["governor"]
    if governor is not None and governor != "performance":
        warnings.append(f"{GOVERNOR}: scaling governor is {governor!r}, not 'performance'")
    if state["boost"] is True or state["no_turbo"] is False:
        warnings.append(f"{TURBO}: frequency boost/turbo is on; the clock varies with load and heat")
    return warnings

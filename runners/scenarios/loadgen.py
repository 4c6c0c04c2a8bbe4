"""MLPerf LoadGen as a scenario: LoadGen issues the queries, in the runner's own pinned process,
to a system under test (SUT) that calls the runner's model.

Server (Poisson arrivals at a target QPS, judged against a latency bound), multi-stream (a
query of N samples at a time), and LoadGen's own single-stream and offline, so that the
tool's loops can be compared with LoadGen's on the same cell. The results are LoadGen's own,
read from its detail log (validity and why, latency percentiles, achieved rate), and its logs
stay in the cell's directory.

How the SUT works. Every callback of LoadGen's runs on the thread that started the test, with
the interpreter lock taken for the callback; LoadGen's clock runs from just before it issues a
query to the moment the SUT completes it. Single-stream and multi-stream wait for one query
before the next, so the SUT runs the model inside the callback (a thread hand-off would add
~11 us of its own). Server and offline must not hold up the issuing: the callback queues the
samples and one worker thread takes whatever is queued, up to --max-batch, runs one call and
completes each sample. The model was built for a fixed batch (OpenVINO's static shape,
TensorFlow's signature), so a short batch is padded by repeating its last sample, and recorded.

What can hang LoadGen -- a completion never sent -- cannot happen here: the worker completes
every sample it took, whatever the model did (the error is recorded and the run is failed).
An exception inside a callback would leave LoadGen's threads behind (the process aborts at
exit), so none is let out of one.
"""

from __future__ import annotations

import collections
import contextlib
import json
import math
import threading
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from runners import lifeline, probes
from runners.events import EventPipe
from runners.scenarios import Measurement
from schemas.job import JobSpec
from schemas.scenarios import scenario as scenario_row

if TYPE_CHECKING:
    from runners.base import Runner

# Server queries needed before LoadGen's early-stopping rule can call a run VALID at all (459
# with none over the bound, ~1000 with three): fewer, and every server run is INVALID.
_SERVER_MIN_QUERIES = 1024
# The peak search (search_peak) bisects until its bracket is within this fraction of the peak.
_PEAK_PRECISION = 0.05
_LOWEST_LOAD = 0.1  # a peak search probes no lower than this share of back-to-back calls
_MAX_PROBES = 24
# What the SUT's Python costs per sample beside the model (the gather, the completion object):
# measured ~5-8 us here. It sizes LoadGen's offline query; it matters only for micro-models.
_SUT_NS_PER_SAMPLE = 8_000
# A peak search first times calls back to back for this long (and at least _CAPACITY_CALLS) through
# the SUT's own path: over this many of the scheduler's time slices the rate holds the share of
# the CPU a busy machine leaves it, which a warm-up call's median does not (a call of microseconds
# runs between a neighbour's slices: on a loaded machine every rate it suggested was INVALID).
_CAPACITY_S = 0.5
_CAPACITY_CALLS = 3
# Reruns a LoadGen run whose guess of the SUT's speed was off may take, each sized from the fastest
# run so far: a neighbour's burst can slow the first run so much that its rate misleads the next.
_CALIBRATIONS = 3
_LATENCY_KEYS = {
    "latency_ms_p50": "result_50.00_percentile_latency_ns",
    "latency_ms_p90": "result_90.00_percentile_latency_ns",
    "latency_ms_p95": "result_95.00_percentile_latency_ns",
    "latency_ms_p99": "result_99.00_percentile_latency_ns",
    "latency_ms_p999": "result_99.90_percentile_latency_ns",
    "latency_ms_mean": "result_mean_latency_ns",
    "latency_ms_min": "result_min_latency_ns",
    "latency_ms_max": "result_max_latency_ns",
}


_HELD_SESSIONS: list[contextlib.ExitStack] = []  # for the life of the runner process: see Sut


class SutFailure(RuntimeError):
    """The model raised inside the SUT; LoadGen was still given every completion."""


class Sut:
    """The system under test: LoadGen's queries in, the runner's model, completions out."""

    def __init__(
        self,
        lg: Any,
        runner: Runner,
        pool: dict[str, np.ndarray],
        batch: int,
        inline: bool,
        events: EventPipe,
    ) -> None:
        self._lg = lg
        self._runner = runner
        self._pool = pool
        self._batch = batch
        self._inline = inline
        self._events = events
        self._queue: collections.deque[tuple[int, int, int]] = collections.deque()
        self._ready = threading.Condition()
        self._stop = False
        self.error: str | None = None
        self.latencies_ns = array("q")  # per query, from its issue to its completion, as seen here
        self.batch_sizes: collections.Counter[int] = collections.Counter()
        self.padded_calls = 0
        self._issued = 0
        self._last_report = time.perf_counter()
        # The runner's session (PyTorch's inference mode) is per thread: held in each thread that
        # calls the model -- the worker, or LoadGen's own issuing thread when inline -- and
        # never exited. Nor collected: a generator-based context closed by the garbage
        # collector would leave it in whichever thread collects, switching the mode off there.
        self._sessions = contextlib.ExitStack()
        _HELD_SESSIONS.append(self._sessions)
        self._in_session = threading.local()
        self._worker = threading.Thread(target=self._work, name="loadgen-sut", daemon=True)
        if not inline:
            self._worker.start()
        self.handle = lg.ConstructFastSUT(self._issue, self._flush)

    # LoadGen's callbacks: quick, and never raising into LoadGen.
    def _issue(self, ids: list[int], indices: list[int]) -> None:
        now = time.perf_counter_ns()
        try:
            items = [(query, index, now) for query, index in zip(ids, indices)]
            self._issued += len(items)
            if self._inline:
                for start in range(0, len(items), self._batch):
                    self._run(items[start : start + self._batch])
                return
            with self._ready:
                self._queue.extend(items)
                self._ready.notify()
        except BaseException as exc:
            self.error = self.error or f"{type(exc).__name__}: {exc}"

    def _flush(self) -> None:
        pass  # nothing is held back: every queued sample is served as soon as the worker can

    def _work(self) -> None:
        while True:
            with self._ready:
                while not self._queue and not self._stop:
                    self._ready.wait()
                if not self._queue:
                    return
                taken = [self._queue.popleft() for _ in range(min(self._batch, len(self._queue)))]
            self._run(taken)

    def _run(self, items: list[tuple[int, int, int]]) -> None:
        """One call of the model on the samples of ``items``; complete each, whatever happens."""
        lg = self._lg
        completed = False
        try:
            indices = [index for _, index, _ in items]
            if len(indices) < self._batch:  # the model's static batch: pad by repeating the last
                indices += [indices[-1]] * (self._batch - len(indices))
                self.padded_calls += 1
            sample = {name: values[indices] for name, values in self._pool.items()}
            if not getattr(self._in_session, "held", False):
                self._sessions.enter_context(self._runner.session())
                self._in_session.held = True
            self._runner.predict(self._runner.prepare(sample))
            lg.QuerySamplesComplete([lg.QuerySampleResponse(query, 0, 0) for query, _, _ in items])
            completed = True
            done = time.perf_counter_ns()
            self.latencies_ns.extend(done - issued for _, _, issued in items)
            self.batch_sizes[len(items)] += 1
            self._progress()
        except BaseException as exc:
            self.error = self.error or f"{type(exc).__name__}: {exc}"
            if not completed:
                lg.QuerySamplesComplete([lg.QuerySampleResponse(query, 0, 0) for query, _, _ in items])

    def _progress(self) -> None:
        now = time.perf_counter()
        if now - self._last_report < 0.25:
            return
        self._last_report = now
        recent = self.latencies_ns[-200:]
        self._events.emit(
            "progress",
            done=len(self.latencies_ns),
            issued=self._issued,
            p50_ms=float(np.median(np.frombuffer(recent, np.int64))) / 1e6 if recent else None,
            peak_rss_mb=probes.peak_rss_mb(),
        )

    def close(self) -> None:
        with self._ready:
            self._stop = True
            self._ready.notify()
        if self._worker.is_alive():
            self._worker.join()
        self._lg.DestroyFastSUT(self.handle)


def _log_settings(lg: Any, directory: Path) -> Any:
    directory.mkdir(parents=True, exist_ok=True)  # LoadGen crashes later if it does not exist
    output = lg.LogOutputSettings()
    output.outdir = str(directory)
    output.prefix = "mlperf_log_"
    output.suffix = ""
    output.prefix_with_datetime = False
    output.copy_summary_to_stdout = False
    output.copy_detail_to_stdout = False
    log = lg.LogSettings()
    log.log_output = output
    log.log_mode = lg.LoggingMode.AsyncPoll
    log.enable_trace = False  # one event per sample: tens of MB for a few seconds
    return log


def read_detail(directory: Path) -> dict[str, Any]:
    """LoadGen's results, from the ``:::MLLOG`` lines of its detail log (empty if it never finished)."""
    found: dict[str, Any] = {}
    errors = []
    path = directory / "mlperf_log_detail.txt"
    if not path.is_file():
        return found
    for line in path.read_text(errors="replace").splitlines():
        if not line.startswith(":::MLLOG"):
            continue
        try:
            entry = json.loads(line[len(":::MLLOG") :])
        except ValueError:
            continue  # the cut-off last line of a killed run
        found[entry["key"]] = entry["value"]
        if entry.get("metadata", {}).get("is_error"):
            errors.append(f"{entry['key']}: {entry['value']}")
    found["errors"] = errors
    return found


def summarise(detail: dict[str, Any], scenario: str) -> dict[str, Any]:
    """What a cell records of one LoadGen run: verdict and why, latencies, rate, counts."""
    validity = detail.get("result_validity")
    reason = detail.get("result_invalid_reason") or ""
    if validity == "INVALID" and not reason:
        reason = str(detail.get("early_stopping_result") or "; ".join(detail.get("errors", [])) or "")
    rate_key = {
        "server": "result_completed_samples_per_sec",
        "offline": "result_samples_per_second",
        "single-stream": "result_qps_with_loadgen_overhead",
        "multi-stream": "result_qps_with_loadgen_overhead",
    }[scenario]
    summary: dict[str, Any] = {
        "validity": validity or "INCOMPLETE",
        "invalid_reason": reason or None,
        "samples_per_s": detail.get(rate_key),
        "queries": detail.get("result_query_count"),
        "generated_queries": detail.get("generated_query_count"),
        "samples_per_query": detail.get("effective_samples_per_query"),
        "target_qps": detail.get("effective_target_qps"),
        "target_latency_ns": detail.get("effective_target_latency_ns"),
        "errors": detail.get("errors", []),
    }
    for column, key in _LATENCY_KEYS.items():
        value = detail.get(key)
        summary[column] = None if value is None else float(value) / 1e6
    return summary


@dataclass(frozen=True)
class LoadGenSettings:
    """What the parent asked of LoadGen for this cell: the job's ``loadgen`` record, typed."""

    scenario: str  # LoadGen's own name: server | multi-stream | single-stream | offline
    target_qps: float | None = None  # a server's offered rate (this instance's share)
    latency_bound_ms: float | None = None  # the bound a server's p99 must stay under
    find_peak: bool = False  # search for the highest server rate that stays VALID

    @classmethod
    def from_job(cls, spec: dict[str, Any]) -> LoadGenSettings:
        """The settings of a job's ``loadgen`` record (schemas/job.py)."""
        return cls(
            scenario=str(spec["scenario"]),
            target_qps=spec.get("target_qps"),
            latency_bound_ms=spec.get("latency_bound_ms"),
            find_peak=bool(spec.get("find_peak")),
        )


@dataclass(frozen=True)
class LoadGenRun:
    """One cell under LoadGen: what every LoadGen run of it (a calibration, a probe) shares."""

    lg: Any  # the mlperf_loadgen module, imported only by a runner that uses it
    runner: Runner
    pool: dict[str, np.ndarray]  # every stored input: LoadGen draws each query's samples from it
    job: JobSpec
    settings: LoadGenSettings
    events: EventPipe

    @property
    def scenario(self) -> str:
        """LoadGen's own name for the cell's scenario (its TestScenario)."""
        return self.settings.scenario

    @property
    def queues(self) -> bool:
        """The cell's scenario queues its queries for a worker taking up to --max-batch of them
        (its row in schemas/scenarios.py); else the SUT runs each query inline."""
        return scenario_row(self.job.scenario).queues

    def test_settings(self, qps: float | None, per_call_ns: float, calibrated: bool = False) -> Any:
        """LoadGen's TestSettings for one run at ``qps`` (a server's), sized from ``per_call_ns``."""
        lg, batch = self.lg, self.job.batch_size
        settings = lg.TestSettings()
        settings.mode = lg.TestMode.PerformanceOnly
        settings.min_duration_ms = max(1, int(self.job.min_time_s * 1000))
        settings.min_query_count = self.job.min_iterations
        if self.scenario == "server":
            settings.scenario = lg.TestScenario.Server
            settings.server_target_qps = float(qps or 1.0)
            bound_s = float(self.settings.latency_bound_ms or 0.0) / 1000
            settings.server_target_latency_ns = int(bound_s * 1e9)
            settings.server_target_latency_percentile = 0.99
            settings.min_query_count = max(self.job.min_iterations, _SERVER_MIN_QUERIES)
            # A backlog of this many queries can never meet the bound: stop at once, INVALID.
            settings.server_max_async_queries = max(64, int(8 * (qps or 1.0) * bound_s))
        elif self.scenario == "multi-stream":
            settings.scenario = lg.TestScenario.MultiStream
            settings.multi_stream_samples_per_query = batch
            # LoadGen makes 2 x min duration / expected latency queries: guess low, or it runs out.
            settings.multi_stream_expected_latency_ns = max(1000, int(per_call_ns / 2))
        elif self.scenario == "single-stream":
            settings.scenario = lg.TestScenario.SingleStream
            settings.single_stream_expected_latency_ns = max(1000, int(per_call_ns / 2))
        else:
            settings.scenario = lg.TestScenario.Offline
            # One query of 1.1 x min duration x this many samples must last min duration: guess
            # from one call's time plus the SUT's Python cost per sample (~8 us), a little high.
            per_sample_ns = max(per_call_ns, 1.0) / batch + (0 if calibrated else _SUT_NS_PER_SAMPLE)
            settings.offline_expected_qps = 1.2e9 / per_sample_ns
        return settings

    def scheduled_s(self, settings: Any) -> float:
        """How long LoadGen will run by its settings alone: its minimum duration, and for a
        server run at least its minimum query count at the offered rate."""
        scheduled = settings.min_duration_ms / 1000
        if self.scenario == "server":
            scheduled = max(scheduled, settings.min_query_count / settings.server_target_qps)
        return float(scheduled)

    def once(
        self, qps: float | None, directory: Path, per_call_ns: float, calibrated: bool = False
    ) -> tuple[dict[str, Any], Sut]:
        """One LoadGen run, its logs in ``directory``: what it recorded, and its SUT."""
        lg, batch = self.lg, self.job.batch_size
        rows = len(next(iter(self.pool.values())))
        sut = Sut(lg, self.runner, self.pool, batch, inline=not self.queues, events=self.events)
        qsl = lg.ConstructQSL(rows, rows, lambda indices: None, lambda indices: None)
        try:
            settings = self.test_settings(qps, per_call_ns, calibrated)
            # --timeout is per LoadGen run and on top of its schedule: a server run lasts at least
            # its query count at the offered rate (1,024 queries at 2 QPS: 8.5 minutes).
            scheduled_s = self.scheduled_s(settings)
            lifeline.renew_budget(scheduled_s)
            self.events.emit("renew", scheduled_s=scheduled_s)
            # A path that is never there: an audit.config in the working directory would override
            # the settings.
            started = time.perf_counter()
            log = _log_settings(lg, directory)
            lg.StartTestWithLogSettings(sut.handle, qsl, settings, log, str(directory / "no-audit.config"))
        finally:
            sut.close()
            lg.DestroyQSL(qsl)
        if sut.error is not None:
            raise SutFailure(f"the model failed under LoadGen: {sut.error}")
        return _recorded(summarise(read_detail(directory), self.scenario), sut, qps, batch, started), sut

    def calibrated(
        self, qps: float | None, directory: Path, per_call_ns: float
    ) -> tuple[dict[str, Any], Sut]:
        """One run; and again, up to _CALIBRATIONS times, sized from the fastest run so far, while
        LoadGen says its guess of the SUT's speed was off (offline: "Increase expected QPS";
        single- or multi-stream: "Decrease the expected latency" -- it ran out of queries). The
        earlier runs' logs are kept beside (``loadgen-uncalibrated``, ``-uncalibrated-2`` ...)."""
        result, sut = self.once(qps, directory, per_call_ns)
        fastest = 0.0
        for attempt in range(_CALIBRATIONS):
            fastest = max(fastest, result.get("samples_per_s") or 0.0)
            if not (self._misjudged_speed(result) and fastest):
                return result, sut
            kept = "-uncalibrated" if attempt == 0 else f"-uncalibrated-{attempt + 1}"
            directory.rename(directory.with_name(directory.name + kept))
            # The fastest rate seen, as a time per call of the batch, a little optimistic as
            # LoadGen wants.
            per_call = 0.5 * self.job.batch_size * 1e9 / fastest
            result, sut = self.once(qps, directory, per_call, calibrated=True)
            result["calibrated_from_a_first_run"] = True
            result["calibration_runs"] = attempt + 1
        return result, sut

    def _misjudged_speed(self, result: dict[str, Any]) -> bool:
        """LoadGen called the run INVALID for its guess of the SUT's speed, not for the SUT:
        offline's query ran out before the minimum duration, a stream ran out of queries (a
        server's rate is the user's, never a guess)."""
        reason = result.get("invalid_reason") or ""
        return self.scenario != "server" and (
            "Increase expected" in reason or "Decrease the expected" in reason
        )

    def find_peak(self, directory: Path, per_call_ns: float) -> tuple[dict[str, Any], Sut]:
        """The highest server QPS that stays VALID under the latency bound (:func:`search_peak`).
        LoadGen's own peak search judges a run by its percentile alone, ignoring early stopping,
        and logs none of its probes; here every probe is a full run, judged VALID or not, and kept."""
        probes_run: list[dict[str, Any]] = []
        best: tuple[dict[str, Any], Sut] | None = None

        def probe(qps: float) -> bool:
            nonlocal best
            result, sut = self.once(qps, directory / f"probe-{len(probes_run):02d}", per_call_ns)
            probes_run.append({k: result[k] for k in _PROBE_KEYS})
            self.events.emit(
                "progress",
                done=len(probes_run),
                target=len(probes_run) + 1,
                probe_qps=qps,
                p99_ms=result["latency_ms_p99"],
                validity=result["validity"],
            )
            valid = bool(result["validity"] == "VALID")
            if valid:
                best = (result, sut)
            return valid

        capacity = self.back_to_back_rate()
        peak = search_peak(probe, capacity)
        if peak is None:
            raise SutFailure(self._no_peak(probes_run[-1], capacity))
        assert best is not None  # a peak is a rate that was VALID
        result = dict(best[0])
        result["peak_qps"] = peak
        result["probes"] = probes_run
        result["back_to_back_qps"] = capacity
        return result, best[1]

    def back_to_back_rate(self) -> float:
        """Samples per second the SUT serves back to back now: calls of its batch through its
        own path (gather, prepare, call) for _CAPACITY_S, plus its Python cost per sample beside
        the model (_SUT_NS_PER_SAMPLE). Called in the runner's session, as the warm-up is."""
        batch, rows = self.job.batch_size, len(next(iter(self.pool.values())))
        calls, start = 0, time.perf_counter_ns()
        while True:
            indices = [(calls * batch + offset) % rows for offset in range(batch)]
            self.runner.predict(
                self.runner.prepare({name: values[indices] for name, values in self.pool.items()})
            )
            calls += 1
            elapsed_ns = time.perf_counter_ns() - start
            if elapsed_ns >= _CAPACITY_S * 1e9 and calls >= _CAPACITY_CALLS:
                return 1e9 / (elapsed_ns / (calls * batch) + _SUT_NS_PER_SAMPLE)

    def _no_peak(self, last: dict[str, Any], capacity: float) -> str:
        p99 = last["latency_ms_p99"]
        return (
            f"no server rate met the {self.settings.latency_bound_ms:g} ms bound: p99 "
            f"{'unknown' if p99 is None else f'{p99:.3g} ms'} even at {last['offered_qps']:.3g} QPS, "
            f"{last['offered_qps'] / capacity:.0%} of the rate of calls back to back"
        )


# What a peak search keeps of each probe.
_PROBE_KEYS = ("offered_qps", "validity", "invalid_reason", "latency_ms_p99", "samples_per_s")


def _recorded(
    result: dict[str, Any], sut: Sut, qps: float | None, batch: int, started: float
) -> dict[str, Any]:
    """A run's summary, with what the SUT saw: the offered rate, its calls by batch, padding."""
    wall_s = time.perf_counter() - started
    if result["samples_per_s"] is None and result["queries"]:  # multi-stream logs no rate: ours
        result["samples_per_s"] = result["queries"] * (result["samples_per_query"] or batch) / wall_s
        result["samples_per_s_from"] = "queries x samples per query over the test's wall time"
    result["offered_qps"] = qps
    result["calls_by_batch"] = {str(size): count for size, count in sorted(sut.batch_sizes.items())}
    result["padded_calls"] = sut.padded_calls
    return result


def measure(measurement: Measurement) -> array[int]:
    """Run the cell's LoadGen scenario (or its peak search); fill its figures; return the
    per-query latencies the SUT saw."""
    import mlperf_loadgen as lg

    job, figures = measurement.job, measurement.figures
    assert measurement.pool is not None and job.loadgen is not None, (
        "a LoadGen job has its settings and inputs"
    )
    run = LoadGenRun(
        lg,
        measurement.runner,
        measurement.pool,
        job,
        LoadGenSettings.from_job(job.loadgen),
        measurement.events,
    )
    directory = Path(job.result_path).parent / "loadgen"
    # LoadGen sleeps until each arrival; Linux's default 50 us timer slack would count as latency.
    # Set on this thread before LoadGen starts its own, which inherit it; recorded as read back.
    slack = probes.set_timer_slack_ns(1)
    threads_before = probes.thread_samples()
    cpu_before = probes.process_cpu_s()
    wall_start = time.perf_counter()
    if run.settings.find_peak:
        result, sut = run.find_peak(directory, measurement.per_call_ns)
    else:
        result, sut = run.calibrated(run.settings.target_qps, directory, measurement.per_call_ns)
    wall_s = time.perf_counter() - wall_start
    activity = probes.thread_activity(threads_before, probes.thread_samples(), wall_s)
    figures["timed_s"] = wall_s
    figures["cpu_percent"] = 100.0 * (probes.process_cpu_s() - cpu_before) / wall_s
    figures.update(probes.activity_figures(activity))
    result["timer_slack_ns"] = "unobserved" if slack is None else slack
    result["max_batch"] = job.batch_size if run.queues else None
    figures["loadgen_json"] = json.dumps(result, sort_keys=True, default=str)
    return sut.latencies_ns


def search_peak(valid: Callable[[float], bool], capacity: float) -> float | None:
    """The highest rate at which ``valid`` (one full LoadGen run) holds, to within 5 %.

    From half ``capacity`` (the rate of calls back to back: lower would cost most, as a probe
    lasts 1,024 queries at its rate), doubling while VALID, or dividing by 4 while INVALID, then
    bisecting the gap; no rate is probed twice. None when every rate tried down to a tenth of
    ``capacity`` is INVALID: there queueing adds little, the model's own tail is over the bound,
    and a slower probe would only last longer.
    """
    tried = 0

    def probe(qps: float) -> bool:
        nonlocal tried
        tried += 1
        return valid(qps)

    low = max(1.0, 0.5 * capacity)
    if probe(low):
        high = low * 2
        while tried < _MAX_PROBES and probe(high):
            low, high = high, high * 2
    else:
        while True:
            if low / 4 < _LOWEST_LOAD * capacity:
                return None
            low, high = low / 4, low
            if probe(low):
                break
    while high / low > 1 + _PEAK_PRECISION and tried < _MAX_PROBES:
        middle = math.sqrt(low * high)
        if probe(middle):
            low = middle
        else:
            high = middle
    return low

"""The tool's own loop: back-to-back calls, timed one by one, in chunks (single-stream: one
sample per call, in turn; offline: the cell's batch per call)."""

from __future__ import annotations

import math
import time
from array import array
from collections.abc import Callable
from typing import Any

import numpy as np

from runners import probes
from runners.scenarios import Measurement

# Target length of one chunk of the timed loop; progress is reported between chunks.
_CHUNK_S = 0.25


def time_calls(predict: Callable[[Any], Any], samples: list[Any], count: int, first: int = 0) -> array[int]:
    """Latency in ns of ``count`` back-to-back calls of ``predict``, cycling through ``samples``.

    Nothing but the call sits between the two clock reads: the sample is picked before the
    first read, the store happens after the second; no I/O, no allocation but the array.
    """
    clock = time.perf_counter_ns
    # An int64 array, not a list: a list would keep one int object (32 bytes) per call alive,
    # and at a million calls a second that is harness memory in the peak RSS.
    latencies = array("q", bytes(8 * count))
    n = len(samples)
    for i in range(count):
        x = samples[(first + i) % n]
        start = clock()
        predict(x)
        latencies[i] = clock() - start
    return latencies


def measure(measurement: Measurement) -> array[int]:
    """Time chunks of calls until both the minimum count and the minimum time are reached,
    or the maximum count, whichever comes first."""
    runner, job, samples, events = (
        measurement.runner,
        measurement.job,
        measurement.samples,
        measurement.events,
    )
    per_call_ns = max(measurement.per_call_ns, 1.0)
    latencies: array[int] = array("q")
    threads_before = probes.thread_samples()
    cpu_before = probes.process_cpu_s()
    wall_start = time.perf_counter()  # right after the CPU-time read: one window for both
    while True:
        elapsed = time.perf_counter() - wall_start
        remaining = job.min_iterations - len(latencies)
        if (remaining <= 0 and elapsed >= job.min_time_s) or len(latencies) >= job.max_iterations:
            break
        # Enough calls to reach whichever minimum is further away, a chunk at most.
        wanted = max(remaining, math.ceil((job.min_time_s - elapsed) * 1e9 / per_call_ns))
        wanted = min(wanted, job.max_iterations - len(latencies))
        # Re-sized every pass from the last chunk: a first call inflated by compilation must
        # not leave the loop reporting (and paying for a report) after every call.
        chunk = max(1, int(_CHUNK_S * 1e9 / per_call_ns))
        calls = time_calls(runner.predict, samples, max(1, min(chunk, wanted)), len(latencies))
        latencies.extend(calls)
        per_call_ns = max(float(np.median(np.frombuffer(calls, np.int64))), 1.0)
        elapsed = time.perf_counter() - wall_start
        events.emit(
            "progress",
            done=len(latencies),
            target=job.min_iterations,
            elapsed_s=elapsed,
            min_time_s=job.min_time_s,
            p50_ms=per_call_ns / 1e6,
            cpu_percent=100.0 * (probes.process_cpu_s() - cpu_before) / elapsed,
            peak_rss_mb=probes.peak_rss_mb(),
        )
    wall_s = time.perf_counter() - wall_start
    cpu_after = probes.process_cpu_s()
    activity = probes.thread_activity(threads_before, probes.thread_samples(), wall_s)
    figures = measurement.figures
    figures["timed_s"] = wall_s
    figures["cpu_percent"] = 100.0 * (cpu_after - cpu_before) / wall_s
    figures.update(probes.activity_figures(activity))
    return latencies

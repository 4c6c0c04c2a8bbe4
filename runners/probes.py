"""Process figures read by the runner about itself: memory phases, CPU time, threads."""

from __future__ import annotations

import ctypes
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

# Megabytes, as the column names say: 10^6 bytes (/proc counts in KiB, 1024 bytes).
_MB = 1_000_000
_KIB = 1024
_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def _status_kb(key: str) -> int:
    for line in _STATUS.read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(f"{key} not in {_STATUS}")


def rss_mb() -> float:
    """Resident set size now, in MB (10^6 bytes)."""
    return _status_kb("VmRSS") * _KIB / _MB


def reset_peak_rss() -> None:
    """Reset VmHWM to the current RSS, so the next read is the peak from now on (Linux 4.0+)."""
    _CLEAR_REFS.write_text("5")


def peak_rss_mb() -> float:
    """Peak resident set size since the last :func:`reset_peak_rss`, in MB: exact, not sampled."""
    return _status_kb("VmHWM") * _KIB / _MB


def unique_and_proportional_mb() -> tuple[float, float]:
    """USS and PSS now, in MB: memory only this process holds, and its fair share of the rest."""
    info = psutil.Process().memory_full_info()
    return info.uss / _MB, info.pss / _MB


_TASKS = Path("/proc/self/task")
_TICKS_PER_S = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class ThreadSample:
    """One thread at one moment: CPU seconds, involuntary context switches, allowed CPUs, and
    the seconds it has waited on a run queue (ready to run, no CPU free)."""

    cpu_s: float
    involuntary_switches: int
    cpus: str  # Cpus_allowed_list, as the tool writes CPU lists ("0,1,2")
    waited_s: float | None = None  # schedstat's run_delay; None where the kernel keeps none


def thread_samples() -> dict[int, ThreadSample]:
    """Every thread of this process, by thread id (threads that end while read are left out).

    Read from /proc/self/task: the process-wide figures of /proc/self/status count the main
    thread's context switches only, and say nothing of each thread's CPU mask.
    """
    samples = {}
    for task in _TASKS.iterdir():
        try:
            stat = (task / "stat").read_text()
            status = (task / "status").read_text()
        except OSError:
            continue
        tid = int(task.name)
        values = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        samples[tid] = ThreadSample(
            _thread_cpu_s(tid, stat),
            int(values.get("nonvoluntary_ctxt_switches", "0")),
            _comma_list(values.get("Cpus_allowed_list", "").strip()),
            _run_queue_wait_s(task),
        )
    return samples


def _run_queue_wait_s(task: Path) -> float | None:
    """Seconds thread ``task`` has spent runnable but waiting for a CPU: the second field of
    its schedstat ("run ns, wait ns, timeslices"; CONFIG_SCHED_INFO, on in distribution kernels)."""
    try:
        return int((task / "schedstat").read_text().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return None


def _thread_cpu_s(tid: int, stat: str) -> float:
    """CPU seconds of thread ``tid``, in nanoseconds' resolution where the kernel allows.

    Linux gives every thread a CPU-time clock, ``((~tid) << 3) | CPUCLOCK_PERTHREAD |
    CPUCLOCK_SCHED`` (include/linux/posix-timers.h); /proc's utime and stime count 10 ms ticks,
    too coarse for a short timed loop, and are the fallback.
    """
    try:
        return time.clock_gettime_ns(((~tid) << 3) | 6) / 1e9
    except OSError:
        fields = stat.rsplit(")", 1)[1].split()  # after "(comm)", which may hold spaces
        return (int(fields[11]) + int(fields[12])) / _TICKS_PER_S


def _comma_list(ranges: str) -> str:
    """The kernel's "0-2,5" as the tool writes CPU lists: "0,1,2,5"."""
    cpus: list[str] = []
    for part in filter(None, ranges.split(",")):
        low, _, high = part.partition("-")
        cpus += [str(cpu) for cpu in range(int(low), int(high or low) + 1)]
    return ",".join(cpus)


@dataclass(frozen=True)
class ThreadActivity:
    """What the threads did between two :func:`thread_samples`."""

    busy_threads: int  # threads that were on a CPU for at least a tenth of the window
    involuntary_switches: int  # summed over every thread
    affinity: str  # every thread's CPU mask, or the masks that differ ("3 | 0,1 on 2 threads")
    cpus: str = ""  # every CPU any thread may run on: the union of their masks, "0,1"
    # Seconds the busy threads waited, runnable, for a CPU (None: the kernel keeps no schedstat,
    # or no thread was busy -- a LoadGen server at a light load -- so nothing can be judged).
    # The busy ones only: a thread that sleeps until an event (LoadGen's issuer, a watchdog)
    # queues behind the computing threads of its own process each time it wakes.
    busy_waited_s: float | None = None


def thread_activity(
    before: dict[int, ThreadSample], after: dict[int, ThreadSample], wall_s: float
) -> ThreadActivity:
    """Compare two snapshots over a window of ``wall_s`` seconds."""
    busy = 0
    switches = 0
    waited: float | None = 0.0
    for tid, now in after.items():
        then = before.get(tid, ThreadSample(0.0, 0, now.cpus, 0.0))
        if now.cpu_s - then.cpu_s >= 0.1 * wall_s:
            busy += 1
            if waited is not None and now.waited_s is not None and then.waited_s is not None:
                waited += now.waited_s - then.waited_s
            else:
                waited = None
        switches += now.involuntary_switches - then.involuntary_switches
    union = sorted({int(cpu) for sample in after.values() for cpu in filter(None, sample.cpus.split(","))})
    masks: dict[str, int] = {}
    for sample in after.values():
        masks[sample.cpus] = masks.get(sample.cpus, 0) + 1
    if len(masks) == 1:
        affinity = next(iter(masks))
    else:
        affinity = " | ".join(
            f"{mask} on {count} thread{'s' if count > 1 else ''}" for mask, count in masks.items()
        )
    return ThreadActivity(busy, switches, affinity, ",".join(map(str, union)), waited if busy else None)


def activity_figures(activity: ThreadActivity) -> dict[str, Any]:
    """The result's columns for what the threads did over the timed window: observed, not
    echoed -- the threads that computed, every thread's CPU mask and their union (a runner
    may narrow its own mask, as JAX's does to hold its pool to --threads), the context
    switches of all of them (the process's own counter holds the main thread's) and the time
    the computing threads waited for a CPU."""
    return {
        "threads_observed": activity.busy_threads,
        "affinity_observed": activity.affinity,
        "cpus_observed": activity.cpus or None,
        "ctx_switches_involuntary": activity.involuntary_switches,
        "cpu_wait_s": activity.busy_waited_s,
    }


def process_cpu_s() -> float:
    """CPU time of every thread of this process, in seconds (CLOCK_PROCESS_CPUTIME_ID: ns
    resolution; psutil's cpu_times() counts in 10 ms scheduler ticks, too coarse for a short loop)."""
    return time.process_time()


def loaded_top_level_modules() -> list[str]:
    """The top-level packages this process has imported (blocked ones, set to None, left out)."""
    return sorted({name.split(".")[0] for name, module in sys.modules.items() if module is not None})


def os_thread_count() -> int:
    """Threads in this process, as the kernel counts them."""
    return int(psutil.Process().num_threads())


_PR_SET_TIMERSLACK = 29
_PR_GET_TIMERSLACK = 30
_TIMERSLACK = Path("/proc/self/timerslack_ns")


def set_timer_slack_ns(ns: int, libc: Any = None) -> int | None:
    """Ask for ``ns`` of timer slack on the calling thread (threads it starts inherit it), and
    return the slack read back: PR_GET_TIMERSLACK, else /proc/self/timerslack_ns (the main
    thread's, Linux 4.6+). None when neither can be read. The return value of the set says only
    that the call was accepted, not what the thread runs with."""
    libc = libc if libc is not None else ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_TIMERSLACK, ns, 0, 0, 0)
    found = int(libc.prctl(_PR_GET_TIMERSLACK, 0, 0, 0, 0))
    if found >= 0:
        return found
    try:
        return int(_TIMERSLACK.read_text())
    except (OSError, ValueError):
        return None

"""Process figures read by the runner about itself: memory phases, CPU time, threads."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

_MB = 1024 * 1024
_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def _status_kb(key: str) -> int:
    for line in _STATUS.read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(f"{key} not in {_STATUS}")


def rss_mb() -> float:
    """Resident set size now, in MB."""
    return _status_kb("VmRSS") / 1024


def reset_peak_rss() -> None:
    """Reset VmHWM to the current RSS, so the next read is the peak from now on (Linux 4.0+)."""
    _CLEAR_REFS.write_text("5")


def peak_rss_mb() -> float:
    """Peak resident set size since the last :func:`reset_peak_rss`, in MB: exact, not sampled."""
    return _status_kb("VmHWM") / 1024


def unique_and_proportional_mb() -> tuple[float, float]:
    """USS and PSS now, in MB: memory only this process holds, and its fair share of the rest."""
    info = psutil.Process().memory_full_info()
    return info.uss / _MB, info.pss / _MB


@dataclass(frozen=True)
class CpuSnapshot:
    """CPU time and involuntary context switches of this process at one moment."""

    cpu_s: float
    involuntary_switches: int

    @classmethod
    def take(cls, cpu_first: bool = False) -> CpuSnapshot:
        """Read both; the CPU time last (first with ``cpu_first``), next to the wall-clock read.

        CLOCK_PROCESS_CPUTIME_ID: all threads, ns resolution. psutil's cpu_times() counts in
        scheduler ticks (10 ms), too coarse for a short timed loop.
        """
        if cpu_first:
            cpu_s = time.process_time()
            return cls(cpu_s, psutil.Process().num_ctx_switches().involuntary)
        switches = psutil.Process().num_ctx_switches().involuntary
        return cls(time.process_time(), switches)


def loaded_top_level_modules() -> list[str]:
    """The top-level packages this process has imported (blocked ones, set to None, left out)."""
    return sorted({name.split(".")[0] for name, module in sys.modules.items() if module is not None})


def os_thread_count() -> int:
    """Threads in this process, as the kernel counts them."""
    return int(psutil.Process().num_threads())

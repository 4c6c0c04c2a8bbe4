"""What the machine is, read from the process and the kernel, never assumed: the CPUs this process
may run on, the cpufreq governor and boost switches, the timer's resolution, and the memory it
may still take.

Memory: the least of the machine's available memory, the address-space and data limits set on
the process (RLIMIT_AS, RLIMIT_DATA: ``ulimit -v``, ``prlimit``, a batch system's) and its
cgroup's memory limit -- each read, none assumed. A run's inputs are made and written in this
process, and its runners inherit the limits, so a plan whose inputs cannot fit is refused before
anything is written.
"""

from __future__ import annotations

import os
import resource
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

import psutil

_MB = 2**20


@dataclass(frozen=True)
class MemoryBudget:
    """The bytes still available and, in words, every limit that was read (the least first)."""

    available_bytes: int
    limits: tuple[str, ...]

    def describe(self) -> str:
        """``1,962 MB available (RLIMIT_AS 3,072 MB less the 1,110 MB this process maps; ...)``."""
        return f"{self.available_bytes / _MB:,.0f} MB available ({'; '.join(self.limits)})"


def memory_budget() -> MemoryBudget:
    """The memory this process may still allocate, and what limits it."""
    found = [(int(psutil.virtual_memory().available), "the machine's available memory")]
    status = _proc_status()
    for name, which, used_key, used_words in (
        ("RLIMIT_AS", resource.RLIMIT_AS, "VmSize", "maps"),
        ("RLIMIT_DATA", resource.RLIMIT_DATA, "VmData", "holds as data"),
    ):
        soft, _ = resource.getrlimit(which)
        if soft != resource.RLIM_INFINITY and soft >= 0:
            used = status.get(used_key, 0)
            words = f"{name} {soft / _MB:,.0f} MB less the {used / _MB:,.0f} MB this process {used_words}"
            found.append((max(0, soft - used), words))
    cgroup = _cgroup_headroom()
    if cgroup is not None:
        found.append(cgroup)
    found.sort(key=lambda item: item[0])
    limits = tuple(f"{words}: {available / _MB:,.0f} MB" for available, words in found)
    return MemoryBudget(found[0][0], limits)


def _proc_status() -> dict[str, int]:
    """VmSize, VmData, ... of this process from /proc/self/status, in bytes."""
    sizes: dict[str, int] = {}
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        return sizes
    for line in text.splitlines():
        key, _, value = line.partition(":")
        parts = value.split()
        if len(parts) == 2 and parts[1] == "kB" and parts[0].isdigit():
            sizes[key] = int(parts[0]) * 1024
    return sizes


def _cgroup_headroom() -> tuple[int, str] | None:
    """(limit - usage, words) of this process's memory cgroup, v2 or v1; None when unlimited
    or unreadable."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controllers == "":  # cgroup v2
            found = _cgroup_files(Path("/sys/fs/cgroup") / path.lstrip("/"), "memory.max", "memory.current")
        elif "memory" in controllers.split(","):
            base = Path("/sys/fs/cgroup/memory")
            found = _cgroup_files(base / path.lstrip("/"), "memory.limit_in_bytes", "memory.usage_in_bytes")
            found = found or _cgroup_files(base, "memory.limit_in_bytes", "memory.usage_in_bytes")
        else:
            continue
        if found is not None:
            limit, usage = found
            words = f"the cgroup's limit {limit / _MB:,.0f} MB less its {usage / _MB:,.0f} MB in use"
            return max(0, limit - usage), words
    return None


# A cgroup v1 "no limit" is the largest page-aligned 64-bit number; anything above this is none.
_NO_LIMIT = 2**60


def _cgroup_files(directory: Path, limit_name: str, usage_name: str) -> tuple[int, int] | None:
    try:
        limit_text = (directory / limit_name).read_text().strip()
        usage = int((directory / usage_name).read_text().strip())
    except (OSError, ValueError):
        return None
    if not limit_text.isdigit() or int(limit_text) >= _NO_LIMIT:
        return None
    return int(limit_text), usage


_CPU_SYSFS = Path("/sys/devices/system/cpu")


class CpufreqState(TypedDict):
    """CPU frequency settings as sysfs shows them; None when a file is absent or unreadable."""

    governor: str | None  # cpu0's scaling_governor, e.g. "performance", "powersave"
    boost: bool | None  # cpufreq/boost (acpi-cpufreq, amd-pstate): True = boost allowed
    no_turbo: bool | None  # intel_pstate/no_turbo: True = turbo disabled


def read_cpufreq_state(root: Path = _CPU_SYSFS) -> CpufreqState:
    """Read the governor and boost/turbo switches under ``root`` (``/sys/devices/system/cpu``).

    Virtual machines usually expose none of these files; every value is then None.
    """
    return {
        "governor": _read_text(root / "cpu0" / "cpufreq" / "scaling_governor"),
        "boost": _read_flag(root / "cpufreq" / "boost"),
        "no_turbo": _read_flag(root / "intel_pstate" / "no_turbo"),
    }


def perf_counter_resolution_s() -> float:
    """Resolution of the clock the runners time calls with (``time.perf_counter_ns``)."""
    return time.get_clock_info("perf_counter").resolution


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text().strip() or None
    except (OSError, UnicodeDecodeError):
        return None


def _read_flag(path: Path) -> bool | None:
    return {"1": True, "0": False}.get(_read_text(path) or "")


def allowed_cpus() -> tuple[int, ...]:
    """CPUs this process may run on (its affinity mask), sorted."""
    return tuple(sorted(os.sched_getaffinity(0)))


@dataclass(frozen=True)
class MachineState:
    """What the summary judges a cell's figures against, read from the machine by the caller
    (once per save of the run's tables), never in the middle of summarising."""

    cpufreq: CpufreqState
    clock_resolution_s: float

    @classmethod
    def read(cls) -> MachineState:
        """The machine as it is now."""
        return cls(read_cpufreq_state(), perf_counter_resolution_s())


@dataclass(frozen=True)
class CpuInfo:
    """What /proc/cpuinfo and sysfs say of the CPU: enough to derive its theoretical peak.

    ``clock_mhz`` is cpufreq's ``cpuinfo_max_freq`` (the highest clock the kernel knows, boost
    included) where sysfs has it, else /proc/cpuinfo's ``cpu MHz`` (the clock at the moment of
    reading; in a virtual machine usually the host's nominal clock); ``clock_source`` says which.
    ``cores`` maps each CPU to its physical core (package, core id), so that two SMT siblings,
    which share one core's vector units, count once.
    """

    model: str
    vendor: str
    family: int | None
    flags: frozenset[str]
    clock_mhz: float | None
    clock_source: str
    cores: dict[int, tuple[int, int]]

    def physical_cores(self, cpus: tuple[int, ...] | list[int]) -> int:
        """Distinct physical cores among ``cpus`` (a CPU of unknown topology counts as its own)."""
        return len({self.cores.get(cpu, (-1, cpu)) for cpu in cpus})


def read_cpu_info(cpuinfo: Path = Path("/proc/cpuinfo"), root: Path = _CPU_SYSFS) -> CpuInfo:
    """The CPU as /proc/cpuinfo (its first processor's block) and sysfs describe it."""
    fields: dict[str, str] = {}
    try:
        text = cpuinfo.read_text()
    except OSError:
        text = ""
    for line in text.split("\n\n", 1)[0].splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    family = fields.get("cpu family", "")
    max_khz = _read_text(root / "cpu0" / "cpufreq" / "cpuinfo_max_freq")
    clock: float | None
    if max_khz and max_khz.isdigit():
        clock, source = int(max_khz) / 1000.0, "cpufreq cpuinfo_max_freq"
    else:
        mhz = _to_float(fields.get("cpu MHz"))
        clock, source = mhz, "/proc/cpuinfo cpu MHz (no cpufreq in sysfs)" if mhz else "unknown"
    return CpuInfo(
        model=fields.get("model name", ""),
        vendor=fields.get("vendor_id", ""),
        family=int(family) if family.isdigit() else None,
        flags=frozenset(fields.get("flags", "").split()),
        clock_mhz=clock,
        clock_source=source,
        cores={cpu: _core_of(root, cpu) for cpu in allowed_cpus()},
    )


def _to_float(text: str | None) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None


def _core_of(root: Path, cpu: int) -> tuple[int, int]:
    """(package, core id) of ``cpu`` from sysfs topology; (-1, cpu) where unreadable."""
    topology = root / f"cpu{cpu}" / "topology"
    package, core = _read_text(topology / "physical_package_id"), _read_text(topology / "core_id")
    if package is None or core is None:
        return (-1, cpu)
    try:
        return (int(package), int(core))
    except ValueError:
        return (-1, cpu)

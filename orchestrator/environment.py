"""Host and version metadata, recorded with every run. Reads package metadata, imports nothing."""

from __future__ import annotations

import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import psutil

from orchestrator.plan import allowed_cpus

# Distributions whose version can change a figure. Read from their metadata: importing a
# framework here would defeat the point of isolating it.
_PACKAGES = (
    "numpy",
    "pyarrow",
    "psutil",
    "rich",
    "onnx",
    "torch",
    "tensorflow-cpu",
    "tensorflow",
    "keras",
    "jax",
    "jaxlib",
    "onnxruntime",
    "openvino",
)


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return None


def _cpu_model() -> str:
    for line in (_read("/proc/cpuinfo") or "").splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def package_versions() -> dict[str, str | None]:
    """Installed version of each relevant distribution, None when absent."""
    versions: dict[str, str | None] = {}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def describe_environment() -> dict[str, Any]:
    """Everything about this machine and software that a reader needs to trust a figure."""
    return {
        "host": {
            "hostname": platform.node(),
            "cpu_model": _cpu_model(),
            "logical_cpus": psutil.cpu_count(logical=True),
            "physical_cpus": psutil.cpu_count(logical=False),
            "allowed_cpus": list(allowed_cpus()),
            "memory_total_mb": psutil.virtual_memory().total / 2**20,
            "kernel": platform.release(),
            "machine": platform.machine(),
            "cpufreq_governor": _read("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"),
            "cpufreq_boost": _read("/sys/devices/system/cpu/cpufreq/boost"),
            "load_average": list(psutil.getloadavg()),
        },
        "python": {"version": sys.version, "executable": sys.executable},
        "packages": package_versions(),
    }

"""Host and version metadata, recorded with every run. Reads package metadata, imports nothing."""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import psutil

from orchestrator import PROJECT_ROOT
from orchestrator.host import allowed_cpus, read_cpufreq_state
from runners.registry import FRAMEWORKS

# Distributions whose version can change a figure: the parent's own, then each framework's
# (its registry record's ``recorded``). Read from their metadata: importing a framework here
# would defeat the point of isolating it.
_PACKAGES = (
    "numpy",
    "pyarrow",
    "psutil",
    "rich",
    "onnx",
    *(name for framework in FRAMEWORKS.values() for name in framework.recorded),
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


# The instruction-set extensions that decide what bf16 and int8 gain on x86: AVX2 and FMA (the
# floor), AVX-512 and its VNNI (int8 dot products) and BF16, AVX-VNNI (the AVX2-width VNNI),
# and AMX's tiles (bf16 and int8 matrix multiplies). As the kernel names them in /proc/cpuinfo.
PRECISION_FEATURES = (
    "avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "avx512_fp16",
    "amx_tile", "amx_bf16", "amx_int8",
)  # fmt: skip


def _cpu_features() -> list[str]:
    """Which of :data:`PRECISION_FEATURES` the CPU has (its first processor's flags)."""
    for line in (_read("/proc/cpuinfo") or "").splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            return [feature for feature in PRECISION_FEATURES if feature in flags]
    return []


def package_versions() -> dict[str, str | None]:
    """Installed version of each relevant distribution, None when absent."""
    versions: dict[str, str | None] = {}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def host_fingerprint(host: dict[str, Any]) -> str:
    """A short hash of what makes two hosts' figures comparable: the hardware and its share.

    Software versions are left out on purpose: a framework upgrade or a code change is what a
    comparison between runs is meant to reveal, not a reason to refuse it.
    """
    identity = {
        "cpu_model": host["cpu_model"],
        "logical_cpus": host["logical_cpus"],
        "allowed_cpus": host["allowed_cpus"],
        "memory_total_gb": round(host["memory_total_mb"] / 1024),
        "machine": host["machine"],
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]


def _git_commit() -> str | None:
    """The project's commit, with ``+dirty`` when the work tree has changes; None outside git."""
    try:
        commit = subprocess.run(
            ["git", "-C", str(PROJECT_ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10
        )
        status = subprocess.run(
            ["git", "-C", str(PROJECT_ROOT), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if commit.returncode != 0:
        return None
    return commit.stdout.strip() + ("+dirty" if status.stdout.strip() else "")


def _file_sha256(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def describe_environment(config_path: Path | None = None) -> dict[str, Any]:
    """Everything about this machine and software that a reader needs to trust a figure.

    ``fingerprint`` decides which earlier runs a run can be compared with.
    """
    host = _describe_host()
    return {
        "host": host,
        "fingerprint": host_fingerprint(host),
        "python": {"version": sys.version, "executable": sys.executable},
        "packages": package_versions(),
        "git_commit": _git_commit(),
        "constraints_sha256": _file_sha256(PROJECT_ROOT / "constraints.txt"),
        "config": None
        if config_path is None
        else {"path": str(config_path), "sha256": _file_sha256(config_path), "text": config_path.read_text()},
    }


def _describe_host() -> dict[str, Any]:
    return {
        "hostname": platform.node(),
        "cpu_model": _cpu_model(),
        "cpu_features": _cpu_features(),  # what bf16 and int8 kernels can use here
        "logical_cpus": psutil.cpu_count(logical=True),
        "physical_cpus": psutil.cpu_count(logical=False),
        "allowed_cpus": list(allowed_cpus()),
        "memory_total_mb": psutil.virtual_memory().total / 2**20,
        "kernel": platform.release(),
        "machine": platform.machine(),
        "load_average": list(psutil.getloadavg()),
        "cpufreq": dict(read_cpufreq_state()),
    }

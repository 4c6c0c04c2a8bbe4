"""The environment record and the fingerprint that decides which runs are comparable."""

import json
import os
import platform
from pathlib import Path

from orchestrator.execute.run_record import PRECISION_FEATURES, describe_environment, host_fingerprint


def _proc_field(path: str, key: str) -> str:
    """A field of a /proc file, read here apart from the orchestrator's own readers."""
    for line in Path(path).read_text().splitlines():
        if line.startswith(key):
            return line.split(":", 1)[1].strip()
    raise KeyError(key)


def test_the_host_record_is_this_machine() -> None:
    """The fields the fingerprint hashes, each against a source of this test's own."""
    host = describe_environment()["host"]
    assert host["cpu_model"] == _proc_field("/proc/cpuinfo", "model name")
    assert host["logical_cpus"] == os.cpu_count()
    assert host["allowed_cpus"] == sorted(os.sched_getaffinity(0))
    mem_total_kib = int(_proc_field("/proc/meminfo", "MemTotal").split()[0])
    assert round(host["memory_total_mb"]) == round(mem_total_kib / 1024)
    assert host["machine"] == platform.machine()
    flags = set(_proc_field("/proc/cpuinfo", "flags").split())
    assert set(host["cpu_features"]) == flags & set(PRECISION_FEATURES)  # what bf16/int8 kernels can use


def test_the_fingerprint_follows_the_hardware_not_the_software() -> None:
    environment = describe_environment()
    host = environment["host"]
    fingerprint = environment["fingerprint"]
    assert isinstance(fingerprint, str) and len(fingerprint) == 16 and int(fingerprint, 16) >= 0
    assert describe_environment()["fingerprint"] == fingerprint  # the same machine, read again
    # Every hardware field changes it ...
    one_more_cpu = [*host["allowed_cpus"], max(host["allowed_cpus"]) + 1]
    for change in (
        {"cpu_model": "another CPU"},
        {"logical_cpus": host["logical_cpus"] + 1},
        {"allowed_cpus": one_more_cpu},
        {"memory_total_mb": host["memory_total_mb"] + 4096},
        {"machine": "aarch64" if host["machine"] != "aarch64" else "x86_64"},
    ):
        assert host_fingerprint(host | change) != fingerprint, change
    # ... while load and kernel come and go between nights: they do not make runs incomparable.
    assert host_fingerprint(host | {"load_average": [9, 9, 9], "kernel": "other"}) == fingerprint


def test_the_record_names_versions_commit_and_constraints() -> None:
    environment = describe_environment()
    assert environment["packages"]["numpy"] and environment["packages"]["pyarrow"]
    assert environment["constraints_sha256"] and len(environment["constraints_sha256"]) == 64
    assert environment["git_commit"] is None or len(environment["git_commit"].split("+")[0]) == 40
    json.dumps(environment)  # it is written as environment.json

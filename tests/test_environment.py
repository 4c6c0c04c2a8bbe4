"""The environment record and the fingerprint that decides which runs are comparable."""

import json

from orchestrator.environment import describe_environment, host_fingerprint


def test_the_fingerprint_follows_the_hardware_not_the_software() -> None:
    environment = describe_environment()
    host = environment["host"]
    assert environment["fingerprint"] == host_fingerprint(host)
    assert host_fingerprint(dict(host)) == host_fingerprint(host)  # stable
    assert host_fingerprint(host | {"cpu_model": "another CPU"}) != host_fingerprint(host)
    one_more_cpu = [*host["allowed_cpus"], max(host["allowed_cpus"]) + 1]
    assert host_fingerprint(host | {"allowed_cpus": one_more_cpu}) != host_fingerprint(host)
    # Load and kernel come and go between nights; they do not make runs incomparable.
    assert host_fingerprint(host | {"load_average": [9, 9, 9], "kernel": "other"}) == host_fingerprint(host)


def test_the_record_names_versions_commit_and_constraints() -> None:
    environment = describe_environment()
    assert environment["packages"]["numpy"] and environment["packages"]["pyarrow"]
    assert environment["constraints_sha256"] and len(environment["constraints_sha256"]) == 64
    assert environment["git_commit"] is None or len(environment["git_commit"].split("+")[0]) == 40
    json.dumps(environment)  # it is written as environment.json

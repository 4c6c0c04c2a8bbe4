"""The test suite's fault runners are the test suite's alone: a user's run cannot name them."""

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from conftest import FAKE_RUNNERS, PROJECT_ROOT
from runners.registry import EXTRA_RUNNERS_VARIABLE, FRAMEWORKS, TOOLS, all_runners


def plain_env() -> dict[str, str]:
    """This process's environment without what the test suite adds: a user's shell."""
    env = {name: value for name, value in os.environ.items() if name != EXTRA_RUNNERS_VARIABLE}
    return {**env, "PYTHONPATH": str(PROJECT_ROOT)}


@pytest.mark.parametrize("name", ["fake", "fake-kill-orchestrator", "fak"])
def test_a_users_run_cannot_name_a_fake(tmp_path: Path, name: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "orchestrator", "--frameworks", name, "--quiet"],
        cwd=tmp_path,
        env=plain_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert f"unknown name {name!r}" in proc.stderr and "--frameworks" in proc.stderr
    said = proc.stderr.split("did you mean", 1)
    assert len(said) == 1 or "fake" not in said[1], proc.stderr
    assert not (tmp_path / "results").exists()  # nothing written


def test_only_the_named_file_registers_runners(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(EXTRA_RUNNERS_VARIABLE)
    assert set(all_runners()) == set(FRAMEWORKS) | set(TOOLS)
    monkeypatch.setenv(EXTRA_RUNNERS_VARIABLE, str(FAKE_RUNNERS))
    assert {"fake", "fake-kill-orchestrator"} <= set(all_runners())


def test_a_new_framework_is_its_registry_record(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every fact the parent and the worker need about a framework comes from its one record:
    one added with a family and the formats it reads is no tool that runs anything."""
    from orchestrator.plan.workloads import Workload, builtin, ruled_out
    from runners.registry import Framework, frameworks_reading, inspector_of
    from runners.threads import runner_env

    record = Framework("nowhere:NewRunner", family="onnx", reads=("onnx",), keras_backend="jax")
    monkeypatch.setitem(FRAMEWORKS, "newrt", record)
    model = builtin("mlp").model
    keras_file = Workload("mine", "file", model, source=(Path("mine.keras"), "keras"))
    onnx_file = Workload("mine", "file", model, source=(Path("mine.onnx"), "onnx"))
    assert ruled_out("newrt", keras_file) == "a .keras model runs in tensorflow, jax only"
    assert ruled_out("newrt", onnx_file) is None
    assert frameworks_reading("onnx") == ("onnxruntime", "openvino", "newrt")
    assert runner_env("newrt", 1, "/nowhere")["KERAS_BACKEND"] == "jax"
    assert inspector_of("pt2") == "pytorch" and inspector_of("onnx") is None  # the parent reads ONNX


def test_every_shipped_framework_says_what_it_builds_and_reads() -> None:
    """Without a family a framework would be taken for a tool that runs any model."""
    for name, record in FRAMEWORKS.items():
        assert record.family is not None, name
        assert record.reads, name
    assert all(record.family is None for record in TOOLS.values())


def test_each_frameworks_extra_names_the_distributions_of_its_environment() -> None:
    """``pip install .[NAME]`` (for --environment current) installs what the tool's own
    environment for NAME holds: the record's ``requires``, no more and no fewer."""
    extras = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    for name, framework in FRAMEWORKS.items():
        named = {_distribution(requirement) for requirement in extras[name]}
        assert named == {_distribution(r) for r in framework.requires}, name


def _distribution(requirement: str) -> str:
    """A requirement's distribution name, normalised as PyPI does (PEP 503)."""
    return re.sub(r"[-_.]+", "-", re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0]).lower()

"""Framework name -> "module:Class" of its runner. Nothing is imported here.

A new framework is one module under ``runners/`` plus one line in ``FRAMEWORKS``.
"""

from __future__ import annotations

import importlib

# The frameworks a benchmark runs by default, in the order they run.
FRAMEWORKS: dict[str, str] = {
    "pytorch": "runners.pytorch:PyTorchRunner",
    "tensorflow": "runners.tensorflow:TensorFlowRunner",
    "jax": "runners.jax:JaxRunner",
    "onnxruntime": "runners.onnxruntime:OnnxRuntimeRunner",
    "openvino": "runners.openvino:OpenVinoRunner",
}

# Runners a user may add to a run: the harness's own cost per call.
TOOLS: dict[str, str] = {
    "noop": "runners.noop:NoopRunner",
}

# The faults the fake runner can be told to commit, as framework "fake-<fault>".
FAKE_FAULTS = ("raise", "segfault", "oom-kill", "hang", "exit", "garbage", "import-error", "diverge")

# Runners that need no framework: the test suite's stand-in, well-behaved or with one fault.
TEST_RUNNERS: dict[str, str] = {
    "fake": "runners.fake:FakeRunner",
    **{f"fake-{fault}": f"runners.fake:FAULTY_RUNNERS.{fault}" for fault in FAKE_FAULTS},
}

ALL_RUNNERS: dict[str, str] = {**FRAMEWORKS, **TOOLS, **TEST_RUNNERS}


def load_runner_class(name: str) -> type:
    """Import and return the runner class registered as ``name`` (worker process only)."""
    module_name, attribute = ALL_RUNNERS[name].split(":")
    target: object = importlib.import_module(module_name)
    for part in attribute.split("."):  # "Class", or "MAPPING.key"
        target = target[part] if isinstance(target, dict) else getattr(target, part)
    assert isinstance(target, type)
    return target

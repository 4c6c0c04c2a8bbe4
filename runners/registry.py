"""Framework name -> its runner class ("module:Class"), the distributions its environment holds,
and the top-level modules that are its own. Nothing is imported here.

A new framework is one module under ``runners/`` plus one entry in ``FRAMEWORKS``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Framework:
    """One framework as the orchestrator knows it."""

    runner: str  # "module:Class" of its Runner, imported only in the worker
    # Distributions of its own environment, besides what every runner needs (RUNNER_REQUIRES);
    # versions come from constraints.txt. Model libraries live with the framework that uses them.
    requires: tuple[str, ...] = ()
    # Its top-level modules: a runner blocks every other framework's from being imported.
    modules: tuple[str, ...] = ()
    # The distributions that ``framework@VERSION`` sets to VERSION (default: the first required).
    versioned: tuple[str, ...] = ()

    @property
    def versioned_distributions(self) -> tuple[str, ...]:
        return self.versioned or self.requires[:1]


# What the runner itself imports in every environment: arrays, results, process figures, weights,
# and MLPerf LoadGen for its scenarios (imported only by those).
RUNNER_REQUIRES = ("numpy", "pyarrow", "psutil", "safetensors", "mlcommons-loadgen")

# The frameworks a benchmark runs by default, in the order they run.
FRAMEWORKS: dict[str, Framework] = {
    "pytorch": Framework(
        "runners.pytorch:PyTorchRunner",
        requires=("torch", "transformers", "onnx", "onnxscript"),  # onnx*: the tool's ONNX export
        modules=("torch", "torchvision", "transformers"),
    ),
    "tensorflow": Framework(
        "runners.tensorflow:TensorFlowRunner",
        requires=("tensorflow-cpu", "keras-hub"),
        modules=("tensorflow", "tensorflow_text", "tf_keras", "keras", "keras_hub"),
    ),
    "jax": Framework(
        "runners.jax:JaxRunner",
        requires=("jax", "jaxlib", "keras-hub"),
        modules=("jax", "jaxlib", "keras", "keras_hub"),  # Keras on its jax backend for the zoo
        versioned=("jax", "jaxlib"),  # released in lockstep
    ),
    "onnxruntime": Framework(
        "runners.onnxruntime:OnnxRuntimeRunner", requires=("onnxruntime",), modules=("onnxruntime",)
    ),
    "openvino": Framework("runners.openvino:OpenVinoRunner", requires=("openvino",), modules=("openvino",)),
}

# Runners a user may add to a run: the harness's own cost per call. They need no framework and
# run in the orchestrator's own interpreter.
TOOLS: dict[str, Framework] = {
    "noop": Framework("runners.noop:NoopRunner"),
}

# The faults the fake runner can be told to commit, as framework "fake-<fault>".
FAKE_FAULTS = (
    "raise", "segfault", "oom-kill", "hang", "exit", "garbage", "import-error", "diverge",
    "extra-threads",  # computes on a second thread of its own, beyond --threads
    "kill-orchestrator",  # SIGKILLs the orchestrator that started it: a job's process lost
)  # fmt: skip

# Runners that need no framework: the test suite's stand-in, well-behaved or with one fault.
TEST_RUNNERS: dict[str, Framework] = {
    "fake": Framework("runners.fake:FakeRunner"),
    **{f"fake-{fault}": Framework(f"runners.fake:FAULTY_RUNNERS.{fault}") for fault in FAKE_FAULTS},
}

ALL_RUNNERS: dict[str, Framework] = {**FRAMEWORKS, **TOOLS, **TEST_RUNNERS}


def other_frameworks_modules(name: str) -> tuple[str, ...]:
    """The top-level modules of every framework but ``name``, and not its own: what its runner
    blocks (Keras is TensorFlow's and JAX's both)."""
    own = set(ALL_RUNNERS[name].modules)
    others = (module for other, fw in FRAMEWORKS.items() if other != name for module in fw.modules)
    return tuple(dict.fromkeys(module for module in others if module not in own))


def load_runner_class(name: str) -> type:
    """Import and return the runner class registered as ``name`` (worker process only)."""
    module_name, attribute = ALL_RUNNERS[name].runner.split(":")
    target: object = importlib.import_module(module_name)
    for part in attribute.split("."):  # "Class", or "MAPPING.key"
        target = target[part] if isinstance(target, dict) else getattr(target, part)
    assert isinstance(target, type)
    return target

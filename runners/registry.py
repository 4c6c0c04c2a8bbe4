"""Framework name -> its runner class ("module:Class"), the distributions its environment holds,
and the top-level modules that are its own. Nothing is imported here.

A new framework is one module under ``runners/frameworks/`` plus one entry in ``FRAMEWORKS``. The test
suite's fakes are not here: tests/fake_runners.py registers them, through EXTRA_RUNNERS_VARIABLE.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import os
import sys
from dataclasses import dataclass
from pathlib import Path


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
        "runners.frameworks.pytorch:PyTorchRunner",
        requires=("torch", "transformers", "onnx", "onnxscript"),  # onnx*: the tool's ONNX export
        modules=("torch", "torchvision", "transformers"),
    ),
    "tensorflow": Framework(
        "runners.frameworks.tensorflow:TensorFlowRunner",
        requires=("tensorflow-cpu", "keras-hub"),
        modules=("tensorflow", "tensorflow_text", "tf_keras", "keras", "keras_hub"),
    ),
    "jax": Framework(
        "runners.frameworks.jax:JaxRunner",
        requires=("jax", "jaxlib", "keras-hub"),
        modules=("jax", "jaxlib", "keras", "keras_hub"),  # Keras on its jax backend for the zoo
        versioned=("jax", "jaxlib"),  # released in lockstep
    ),
    "onnxruntime": Framework(
        "runners.frameworks.onnxruntime:OnnxRuntimeRunner",
        requires=("onnxruntime",),
        modules=("onnxruntime",),
    ),
    "openvino": Framework(
        "runners.frameworks.openvino:OpenVinoRunner", requires=("openvino",), modules=("openvino",)
    ),
}

# Runners a user may add to a run: the harness's own cost per call. They need no framework and
# run in the orchestrator's own interpreter.
TOOLS: dict[str, Framework] = {
    "noop": Framework("runners.frameworks.noop:NoopRunner"),
}

# Names of Python files (separated by os.pathsep) that register more runners, each through a
# ``RUNNERS`` dict of name -> Framework. Only the test suite sets it, for its fault-injecting
# fakes: a user's run knows the frameworks and the tools, and nothing that could harm the run.
EXTRA_RUNNERS_VARIABLE = "INFERENCE_BENCH_EXTRA_RUNNERS"


def all_runners() -> dict[str, Framework]:
    """Every runner a run may name: the frameworks, the tools, and any the extra files register."""
    return {**FRAMEWORKS, **TOOLS, **_extra_runners(os.environ.get(EXTRA_RUNNERS_VARIABLE, ""))}


@functools.cache
def _extra_runners(paths: str) -> dict[str, Framework]:
    """The runners registered by the files named in ``paths``, each imported under its file's
    stem (so that their "module:Class" lines resolve with no change to sys.path)."""
    found: dict[str, Framework] = {}
    for path in filter(None, paths.split(os.pathsep)):
        name = Path(path).stem
        module = sys.modules.get(name)
        if module is None:
            spec = importlib.util.spec_from_file_location(name, path)
            if spec is None or spec.loader is None:
                raise ImportError(f"{EXTRA_RUNNERS_VARIABLE}: cannot import {path}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
        found.update(module.RUNNERS)
    return found


def other_frameworks_modules(name: str) -> tuple[str, ...]:
    """The top-level modules of every framework but ``name``, and not its own: what its runner
    blocks (Keras is TensorFlow's and JAX's both)."""
    own = set(all_runners()[name].modules)
    others = (module for other, fw in FRAMEWORKS.items() if other != name for module in fw.modules)
    return tuple(dict.fromkeys(module for module in others if module not in own))


def load_runner_class(name: str) -> type:
    """Import and return the runner class registered as ``name`` (worker process only)."""
    module_name, attribute = all_runners()[name].runner.split(":")
    target: object = importlib.import_module(module_name)
    for part in attribute.split("."):  # "Class", or "MAPPING.key"
        target = target[part] if isinstance(target, dict) else getattr(target, part)
    assert isinstance(target, type)
    return target

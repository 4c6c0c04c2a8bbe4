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
from typing import Any


@dataclass(frozen=True)
class Framework:
    """One framework as the orchestrator knows it: every fact about it, and nothing imported.

    The parent reads these records (which models a framework runs, which environment reads a
    user's file, which versions to record); the worker reads them before any import (Keras's
    backend, how its threads are held). Nothing else compares a framework's name.
    """

    runner: str  # "module:Class" of its Runner, imported only in the worker
    # Distributions of its own environment, besides what every runner needs (RUNNER_REQUIRES);
    # versions come from constraints.txt. Model libraries live with the framework that uses them.
    # The same names are its extra in pyproject.toml (``pip install .[NAME]``).
    requires: tuple[str, ...] = ()
    # Its top-level modules: a runner blocks every other framework's from being imported.
    modules: tuple[str, ...] = ()
    # The distributions that ``framework@VERSION`` sets to VERSION (default: the first required).
    versioned: tuple[str, ...] = ()
    # The model family whose builder it calls (a key of models.base.Model.families: "torch",
    # "keras", "onnx"). None: a tool or a test fake, which runs whatever model it is given.
    family: str | None = None
    # The formats of a user's model file it loads (workloads.FORMAT_NAMES' keys).
    reads: tuple[str, ...] = ()
    # The formats whose declared inputs and outputs it reads for the parent (runners/inspect.py):
    # a user's file of one of these is inspected in this framework's environment.
    inspects: tuple[str, ...] = ()
    # Keras 3 serves several frameworks: the backend its runner names, or a user's
    # ~/.keras/keras.json would choose it (and its floatx and image layout) for them.
    keras_backend: str | None = None
    # No thread-count API, and its pool follows the affinity mask: the mask of its runner holds
    # exactly ``threads`` CPUs (JAX: no XLA flag limits the CPU pool on current jaxlib).
    threads_by_affinity: bool = False
    # Distributions whose installed version the run record lists beside the parent's own.
    recorded: tuple[str, ...] = ()
    # Its environment runs the tool's ONNX export (runners/export.py) of a model's module.
    exports_onnx: bool = False
    # Its offline quantizer, "module:function" taking a schemas.quantize.QuantizeRequest and
    # returning a QuantizeResult, run by ``python -m runners.quantize`` in its environment, in a
    # process of its own (never in the measured runner); and the precisions it quantizes so.
    quantizer: str | None = None
    quantizes: tuple[str, ...] = ()

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
        # torchao: PT2E int8 quantization (runners/frameworks/pytorch_pt2e.py); onnx*: the tool's ONNX export
        requires=("torch", "torchao", "transformers", "onnx", "onnxscript"),
        modules=("torch", "torchvision", "torchao", "transformers"),
        family="torch",
        reads=("pt2",),
        inspects=("pt2",),
        recorded=("torch",),
        exports_onnx=True,
    ),
    "tensorflow": Framework(
        "runners.frameworks.tensorflow:TensorFlowRunner",
        requires=("tensorflow-cpu", "keras-hub"),
        modules=("tensorflow", "tensorflow_text", "tf_keras", "keras", "keras_hub"),
        family="keras",
        reads=("keras", "savedmodel"),
        inspects=("keras", "savedmodel"),
        keras_backend="tensorflow",
        recorded=("tensorflow-cpu", "tensorflow", "keras"),
        # TFLite's converter (still tf.lite in TensorFlow 2.21): full-integer or dynamic-range int8,
        # run by the TFLite interpreter (runners/frameworks/tflite.py).
        quantizer="runners.quantizers.tensorflow:quantize",
        quantizes=("int8", "int8-static", "int8-dynamic"),
    ),
    "jax": Framework(
        "runners.frameworks.jax:JaxRunner",
        requires=("jax", "jaxlib", "keras-hub"),
        modules=("jax", "jaxlib", "keras", "keras_hub"),  # Keras on its jax backend for the zoo
        versioned=("jax", "jaxlib"),  # released in lockstep
        family="keras",
        reads=("keras",),
        keras_backend="jax",
        threads_by_affinity=True,
        recorded=("jax", "jaxlib"),
    ),
    "onnxruntime": Framework(
        "runners.frameworks.onnxruntime:OnnxRuntimeRunner",
        requires=(
            "onnxruntime",
            "onnx",
            "sympy",
        ),  # onnx, sympy: onnxruntime.quantization and its pre-processing
        modules=("onnxruntime",),
        family="onnx",
        reads=("onnx", "pt2"),  # pt2 through the tool's ONNX export
        recorded=("onnxruntime",),
        quantizer="runners.quantizers.onnxruntime:quantize",
        quantizes=("int8", "int8-static", "int8-dynamic"),
    ),
    "openvino": Framework(
        "runners.frameworks.openvino:OpenVinoRunner",
        # nncf: its int8 path, run only by the quantize process (it pulls scikit-learn, scipy).
        requires=("openvino", "nncf"),
        modules=("openvino",),
        family="onnx",
        reads=("onnx", "pt2", "openvino-ir"),  # pt2 through the tool's ONNX export
        inspects=("openvino-ir",),
        recorded=("openvino", "nncf"),
        quantizer="runners.quantizers.openvino:quantize",
        quantizes=("int8", "int8-static"),  # NNCF's post-training quantization is static
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


def shipped(name: str) -> Framework | None:
    """The record of a framework or tool this tool ships, or None (a test fake's, or unknown).
    Stdlib only, importing no extra runner file: the worker asks before anything starts a thread."""
    return FRAMEWORKS.get(name) or TOOLS.get(name)


def frameworks_reading(source_format: str) -> tuple[str, ...]:
    """The frameworks that load a user's file of ``source_format``, in the order they run."""
    return tuple(name for name, fw in FRAMEWORKS.items() if source_format in fw.reads)


def inspector_of(source_format: str) -> str | None:
    """The framework whose environment reads the inputs a file of ``source_format`` declares,
    or None when the parent reads them itself (ONNX)."""
    return next((name for name, fw in FRAMEWORKS.items() if source_format in fw.inspects), None)


def onnx_exporter() -> str:
    """The framework whose environment runs the tool's ONNX export."""
    return next(name for name, fw in FRAMEWORKS.items() if fw.exports_onnx)


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


def quantizes_offline(name: str, precision: str) -> bool:
    """Whether ``name``'s cells at ``precision`` load a model its quantizer made beforehand."""
    record = all_runners().get(name)
    return record is not None and record.quantizer is not None and precision in record.quantizes


def load_quantizer(name: str) -> Any:
    """Import and return the quantizer function registered for ``name`` (quantize process only)."""
    quantizer = all_runners()[name].quantizer
    if quantizer is None:
        raise ValueError(f"{name} has no offline quantizer")
    module_name, attribute = quantizer.split(":")
    return getattr(importlib.import_module(module_name), attribute)


def load_runner_class(name: str) -> type:
    """Import and return the runner class registered as ``name`` (worker process only)."""
    module_name, attribute = all_runners()[name].runner.split(":")
    target: object = importlib.import_module(module_name)
    for part in attribute.split("."):  # "Class", or "MAPPING.key"
        target = target[part] if isinstance(target, dict) else getattr(target, part)
    assert isinstance(target, type)
    return target

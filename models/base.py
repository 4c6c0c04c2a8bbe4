"""The Model base class: one per workload, used by the parent (spec, weights, inputs, reference)
and by the runners (a native builder per framework family).

The parent calls :meth:`Model.write_weights`, :meth:`Model.make_inputs` and
:meth:`Model.reference`; a runner calls the builder of its framework family --
:meth:`torch_module`, :meth:`keras_model` or :meth:`jax_function` -- which imports that
framework inside the call. Files travel between the two in a model directory (see
:class:`ModelFiles`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from models.spec import Flops, InputSpec, ModelSpec

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
ONNX_FILE = "model.onnx"


class UnsupportedModel(Exception):
    """A framework has no honest way to run this model (the cell is skipped with the reason)."""


@dataclass(frozen=True)
class ModelFiles:
    """Where a model's files are: the run's model directory, and the user's own file if any."""

    directory: Path  # config.json, model.safetensors, model.onnx (when there is one)
    source: Path | None = None  # the user's model file or directory
    source_format: str | None = None  # onnx | pt2 | keras | savedmodel | openvino-ir
    output: str | None = None  # the output compared for parity (None: the model's first)

    @property
    def weights(self) -> Path:
        return self.directory / WEIGHTS_FILE

    @property
    def config(self) -> Path:
        return self.directory / CONFIG_FILE

    @property
    def onnx(self) -> Path:
        """The portable graph that ONNX Runtime and OpenVINO load."""
        return self.directory / ONNX_FILE


class Model(ABC):
    """A workload: what it takes, how it is made, and how each framework family builds it."""

    # Framework families whose builder this model has; a framework whose family is missing is
    # skipped with the reason. "onnx" means a portable graph exists for ONNX Runtime and OpenVINO.
    families: ClassVar[frozenset[str]] = frozenset({"torch", "keras", "jax", "onnx"})
    # Where the portable ONNX graph comes from: written by the parent from the weights
    # ("parent"), or exported from the PyTorch module in the PyTorch environment ("pytorch").
    onnx_from: ClassVar[str] = "pytorch"
    # What :meth:`reference` computes, in words, for the results.
    reference_kind: ClassVar[str] = "onnx.reference evaluator (numpy) on the exported graph"

    @property
    @abstractmethod
    def spec(self) -> ModelSpec:
        """Names, inputs, default dims, tolerance and metadata."""

    # --- parent side --------------------------------------------------------------------

    @abstractmethod
    def write_weights(self, seed: int, directory: Path) -> None:
        """Write the seeded weights (model.safetensors) and config.json into ``directory``."""

    def make_inputs(self, seed: int, shapes: dict[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
        """Seeded, valid inputs of the given shapes, by input name."""
        rng = np.random.default_rng([seed, 0])  # a stream of its own, independent of the weights
        return {spec.name: _values(spec, shapes[spec.name], rng) for spec in self.spec.inputs}

    def calibration_inputs(self, seed: int, shapes: dict[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
        """Seeded calibration samples of ``shapes`` (the batch: how many), for a quantizer:
        drawn like :meth:`make_inputs` but from a stream of their own, so never the measured
        samples. A trained model draws them from its training data, never from the held-out
        samples its accuracy is measured on."""
        rng = np.random.default_rng([seed, 2])  # not [seed, 0] (the inputs) nor [seed, 1] (weights)
        return {spec.name: _values(spec, shapes[spec.name], rng) for spec in self.spec.inputs}

    def labels(self) -> np.ndarray | None:
        """The true class of each of the first ``len(labels)`` samples :meth:`make_inputs`
        gives (samples beyond them repeat these), for a trained classifier whose accuracy is
        measured; None for a model without labels (seeded weights, a user's file)."""
        return None

    def write_onnx(self, files: ModelFiles) -> None:
        """Write the portable graph from the weights, in the parent (models with onnx_from "parent")."""
        raise NotImplementedError(f"{self.spec.name} exports its ONNX graph from PyTorch")

    def reference(self, files: ModelFiles, inputs: dict[str, np.ndarray]) -> np.ndarray:
        """Framework-independent outputs for ``inputs``: by default the ONNX reference evaluator
        on the portable graph (numpy, no runtime)."""
        from models.reference import evaluate_onnx

        return np.asarray(evaluate_onnx(files.onnx, inputs, self.spec.output))

    def flops(self, shapes: Mapping[str, tuple[int, ...]], files: ModelFiles) -> Flops:
        """FLOPs of one sample at ``shapes`` (each input's shape for one call, batch first) --
        the cell's own shapes, never the model's defaults -- or None with the reason."""
        return Flops(None, f"{self.spec.name} has no FLOPs formula")

    # --- runner side: one builder per framework family, each importing its framework -----

    def torch_module(self, files: ModelFiles) -> Any:
        """An ``nn.Module`` in eval mode whose forward takes the inputs in spec order."""
        raise UnsupportedModel(f"{self.spec.name} has no PyTorch implementation")

    def keras_model(self, files: ModelFiles) -> Any:
        """A Keras 3 model (on whichever backend Keras runs) taking :meth:`keras_structure`."""
        raise UnsupportedModel(f"{self.spec.name} has no Keras implementation")

    # What :meth:`keras_feed` does to the stored inputs, recorded with the results.
    keras_feed_note: ClassVar[str] = "as stored"

    def keras_feed(self, sample: dict[str, np.ndarray]) -> list[np.ndarray]:
        """One call's inputs as the Keras model takes them (layout, dtype), in spec order; made
        once per sample, outside the timed loop."""
        return [sample[name] for name in self.spec.input_names()]

    def keras_structure(self, inputs: list[Any]) -> Any:
        """The fed tensors in the structure the Keras model is called with: the tensor itself
        for one input, else the list."""
        return inputs[0] if len(inputs) == 1 else inputs

    def jax_function(self, files: ModelFiles) -> tuple[Any, Any] | None:
        """``(forward(params, *inputs), params)`` in plain JAX, or None to use the Keras model."""
        return None


def _values(spec: InputSpec, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    if spec.values == "tokens":
        assert spec.high is not None
        return rng.integers(0, spec.high, size=shape).astype(spec.dtype, copy=False)
    if spec.values == "ones":
        return np.ones(shape, dtype=spec.dtype)
    if spec.values == "normal":
        return rng.standard_normal(shape, dtype=np.float32).astype(spec.dtype, copy=False)
    # copy=False: no second copy of inputs that may be most of the memory (same values either way)
    return rng.random(shape, dtype=np.float32).astype(spec.dtype, copy=False)  # uniform [0, 1)

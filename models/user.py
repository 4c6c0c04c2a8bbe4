"""The user's own model file, as a workload: ONNX, a ``torch.export`` archive (.pt2), a Keras
``.keras`` file, a TensorFlow SavedModel directory, or an OpenVINO IR (.xml with its .bin).

The file is the model: there are no weights to generate. Its inputs come from what the file
declares (read by ``orchestrator.execute.user_models``); each framework that loads the format honestly
runs it (``orchestrator.plan.workloads.USER_FORMATS``), the runners load the file themselves. The
reference is the ONNX reference evaluator where there is an ONNX graph (the user's own, or the
one the tool exports from a .pt2); otherwise the first framework that runs it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from models.base import Model, ModelFiles
from models.spec import Flops, ModelSpec

FORMATS = ("onnx", "pt2", "keras", "savedmodel", "openvino-ir")

# The dims a user's file may leave open that the usual flags fill, by the name the file gives.
_SEQ = re.compile(r"seq|sequence|length|len|tokens", re.IGNORECASE)
_IMAGE = re.compile(r"height|width|image|size", re.IGNORECASE)


def detect_format(path: Path) -> str | None:
    """The format of ``path`` by its form, or None when it is none of the five."""
    if path.is_dir():
        return "savedmodel" if (path / "saved_model.pb").is_file() else None
    return {".onnx": "onnx", ".pt2": "pt2", ".keras": "keras", ".xml": "openvino-ir"}.get(path.suffix.lower())


def dim_name(name: str | None, input_name: str, axis: int) -> str:
    """The name of an open dim: the file's own, ``batch`` for an unnamed first axis, else
    ``<input>_dim<axis>`` -- what ``--shape NAME=N`` takes."""
    return name or ("batch" if axis == 0 else f"{input_name}_dim{axis}")


def flag_symbol(name: str, axis: int) -> str | None:
    """The symbol whose flag also fills the open dim ``name``: ``batch`` (--batch-size) for the
    first axis, ``seq`` (--seq-len) or ``image`` (--image-size) where the name says so."""
    if axis == 0:
        return "batch"
    if _SEQ.search(name):
        return "seq"
    if _IMAGE.search(name):
        return "image"
    return None


class UserModel(Model):
    """A model file of the user's; its spec comes from the file (``None`` in a runner, which
    loads the file itself)."""

    reference_kind: ClassVar[str] = "onnx.reference evaluator (numpy, float64) on the model's ONNX graph"

    def __init__(self, source: Path, source_format: str, spec: ModelSpec | None = None) -> None:
        self.source = Path(source)
        self.source_format = source_format
        self._spec = spec

    @classmethod
    def from_file(cls, source: str, source_format: str) -> UserModel:
        """The runner's handle: no inspection, the runner reads the file."""
        return cls(Path(source), source_format)

    @property
    def spec(self) -> ModelSpec:
        if self._spec is None:
            raise RuntimeError(f"{self.source}: the model was not inspected")
        return self._spec

    @property
    def onnx_from(self) -> str:  # type: ignore[override]
        return "pytorch" if self.source_format == "pt2" else "file"

    def write_weights(self, seed: int, directory: Path) -> None:
        """Nothing to write: the user's file holds the weights."""

    def reference(self, files: ModelFiles, inputs: dict[str, np.ndarray]) -> np.ndarray:
        from models.reference import evaluate_onnx

        if self.source_format == "onnx":
            return evaluate_onnx(self.source, inputs, self.spec.output)
        if self.source_format == "pt2" and files.onnx.is_file():
            return evaluate_onnx(files.onnx, inputs, self.spec.output)
        raise NotImplementedError(f"no ONNX graph of a {self.source_format} model to evaluate")

    def flops(self, shapes: Mapping[str, tuple[int, ...]], files: ModelFiles) -> Flops:
        """Counted from the model's ONNX graph (the user's, or the tool's export of a .pt2) at
        ``shapes``; a format with no ONNX graph has no figure."""
        from models.flops import onnx_flops

        if self.source_format == "onnx":
            return onnx_flops(self.source, shapes)
        if self.source_format == "pt2" and files.onnx.is_file():
            return onnx_flops(files.onnx, shapes)
        return Flops(None, f"no ONNX graph of this {self.source_format} model to count its FLOPs on")

    def torch_module(self, files: ModelFiles) -> Any:
        import torch

        return torch.export.load(str(self.source)).module()

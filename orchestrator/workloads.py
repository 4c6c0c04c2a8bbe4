"""The models of a run, resolved: --model entries to plug-ins (built-in names or the user's
files), and which framework can run which.

A user's file is recognised by its form and read only as far as its declared inputs: ONNX in
this process (the onnx file-format library), the others by their framework, in that
framework's environment (``models.user``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.base import Model
from models.registry import MODELS, load_model
from orchestrator.artifacts import PreparedModel
from orchestrator.environments import Environment

# Which frameworks run which kind of model: every framework family a built-in has a builder
# for; a user's file in the frameworks that load it honestly.
_FAMILY_OF = {
    "pytorch": "torch",
    "tensorflow": "keras",
    "jax": "keras",
    "onnxruntime": "onnx",
    "openvino": "onnx",
}
USER_FORMATS = {
    "onnx": ("onnxruntime", "openvino"),
    "pt2": ("pytorch", "onnxruntime", "openvino"),  # the latter two through the tool's ONNX export
    "keras": ("tensorflow", "jax"),
    "savedmodel": ("tensorflow",),
    "openvino-ir": ("openvino",),
}

FORMAT_NAMES = {
    "onnx": "an ONNX model",
    "pt2": "a torch.export archive (.pt2)",
    "keras": "a .keras model",
    "savedmodel": "a SavedModel",
    "openvino-ir": "an OpenVINO IR",
}


@dataclass(frozen=True)
class Workload:
    """One --model entry, resolved: its name in the results and its plug-in."""

    name: str
    ref: str  # registry name, or "file"
    model: Model
    source: tuple[Path, str] | None = None  # the user's (file, format)
    inputs: dict[str, np.ndarray] | None = None  # the user's --inputs, checked

    @property
    def exported_from_pytorch(self) -> bool:
        """Whether its portable ONNX graph (and so its reference) is exported from PyTorch."""
        if self.source is not None:
            return self.source[1] == "pt2"
        return self.model.onnx_from == "pytorch"


def builtin(name: str) -> Workload:
    """A built-in model by its registry name."""
    return Workload(name, name, load_model(name))


def is_builtin(entry: str) -> bool:
    return entry in MODELS


def why_not_runnable(framework: str, prepared: PreparedModel, environment: Environment) -> str | None:
    """Why ``framework`` cannot run ``prepared`` in ``environment`` (the cell is skipped), or None."""
    if environment.error is not None:
        log = f" (log: {environment.log})" if environment.log else ""
        return f"its environment could not be built: {environment.error}{log}"
    if framework not in _FAMILY_OF:
        return None  # tools and fakes decide for themselves
    source_format = prepared.files.source_format
    reason = _rules_out(framework, prepared.name, source_format, prepared.model.families)
    if reason is not None:
        return reason
    uses_onnx = framework in ("onnxruntime", "openvino") and source_format not in ("onnx", "openvino-ir")
    if uses_onnx and prepared.onnx_error is not None:
        return f"no ONNX graph of {prepared.name}: {prepared.onnx_error}"
    return None


def ruled_out(framework: str, workload: Workload) -> str | None:
    """Why ``workload`` can never run in ``framework``, whatever is installed (the format of the
    user's file, a model without that framework's implementation), or None."""
    if framework not in _FAMILY_OF:
        return None
    source_format = None if workload.source is None else workload.source[1]
    return _rules_out(framework, workload.name, source_format, workload.model.families)


def _rules_out(framework: str, name: str, source_format: str | None, families: frozenset[str]) -> str | None:
    if source_format is not None:
        runs_in = USER_FORMATS[source_format]
        if framework not in runs_in:
            return f"{FORMAT_NAMES[source_format]} runs in {', '.join(runs_in)} only"
    elif _FAMILY_OF[framework] not in families:
        return f"{name} has no {framework} implementation"
    return None

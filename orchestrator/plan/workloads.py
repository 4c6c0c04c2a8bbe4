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
from runners.registry import frameworks_reading, shipped

FORMAT_NAMES = {
    "onnx": "an ONNX model",
    "pt2": "a torch.export archive (.pt2)",
    "keras": "a .keras model",
    "savedmodel": "a SavedModel",
    "openvino-ir": "an OpenVINO IR",
}
# Which frameworks run a user's file of each format: those whose registry record reads it.
# Which run a built-in model: those whose family (Framework.family) the model has a builder for.
USER_FORMATS = {source_format: frameworks_reading(source_format) for source_format in FORMAT_NAMES}


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


def ruled_out(framework: str, workload: Workload) -> str | None:
    """Why ``workload`` can never run in ``framework``, whatever is installed (the format of the
    user's file, a model without that framework's implementation), or None."""
    source_format = None if workload.source is None else workload.source[1]
    return rules_out(framework, workload.name, source_format, workload.model.families)


def family_of(framework: str) -> str | None:
    """The model family ``framework`` builds (its registry record's), None for a tool or fake."""
    record = shipped(framework)
    return None if record is None else record.family


def rules_out(framework: str, name: str, source_format: str | None, families: frozenset[str]) -> str | None:
    """Why a model of these families, or a user's file of ``source_format``, can never run in
    ``framework``, or None; tools and fakes (no family) decide for themselves."""
    if family_of(framework) is None:
        return None
    if source_format is not None:
        runs_in = frameworks_reading(source_format)
        if framework not in runs_in:
            return f"{FORMAT_NAMES[source_format]} runs in {', '.join(runs_in)} only"
    elif family_of(framework) not in families:
        return f"{name} has no {framework} implementation"
    return None

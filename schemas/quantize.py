"""What the parent asks of an offline quantizer, and what it answers, as JSON files.

``python -m runners.quantize REQUEST.json`` runs one framework's quantizer (the registry
record's ``quantizer``, "module:function") in that framework's environment: the function takes
a :class:`QuantizeRequest` and returns a :class:`QuantizeResult`. The entry writes the answer
beside the request as ``quantize.json`` (:class:`QuantizeOutcome`), so the parent never imports
the framework nor the quantizer (NNCF alone pulls pandas, scipy and scikit-learn).

Stdlib only: the entry reads its request before it sets its CPU affinity.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from schemas import SCHEMA_VERSION
from schemas.files import write_bytes

# Where the entry writes its answer, in the request's output directory.
OUTCOME_FILE = "quantize.json"


class CannotQuantize(Exception):
    """The quantizer has no honest way to quantize this model (an operator it cannot handle in a
    user's file, a flavour the framework lacks): the cell is ``skipped`` with the reason."""


@dataclass(frozen=True)
class QuantizeRequest:
    """One quantization: a model of one framework at one precision with one set of options."""

    framework: str  # a registry name: whose quantizer runs, in whose environment
    model: str  # the model's name as results carry it (mlp, resnet50, a file's stem)
    model_ref: str  # its plug-in's registry name, or "file"
    precision: str  # int8 | int8-static | int8-dynamic (the record's ``quantizes``)
    model_dir: str  # the run's model directory: model.onnx, inputs/, calibration/
    calibration: dict[str, str]  # input name -> .npy of the calibration samples (may be empty)
    output_dir: str  # where the quantized model goes (quantize.log and quantize.json beside it)
    options: dict[str, str] = field(default_factory=dict)  # the cell's execution options
    source: str | None = None  # the user's model file (model_ref "file")
    source_format: str | None = None  # onnx | openvino-ir | ...
    cpus: tuple[int, ...] = ()  # pinned like the cell's runner
    threads: int = 1
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        object.__setattr__(self, "cpus", tuple(int(cpu) for cpu in self.cpus))

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"

    @classmethod
    def from_file(cls, path: Path) -> QuantizeRequest:
        """Read a request; unknown fields or another schema version are errors."""
        data = json.loads(Path(path).read_text())
        unknown = sorted(set(data) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"{path}: unknown quantize request fields {', '.join(unknown)}")
        if data.get("schema_version", SCHEMA_VERSION) != SCHEMA_VERSION:
            raise ValueError(f"{path}: schema_version {data['schema_version']}, expected {SCHEMA_VERSION}")
        return cls(**data)


@dataclass(frozen=True)
class QuantizeResult:
    """A quantizer's answer: the model file the runner loads, and the settings it used, read
    back from what it did (the flavour, the activation type found in the written graph ...)."""

    model_path: str
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class QuantizeOutcome:
    """What ``quantize.json`` holds: ok (with the result), skipped or failed (with the reason,
    the quantizer's last line)."""

    status: str  # ok | skipped | failed
    reason: str | None = None
    result: QuantizeResult | None = None
    call_s: float | None = None  # seconds in the quantizer's function alone (no start-up, imports)

    def write(self, directory: Path) -> None:
        write_bytes(
            (json.dumps(asdict(self), indent=2, default=str) + "\n").encode(), directory / OUTCOME_FILE
        )

    @classmethod
    def read(cls, directory: Path) -> QuantizeOutcome:
        data = json.loads((directory / OUTCOME_FILE).read_text())
        result = data.get("result")
        return cls(
            status=data["status"],
            reason=data.get("reason"),
            result=None if result is None else QuantizeResult(**result),
            call_s=data.get("call_s"),
        )

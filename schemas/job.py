"""The job spec: everything one runner subprocess needs, written by the parent as JSON.

Stdlib only: the runner reads its job before it sets its CPU affinity, and nothing that
could start a thread may be imported before that.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from schemas import SCHEMA_VERSION


@dataclass(frozen=True)
class ModelJob:
    """The model a job runs: which plug-in, its files, and the inputs of every call."""

    name: str  # as the results name it: mlp, resnet50, or the user's file's stem
    ref: str  # the registry name of its plug-in, or "file" for the user's own model
    directory: str  # config.json, model.safetensors, model.onnx, inputs/<name>.npy
    inputs: dict[str, str]  # input name -> .npy path, in the model's input order
    output: str  # the output compared for parity
    source: str | None = None  # the user's model file (ref "file")
    source_format: str | None = None  # onnx | pt2 | keras | savedmodel | openvino-ir
    single_stream_samples: int = 1000  # distinct samples the single-stream scenario cycles through
    # Input name -> .npy of the seeded calibration samples (drawn like the inputs, from a seed
    # stream of their own: disjoint from the measured ones); empty when no cell quantizes.
    calibration: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class JobSpec:
    """One cell of the plan, as handed to ``python -m runners --job job.json``."""

    cell_id: str
    framework: str
    scenario: str  # offline | single-stream
    precision: str  # one of schemas.precisions.PRECISIONS
    batch_size: int
    threads: int
    cpus: tuple[int, ...]
    warmup: int
    min_iterations: int
    max_iterations: int
    min_time_s: float
    model: ModelJob
    result_path: str
    # Execution options asked for this cell (framework-specific keys, see each runner).
    options: dict[str, Any] = field(default_factory=dict)
    # A LoadGen scenario: {"scenario": server | multi-stream | single-stream | offline,
    # "target_qps", "latency_bound_ms", "find_peak"}; None for the tool's own loops.
    loadgen: dict[str, Any] | None = None
    # The model its framework's quantizer made before the cell, in a process of its own:
    # {"path": the file the runner loads, "settings": what the quantizer did}; None: the model as is.
    quantized: dict[str, Any] | None = None
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        if self.schema_version != SCHEMA_VERSION:
            raise ValueError(f"job schema_version {self.schema_version}, expected {SCHEMA_VERSION}")
        for name in ("batch_size", "threads", "min_iterations", "max_iterations"):
            if getattr(self, name) < 1:
                raise ValueError(f"job field {name} must be at least 1")
        if self.warmup < 0 or self.min_time_s < 0:
            raise ValueError("job fields warmup and min_time_s must not be negative")
        if not self.cpus:
            raise ValueError("job field cpus must name at least one CPU")
        object.__setattr__(self, "cpus", tuple(int(c) for c in self.cpus))
        if isinstance(self.model, dict):
            object.__setattr__(self, "model", ModelJob(**self.model))

    def to_json(self) -> str:
        """Serialise to the JSON text stored in ``job.json``."""
        return json.dumps(asdict(self), indent=2) + "\n"  # not sorted: inputs keep the model's order

    @classmethod
    def from_file(cls, path: Path) -> JobSpec:
        """Read and validate a ``job.json``; unknown or missing fields are errors."""
        data = json.loads(Path(path).read_text())
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"{path}: unknown job fields {', '.join(unknown)}")
        data["cpus"] = tuple(data.get("cpus", ()))
        return cls(**data)

"""The job spec: everything one runner subprocess needs, written by the parent as JSON.

Stdlib only: the runner reads its job before it sets its CPU affinity, and nothing that
could start a thread may be imported before that.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from schemas import SCHEMA_VERSION


@dataclass(frozen=True)
class JobSpec:
    """One cell of the plan, as handed to ``python -m runners --job job.json``."""

    cell_id: str
    framework: str
    scenario: str  # offline | single-stream
    precision: str  # fp32 | bf16
    batch_size: int
    threads: int
    cpus: tuple[int, ...]
    warmup: int
    min_iterations: int
    max_iterations: int
    min_time_s: float
    inputs_path: str
    weights_path: str
    onnx_path: str
    result_path: str
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

    def to_json(self) -> str:
        """Serialise to the JSON text stored in ``job.json``."""
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

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

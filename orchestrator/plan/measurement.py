"""How every cell of a plan is timed: one value shared by the plan (its flags), each runner's job
and the summary (``measurement_json``), so none passes the whole plan for these fields."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Measurement:
    """The seed and inputs, the warm-up, the stop rule and the timeout of a plan's cells."""

    seed: int
    inputs: Path | None  # the user's --inputs file; None: seeded random inputs
    warmup: int
    min_iterations: int
    max_iterations: int
    min_time_s: float
    timeout_s: float

    def to_json(self) -> str:
        """How the cells were timed, as cells.parquet records it: two runs that differ here
        measured differently (compare says so). The timeout is not how a cell was timed."""
        return json.dumps(
            {
                "seed": self.seed,
                "inputs": None if self.inputs is None else str(self.inputs),
                "warmup": self.warmup,
                "min_iterations": self.min_iterations,
                "max_iterations": self.max_iterations,
                "min_time_s": self.min_time_s,
            },
            sort_keys=True,
        )

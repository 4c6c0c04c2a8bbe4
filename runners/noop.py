"""The harness floor: a runner whose model is the identity, timed like any framework.

Its latency is what the timed loop itself costs per call (two clock reads, a method call and
a list store), so every other figure can be read against it.
"""

from __future__ import annotations

import numpy as np

from runners.base import ModelFiles, Runner


class NoopRunner(Runner):
    name = "noop"
    computes_model = False  # nothing to check for parity

    def import_framework(self) -> str:
        return "noop"

    def configure_threads(self, threads: int) -> None:
        pass

    def load(self, model: ModelFiles, batch_size: int) -> None:
        pass

    def predict(self, x: np.ndarray) -> np.ndarray:
        return x

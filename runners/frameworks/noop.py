"""The harness floor: a runner whose model is the identity, timed like any framework.

Its latency is what the timed loop itself costs per call (two clock reads, a method call, a
dict lookup and an array store), so every other figure can be read against it.
"""

from __future__ import annotations

import numpy as np

from models.base import Model, ModelFiles
from runners.base import Runner, Sample


class NoopRunner(Runner):
    name = "noop"
    computes_model = False  # nothing to check for parity

    def import_framework(self) -> str:
        return "noop"

    def configure_threads(self, threads: int) -> None:
        pass

    def load(self, model: Model, files: ModelFiles, sample: Sample) -> None:
        self._first = next(iter(sample))

    def predict(self, feed: Sample) -> np.ndarray:
        return feed[self._first]

    def compiled_precision(self, feed: Sample) -> str | None:
        """None: the identity does no arithmetic, so it has no precision to observe."""
        self.settings["precision_unobserved"] = "the identity does no arithmetic"
        return None

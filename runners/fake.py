"""A deterministic stand-in runner for tests: the reference network in plain numpy."""

from __future__ import annotations

import numpy as np

from runners.base import ModelFiles, Runner


class FakeRunner(Runner):
    """Computes the model with numpy in float32, so parity holds and no framework is needed."""

    name = "fake"

    def import_framework(self) -> str:
        return f"numpy-{np.__version__}"

    def configure_threads(self, threads: int) -> None:
        self._threads = threads
        self.settings["threads"] = threads

    def observed_threads(self) -> int | None:
        return self._threads

    def load(self, model: ModelFiles, batch_size: int) -> None:
        self._layers = [(lay.weight, lay.bias, lay.activation) for lay in model.layers]

    def predict(self, x: np.ndarray) -> np.ndarray:
        h = x
        for weight, bias, activation in self._layers:
            h = h @ weight + bias
            h = np.maximum(h, 0) if activation == "relu" else 1 / (1 + np.exp(-h))
        return h

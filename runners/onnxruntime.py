"""ONNX Runtime: the shared ONNX file in an InferenceSession on the CPU execution provider."""

from __future__ import annotations

from typing import Any

import numpy as np

from runners.base import ModelFiles, Runner


class OnnxRuntimeRunner(Runner):
    name = "onnxruntime"

    def import_framework(self) -> str:
        import onnxruntime

        self.ort: Any = onnxruntime
        return str(onnxruntime.__version__)

    def configure_threads(self, threads: int) -> None:
        # ONNX Runtime ignores the affinity mask when sizing its pool: set it explicitly.
        ort = self.ort
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._options = options
        self.settings.update(
            intra_op_num_threads=options.intra_op_num_threads,
            inter_op_num_threads=options.inter_op_num_threads,
            execution_mode="ORT_SEQUENTIAL",
            graph_optimization_level="ORT_ENABLE_ALL",
            # Left at ONNX Runtime's default (spinning on): what a deployment gets out of the
            # box. Spinning waits count as CPU time, so it shows in cpu_percent.
            allow_spinning="default (1)",
        )

    def observed_threads(self) -> int | None:
        return int(self._session.get_session_options().intra_op_num_threads)

    def load(self, model: ModelFiles, batch_size: int) -> None:
        self._session = self.ort.InferenceSession(
            model.onnx_path, self._options, providers=["CPUExecutionProvider"]
        )
        self._input_name = self._session.get_inputs()[0].name
        self.settings.update(providers=self._session.get_providers())

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self._session.run(None, {self._input_name: x})[0]  # type: ignore[no-any-return]

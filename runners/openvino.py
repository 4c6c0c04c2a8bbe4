"""OpenVINO: the shared ONNX file compiled for the CPU with a static shape, in float32."""

from __future__ import annotations

from typing import Any

import numpy as np

from runners.base import ModelFiles, Runner, UnsupportedPrecision

# Read back from the compiled model and recorded: each can change a figure.
_RECORDED_PROPERTIES = (
    "INFERENCE_NUM_THREADS",
    "NUM_STREAMS",
    "PERFORMANCE_HINT",
    "INFERENCE_PRECISION_HINT",
    "ENABLE_CPU_PINNING",
    "EXECUTION_MODE_HINT",
)


def _as_text(value: Any) -> str:
    """A property value as OpenVINO spells it in its docs: ``f32``, not ``<Type: 'float32'>``."""
    return str(value.get_type_name()) if hasattr(value, "get_type_name") else str(value)


# Inputs up to this size are copied into the infer request's tensor, larger ones shared.
_COPY_AT_MOST_BYTES = 64 * 1024


class OpenVinoRunner(Runner):
    name = "openvino"

    def import_framework(self) -> str:
        import openvino

        self.ov: Any = openvino
        return str(openvino.__version__)

    def configure_threads(self, threads: int) -> None:
        self._threads = threads  # applied at compile time, below

    def configure_precision(self, precision: str) -> None:
        self._precision_hint = {"fp32": "f32", "bf16": "bf16"}[precision]
        self._precision_asked = precision

    def observed_threads(self) -> int | None:
        return int(self._compiled.get_property("INFERENCE_NUM_THREADS"))

    def load(self, model: ModelFiles, batch_size: int) -> None:
        core = self.ov.Core()
        network = core.read_model(model.onnx_path)
        features = model.layers[0].weight.shape[0]
        network.reshape({network.input(0).get_any_name(): [batch_size, features]})
        config = {
            "INFERENCE_NUM_THREADS": self._threads,
            "NUM_STREAMS": 1,
            "PERFORMANCE_HINT": "LATENCY",
            # On CPUs with bf16 units OpenVINO silently runs bfloat16 unless told otherwise.
            "INFERENCE_PRECISION_HINT": self._precision_hint,
        }
        self._compiled = core.compile_model(network, "CPU", config)
        self._request = self._compiled.create_infer_request()
        recorded = {name: _as_text(self._compiled.get_property(name)) for name in _RECORDED_PROPERTIES}
        # Small inputs are copied into the request's own input tensor and run with a bare
        # infer(): the numpy-wrapping path of infer(x) costs ~10 us of Python per call, a third
        # of a batch-1 call here. Large inputs are shared instead: copying 1000 x 200 floats
        # costs more than the wrapping (~14 % at batch 1000).
        self._input = self._request.get_input_tensor(0)
        self._copy_in = batch_size * features * 4 <= _COPY_AT_MOST_BYTES
        self.settings.update(
            recorded,
            static_shape=[batch_size, features],
            reuse_infer_request=True,
            input_binding="copied into the request's tensor" if self._copy_in else "shared memory",
            output_binding="shared memory",
        )
        precision = recorded["INFERENCE_PRECISION_HINT"]
        self.precision_effective = {"f32": "fp32", "bf16": "bf16"}.get(precision, precision)
        if self.precision_effective != self._precision_asked:
            raise UnsupportedPrecision(
                f"OpenVINO compiled for {precision}, not {self._precision_asked}, on this CPU"
            )

    def predict(self, x: np.ndarray) -> np.ndarray:
        if self._copy_in:
            self._input.data[...] = x
            self._request.infer()
            return self._request.get_output_tensor(0).data  # type: ignore[no-any-return]
        return self._request.infer(x, share_inputs=True, share_outputs=True)[0]  # type: ignore[no-any-return]

"""OpenVINO: the portable ONNX graph (or the user's .onnx or IR) compiled for the CPU with a
static shape, in float32 unless bf16 is asked for."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from models.base import Model, ModelFiles
from runners.base import Option, Runner, Sample, UnsupportedPrecision
from runners.frameworks.onnxruntime import onnx_path
from schemas.precisions import INT8_PRECISIONS

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


# The layers of OpenVINO's executable graph that do the arithmetic worth a precision.
_COMPUTE_LAYERS = {"FullyConnected", "Convolution", "MatMul", "GroupConvolution"}

# Inputs up to this size are copied into the infer request's tensors, larger ones shared.
_COPY_AT_MOST_BYTES = 64 * 1024


class OpenVinoRunner(Runner):
    name = "openvino"
    options: ClassVar[dict[str, Option]] = {
        "performance_hint": Option(
            ("latency", "throughput"), "OpenVINO's PERFORMANCE_HINT (one stream either way)"
        ),
    }

    def import_framework(self) -> str:
        import openvino

        self.ov: Any = openvino
        return str(openvino.__version__)

    def configure_threads(self, threads: int) -> None:
        self._threads = threads  # applied at compile time, below

    def configure_precision(self, precision: str) -> None:
        if precision in INT8_PRECISIONS and self.quantized is None:
            # int8-dynamic, or a quantization that made nothing: NNCF's path is static only.
            raise UnsupportedPrecision(
                f"OpenVINO runs int8 from NNCF's post-training quantization (static); "
                f"no {precision} model was made"
            )
        # An int8 model's layers that NNCF left in float run f32, not the bf16 a bf16 CPU defaults to.
        paths = {"fp32": "f32", "bf16": "bf16", **{name: "f32" for name in INT8_PRECISIONS}}
        self._precision_hint = self.precision_path(precision, paths)
        self._precision_asked = "fp32" if precision in INT8_PRECISIONS else precision

    def observed_threads(self) -> int | None:
        return int(self._compiled.get_property("INFERENCE_NUM_THREADS"))

    def load(self, model: Model, files: ModelFiles, sample: Sample) -> None:
        core = self.ov.Core()
        if self.quantized is not None:  # NNCF's IR, made by the quantize process
            path = Path(self.quantized["path"])
        elif files.source_format == "openvino-ir":
            path = Path(str(files.source))
        else:
            path = Path(onnx_path(files))
        network = core.read_model(str(path))
        network.reshape({name: list(array.shape) for name, array in sample.items()})
        config = {
            "INFERENCE_NUM_THREADS": self._threads,
            "NUM_STREAMS": 1,
            "PERFORMANCE_HINT": self.option("performance_hint").upper(),
            # On CPUs with bf16 units OpenVINO silently runs bfloat16 unless told otherwise.
            "INFERENCE_PRECISION_HINT": self._precision_hint,
        }
        self._compiled = core.compile_model(network, "CPU", config)
        self._request = self._compiled.create_infer_request()
        recorded = {name: _as_text(self._compiled.get_property(name)) for name in _RECORDED_PROPERTIES}
        outputs = [output.get_any_name() for output in self._compiled.outputs]
        self._output = outputs.index(files.output) if files.output in outputs else 0
        # Small inputs are copied into the request's own input tensors and run with a bare
        # infer(): the numpy-wrapping path of infer(x) costs ~10 us of Python per call, a third
        # of a batch-1 call here. Large inputs are shared instead: copying 1000 x 200 floats
        # costs more than the wrapping (~14 % at batch 1000).
        self._names = list(sample)
        self._tensors = [self._request.get_tensor(name) for name in self._names]
        self._copy_in = sum(array.nbytes for array in sample.values()) <= _COPY_AT_MOST_BYTES
        self.settings.update(
            recorded,
            static_shape={name: list(array.shape) for name, array in sample.items()},
            reuse_infer_request=True,
            input_binding="copied into the request's tensors" if self._copy_in else "shared memory",
            output_binding="shared memory",
            graph=str(path.name),
        )
        precision = recorded["INFERENCE_PRECISION_HINT"]  # the hint read back; what ran: compiled_precision
        if {"f32": "fp32", "bf16": "bf16"}.get(precision, precision) != self._precision_asked:
            raise UnsupportedPrecision(
                f"OpenVINO compiled for {precision}, not {self._precision_asked}, on this CPU"
            )

    def compiled_precision(self, feed: Sample) -> str | None:
        """The runtime precision of each compute layer of the executable graph OpenVINO built."""
        from runners.precision import openvino_layer_flops, summarise

        dtypes: list[str] = []
        flops: list[float | None] = []
        for op in self._compiled.get_runtime_model().get_ordered_ops():
            info = op.get_rt_info()
            layer = str(info["layerType"].astype(str)) if "layerType" in info else None
            if layer in _COMPUTE_LAYERS:
                runtime = str(info["runtimePrecision"].astype(str))
                # u8/i8: an 8-bit integer convolution or product (u8 activations, i8 weights).
                dtypes.append("int8" if runtime.lower() in ("u8", "i8") else runtime)
                flops.append(openvino_layer_flops(layer, *_static_shapes(op)))
        return summarise(dtypes, flops)

    def predict(self, feed: Sample) -> np.ndarray:
        if self._copy_in:
            for tensor, name in zip(self._tensors, self._names):
                tensor.data[...] = feed[name]
            self._request.infer()
            return self._request.get_output_tensor(self._output).data  # type: ignore[no-any-return]
        return self._request.infer(feed, share_inputs=True, share_outputs=True)[self._output]  # type: ignore[no-any-return]


def _static_shapes(op: Any) -> tuple[list[list[int]], list[int]]:
    """An executable-graph layer's input shapes and output shape; [] for a dynamic one."""

    def dims(shape: Any) -> list[int]:
        return [int(dim.get_length()) for dim in shape] if shape.is_static else []

    inputs = [dims(op.input(index).get_partial_shape()) for index in range(op.get_input_size())]
    return inputs, dims(op.get_output_partial_shape(0))

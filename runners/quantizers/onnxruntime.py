"""ONNX Runtime's own int8 path, as its documentation lays it out: ``quant_pre_process`` (shape
inference and graph optimisation), then dynamic quantization for the MLP and transformers, static
QDQ per-channel quantization calibrated on the run's calibration set for CNNs.

``int8`` takes the flavour ONNX Runtime recommends for the graph (static where it convolves,
dynamic otherwise); ``int8-static`` and ``int8-dynamic`` pin it. The activation type (uint8 by
default: U8S8) and the format (QDQ or QOperator) are the runner's execution options. Every
setting recorded is read back from the written graph, not copied from the request.
"""

from __future__ import annotations

import traceback
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from runners.frameworks.onnxruntime import OnnxRuntimeRunner
from schemas.quantize import CannotQuantize, QuantizeRequest, QuantizeResult

# The quantized graph's file, in the request's output directory.
QUANTIZED_FILE = "model.int8.onnx"

# Nodes that compute in integers once quantized (as written; ONNX Runtime fuses QDQ pairs around a
# float Conv/MatMul into these at load).
INTEGER_OPS = frozenset(
    {"QLinearConv", "QLinearMatMul", "MatMulInteger", "ConvInteger", "QGemm", "DynamicQuantizeMatMul",
     "MatMulIntegerToFloat", "QAttention"}
)  # fmt: skip

# Samples per calibration call: fewer calls than one at a time, ranges reduced after each.
_CALIBRATION_BATCH = 8


def choose_flavour(precision: str, op_types: set[str]) -> tuple[str, str]:
    """``static`` or ``dynamic`` for ``precision``, and why: ONNX Runtime's guidance is static
    quantization for CNNs and dynamic for transformers and MLPs (matrix products of activations
    whose range varies per input)."""
    if precision == "int8-static":
        return "static", "pinned by --precision int8-static"
    if precision == "int8-dynamic":
        return "dynamic", "pinned by --precision int8-dynamic"
    if op_types & {"Conv", "ConvTranspose"}:
        return "static", "the graph convolves: static QDQ per-channel, as ONNX Runtime recommends for CNNs"
    return "dynamic", "no convolution: dynamic, as ONNX Runtime recommends for transformers and MLPs"


def quantize(request: QuantizeRequest) -> QuantizeResult:
    """Pre-process and quantize the request's ONNX graph; the quantized graph and its settings."""
    import onnx

    source = _source_graph(request)
    output = Path(request.output_dir)
    graph = onnx.load(str(source), load_external_data=False)
    flavour, why = choose_flavour(request.precision, {node.op_type for node in graph.graph.node})
    options = {
        key: request.options.get(key, option.default) for key, option in OnnxRuntimeRunner.options.items()
    }
    settings: dict[str, Any] = {"tool": "onnxruntime.quantization", "flavour": flavour, "flavour_reason": why}
    if flavour == "dynamic":
        _refuse_static_options(options)
    prepared, settings["pre_process"] = _pre_process(source, output / "model.pre.onnx")
    target = output / QUANTIZED_FILE
    if flavour == "dynamic":
        _quantize_dynamic(prepared, target)
    else:
        settings.update(_quantize_static(prepared, target, request, options))
    written = onnx.load(str(target))
    settings.update(read_back(written))
    if not settings["integer_nodes"] and not settings["quantize_nodes"]:
        raise CannotQuantize(
            f"onnxruntime.quantization quantized no operator of {source.name} ({flavour} flavour)"
        )
    return QuantizeResult(str(target), settings)


def _source_graph(request: QuantizeRequest) -> Path:
    if request.source_format == "onnx" and request.source is not None:
        return Path(request.source)
    if request.source_format not in (None, "pt2"):
        raise CannotQuantize(f"onnxruntime quantizes ONNX graphs, not a {request.source_format} model")
    graph = Path(request.model_dir) / "model.onnx"
    if not graph.is_file():
        raise CannotQuantize("the run has no ONNX graph of this model (see the model's export.log)")
    return graph


def _refuse_static_options(options: dict[str, str]) -> None:
    """Dynamic quantization has uint8 activations (DynamicQuantizeLinear) and integer operators
    (MatMulInteger): a non-default activation type or format would be the same graph, twice."""
    defaults = {key: option.default for key, option in OnnxRuntimeRunner.options.items()}
    for key in ("activation_type", "quant_format"):
        if options[key] != defaults[key]:
            raise CannotQuantize(
                f"onnxruntime's dynamic quantization has no {key}={options[key]} (uint8 activations, "
                "integer operators): the option applies to static quantization"
            )


def _pre_process(source: Path, target: Path) -> tuple[Path, str]:
    """ONNX Runtime's recommended first step; a graph it cannot pre-process is quantized as it is,
    and the record says why. A fault of the machine (a full disk, an unreadable file) is not the
    graph's: it fails the quantization, since the model quantized without the step is another
    one (DistilBERT's SQNR moved from 33.2 to 32.7 dB when a full disk cut it short)."""
    from onnxruntime.quantization.shape_inference import quant_pre_process

    try:
        quant_pre_process(str(source), str(target))
    except OSError:
        raise
    except Exception as exc:
        traceback.print_exc()
        message = str(exc).strip().splitlines()
        return source, f"failed, quantized without it: {type(exc).__name__}: {message[-1] if message else ''}"
    return target, "quant_pre_process (symbolic shape inference, graph optimisation)"


def _quantize_dynamic(source: Path, target: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # int8 weights, uint8 activations quantized per call: U8S8, the VNNI-friendly pair.
    quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8)


def _quantize_static(
    source: Path, target: Path, request: QuantizeRequest, options: dict[str, str]
) -> dict[str, Any]:
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    if not request.calibration:
        raise ValueError("static quantization needs a calibration set, and the request has none")
    arrays = {name: np.load(path, allow_pickle=False) for name, path in request.calibration.items()}
    reader = _Reader(arrays, _CALIBRATION_BATCH)
    quantize_static(
        str(source),
        str(target),
        reader,
        quant_format=QuantFormat.QDQ if options["quant_format"] == "qdq" else QuantFormat.QOperator,
        per_channel=True,
        activation_type=QuantType.QUInt8 if options["activation_type"] == "uint8" else QuantType.QInt8,
        weight_type=QuantType.QInt8,
        # MinMax reduces each tensor to its min and max in the graph it runs, so the calibration
        # holds two numbers per tensor and call. (Not CalibMaxIntermediateOutputs: in 1.32 it
        # drops what it collected without computing ranges -- "No data is collected".)
        calibrate_method=CalibrationMethod.MinMax,
    )
    return {"calibration_samples": reader.samples, "calibration_method": "MinMax", "per_channel_asked": True}


class _Reader:
    """The calibration set in calls of ``batch`` samples (ONNX Runtime's CalibrationDataReader)."""

    def __init__(self, arrays: dict[str, np.ndarray], batch: int) -> None:
        self.arrays = arrays
        self.samples = min(len(array) for array in arrays.values())
        self.batch = batch
        self.position = 0

    def get_next(self) -> dict[str, np.ndarray] | None:
        if self.position >= self.samples:
            return None
        end = min(self.position + self.batch, self.samples)
        feed = {name: np.ascontiguousarray(array[self.position : end]) for name, array in self.arrays.items()}
        self.position = end
        return feed

    def rewind(self) -> None:
        self.position = 0


def read_back(graph: Any) -> dict[str, Any]:
    """What the quantized graph holds: its integer and (de)quantize nodes, the activation and
    weight types of its zero points, whether weights are per channel; a non-finite scale (a
    calibration range of NaN) is an error here, not a model that computes garbage."""
    initializers = {init.name: init for init in graph.graph.initializer}
    _check_scales(initializers)
    ops = Counter(node.op_type for node in graph.graph.node)
    activations: set[str] = set()
    weights: list[tuple[Any, Any]] = []  # (weight, its scale) initializers
    for node in graph.graph.node:
        inputs = [initializers.get(name) for name in node.input]
        if node.op_type == "QuantizeLinear" and len(inputs) > 2 and inputs[2] is not None:
            activations.add(_type_name(inputs[2]))
        elif node.op_type == "DequantizeLinear" and inputs[0] is not None:
            weights.append((inputs[0], inputs[1]))
        elif node.op_type in ("MatMulInteger", "ConvInteger") and inputs[1] is not None:
            weights.append((inputs[1], None))
        elif node.op_type in ("QLinearConv", "QLinearMatMul") and inputs[3] is not None:
            weights.append((inputs[3], inputs[4]))
            if inputs[2] is not None:
                activations.add(_type_name(inputs[2]))
    if ops["DynamicQuantizeLinear"] or ops["DynamicQuantizeMatMul"] or ops["MatMulInteger"]:
        activations.add("uint8 (quantized per call)")
    fused = ops["QLinearConv"] + ops["QLinearMatMul"]
    return {
        "integer_nodes": {op: n for op, n in sorted(ops.items()) if op in INTEGER_OPS},
        "quantize_nodes": {op: n for op, n in sorted(ops.items()) if "Quantize" in op},
        "activation_type": ", ".join(sorted(activations)) or None,
        # Of the 8-bit weights: a DequantizeLinear of an int32 initializer is a bias.
        "weight_type": ", ".join(sorted({_type_name(w) for w, _ in weights if w.data_type in (2, 3)}))
        or None,
        "per_channel": any(scale is not None and int(np.prod(scale.dims or [1])) > 1 for _, scale in weights),
        "format": "QOperator" if fused else "QDQ" if ops["QuantizeLinear"] else "integer operators (dynamic)",
    }


def _check_scales(initializers: dict[str, Any]) -> None:
    from onnx import numpy_helper

    for init in initializers.values():
        is_scale = init.data_type in (1, 10, 11) and "scale" in init.name  # float, float16, double
        if is_scale and not np.all(np.isfinite(numpy_helper.to_array(init))):
            raise ValueError(
                f"non-finite quantization scale {init.name} (a NaN or infinite calibration range)"
            )


def _type_name(initializer: Any) -> str:
    return {2: "uint8", 3: "int8", 4: "uint16", 5: "int16"}.get(
        initializer.data_type, str(initializer.data_type)
    )

"""OpenVINO's own int8 path: NNCF post-training quantization (``nncf.quantize``) of the model
OpenVINO reads, calibrated on the run's calibration set (an ``nncf.Dataset``), saved as IR.

NNCF (and the scikit-learn, scipy and pandas-like libraries it pulls) lives in OpenVINO's
environment and runs only here, in the quantize process; the measured runner loads the IR.
NNCF's post-training quantization is static (activation ranges calibrated beforehand): ``int8``
and ``int8-static`` are it; OpenVINO has no int8-dynamic path in this benchmark.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from schemas.quantize import CannotQuantize, QuantizeRequest, QuantizeResult

QUANTIZED_FILE = "model.int8.xml"  # and its .bin beside it


def model_type_for(op_types: set[str]) -> str | None:
    """NNCF's ``model_type``: "transformer" for a graph with attention (a Softmax over matrix
    products), as NNCF's guide asks for transformers (it keeps their sensitive parts in float);
    None (NNCF's default) otherwise."""
    return "transformer" if "Softmax" in op_types and "MatMul" in op_types else None


def quantize(request: QuantizeRequest) -> QuantizeResult:
    """Quantize the request's model with NNCF; the IR written and the settings read back."""
    import nncf
    import openvino

    if request.precision == "int8-dynamic":
        raise CannotQuantize("NNCF's post-training quantization is static; OpenVINO has no int8-dynamic path")
    if not request.calibration:
        raise ValueError("NNCF's post-training quantization needs a calibration set; the request has none")
    model = openvino.Core().read_model(str(_source(request)))
    op_types = {op.get_type_name() for op in model.get_ordered_ops()}
    model_type = model_type_for(op_types)
    arrays = {name: np.load(path, allow_pickle=False) for name, path in request.calibration.items()}
    samples = min(len(array) for array in arrays.values())
    # One sample per item, by input name: what the compiled model takes in each calibration call.
    items = [
        {name: np.ascontiguousarray(array[i : i + 1]) for name, array in arrays.items()}
        for i in range(samples)
    ]
    quantized = nncf.quantize(
        model,
        nncf.Dataset(items),
        subset_size=samples,
        model_type=None if model_type is None else nncf.ModelType.TRANSFORMER,
    )
    target = Path(request.output_dir) / QUANTIZED_FILE
    openvino.save_model(quantized, str(target))
    settings: dict[str, Any] = {
        "tool": f"nncf {nncf.__version__} quantize (post-training, static)",
        "flavour": "static",
        "calibration_samples": samples,
        "model_type": model_type or "default",
        "preset": "performance (NNCF's default: symmetric activations)" if model_type is None else "mixed",
    }
    settings.update(read_back(openvino.Core().read_model(str(target))))
    if not settings["fake_quantize_nodes"]:
        raise CannotQuantize(f"NNCF inserted no quantizer into {_source(request).name}")
    return QuantizeResult(str(target), settings)


def _source(request: QuantizeRequest) -> Path:
    """The model OpenVINO reads: the user's .onnx or IR, or the run's portable graph."""
    if request.source is not None and request.source_format in ("onnx", "openvino-ir"):
        return Path(request.source)
    if request.source_format not in (None, "pt2"):
        raise CannotQuantize(f"OpenVINO quantizes ONNX graphs and IR, not a {request.source_format} model")
    graph = Path(request.model_dir) / "model.onnx"
    if not graph.is_file():
        raise CannotQuantize("the run has no ONNX graph of this model (see the model's export.log)")
    return graph


def read_back(model: Any) -> dict[str, Any]:
    """What the quantized IR holds: its FakeQuantize nodes and the levels they quantize to (256:
    8 bits), and the compute layers that follow one."""
    ops = list(model.get_ordered_ops())
    fake = [op for op in ops if op.get_type_name() == "FakeQuantize"]
    levels = Counter(int(op.get_attributes().get("levels", 0)) for op in fake)
    return {
        "fake_quantize_nodes": len(fake),
        "fake_quantize_levels": {str(level): count for level, count in sorted(levels.items())},
        "compute_layers": dict(Counter(op.get_type_name() for op in ops if op.get_type_name() in _COMPUTE)),
    }


_COMPUTE = {"Convolution", "GroupConvolution", "MatMul"}

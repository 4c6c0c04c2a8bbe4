"""The precision a framework really computes in, read from what it compiled or ran -- never
from the dtype it was asked for. A bf16 request can end as float32 maths (XLA's CPU backend
upcasts some bf16 dots, OpenVINO on a CPU without bf16 units), a float16 graph can run as
float32 (ONNX Runtime's CPU provider casts around ops it has no float16 kernel for), and a
model can mix.

Each framework's runner gathers the element types of the compute ops (matrix products and
convolutions, where nearly all the arithmetic is) from its own record of what executed; the
functions here pick those ops out and name the result. Where nothing can be observed, the
cell records UNOBSERVED.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

# What a cell records where no compute op's type could be read (the runner says why).
UNOBSERVED = "unobserved"

# An HLO instruction computing a dot or a convolution: "%dot.3 = bf16[1000,128]{1,0} dot(...".
_HLO_COMPUTE = re.compile(r"=\s*(\w+)\[[^\]]*\](?:\{[^}]*\})?\s+(?:dot|convolution)\(")

# ONNX Runtime's names of the nodes that multiply matrices or convolve, contrib fusions included.
_ONNXRUNTIME_COMPUTE = {
    "MatMul", "Gemm", "Conv", "ConvTranspose", "FusedMatMul", "FusedConv", "FusedGemm", "QGemm",
    "MatMulInteger", "ConvInteger", "QLinearMatMul", "QLinearConv", "MatMulIntegerToFloat",
    "DynamicQuantizeMatMul", "MatMulNBits", "Attention", "MultiHeadAttention", "QAttention",
}  # fmt: skip

# Those of them that multiply 8-bit integers (uint8 or int8 activations, int8 weights), whatever
# their first input's type: DynamicQuantizeMatMul takes float32 and quantizes it per call.
_ONNXRUNTIME_INTEGER = {
    "MatMulInteger", "ConvInteger", "QLinearMatMul", "QLinearConv", "MatMulIntegerToFloat",
    "DynamicQuantizeMatMul", "QGemm", "QAttention",
}  # fmt: skip

# The PyTorch operators (as its profiler names them) that do a matrix product or a convolution
# themselves; the operators that only call these (linear, matmul, conv2d ...) are not counted.
_TORCH_COMPUTE = {
    "aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm", "aten::_addmm_activation",
    "aten::_convolution", "aten::_scaled_dot_product_flash_attention_for_cpu",
    "mkldnn::_linear_pointwise", "mkldnn::_convolution_pointwise", "aten::_weight_int8pack_mm",
    "quantized::linear", "quantized::conv2d", "onednn::qlinear_pointwise", "onednn::qconv2d_pointwise",
    "onednn::qconv_pointwise",
}  # fmt: skip

# TensorFlow's graph operations that do a matrix product or a convolution.
TENSORFLOW_COMPUTE = {
    "MatMul", "BatchMatMul", "BatchMatMulV2", "BatchMatMulV3", "Einsum", "Conv2D", "Conv3D",
    "Conv", "DepthwiseConv2dNative", "Conv2DBackpropInput", "_FusedMatMul", "_FusedConv2D",
}  # fmt: skip

_NAMES = {
    "f32": "fp32", "float32": "fp32", "float": "fp32",
    "bf16": "bf16", "bfloat16": "bf16", "c10::bfloat16": "bf16",
    "f16": "fp16", "float16": "fp16", "half": "fp16", "c10::half": "fp16", "mlfloat16": "fp16",
    "f64": "fp64", "float64": "fp64", "double": "fp64",
    "s8": "int8", "u8": "uint8", "i8": "int8",
    # PyTorch's profiler names the 8-bit types as C does. oneDNN's integer kernels take uint8
    # activations with int8 weights (U8S8): an int8 product, whichever the activations' sign.
    "unsigned char": "int8", "signed char": "int8",
}  # fmt: skip

# Argument "types" PyTorch's profiler lists that are not tensors.
_NOT_TENSORS = {"", "Scalar", "ScalarList", "TensorList", "GenericList"}


def hlo_compute_dtypes(hlo_text: str) -> list[str]:
    """The element type of every dot and convolution in an HLO module's text."""
    return _HLO_COMPUTE.findall(hlo_text)


def onnxruntime_compute(events: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """From an ONNX Runtime profile (the JSON list ``end_profiling`` writes): the type of the
    first input of every compute node that ran (``int8`` for an integer one), and the execution
    providers that ran them."""
    dtypes: list[str] = []
    providers: set[str] = set()
    for event in events:
        args = event.get("args") or {}
        if event.get("cat") != "Node" or not str(event.get("name", "")).endswith("_kernel_time"):
            continue  # the fences around each kernel carry no types
        if args.get("op_name") not in _ONNXRUNTIME_COMPUTE:
            continue
        inputs = args.get("input_type_shape") or []
        if args["op_name"] in _ONNXRUNTIME_INTEGER:
            dtypes.append("int8")
        elif inputs:
            dtypes.append(next(iter(inputs[0])))
        if args.get("provider"):
            providers.add(str(args["provider"]))
    return dtypes, sorted(providers)


# Compute nodes whose FLOPs a profile's shapes give: 2 x the output's elements x the reduced
# dim -- the first input's last dim for a matrix product, the weight's elements per output
# channel for a convolution (its weight input's index; a pre-packed weight lists no shape).
_ONNXRUNTIME_MATMUL = {
    "MatMul", "Gemm", "FusedMatMul", "FusedGemm", "QGemm", "MatMulInteger", "QLinearMatMul",
    "MatMulIntegerToFloat", "DynamicQuantizeMatMul",
}  # fmt: skip
_ONNXRUNTIME_CONV_WEIGHT = {"Conv": 1, "FusedConv": 1, "ConvInteger": 1, "QLinearConv": 3}


def onnxruntime_compute_flops(events: list[dict[str, Any]]) -> list[float | None]:
    """The FLOPs of each compute node :func:`onnxruntime_compute` counts, in its order, read from
    the profile's shapes; None for a node whose shapes do not tell them."""
    found: list[float | None] = []
    for event in events:
        args = event.get("args") or {}
        if event.get("cat") != "Node" or not str(event.get("name", "")).endswith("_kernel_time"):
            continue
        op = args.get("op_name")
        inputs = _shapes(args.get("input_type_shape"))
        if op not in _ONNXRUNTIME_COMPUTE or not (op in _ONNXRUNTIME_INTEGER or inputs):
            continue
        outputs = _shapes(args.get("output_type_shape"))
        out = math.prod(outputs[0]) if outputs and outputs[0] else None
        reduced: int | None = None
        if op in _ONNXRUNTIME_MATMUL and inputs and inputs[0]:
            reduced = inputs[0][-1]
        elif op in _ONNXRUNTIME_CONV_WEIGHT and len(inputs) > _ONNXRUNTIME_CONV_WEIGHT[op]:
            weight = inputs[_ONNXRUNTIME_CONV_WEIGHT[op]]
            reduced = math.prod(weight[1:]) if 3 <= len(weight) <= 5 else None  # not a blocked layout
        found.append(None if out is None or reduced is None else 2.0 * out * reduced)
    return found


def openvino_layer_flops(layer: str, inputs: list[list[int]], output: list[int]) -> float | None:
    """FLOPs of one compute layer of OpenVINO's executable graph from its shapes: 2 x the output's
    elements x the reduced dim (the activations' last dim of a product; the weight's elements per
    output channel of a convolution, per group of a grouped one); None where a shape is missing."""
    if not output or not inputs or not inputs[0]:
        return None
    if layer in ("FullyConnected", "MatMul"):
        return 2.0 * math.prod(output) * inputs[0][-1]
    skip = {"Convolution": 1, "GroupConvolution": 2}.get(layer)
    if skip is None or len(inputs) < 2 or len(inputs[1]) < skip + 2:
        return None
    return 2.0 * math.prod(output) * math.prod(inputs[1][skip:])


def _shapes(typed: list[dict[str, list[int]]] | None) -> list[list[int]]:
    """The shapes of a profile's ``[{"float": [1, 8]}, ...]``."""
    return [next(iter(item.values()), []) for item in typed or []]


def torch_compute_dtypes(events: Iterable[tuple[str, Sequence[str]]]) -> list[str]:
    """From PyTorch profiler events as (operator name, its inputs' dtypes): the type of the
    first tensor input of every matrix product and convolution."""
    found = []
    for name, dtypes in events:
        if name in _TORCH_COMPUTE:
            tensors = [dtype for dtype in dtypes if dtype not in _NOT_TENSORS]
            if tensors:
                found.append(tensors[0])
    return found


def summarise(dtypes: list[str], flops: Sequence[float | None] | None = None) -> str | None:
    """``fp32``, ``bf16``, or ``mixed: 12 bf16, 3 fp32`` for the compute ops' types (None: none);
    with each op's ``flops`` (in the same order, all known), a mix says the share of the FLOPs
    at its lowest precision: ``mixed: 12 int8, 4 fp32 (96 % of FLOPs int8)``."""
    names = [_NAMES.get(dtype.lower(), dtype.lower()) for dtype in dtypes]
    counts = Counter(names)
    if not counts:
        return None
    if len(counts) == 1:
        return next(iter(counts))
    text = "mixed: " + ", ".join(f"{count} {name}" for name, count in counts.most_common())
    lowest = next((name for name in _LOWER_FIRST if name in counts), None)
    if flops is None or len(flops) != len(names) or lowest is None or None in flops:
        return text
    total = sum(f for f in flops if f is not None)
    low = sum(f for name, f in zip(names, flops) if name == lowest and f is not None)
    return f"{text} ({100.0 * low / total:.0f} % of FLOPs {lowest})" if total > 0 else text


# The reduced precisions, lowest first: the one a mix's FLOP share is given for.
_LOWER_FIRST = ("int8", "uint8", "fp16", "bf16")

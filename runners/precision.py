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


def summarise(dtypes: list[str]) -> str | None:
    """``fp32``, ``bf16``, or ``mixed: 12 bf16, 3 fp32`` for the compute ops' types (None: none)."""
    counts = Counter(_NAMES.get(dtype.lower(), dtype.lower()) for dtype in dtypes)
    if not counts:
        return None
    if len(counts) == 1:
        return next(iter(counts))
    return "mixed: " + ", ".join(f"{count} {name}" for name, count in counts.most_common())

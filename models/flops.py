"""FLOPs of an ONNX graph at given input shapes, counted from the graph: 2 x the multiply-adds
of its matrix products and convolutions (MatMul, Gemm, Conv, ConvTranspose) and of ONNX's own
Attention operator (opset 23: Q K^T and the weights times V, at the full key length -- a causal
mask's skipped half is counted too, as most kernels compute it), the same things the built-in
models' formulas count. ONNX Runtime's contrib attention operators (com.microsoft) and the
quantized products are not counted: a graph holding one gets no figure, saying why.

The graph's inputs are fixed to the cell's own shapes and ONNX's shape inference (with data
propagation, for the shapes a graph computes) gives every node's operand shapes; a node whose
shapes stay unknown makes the count unknown, with the reason -- never a partial figure.
Stdlib, numpy and the onnx file-format library only: the parent runs it.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from models.spec import Flops

_COUNTED = ("MatMul", "Gemm", "Conv", "ConvTranspose", "Attention")
# Ops that multiply-add and are not counted: a graph holding one gets no figure.
_UNCOUNTED = ("Einsum", "MatMulInteger", "QLinearMatMul", "QLinearConv", "ConvInteger", "If", "Loop", "Scan")
# ONNX's own operator domain; an op of another (com.microsoft's Attention, MultiHeadAttention,
# GroupQueryAttention ...) is not the standard one of that name.
_STANDARD_DOMAINS = ("", "ai.onnx")
_CONTRIB_COMPUTE = ("Attention", "MultiHeadAttention", "GroupQueryAttention", "PackedAttention")
_WHAT = "counted from the ONNX graph (MatMul, Gemm, Conv, ConvTranspose, Attention)"


def onnx_flops(path: Path, shapes: Mapping[str, tuple[int, ...]]) -> Flops:
    """FLOPs of one sample of the graph at ``path`` when its inputs have ``shapes`` (batch first)."""
    key = json.dumps({name: list(shape) for name, shape in shapes.items()}, sort_keys=True)
    stat = path.stat()
    return _cached(str(path), stat.st_mtime_ns, stat.st_size, key)


@functools.lru_cache(maxsize=32)
def _cached(path: str, mtime_ns: int, size: int, shapes_json: str) -> Flops:
    """One count per file version and shapes: every cell of a configuration asks again."""
    del mtime_ns, size  # part of the key only
    shapes = {name: tuple(shape) for name, shape in json.loads(shapes_json).items()}
    try:
        known, graph = _inferred(Path(path), shapes)
    except Exception as exc:  # shape inference refuses the graph: no figure, and why
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return Flops(None, f"the ONNX graph's shapes could not be inferred ({first[:200]})")
    uncounted = sorted({_name(node) for node in graph.node if _is_uncounted(node)})
    if uncounted:
        return Flops(None, f"the ONNX graph has {', '.join(uncounted)}, whose FLOPs are not counted")
    total = 0.0
    for node in graph.node:
        if node.op_type not in _COUNTED or node.domain not in _STANDARD_DOMAINS:
            continue
        if node.op_type == "Attention":
            found = _attention_flops(node, known)
            if isinstance(found, str):
                return Flops(None, found)
            total += found
            continue
        operands = [known.get(name) for name in node.input[:2]]
        out = known.get(node.output[0])
        if out is None or any(shape is None for shape in operands):
            where = node.name or node.output[0]
            return Flops(None, f"the shapes at {node.op_type} node {where!r} are unknown")
        total += _node_flops(node, operands, out)  # type: ignore[arg-type]  # None ruled out above
    batch = next(iter(shapes.values()))[0] if shapes else 1
    return Flops(total / max(batch, 1), _WHAT)


def _is_uncounted(node: Any) -> bool:
    """A node that multiplies and adds in a way not counted here."""
    if node.domain in _STANDARD_DOMAINS:
        return node.op_type in _UNCOUNTED
    return node.op_type in _UNCOUNTED or node.op_type in _CONTRIB_COMPUTE


def _name(node: Any) -> str:
    return node.op_type if node.domain in _STANDARD_DOMAINS else f"{node.domain}.{node.op_type}"


def _attention_flops(node: Any, known: Mapping[str, tuple[int, ...]]) -> float | str:
    """2 x the multiply-adds of ONNX Attention: Q K^T (each of Q's elements against every key)
    and the weights times V (each of Y's elements over every key); why not, where a shape is
    unknown. 3-D (batch, seq, hidden) or 4-D (batch, heads, seq, head size) alike: the key
    length is K's second-last dim, plus the past keys' when given."""
    names = list(node.input) + [""] * 5
    q, k, past = known.get(names[0]), known.get(names[1]), known.get(names[4]) if names[4] else ()
    y = known.get(node.output[0])
    if q is None or k is None or y is None or past is None:
        return f"the shapes at Attention node {node.name or node.output[0]!r} are unknown"
    keys = k[-2] + (past[-2] if past else 0)
    return 2.0 * keys * (math.prod(q) + math.prod(y))


def _inferred(path: Path, shapes: Mapping[str, tuple[int, ...]]) -> tuple[dict[str, tuple[int, ...]], Any]:
    """Every tensor's static shape once the inputs are fixed to ``shapes``, and the graph."""
    import onnx
    from onnx import shape_inference

    model = onnx.load(str(path), load_external_data=False)
    # Shapes the file records were inferred at its own export's shapes: infer them afresh.
    del model.graph.value_info[:]
    for value in model.graph.output:
        value.type.tensor_type.ClearField("shape")
    for value in model.graph.input:
        if value.name in shapes:
            dims = value.type.tensor_type.shape.dim
            for dim, size in zip(dims, shapes[value.name]):
                dim.Clear()
                dim.dim_value = size
    model = shape_inference.infer_shapes(model, strict_mode=True, data_prop=True)
    graph = model.graph
    known: dict[str, tuple[int, ...]] = {t.name: tuple(t.dims) for t in graph.initializer}
    for value in [*graph.input, *graph.value_info, *graph.output]:
        tensor = value.type.tensor_type
        if tensor.HasField("shape") and all(d.HasField("dim_value") for d in tensor.shape.dim):
            known[value.name] = tuple(d.dim_value for d in tensor.shape.dim)
    return known, graph


def _node_flops(node: Any, operands: list[tuple[int, ...]], out: tuple[int, ...]) -> float:
    """2 x multiply-adds of one node from its operand and output shapes."""
    a, b = operands
    if node.op_type == "MatMul":  # each output element is a dot product over a's last dim
        return 2.0 * math.prod(out) * (a[-1] if a else 1)
    if node.op_type == "Gemm":
        trans_a = next((attr.i for attr in node.attribute if attr.name == "transA"), 0)
        return 2.0 * math.prod(out) * (a[0] if trans_a else a[-1])
    if node.op_type == "Conv":  # weight [C_out, C_in / groups, *kernel]
        return 2.0 * math.prod(out) * math.prod(b[1:])
    # ConvTranspose, weight [C_in, C_out / groups, *kernel]: every input element scatters.
    return 2.0 * math.prod(a) * math.prod(b[1:])

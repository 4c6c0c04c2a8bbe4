"""The framework-independent reference: ONNX's own reference evaluator (numpy) on the portable
graph, after rewriting every float32 tensor of it to float64.

So the reference is neither a runtime nor float32: it is the exported graph's maths, evaluated
by the ONNX project's operator definitions in double precision. Two of onnx's reference ops
compute in float32 whatever their input (Erf, and Gelu through its function body); they are
replaced here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def _to_float64(model: Any) -> Any:
    """A copy of ``model`` with float32 replaced by float64 in initializers, constants, casts,
    graph inputs, outputs and value_info (subgraphs included)."""
    import onnx
    from onnx import TensorProto, numpy_helper

    def tensor(t: Any) -> None:
        if t.data_type == TensorProto.FLOAT:
            t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(t).astype(np.float64), t.name))

    def graph(g: Any) -> None:
        for t in g.initializer:
            tensor(t)
        for value in [*g.input, *g.output, *g.value_info]:
            if value.type.HasField("tensor_type") and value.type.tensor_type.elem_type == TensorProto.FLOAT:
                value.type.tensor_type.elem_type = TensorProto.DOUBLE
        for node in g.node:
            for attribute in node.attribute:
                if attribute.type == onnx.AttributeProto.TENSOR:
                    tensor(attribute.t)
                elif attribute.type == onnx.AttributeProto.GRAPH:
                    graph(attribute.g)
                elif attribute.type == onnx.AttributeProto.GRAPHS:
                    for subgraph in attribute.graphs:
                        graph(subgraph)
                elif attribute.name == "to" and node.op_type == "Cast" and attribute.i == TensorProto.FLOAT:
                    attribute.i = TensorProto.DOUBLE

    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    if copy.functions:
        from onnx import inliner

        copy = inliner.inline_local_functions(copy)
    graph(copy.graph)
    return copy


def _erf(x: np.ndarray) -> np.ndarray:
    from scipy.special import erf

    return np.asarray(erf(x), dtype=x.dtype)


def _float64_ops() -> list[Any]:
    from onnx.reference.op_run import OpRun

    class Erf(OpRun):  # onnx's computes through np.vectorize(..., otypes="f"): float32
        op_domain = ""

        def _run(self, x: np.ndarray) -> tuple[np.ndarray]:
            return (_erf(x),)

    class Gelu(OpRun):  # opset 20's runs its function body, whose Erf would not see ours
        op_domain = ""

        def _run(self, x: np.ndarray, approximate: str = "none") -> tuple[np.ndarray]:
            if approximate == "tanh":
                y = 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))
            else:
                y = 0.5 * x * (1 + _erf(x / np.sqrt(2)))
            return (y.astype(x.dtype),)

    return [Erf, Gelu]


def evaluate_onnx(path: Path, inputs: dict[str, np.ndarray], output: str | None = None) -> np.ndarray:
    """Output ``output`` (default: the first) of the ONNX graph at ``path`` for ``inputs``, in float64."""
    import onnx
    from onnx.reference import ReferenceEvaluator

    model = _to_float64(onnx.load(str(path)))
    evaluator = ReferenceEvaluator(model, new_ops=_float64_ops())
    feeds = {
        name: array.astype(np.float64) if array.dtype.kind == "f" else array for name, array in inputs.items()
    }
    names = [value.name for value in model.graph.output]
    wanted = output if output in names else names[0]
    (result,) = evaluator.run([wanted], feeds)
    return np.asarray(result, dtype=np.float64)

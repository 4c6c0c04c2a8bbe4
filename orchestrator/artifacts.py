"""Writes the run's shared inputs and model -- once, before any runner starts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from schemas import io
from schemas.model import Layer, make_inputs, make_weights, write_inputs, write_weights

ONNX_OPSET = 17
ONNX_IR_VERSION = 8  # the IR version that opset 17 shipped with; read by every runtime here


@dataclass(frozen=True)
class Artifacts:
    """Paths of the shared files in the run directory, and their contents in memory."""

    inputs_path: Path
    weights_path: Path
    onnx_path: Path
    inputs: np.ndarray
    layers: list[Layer]


def write_artifacts(run_dir: Path, seed: int, rows: int, inputs: np.ndarray | None = None) -> Artifacts:
    """Store the seeded weights, the ONNX model and the inputs in ``run_dir``.

    The inputs are ``inputs`` when given (the user's own), else ``rows`` seeded random rows.
    """
    layers = make_weights(seed)
    if inputs is None:
        inputs = make_inputs(seed, rows)
    artifacts = Artifacts(
        inputs_path=run_dir / "inputs.parquet",
        weights_path=run_dir / "weights.parquet",
        onnx_path=run_dir / "model.onnx",
        inputs=inputs,
        layers=layers,
    )
    write_inputs(inputs, artifacts.inputs_path)
    write_weights(layers, artifacts.weights_path)
    io.write_bytes(onnx_model_bytes(layers), artifacts.onnx_path)
    return artifacts


def onnx_model_bytes(layers: list[Layer]) -> bytes:
    """The network as a serialised ONNX model: Gemm + Relu per layer, Sigmoid at the end.

    Built straight from the weights (no exporter, no framework), with a symbolic batch axis
    so that one file serves every batch size; OpenVINO fixes the shape when it compiles.
    """
    import onnx  # a file-format library, not a runtime; only needed here
    from onnx import TensorProto, helper, numpy_helper

    features = layers[0].weight.shape[0]
    nodes, initializers = [], []
    previous = "input"
    for index, layer in enumerate(layers):
        weight, bias, gemm = f"layer{index}.weight", f"layer{index}.bias", f"layer{index}.gemm"
        initializers += [
            numpy_helper.from_array(layer.weight, weight),
            numpy_helper.from_array(layer.bias, bias),
        ]
        output = "output" if index == len(layers) - 1 else f"layer{index}.out"
        op = "Relu" if layer.activation == "relu" else "Sigmoid"
        nodes += [
            helper.make_node("Gemm", [previous, weight, bias], [gemm]),
            helper.make_node(op, [gemm], [output]),
        ]
        previous = output
    graph = helper.make_graph(
        nodes,
        "spam_mlp",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", features])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", layers[-1].weight.shape[1]])],
        initializers,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", ONNX_OPSET)], producer_name="orchestrator"
    )
    model.ir_version = ONNX_IR_VERSION
    onnx.checker.check_model(model)
    return bytes(model.SerializeToString())

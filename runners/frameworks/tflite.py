"""TensorFlow's int8 runtime: the TFLite interpreter that ships in TensorFlow (``tf.lite``,
deprecated since 2.19 in favour of LiteRT's ``ai_edge_litert``, the same interpreter API, and
still in 2.21), running the model TFLite's converter quantized (runners/quantizers/tensorflow.py).

The interpreter applies its default CPU delegate, XNNPACK, with the same thread count; the
inputs are resized to the cell's shapes once, at load (the converted model leaves the batch
free). One call: set each input, invoke, copy the output out.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from runners.precision import summarise

# TFLite's operators that multiply matrices or convolve: where the arithmetic is.
COMPUTE_OPS = frozenset({"FULLY_CONNECTED", "CONV_2D", "DEPTHWISE_CONV_2D", "BATCH_MATMUL", "TRANSPOSE_CONV"})

# The signature the converted model serves (runners/quantizers/tensorflow.py exports it).
SIGNATURE = "serving_default"


class TfliteModel:
    """A converted .tflite model in TensorFlow's TFLite interpreter, shapes fixed to one call's."""

    def __init__(self, tf: Any, path: str, threads: int, feed: list[np.ndarray]) -> None:
        self._tf, self._path = tf, path
        self._shapes = [list(x.shape) for x in feed]
        self.interpreter = tf.lite.Interpreter(model_path=path, num_threads=threads)
        runner = self.interpreter.get_signature_runner(SIGNATURE)
        inputs = runner.get_input_details()  # the export names them x0, x1 ... in the feed's order
        self._inputs = [int(inputs[f"x{i}"]["index"]) for i in range(len(feed))]
        self._output = int(next(iter(runner.get_output_details().values()))["index"])
        del runner  # it holds the tensors' buffers, which a resize may not move under it
        for index, x in zip(self._inputs, feed):
            self.interpreter.resize_tensor_input(index, list(x.shape), strict=True)
        self.interpreter.allocate_tensors()
        ops = self.interpreter._get_ops_details()  # the only record of the graph's nodes
        self.settings = {
            "runtime": f"tf.lite.Interpreter (TensorFlow {tf.__version__}), the converter's int8 model",
            "interpreter_threads": threads,  # as given: the interpreter has no getter (threads_observed)
            "delegate_nodes": sum(op["op_name"] == "DELEGATE" for op in ops),  # XNNPACK's, where it took over
        }

    def predict(self, feed: list[np.ndarray]) -> np.ndarray:
        interpreter = self.interpreter
        for index, x in zip(self._inputs, feed):
            interpreter.set_tensor(index, x)
        interpreter.invoke()
        return interpreter.get_tensor(self._output)  # type: ignore[no-any-return]  # a copy

    def compiled_precision(self) -> str | None:
        """What the model's matrix products and convolutions compute in: int8 where their weights
        are int8 (with int8 activations, or float32 ones the kernel quantizes at each call); a mix
        with the share of the FLOPs in int8, from the shapes the interpreter allocated."""
        ops = compute_op_types(self.interpreter)
        dtypes = [types[1] if types[1:2] == ["int8"] else types[0] for _, types in ops]
        return summarise(dtypes, compute_op_flops(self._undelegated()))

    def _undelegated(self) -> Any:
        """The same model in an interpreter without XNNPACK, its inputs resized as the cell's:
        where XNNPACK takes the graph over, the interpreter leaves the tensors inside it at the
        converter's shapes (batch 1), so their FLOPs would be counted at batch 1 beside a last
        operator at the cell's batch -- a 96 % int8 mix read as 5 %. Built only here, after the
        figures are taken."""
        lite = self._tf.lite
        interpreter = lite.Interpreter(
            model_path=self._path,
            num_threads=1,
            experimental_op_resolver_type=lite.experimental.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
        )
        for index, shape in zip(self._inputs, self._shapes):
            interpreter.resize_tensor_input(index, shape, strict=True)
        interpreter.allocate_tensors()
        return interpreter


def compute_op_types(interpreter: Any) -> list[tuple[str, list[str]]]:
    """Each matrix product and convolution of a TFLite interpreter's model (the converted graph,
    as written, before any delegate takes it over), with the types of its first two inputs: the
    activations and the weights. int8 weights under float32 activations are dynamic-range
    quantization: the kernel quantizes the activations at each call and multiplies in int8."""
    found = []
    for op in interpreter._get_ops_details():  # TFLite's only record of the graph's operators
        if op["op_name"] in COMPUTE_OPS:
            inputs = [int(i) for i in op["inputs"][:2] if int(i) >= 0]
            types = [np.dtype(interpreter._get_tensor_details(i, 0)["dtype"]).name for i in inputs]
            found.append((str(op["op_name"]), types))
    return found


def compute_op_flops(interpreter: Any) -> list[float | None]:
    """The FLOPs of each operator :func:`compute_op_types` lists, in its order, from the shapes
    of its tensors as allocated (the cell's own); None where the shapes do not say."""
    found = []
    for op in interpreter._get_ops_details():
        if op["op_name"] in COMPUTE_OPS:
            shapes = [list(interpreter._get_tensor_details(int(i), 0)["shape"]) for i in op["inputs"][:2]]
            output = list(interpreter._get_tensor_details(int(op["outputs"][0]), 0)["shape"])
            found.append(op_flops(str(op["op_name"]), shapes, output))
    return found


def op_flops(name: str, inputs: list[list[int]], output: list[int]) -> float | None:
    """Multiply-adds x 2 of one TFLite compute operator: each output value sums over the weights'
    reduced dimensions (a fully connected layer's [N, K] weights: K; a convolution's [O, H, W, I]:
    H*W*I; a depthwise one's [1, H, W, O]: H*W; a batched product: its first input's last dim);
    None for any other (a transposed convolution's inputs come in another order)."""
    if len(inputs) < 2 or not output or not inputs[1]:
        return None
    reduced = {
        "FULLY_CONNECTED": inputs[1][-1:],
        "CONV_2D": inputs[1][1:],
        "DEPTHWISE_CONV_2D": inputs[1][1:3],
        "BATCH_MATMUL": inputs[0][-1:],  # as written (a transposed first input would say [-2])
    }.get(name)
    return None if reduced is None else 2.0 * math.prod(output) * math.prod(reduced)

"""Read a user's model file as far as its declared inputs and outputs, in the environment of the
framework that reads its format, and print them as JSON.

``python -m runners.inspect --format pt2|keras|savedmodel|openvino-ir PATH``

Prints ``{"inputs": [{"name", "dtype", "dims"}], "outputs": [names]}``, where a dim is a number
or, when the file leaves it open, its name (or None). A file that cannot be read exits 1 with
one line on stderr saying why.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from runners.registry import inspector_of
from runners.worker import block_other_frameworks


def _pt2(path: str) -> dict[str, Any]:
    import torch

    program = torch.export.load(path)
    inputs = []
    placeholders = {node.name: node for node in program.graph.nodes if node.op == "placeholder"}
    for spec in program.graph_signature.input_specs:
        if spec.kind != torch.export.graph_signature.InputKind.USER_INPUT:
            continue
        value = placeholders[spec.arg.name].meta["val"]
        dims = [int(d) if isinstance(d, int) or str(d).isdigit() else str(d) for d in value.shape]
        inputs.append({"name": spec.arg.name, "dtype": str(value.dtype).removeprefix("torch."), "dims": dims})
    outputs = [str(spec.arg.name) for spec in program.graph_signature.output_specs]
    return {"inputs": inputs, "outputs": outputs}


def _keras(path: str) -> dict[str, Any]:
    import keras

    model = keras.saving.load_model(path, compile=False)
    inputs = [
        {"name": tensor.name, "dtype": str(tensor.dtype), "dims": list(tensor.shape)}
        for tensor in model.inputs
    ]
    return {"inputs": inputs, "outputs": [tensor.name for tensor in model.outputs]}


def _savedmodel(path: str) -> dict[str, Any]:
    import tensorflow as tf

    signature = tf.saved_model.load(path).signatures["serving_default"]
    _, specs = signature.structured_input_signature
    inputs = [
        {"name": name, "dtype": spec.dtype.name, "dims": [d if d is None else int(d) for d in spec.shape]}
        for name, spec in specs.items()
    ]
    return {"inputs": inputs, "outputs": list(signature.structured_outputs)}


def _openvino_ir(path: str) -> dict[str, Any]:
    import openvino

    model = openvino.Core().read_model(path)
    inputs = []
    for port in model.inputs:
        dims = [d.get_length() if d.is_static else None for d in port.get_partial_shape()]
        inputs.append(
            {"name": port.get_any_name(), "dtype": port.get_element_type().to_dtype().name, "dims": dims}
        )
    return {"inputs": inputs, "outputs": [port.get_any_name() for port in model.outputs]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runners.inspect", description=__doc__)
    readers = {"pt2": _pt2, "keras": _keras, "savedmodel": _savedmodel, "openvino-ir": _openvino_ir}
    parser.add_argument("--format", required=True, choices=list(readers))
    parser.add_argument("path")
    args = parser.parse_args(argv)
    framework = inspector_of(args.format)  # whose environment this is (registry: Framework.inspects)
    assert framework is not None, f"no framework inspects {args.format}"
    block_other_frameworks(framework)
    read = readers[args.format]
    try:
        found = read(args.path)
    except Exception as exc:  # the file is not what it says: one line for the user
        message = str(exc).strip().splitlines()
        print(f"{type(exc).__name__}: {message[0] if message else ''}".rstrip(": "), file=sys.stderr)
        return 1
    print(json.dumps(found))
    return 0


if __name__ == "__main__":
    sys.exit(main())

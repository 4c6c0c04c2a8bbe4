"""TensorFlow's own int8 path: its converter (``tf.lite.TFLiteConverter``, in TensorFlow 2.21
still) writes a quantized TFLite model, which the runner runs in the TFLite interpreter.

``int8`` and ``int8-static`` are the converter's full-integer quantization: int8 weights and
activations, the activations' ranges from a representative dataset (the run's calibration set),
float32 in and out. ``int8-dynamic`` is its dynamic-range quantization: int8 weights, activations
quantized at each call by the kernels that can (fully connected, convolution). The model is
exported as TensorFlow serves a Keras 3 model (a SavedModel of one ``tf.function`` with the
batch left free) and converted from that; every setting recorded is read back from the written
model, not copied from the request.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from models.base import ModelFiles
from runners.calibration import calibration_calls
from runners.frameworks.tflite import compute_op_types
from schemas.quantize import CannotQuantize, QuantizeRequest, QuantizeResult

# The converted model's file, in the request's output directory.
QUANTIZED_FILE = "model.int8.tflite"

# The flavour each int8 precision converts to. int8 is full-integer: TFLite's guide for CPUs
# and accelerators that compute in integers.
FLAVOURS = {"int8": "full-integer", "int8-static": "full-integer", "int8-dynamic": "dynamic-range"}


def quantize(request: QuantizeRequest) -> QuantizeResult:
    """Convert the request's model with TFLite's converter at its precision; the .tflite file
    and what the converter did, read back from the file."""
    import tensorflow as tf

    flavour = FLAVOURS[request.precision]
    if flavour == "full-integer" and not request.calibration:
        raise CannotQuantize("full-integer quantization needs a calibration set, and the run has none")
    output = Path(request.output_dir)
    with tempfile.TemporaryDirectory(dir=output) as saved:
        feed = _export(tf, request, Path(saved))
        converter = tf.lite.TFLiteConverter.from_saved_model(saved)
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if flavour == "full-integer":
            converter.representative_dataset = lambda: _representative(request, feed)
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            converter.inference_input_type = tf.float32  # numpy float32 in and out, as every runner
            converter.inference_output_type = tf.float32
        blob = converter.convert()
    target = output / QUANTIZED_FILE
    target.write_bytes(blob)
    settings: dict[str, Any] = {
        "tool": f"tf.lite.TFLiteConverter (TensorFlow {tf.__version__}), from a SavedModel",
        "flavour": flavour,
        "calibration_samples": _samples(request) if flavour == "full-integer" else 0,
        **read_back(tf, target),
    }
    if not settings["int8_compute_ops"]:
        raise CannotQuantize(f"TFLite's converter quantized no matrix product or convolution ({flavour})")
    return QuantizeResult(str(target), settings)


def _export(tf: Any, request: QuantizeRequest, directory: Path) -> Any:
    """Save the model as a SavedModel whose one signature takes the Keras feed with the batch
    free; return the feed (stored inputs -> the list the model takes)."""
    import keras

    from models.registry import load_model

    if request.source_format not in (None, "keras"):
        raise CannotQuantize(f"TensorFlow's int8 converts a Keras model, not a {request.source_format} file")
    model = load_model(request.model_ref, request.source, request.source_format)
    feed = model.keras_feed
    if request.source is not None:  # the user's .keras file, fed as stored
        net = keras.saving.load_model(request.source, compile=False)
        feed = _as_stored
    else:
        net = model.keras_model(ModelFiles(Path(request.model_dir)))
    structure = model.keras_structure
    first = calibration_calls(request.calibration, 1)[0] if request.calibration else _stored(request, model)
    example = feed(first)
    signature = [
        tf.TensorSpec((None, *x.shape[1:]), tf.as_dtype(x.dtype), name=f"x{i}") for i, x in enumerate(example)
    ]
    # Keras 3's own export (what model.export does), with the Keras feed's signature: the
    # variables tracked, so that the converter freezes them into constants.
    archive = keras.export.ExportArchive()
    archive.track(net)
    archive.add_endpoint(
        "serve",
        lambda *xs: tf.cast(_first(net(structure(list(xs)), training=False)), tf.float32),
        input_signature=signature,
    )
    archive.write_out(str(directory), verbose=False)
    return feed


def _representative(request: QuantizeRequest, feed: Any) -> Iterator[list[np.ndarray]]:
    """The calibration samples one at a time, in the Keras feed's form: the converter's
    representative dataset."""
    for call in calibration_calls(request.calibration, 1):
        yield feed(call)


def _samples(request: QuantizeRequest) -> int:
    return len(calibration_calls(request.calibration, 1))


def _stored(request: QuantizeRequest, model: Any) -> dict[str, np.ndarray]:
    """The first stored input sample by name, in the model's input order: the signature's
    shapes when there is no calibration set (dynamic-range quantization needs none)."""
    inputs = Path(request.model_dir) / "inputs"
    return {name: np.load(inputs / f"{name}.npy")[:1] for name in model.spec.input_names()}


def read_back(tf: Any, path: Path) -> dict[str, Any]:
    """What the written model computes in: its compute operators by input type, and its inputs."""
    interpreter = tf.lite.Interpreter(model_path=str(path))
    counts: Counter[str] = Counter()
    for name, types in compute_op_types(interpreter):
        counts[f"{name} {'x'.join(types)}"] += 1
    return {
        "compute_ops": dict(sorted(counts.items())),  # "FULLY_CONNECTED float32xint8": activations x weights
        "int8_compute_ops": sum(n for key, n in counts.items() if key.endswith("int8")),
        "input_types": [np.dtype(d["dtype"]).name for d in interpreter.get_input_details()],
    }


def _as_stored(sample: dict[str, np.ndarray]) -> list[np.ndarray]:
    return list(sample.values())


def _first(output: Any) -> Any:
    if isinstance(output, dict):
        return next(iter(output.values()))
    if isinstance(output, (list, tuple)):
        return output[0]
    return output

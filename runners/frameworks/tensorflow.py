"""TensorFlow: a Keras 3 model (on the tensorflow backend) called through one ``tf.function``
with a fixed input signature, XLA-compiled unless the option says otherwise.

The model is the plug-in's Keras implementation (``keras_hub`` backbones for the zoo), the
user's ``.keras`` file, or the user's SavedModel (its serving signature). int8 is TensorFlow's
converter and interpreter: the model TFLite's converter quantized beforehand, in a process of
its own (runners/quantizers/tensorflow.py), run by the TFLite interpreter (runners/frameworks/tflite.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from models.base import Model, ModelFiles, UnsupportedModel
from runners.base import Option, Runner, Sample, UnsupportedPrecision
from runners.frameworks.tflite import TfliteModel
from schemas.precisions import INT8_PRECISIONS
from schemas.tensors import aligned_copy


class TensorFlowRunner(Runner):
    name = "tensorflow"
    options: ClassVar[dict[str, Option]] = {
        "jit_compile": Option(
            ("true", "false"),
            "compile the tf.function with XLA (true) or run it as a plain TensorFlow graph (false); "
            "XLA measured faster on an AVX-512 machine, slower on an AVX2 one; int8 runs the TFLite "
            "interpreter, which neither has",
            precisions=("fp32", "bf16"),
        ),
    }

    def import_framework(self) -> str:
        import tensorflow as tf

        self.tf: Any = tf
        return str(tf.__version__)

    def configure_threads(self, threads: int) -> None:
        self._threads = threads  # the TFLite interpreter's too (int8)
        # Only possible before the runtime initialises, i.e. right after import.
        threading = self.tf.config.threading
        threading.set_intra_op_parallelism_threads(threads)
        threading.set_inter_op_parallelism_threads(1)
        self.settings.update(
            intra_op_parallelism_threads=threading.get_intra_op_parallelism_threads(),
            inter_op_parallelism_threads=threading.get_inter_op_parallelism_threads(),
        )

    def configure_precision(self, precision: str) -> None:
        # Keras's mixed policy: bf16 compute, float32 variables; the output is cast back.
        # int8: the TFLite model the converter made beforehand (None: there is none, skipped).
        paths = {"fp32": "float32", "bf16": "mixed_bfloat16", **dict.fromkeys(INT8_PRECISIONS, "int8")}
        self._policy = self.precision_path(precision, paths)
        self._tflite: TfliteModel | None = None
        if self._policy == "int8" and self.quantized is None:
            raise UnsupportedPrecision(
                f"tensorflow runs {precision} from a model TFLite's converter made, and none was made"
            )

    def observed_threads(self) -> int | None:
        return int(self.tf.config.threading.get_intra_op_parallelism_threads())

    def load(self, model: Model, files: ModelFiles, sample: Sample) -> None:
        if self._policy == "int8":
            self._load_tflite(model, files, sample)
            return
        tf = self.tf
        import keras

        keras.mixed_precision.set_global_policy(self._policy)
        self._feed: Callable[[Sample], list[np.ndarray]] = _in_order  # a user's file: as stored
        structure = model.keras_structure
        feed_note = "as stored"
        if files.source_format == "savedmodel":
            loaded = tf.saved_model.load(str(files.source))
            # The signature holds only weak references to the model's variables: keep the model.
            self._saved_model = loaded
            serving = loaded.signatures["serving_default"]
            names = list(sample)
            net: Any = lambda xs: serving(**dict(zip(names, xs)))  # noqa: E731
            structure = _as_list
            how = "SavedModel serving_default signature via tf.function"
        elif files.source_format == "keras":
            net = keras.saving.load_model(str(files.source), compile=False)
            how = "the user's .keras model via tf.function"
        elif files.source_format is not None:
            raise UnsupportedModel(f"TensorFlow cannot load a {files.source_format} model")
        else:
            net = model.keras_model(files)
            self._feed, feed_note = model.keras_feed, model.keras_feed_note
            how = "Keras 3 model via tf.function, fixed input signature"
        prepared = self.prepare(sample)
        signature = [tf.TensorSpec(shape=x.shape, dtype=x.dtype) for x in prepared]
        jit = self.option("jit_compile") == "true"
        self._call = tf.function(
            lambda *xs: tf.cast(_call(net, structure(list(xs))), tf.float32),
            input_signature=signature,
            jit_compile=jit,
        )
        self.settings.update(
            mode=how,
            jit_compile=jit,
            keras_version=keras.__version__,
            keras_backend=keras.backend.backend(),
            dtype_policy=self._policy,
            inputs_fed=feed_note,
        )

    def _load_tflite(self, model: Model, files: ModelFiles, sample: Sample) -> None:
        """The int8 model TFLite's converter made, in the TFLite interpreter, fed as Keras is."""
        assert self.quantized is not None
        self._feed = _in_order if files.source_format is not None else model.keras_feed
        self._tflite = TfliteModel(self.tf, self.quantized["path"], self._threads, self.prepare(sample))
        self.settings.update(
            mode="TFLite interpreter, int8 (the model tf.lite.TFLiteConverter quantized)",
            inputs_fed=model.keras_feed_note if files.source_format is None else "as stored",
            **self._tflite.settings,
        )

    def prepare(self, sample: Sample) -> list[np.ndarray]:
        return [aligned_copy(x) for x in self._feed(sample)]

    def predict(self, feed: list[np.ndarray]) -> np.ndarray:
        if self._tflite is not None:
            return self._tflite.predict(feed)
        return self._call(*feed).numpy()  # type: ignore[no-any-return]

    def compiled_precision(self, feed: list[np.ndarray]) -> str | None:
        """With XLA, the element types of the dots and convolutions of the optimised HLO; as a
        plain graph, the types of the matrix-product and convolution operations of the graph
        TensorFlow executes (its functions' too). Grappler's rewrites before execution (fusions,
        oneDNN kernels) keep each operation's type; its auto mixed precision, which would not,
        is off unless switched on, and this runner never does."""
        from runners.precision import TENSORFLOW_COMPUTE, hlo_compute_dtypes, summarise

        if self._tflite is not None:
            return self._tflite.compiled_precision()
        if self.settings.get("jit_compile"):
            text = self._call.experimental_get_compiler_ir(*feed)(stage="optimized_hlo")
            return summarise(hlo_compute_dtypes(text))
        graph = self._call.get_concrete_function(*feed).graph
        found = [op.inputs[0].dtype.name for op in graph.get_operations() if op.type in TENSORFLOW_COMPUTE]
        for function in graph.as_graph_def().library.function:  # nested calls: a SavedModel's
            for node in function.node_def:
                if node.op in TENSORFLOW_COMPUTE:
                    attr = node.attr["T"] if "T" in node.attr else node.attr["Ta"]
                    found.append(self.tf.dtypes.as_dtype(attr.type).name)
        return summarise(found)


def _call(net: Any, inputs: Any) -> Any:
    """The model's output tensor; a model with several outputs gives its first."""
    try:
        return _first(net(inputs, training=False))
    except TypeError:  # a SavedModel signature takes no training flag
        return _first(net(inputs))


def _in_order(sample: Sample) -> list[np.ndarray]:
    return list(sample.values())


def _as_list(inputs: list[Any]) -> Any:
    return inputs


def _first(output: Any) -> Any:
    if isinstance(output, dict):
        return next(iter(output.values()))
    if isinstance(output, (list, tuple)):
        return output[0]
    return output

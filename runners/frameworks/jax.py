"""JAX: one jitted function, waited on with ``block_until_ready``.

Plain JAX maths where the model plug-in has it (the MLP); otherwise the plug-in's Keras 3
model (``keras_hub`` for the zoo) or the user's ``.keras`` file on Keras's jax backend, through
``stateless_call`` under ``jax.jit`` with the variables passed as arguments.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from models.base import Model, ModelFiles, UnsupportedModel
from runners.base import Option, Runner, Sample, UnsupportedPrecision
from schemas.precisions import INT8_PRECISIONS
from schemas.tensors import aligned_copy


class JaxRunner(Runner):
    name = "jax"
    options: ClassVar[dict[str, Option]] = {
        "params": Option(
            ("arguments", "constants"),
            "pass the weights to the jitted function as arguments, or close over them so that XLA "
            "compiles them in as constants (measured 1.33x faster at batch 1 for the MLP)",
        ),
    }

    def import_framework(self) -> str:
        import jax

        self.jax: Any = jax
        return str(jax.__version__)

    def configure_threads(self, threads: int) -> None:
        # JAX has no thread API: its pool follows the affinity mask, which the worker narrowed
        # to ``threads`` CPUs before the import (runners.__main__).
        self._threads = len(os.sched_getaffinity(0))
        self.settings.update(intra_op_threads=self._threads, threads_from="affinity mask")

    def configure_precision(self, precision: str) -> None:
        if precision in INT8_PRECISIONS:
            raise UnsupportedPrecision(
                "jax documents no int8 inference path: jax and jaxlib ship no quantizer (AQT, a "
                "separate library, quantizes for training), so there is no int8 model to run"
            )
        self._dtype = self.precision_path(
            precision, {"fp32": self.jax.numpy.float32, "bf16": self.jax.numpy.bfloat16}
        )
        self._policy = {"fp32": "float32", "bf16": "mixed_bfloat16"}[precision]

    def observed_threads(self) -> int | None:
        return self._threads

    def load(self, model: Model, files: ModelFiles, sample: Sample) -> None:
        jax = self.jax
        self._feed: Callable[[Sample], list[np.ndarray]] = _in_order
        plain = model.jax_function(files) if files.source_format is None else None
        if plain is not None:
            call, params, how, compute, feed_note = self._plain(*plain)
        else:
            call, params, how, compute, feed_note = self._keras(model, files)
        if self.option("params") == "constants":  # baked into the compiled program
            self._forward = jax.jit(functools.partial(call, params))
            self._args: tuple[Any, ...] = ()
        else:
            self._forward = jax.jit(call)
            self._args = (params,)
        self.settings.update(
            mode=how,
            dtype=compute,
            backend=jax.default_backend(),
            x64=bool(jax.config.jax_enable_x64),
            inputs_fed=feed_note,
        )

    def _plain(self, forward: Any, weights: Any) -> tuple[Callable[..., Any], Any, str, str, str]:
        """A model written in plain JAX maths: its jitted call, params, and how it runs."""
        jax, jnp = self.jax, self.jax.numpy
        dtype = self._dtype
        params: Any = jax.tree_util.tree_map(lambda w: jnp.asarray(w, dtype), weights)

        def call(params: Any, *xs: Any) -> Any:
            xs = tuple(x.astype(dtype) if jnp.issubdtype(x.dtype, jnp.floating) else x for x in xs)
            return forward(params, *xs).astype(jnp.float32)

        how = "jax.jit of plain JAX maths, block_until_ready"
        return call, params, how, jnp.dtype(dtype).name, "as stored"

    def _keras(self, model: Model, files: ModelFiles) -> tuple[Callable[..., Any], Any, str, str, str]:
        """A Keras 3 model (the zoo's, or a user's .keras) on the jax backend, called statelessly."""
        jnp = self.jax.numpy
        import keras

        if keras.backend.backend() != "jax":  # a shared worker that TensorFlow's Keras took first
            raise UnsupportedModel(f"Keras in this process runs on {keras.backend.backend()}, not jax")
        keras.mixed_precision.set_global_policy(self._policy)
        from models.keras_loading import defers

        structure = model.keras_structure
        feed_note = "as stored"
        if files.source_format == "keras":
            net = keras.saving.load_model(str(files.source), compile=False)
        elif files.source_format is not None:
            raise UnsupportedModel(f"JAX cannot load a {files.source_format} model")
        else:
            net = model.keras_model(files)
            self._feed, feed_note = model.keras_feed, model.keras_feed_note
            self.settings["deferred_variable_initialisation"] = defers()
        params = (
            [v.value for v in net.trainable_variables],
            [v.value for v in net.non_trainable_variables],
        )

        def call(params: Any, *xs: Any) -> Any:
            trainable, non_trainable = params
            output, _ = net.stateless_call(trainable, non_trainable, structure(list(xs)), training=False)
            if isinstance(output, (list, tuple)):
                output = output[0]
            return output.astype(jnp.float32)

        how = "Keras 3 on the jax backend: jax.jit(stateless_call), variables as arguments"
        dtypes = {str(layer.compute_dtype) for layer in net.layers if layer.weights}
        compute = dtypes.pop() if len(dtypes) == 1 else ",".join(sorted(dtypes)) or "float32"
        self.settings.update(keras_version=keras.__version__, keras_backend=keras.backend.backend())
        return call, params, how, compute, feed_note

    def prepare(self, sample: Sample) -> list[np.ndarray]:
        return [aligned_copy(x) for x in self._feed(sample)]

    def predict(self, feed: list[np.ndarray]) -> np.ndarray:
        return np.asarray(self._forward(*self._args, *feed).block_until_ready())

    def compiled_precision(self, feed: list[np.ndarray]) -> str | None:
        """The element types of the dots and convolutions of the HLO XLA compiled for ``feed``."""
        from runners.precision import hlo_compute_dtypes, summarise

        text = self._forward.lower(*self._args, *feed).compile().as_text()
        return summarise(hlo_compute_dtypes(text))


def _in_order(sample: Sample) -> list[np.ndarray]:
    return list(sample.values())

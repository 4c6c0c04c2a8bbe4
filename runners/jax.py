"""JAX: one jitted function of the weights and the input, waited on with block_until_ready."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from runners.base import ModelFiles, Runner


class JaxRunner(Runner):
    name = "jax"

    def import_framework(self) -> str:
        import jax

        self.jax: Any = jax
        return str(jax.__version__)

    def configure_threads(self, threads: int) -> None:
        # JAX has no thread API: its pool follows the affinity mask, or one thread when
        # XLA_FLAGS (set by runners.threads before import) turns the Eigen pool off.
        self._threads = 1 if threads == 1 else len(os.sched_getaffinity(0))
        self.settings.update(
            xla_flags=os.environ.get("XLA_FLAGS", ""),
            intra_op_threads=self._threads,
            threads_from="XLA_FLAGS" if threads == 1 else "affinity mask",
        )

    def configure_precision(self, precision: str) -> None:
        self._dtype = {"fp32": self.jax.numpy.float32, "bf16": self.jax.numpy.bfloat16}[precision]

    def observed_threads(self) -> int | None:
        return self._threads

    def load(self, model: ModelFiles, batch_size: int) -> None:
        jax, jnp = self.jax, self.jax.numpy
        dtype = self._dtype
        self._params = [
            (jnp.asarray(lay.weight, dtype), jnp.asarray(lay.bias, dtype)) for lay in model.layers
        ]
        activations = [jax.nn.relu if lay.activation == "relu" else jax.nn.sigmoid for lay in model.layers]

        def forward(params: Any, x: Any) -> Any:
            x = x.astype(dtype)  # float32 in, like every framework; cast inside the compiled call
            for (weight, bias), activation in zip(params, activations):
                x = activation(x @ weight + bias)
            return x.astype(jnp.float32)

        self._forward = jax.jit(forward)
        self.precision_effective = {"float32": "fp32", "bfloat16": "bf16"}[jnp.dtype(dtype).name]
        self.settings.update(
            dtype=jnp.dtype(dtype).name,
            mode="jax.jit, block_until_ready",
            backend=jax.default_backend(),
            x64=bool(jax.config.jax_enable_x64),
        )

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self._forward(self._params, x).block_until_ready())

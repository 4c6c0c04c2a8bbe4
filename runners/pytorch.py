"""PyTorch: an ``nn.Module`` in eval mode, called under ``torch.inference_mode``."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from runners.base import ModelFiles, Runner


class PyTorchRunner(Runner):
    name = "pytorch"

    def import_framework(self) -> str:
        import torch

        self.torch: Any = torch
        return str(torch.__version__)

    def configure_threads(self, threads: int) -> None:
        torch = self.torch
        torch.set_num_threads(threads)
        torch.set_num_interop_threads(1)  # must precede any parallel work
        self.settings.update(
            num_threads=torch.get_num_threads(),
            num_interop_threads=torch.get_num_interop_threads(),
            parallel_backend=torch.__config__.parallel_info().splitlines()[0],
        )

    def configure_precision(self, precision: str) -> None:
        # bf16 weights and activations (oneDNN uses AVX512-BF16/AMX where the CPU has them);
        # float32 numpy in and out, the casts counted in the call like any framework's.
        self.dtype = {"fp32": self.torch.float32, "bf16": self.torch.bfloat16}[precision]

    def observed_threads(self) -> int | None:
        return int(self.torch.get_num_threads())

    def load(self, model: ModelFiles, batch_size: int) -> None:
        torch, nn = self.torch, self.torch.nn
        modules: list[Any] = []
        for layer in model.layers:
            linear = nn.Linear(*layer.weight.shape)
            with torch.no_grad():
                # nn.Linear stores [out, in] and computes x @ W.T + b.
                linear.weight.copy_(torch.from_numpy(np.ascontiguousarray(layer.weight.T)))
                linear.bias.copy_(torch.from_numpy(layer.bias))
            modules += [linear, nn.ReLU() if layer.activation == "relu" else nn.Sigmoid()]
        self.model = nn.Sequential(*modules).eval().to(self.dtype)
        dtype = next(self.model.parameters()).dtype
        self.precision_effective = {torch.float32: "fp32", torch.bfloat16: "bf16"}.get(dtype, str(dtype))
        self.settings.update(mode="eager nn.Module, eval(), inference_mode", dtype=str(dtype))

    @contextlib.contextmanager
    def session(self) -> Iterator[None]:
        with self.torch.inference_mode():
            yield

    def predict(self, x: np.ndarray) -> np.ndarray:
        # from_numpy shares the buffer: no copy in, and .numpy() shares the result out.
        if self.dtype is self.torch.float32:
            return self.model(self.torch.from_numpy(x)).numpy()  # type: ignore[no-any-return]
        return self.model(self.torch.from_numpy(x).to(self.dtype)).float().numpy()  # type: ignore[no-any-return]

"""PyTorch: an ``nn.Module`` in eval mode, called under ``torch.inference_mode``.

The module is the model plug-in's own (a hand-written ``nn.Module``, or ``transformers``' for
DistilBERT), or the user's ``torch.export`` archive (.pt2). int8 is PyTorch's PT2E flow for
x86 (runners/frameworks/pytorch_pt2e.py), run at load from the job's calibration set.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np

from models.base import Model, ModelFiles, UnsupportedModel
from runners.base import Option, Runner, Sample, UnsupportedPrecision
from runners.calibration import calibration_calls
from runners.precision import summarise, torch_compute_dtypes


class PyTorchRunner(Runner):
    name = "pytorch"
    options: ClassVar[dict[str, Option]] = {
        "compile": Option(
            ("false", "true"),
            "run the module eagerly, or through torch.compile (inductor; it compiles at the first "
            "call, which ready_s shows); int8 always compiles (PT2E's integer kernels come from it)",
            precisions=("fp32", "bf16"),
        ),
    }

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
        from runners.frameworks.pytorch_pt2e import FLAVOURS

        # bf16 weights and activations (oneDNN uses AVX512-BF16/AMX where the CPU has them);
        # float32 numpy in and out, the casts counted in the call like any framework's.
        # int8: a float32 module, quantized after load by PT2E (quantize_at_load), static or dynamic.
        torch = self.torch
        self.dtype, self._flavour = self.precision_path(
            precision,
            {
                "fp32": (torch.float32, None),
                "bf16": (torch.bfloat16, None),
                **{name: (torch.float32, flavour) for name, flavour in FLAVOURS.items()},
            },
        )
        self._unwrap = False

    def observed_threads(self) -> int | None:
        return int(self.torch.get_num_threads())

    def load(self, model: Model, files: ModelFiles, sample: Sample) -> None:
        torch = self.torch
        if files.source_format == "pt2":
            if self.dtype is not torch.float32:  # an exported program's dtypes are fixed in its graph
                raise UnsupportedPrecision("a torch.export archive runs in the dtypes it was exported with")
            self.model = torch.export.load(str(files.source)).module()  # exported in eval mode
            how = "torch.export archive (.pt2), ExportedProgram.module(), inference_mode"
            self._unwrap = True  # an exported program returns its outputs as a tuple
        elif files.source_format is not None:
            raise UnsupportedModel(f"PyTorch cannot load a {files.source_format} model")
        else:
            self.model = model.torch_module(files).to(self.dtype)  # in eval() mode
            how = "nn.Module, eval(), inference_mode"
        self._names = list(sample)
        self._floats = {name for name, array in sample.items() if array.dtype.kind == "f"}
        self._layout = {name: torch.preserve_format for name in self._names}
        if self.dtype is torch.bfloat16 and files.source_format is None:
            how += self._channels_last(sample)
        if self.option("compile") == "true" and self._flavour is None:  # int8 compiles after quantizing
            self.model = torch.compile(self.model)
            how += ", torch.compile (inductor)"
        # The dtype the runner cast to: what ran is observed after the timed loop (compiled_precision).
        self.settings.update(mode=how, dtype=str(self.dtype))

    def _channels_last(self, sample: Sample) -> str:
        """A CNN in bf16 as PyTorch's CPU guides run it: channels-last images and weights (oneDNN's
        bf16 convolutions work in NHWC; NCHW would be reordered at every layer). What it did."""
        torch = self.torch
        images = [name for name in self._floats if sample[name].ndim == 4]
        if not images:
            return ""
        self.model = self.model.to(memory_format=torch.channels_last)
        self._layout.update(dict.fromkeys(images, torch.channels_last))
        return ", channels-last"

    @property
    def quantizes_at_load(self) -> bool:
        return self._flavour is not None

    def quantize_at_load(self, sample: Sample) -> None:
        """PT2E int8 (static from the job's calibration set, or dynamic), compiled by inductor;
        the module a .pt2 archive holds is quantized alike."""
        from runners.frameworks.pytorch_pt2e import quantize

        torch = self.torch
        assert self._flavour is not None
        example = [torch.from_numpy(sample[name]) for name in self._names]
        batch = len(next(iter(sample.values())))
        calls = [
            [torch.from_numpy(call[name]) for name in self._names]
            for call in calibration_calls(self.calibration, batch)
        ]
        self.model, quantization = quantize(torch, self.model, example, calls, self._flavour)
        self.settings["quantization"] = quantization
        self.settings["mode"] += ", PT2E int8 (torchao), torch.compile (inductor, freezing)"

    def compiled_precision(self, feed: Sample) -> str | None:
        """The dtypes of the matrix products and convolutions PyTorch's profiler saw run in one
        call (the operators a compiled module's code calls too); its own kernels that inductor
        generates are not seen, and a call with no such operator is ``unobserved``."""
        from torch.profiler import ProfilerActivity, profile

        with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as profiler:
            self.predict(feed)
        events = profiler.events() or []
        found = torch_compute_dtypes(
            (event.name, getattr(event, "input_dtypes", None) or []) for event in events
        )
        if not found:
            self.settings["precision_unobserved"] = "the profiler saw no matrix product or convolution run"
        return summarise(found)

    @contextlib.contextmanager
    def session(self) -> Iterator[None]:
        with self.torch.inference_mode():
            yield

    def predict(self, feed: Sample) -> np.ndarray:
        # from_numpy shares the buffer: no copy in, and .numpy() shares the result out.
        torch = self.torch
        if self.dtype is torch.float32:
            output = self.model(*[torch.from_numpy(feed[name]) for name in self._names])
            if self._unwrap and not isinstance(output, torch.Tensor):
                output = output[0]
            return output.numpy()  # type: ignore[no-any-return]
        inputs = [
            torch.from_numpy(feed[name]).to(self.dtype, memory_format=self._layout[name])
            if name in self._floats
            else torch.from_numpy(feed[name])
            for name in self._names
        ]
        return self.model(*inputs).float().numpy()  # type: ignore[no-any-return]

"""Deterministic stand-in runners for tests: the reference network in plain numpy.

``fake`` behaves; each ``fake-<fault>`` misbehaves in one way a real framework can, a few
calls into the timed loop (or at its import), so the tests can prove the orchestrator survives
it. Only the test suite registers them (conftest.py names this file in the registry's
EXTRA_RUNNERS_VARIABLE): a user's run cannot name a runner that kills it.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from models.base import Model, ModelFiles, UnsupportedModel
from models.mlp import activate
from runners.base import Runner, Sample
from runners.registry import Framework
from schemas.job import JobSpec

# The faults the fake runner can be told to commit, as framework "fake-<fault>".
FAKE_FAULTS = (
    "raise", "segfault", "oom-kill", "hang", "exit", "garbage", "diverge",
    "half",  # computes in float16 whatever precision it is asked for
    "noisy",  # its outputs carry noise of 0.05 RMS: fails a fidelity floor, not only a difference
    "import-missing",  # its module is not installed: ModuleNotFoundError
    "import-error",  # installed, and broken: a shared library it needs is not there
    "import-crash",  # installed, and its import raises something else
    "extra-threads",  # computes on a second thread of its own, beyond --threads
    "kill-orchestrator",  # SIGKILLs the orchestrator that started it: a job's process lost
)  # fmt: skip

# In the command line of the hanging runner's grandchild, with its job's path, so that a test
# can find the survivors of its own run and of no other suite's on the same machine.
HANG_MARKER = "fake-hang-grandchild"

# Calls made before a fault strikes: past the first inference and the warm-up of a test budget.
_CALLS_BEFORE_FAULT = 5


class FakeRunner(Runner):
    """Computes the model with numpy in float32, so parity holds and no framework is needed."""

    name = "fake"
    fault: ClassVar[str | None] = None

    def import_framework(self) -> str:
        if self.fault == "import-missing":
            raise ModuleNotFoundError("No module named 'fakeframework'")
        if self.fault == "import-error":
            raise ImportError("libfake.so: cannot open shared object file")
        if self.fault == "import-crash":
            raise RuntimeError("fakeframework was compiled against an incompatible numpy")
        return f"numpy-{np.__version__}"

    def configure_threads(self, threads: int) -> None:
        self.settings["threads"] = threads

    def configure_precision(self, precision: str) -> None:
        # Emulated in numpy: bf16 rounds the weights, each layer's input and the output to
        # bfloat16; int8 (dynamic, its only flavour) rounds the weights to int8 per output
        # channel and each layer's input to uint8 over its own range at each call.
        path = self.precision_path(precision, _EMULATED)
        self._path = None if self.fault == "half" else path  # float16 whatever is asked

    def load(self, model: Model, files: ModelFiles, sample: Sample) -> None:
        from models.mlp import read_layers

        if model.spec.name not in ("mlp", "digits"):  # the dense networks
            raise UnsupportedModel(f"the fake runner computes only the mlp and digits, not {model.spec.name}")
        self._layers = read_layers(files)
        if self.fault == "half":
            self._layers = [(w.astype(np.float16), b.astype(np.float16), a) for w, b, a in self._layers]
        elif self._path is not None:
            self._layers = [(self._path.weights(w), b, a) for w, b, a in self._layers]
        self._calls = 0
        self._noise = np.random.default_rng(11)
        if self.fault == "extra-threads":  # a pool the thread settings do not reach, as JAX's did
            threading.Thread(target=_spin, daemon=True).start()

    def predict(self, feed: Sample) -> np.ndarray:
        self._calls += 1
        if self.fault and self._calls > _CALLS_BEFORE_FAULT:
            _strike(self.fault)
        h = self._forward(feed["input"])
        if self.fault == "diverge":
            h = h + 0.01
        if self.fault == "noisy":  # a quantization gone wrong: an error of 0.05 RMS, ~20 dB SQNR
            h = h + self._noise.normal(0.0, 0.05, h.shape).astype(h.dtype)
        return h

    def _forward(self, h: np.ndarray, products: list[str] | None = None) -> np.ndarray:
        if self.fault == "half":
            h = h.astype(np.float16)
        path = self._path
        for weight, bias, activation in self._layers:
            if path is not None:
                h = path.inputs(h)
            h = h @ weight
            if products is not None:
                products.append(h.dtype.name if path is None else path.computes_in)
            h = activate(h + bias, activation)
        return h if path is None else path.output(h)

    def compiled_precision(self, feed: Sample) -> str | None:
        """The dtypes numpy's matrix products computed in, in one call."""
        from runners.precision import summarise

        products: list[str] = []
        self._forward(feed["input"], products)
        return summarise(products)


@dataclass(frozen=True)
class _Emulated:
    """A lower precision emulated in numpy: what it does to the weights, to each layer's input
    and to the output, and the type its products are recorded in."""

    computes_in: str
    weights: Callable[[np.ndarray], np.ndarray]
    inputs: Callable[[np.ndarray], np.ndarray]
    output: Callable[[np.ndarray], np.ndarray] = lambda values: values


def _to_int8_per_channel(weights: np.ndarray) -> np.ndarray:
    """Weights [in, out] rounded to int8, symmetric, one scale per output channel (dequantized)."""
    scale = np.maximum(np.abs(weights).max(axis=0), np.float32(1e-12)) / np.float32(127)
    return (np.clip(np.round(weights / scale), -127, 127) * scale).astype(np.float32)


def _to_uint8_dynamic(values: np.ndarray) -> np.ndarray:
    """Activations rounded to uint8 over their own range (zero included), as a dynamic
    quantization does at each call (dequantized)."""
    low, high = min(float(values.min()), 0.0), max(float(values.max()), 0.0)
    scale = (high - low) / 255 or 1.0
    zero = np.round(-low / scale)
    return ((np.clip(np.round(values / scale) + zero, 0, 255) - zero) * scale).astype(np.float32)


def _to_bfloat16(values: np.ndarray) -> np.ndarray:
    """float32 values rounded to the nearest bfloat16 (ties to even), kept as float32."""
    bits = np.ascontiguousarray(values, dtype=np.float32).view(np.uint32)
    rounded = (bits + np.uint32(0x7FFF) + ((bits >> np.uint32(16)) & np.uint32(1))) & np.uint32(0xFFFF0000)
    return rounded.view(np.float32)


_BFLOAT16 = _Emulated("bfloat16", _to_bfloat16, _to_bfloat16, _to_bfloat16)  # a bf16 graph's output is bf16
_INT8_DYNAMIC = _Emulated("int8", _to_int8_per_channel, _to_uint8_dynamic)
_EMULATED: dict[str, _Emulated | None] = {
    "fp32": None, "bf16": _BFLOAT16, "int8": _INT8_DYNAMIC, "int8-dynamic": _INT8_DYNAMIC,
}  # fmt: skip


def _spin() -> None:
    """Compute for ever, the interpreter lock released (numpy's matmul), on a thread of its own."""
    a = np.ones((256, 256), dtype=np.float64)
    while True:
        a = a @ a
        a /= a.max()


def _strike(fault: str) -> None:
    if fault == "raise":
        raise RuntimeError("injected fault: the kernel refused the shape")
    if fault == "segfault":
        ctypes.string_at(0)  # a real SIGSEGV, as a native library's bug would give
    if fault == "oom-kill":
        os.kill(os.getpid(), signal.SIGKILL)  # what the kernel's out-of-memory killer sends
    if fault == "kill-orchestrator":
        os.kill(os.getppid(), signal.SIGKILL)  # the out-of-memory killer's choice, one level up
        time.sleep(3600)  # the orchestrator's watchdog ends this process
    if fault == "hang":
        # A grandchild too, so that only a kill of the whole process group leaves nothing.
        job_path = sys.argv[sys.argv.index("--job") + 1]
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)", HANG_MARKER, job_path])
        time.sleep(3600)
    if fault == "exit":
        os._exit(3)  # gone without a result
    if fault == "garbage":
        job = JobSpec.from_file(Path(sys.argv[sys.argv.index("--job") + 1]))
        with open(job.result_path, "wb") as result:
            result.write(b"PAR1 this is not a parquet file")
        os._exit(0)


def _with_fault(fault: str) -> type[FakeRunner]:
    return type(f"Fake_{fault.replace('-', '_')}", (FakeRunner,), {"fault": fault, "name": f"fake-{fault}"})


FAULTY_RUNNERS = {fault: _with_fault(fault) for fault in FAKE_FAULTS}


# What conftest.py registers: the well-behaved fake, and one runner per fault.
RUNNERS: dict[str, Framework] = {
    "fake": Framework("fake_runners:FakeRunner"),
    **{f"fake-{fault}": Framework(f"fake_runners:FAULTY_RUNNERS.{fault}") for fault in FAKE_FAULTS},
}

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
        # bf16 emulated: weights, each layer's input and the output rounded to bfloat16.
        rounding = self.precision_path(precision, {"fp32": None, "bf16": _to_bfloat16})
        self._rounding = None if self.fault == "half" else rounding  # float16 whatever is asked

    def load(self, model: Model, files: ModelFiles, sample: Sample) -> None:
        from models.mlp import read_layers

        if model.spec.name not in ("mlp", "digits"):  # the dense networks
            raise UnsupportedModel(f"the fake runner computes only the mlp and digits, not {model.spec.name}")
        self._layers = read_layers(files)
        if self.fault == "half":
            self._layers = [(w.astype(np.float16), b.astype(np.float16), a) for w, b, a in self._layers]
        elif self._rounding is not None:
            self._layers = [(self._rounding(w), b, a) for w, b, a in self._layers]
        self._calls = 0
        if self.fault == "extra-threads":  # a pool the thread settings do not reach, as JAX's did
            threading.Thread(target=_spin, daemon=True).start()

    def predict(self, feed: Sample) -> np.ndarray:
        self._calls += 1
        if self.fault and self._calls > _CALLS_BEFORE_FAULT:
            _strike(self.fault)
        h = self._forward(feed["input"])
        if self.fault == "diverge":
            h = h + 0.01
        return h

    def _forward(self, h: np.ndarray, products: list[str] | None = None) -> np.ndarray:
        if self.fault == "half":
            h = h.astype(np.float16)
        for weight, bias, activation in self._layers:
            if self._rounding is not None:
                h = self._rounding(h)
            h = h @ weight
            if products is not None:
                products.append("bfloat16" if self._rounding is _to_bfloat16 else h.dtype.name)
            h = activate(h + bias, activation)
        return h if self._rounding is None else self._rounding(h)  # a bf16 graph's output is bf16

    def compiled_precision(self, feed: Sample) -> str | None:
        """The dtypes numpy's matrix products computed in, in one call."""
        from runners.precision import summarise

        products: list[str] = []
        self._forward(feed["input"], products)
        return summarise(products)


def _to_bfloat16(values: np.ndarray) -> np.ndarray:
    """float32 values rounded to the nearest bfloat16 (ties to even), kept as float32."""
    bits = np.ascontiguousarray(values, dtype=np.float32).view(np.uint32)
    rounded = (bits + np.uint32(0x7FFF) + ((bits >> np.uint32(16)) & np.uint32(1))) & np.uint32(0xFFFF0000)
    return rounded.view(np.float32)


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

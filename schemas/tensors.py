"""Input tensors on disk: ``inputs.parquet`` (published, any Parquet reader opens it) and one
``.npy`` file per named input (what a runner reads).

The runner reads numpy's own format, not Parquet, because importing pyarrow adds ~40 MB to a
process -- more than half of ONNX Runtime's whole figure -- and every runner's memory figures
must hold its framework and as little harness as possible. Both files hold the same values.
``.npy`` is read with ``allow_pickle=False``: no code crosses the process boundary.

This module imports only numpy; the Parquet side lives in ``orchestrator.execute.inputs``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from schemas.files import atomic_write

# Byte alignment of every input array handed to a framework. JAX copies an input that is not
# 64-byte aligned on every call, and where numpy's allocator puts an array is luck; so it is
# fixed, for all alike.
INPUT_ALIGNMENT = 64


def aligned_copy(x: np.ndarray, alignment: int = INPUT_ALIGNMENT) -> np.ndarray:
    """A C-contiguous copy of ``x`` whose data starts on an ``alignment``-byte boundary."""
    x = np.asarray(x)
    raw = np.empty(x.nbytes + alignment, dtype=np.uint8)
    offset = -raw.ctypes.data % alignment
    aligned = raw[offset : offset + x.nbytes].view(x.dtype).reshape(x.shape)
    aligned[...] = x
    return aligned


def write_npy(x: np.ndarray, path: Path) -> None:
    """Write ``x`` as ``path`` (.npy), atomically."""

    def save(tmp: str) -> None:
        with open(tmp, "wb") as handle:  # a handle: given a name, np.save would append ".npy"
            np.save(handle, np.ascontiguousarray(x), allow_pickle=False)

    atomic_write(path, save)


def read_npy(path: Path, rows: int | None = None) -> np.ndarray:
    """The first ``rows`` samples (all when None) of a .npy file, as one aligned array.

    Memory-mapped first, so only the rows asked for are ever copied: one copy in memory.
    """
    mapped = np.load(path, mmap_mode="r", allow_pickle=False)
    return aligned_copy(mapped if rows is None else mapped[:rows])

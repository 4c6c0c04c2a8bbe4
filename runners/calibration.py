"""The calibration set as a quantizer in a runner feeds it: calls of the cell's own shape.

The parent writes the set (``ModelJob.calibration``: input name -> .npy, drawn like the
inputs from a seed stream of their own, so no calibration sample is a measured one). A model
whose shape is fixed at load (an exported graph) takes it in calls of the cell's batch; the
last call wraps around to the first samples rather than leave any out or change the shape
(repeating a sample moves no observer's range).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from schemas.tensors import aligned_copy, read_npy


def calibration_calls(paths: dict[str, str], batch_size: int) -> list[dict[str, np.ndarray]]:
    """The calibration samples of every input in ``paths`` as calls of ``batch_size`` rows
    each, in order, the last one completed from the first samples; [] when ``paths`` is empty.

    Raises ValueError when the inputs hold different numbers of samples, or none.
    """
    if not paths:
        return []
    arrays = {name: read_npy(Path(path)) for name, path in paths.items()}
    counts = {len(array) for array in arrays.values()}
    if len(counts) != 1 or 0 in counts:
        sizes = ", ".join(f"{name} {len(array)}" for name, array in arrays.items())
        raise ValueError(f"calibration set: every input needs the same number of samples (>0), got {sizes}")
    count = counts.pop()
    calls = []
    for start in range(0, count, batch_size):
        rows = np.arange(start, start + batch_size) % count
        calls.append({name: aligned_copy(array[rows]) for name, array in arrays.items()})
    return calls

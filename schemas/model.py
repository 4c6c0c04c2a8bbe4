"""The reference network as data: its weights and inputs on disk, and its maths in numpy.

Every runner builds its framework's model from :func:`read_weights`, and the parent checks
every runner's outputs against :func:`forward_numpy`, so all frameworks compute one function.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from schemas import io, tables

MODEL_NAME = "spam-mlp-200-128-64-32-16-8-1"
LAYER_SIZES = (200, 128, 64, 32, 16, 8, 1)
FEATURES = LAYER_SIZES[0]
# The single-stream scenario calls the model on each of (up to) this many input rows in turn.
SINGLE_STREAM_ROWS = 1000


@dataclass(frozen=True)
class Layer:
    """One dense layer: ``activation(x @ weight + bias)``; weight is [in, out] float32."""

    weight: np.ndarray
    bias: np.ndarray
    activation: str  # "relu" or "sigmoid"

    def __post_init__(self) -> None:
        if self.activation not in ("relu", "sigmoid"):
            raise ValueError(f"unknown activation {self.activation!r}")
        if self.weight.ndim != 2 or self.bias.shape != (self.weight.shape[1],):
            raise ValueError(f"bias {self.bias.shape} does not fit weight {self.weight.shape}")


def make_weights(seed: int) -> list[Layer]:
    """Seeded weights drawn like PyTorch's default Linear init: U(-1/sqrt(in), 1/sqrt(in))."""
    rng = np.random.default_rng([seed, 1])  # a stream of its own, independent of the inputs
    layers = []
    for index, (fan_in, fan_out) in enumerate(itertools.pairwise(LAYER_SIZES)):
        bound = 1.0 / np.sqrt(fan_in)
        weight = rng.uniform(-bound, bound, size=(fan_in, fan_out)).astype(np.float32)
        bias = rng.uniform(-bound, bound, size=fan_out).astype(np.float32)
        last = index == len(LAYER_SIZES) - 2
        layers.append(Layer(weight, bias, "sigmoid" if last else "relu"))
    return layers


def make_inputs(seed: int, rows: int) -> np.ndarray:
    """Seeded float32 inputs in [0, 1), shaped [rows, FEATURES], as the article's np.random.rand."""
    rng = np.random.default_rng([seed, 0])
    return rng.random((rows, FEATURES), dtype=np.float32)


def forward_numpy(layers: list[Layer], x: np.ndarray) -> np.ndarray:
    """The network's output for ``x``, computed in float64 as the parity reference."""
    h = x.astype(np.float64)
    for layer in layers:
        h = h @ layer.weight.astype(np.float64) + layer.bias.astype(np.float64)
        h = np.maximum(h, 0.0) if layer.activation == "relu" else 1.0 / (1.0 + np.exp(-h))
    return h


def write_weights(layers: list[Layer], path: Path) -> None:
    """Store ``layers`` as weights.parquet."""
    table = pa.table(
        {
            "layer": pa.array(range(len(layers)), pa.int32()),
            "in_features": pa.array([lay.weight.shape[0] for lay in layers], pa.int32()),
            "out_features": pa.array([lay.weight.shape[1] for lay in layers], pa.int32()),
            "activation": [lay.activation for lay in layers],
            "weight": pa.array([lay.weight.ravel() for lay in layers], pa.list_(pa.float32())),
            "bias": pa.array([lay.bias for lay in layers], pa.list_(pa.float32())),
        },
        schema=tables.WEIGHTS,
    )
    io.write_table(table, path)


def read_weights(path: Path) -> list[Layer]:
    """Load weights.parquet back into layers, in order."""
    rows = io.read_table(path, tables.WEIGHTS).sort_by("layer").to_pylist()
    return [
        Layer(
            weight=np.asarray(row["weight"], np.float32).reshape(row["in_features"], row["out_features"]),
            bias=np.asarray(row["bias"], np.float32),
            activation=row["activation"],
        )
        for row in rows
    ]


def write_inputs(x: np.ndarray, path: Path) -> None:
    """Store a [rows, features] float32 array as inputs.parquet, one column per feature."""
    schema = tables.inputs_schema(x.shape[1])
    table = pa.Table.from_arrays([pa.array(x[:, i]) for i in range(x.shape[1])], schema=schema)
    io.write_table(table, path)


# Byte alignment of every input array handed to a framework. JAX copies an input that is not
# 64-byte aligned on every call (measured here: 0.61 ms aligned, 0.69-0.83 ms not, batch 1000),
# and where numpy's allocator happens to put an array is luck; so it is fixed, for all alike.
INPUT_ALIGNMENT = 64


def aligned_copy(x: np.ndarray, alignment: int = INPUT_ALIGNMENT) -> np.ndarray:
    """A C-contiguous float32 copy of ``x`` whose data starts on an ``alignment``-byte boundary."""
    x = np.asarray(x, dtype=np.float32)
    raw = np.empty(x.nbytes + alignment, dtype=np.uint8)
    offset = -raw.ctypes.data % alignment
    aligned = raw[offset : offset + x.nbytes].view(np.float32).reshape(x.shape)
    aligned[...] = x
    return aligned


def read_inputs(path: Path, rows: int | None = None) -> np.ndarray:
    """Load inputs.parquet as a C-contiguous, 64-byte aligned [rows, features] float32 array."""
    table = io.read_table(path, tables.inputs_schema(FEATURES))
    if rows is not None:
        table = table.slice(0, rows)
    return aligned_copy(np.stack([_float32_values(col) for col in table.columns], axis=1))


def _float32_values(column: pa.ChunkedArray) -> np.ndarray:
    """A null-free float32 column as numpy, read straight from its Arrow buffers.

    Not ``column.to_numpy()``: pyarrow imports pandas there whenever it is installed, and in a
    runner that would be ~35 MB of harness in every framework's memory figures on one machine
    and not on another.
    """
    parts = []
    for chunk in column.chunks:
        if chunk.null_count:
            raise ValueError("inputs.parquet: a feature column holds nulls")
        values = np.frombuffer(chunk.buffers()[1], dtype=np.float32)
        parts.append(values[chunk.offset : chunk.offset + len(chunk)])
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.float32)

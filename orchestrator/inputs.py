"""User-supplied input tensors (``--inputs FILE.parquet``), checked before any runner starts.

The expected file: one float32 column per model feature (200), in feature order, any column
names, at least as many rows as the batch size, no nulls, no NaN or infinite values.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from schemas.model import FEATURES


class InputError(ValueError):
    """The --inputs file is unusable; the message names the file and what was expected."""


def load_inputs(path: Path) -> np.ndarray:
    """Read and validate ``path``; return a [rows, FEATURES] float32 array."""

    def fail(problem: str) -> InputError:
        return InputError(f"--inputs {path}: {problem}")

    if not path.exists():
        raise fail("no such file")
    if not path.is_file():
        raise fail("is not a file")
    try:
        parquet = pq.ParquetFile(path)
    except PermissionError as exc:
        raise fail("cannot be read (permission denied)") from exc
    except (pa.ArrowInvalid, OSError) as exc:
        raise fail("is not a Parquet file") from exc
    schema = parquet.schema_arrow
    if len(schema) != FEATURES:
        raise fail(f"has {len(schema)} columns, expected {FEATURES} (one float32 column per model feature)")
    for field in schema:
        if field.type != pa.float32():
            raise fail(f"column {field.name!r} is {field.type}, expected float (float32)")
    try:
        table = parquet.read()
    except (pa.ArrowInvalid, OSError) as exc:  # a valid footer over corrupt pages
        raise fail(f"is not a readable Parquet file ({str(exc).splitlines()[0]})") from exc
    if table.num_rows == 0:
        raise fail("has no rows, expected at least one")
    for name, column in zip(table.column_names, table.columns):
        if column.null_count:
            raise fail(f"column {name!r} has {column.null_count} null values, expected none")
    x = np.stack([column.to_numpy() for column in table.columns], axis=1).astype(np.float32, copy=False)
    bad = ~np.isfinite(x)
    if bad.any():
        row, col = (int(i[0]) for i in np.nonzero(bad))
        raise fail(f"column {table.column_names[col]!r} row {row} is {x[row, col]}, expected finite values")
    return x

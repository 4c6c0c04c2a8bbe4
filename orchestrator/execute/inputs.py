"""Input tensors as Parquet: ``inputs.parquet`` written for every run, and the user's own
(``--inputs FILE.parquet``) read and checked before any runner starts.

The layout: one row per sample and one column per named model input. An input whose sample is
a scalar is a plain column; a multi-dimensional sample (an image, a token sequence) is a
fixed-size list column of its values in row-major order -- nested fixed-size lists, one level
per dim, are read too -- and the written file records each input's full sample shape in the
field's metadata (``shape``). A model with one two-dimensional input may instead take one plain
column per feature, in order (the layout of the first release). Values must be finite and
non-null, float inputs float32 and integer inputs int64 (or int32).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from models.spec import ModelSpec
from schemas import io

_SHAPE_KEY = b"shape"


class InputError(ValueError):
    """The --inputs file is unusable; the message names the file, the input and what was expected."""


Fail = Callable[[str], InputError]


def inputs_table(arrays: dict[str, np.ndarray]) -> pa.Table:
    """The arrays (by input name, first axis the samples) as an inputs.parquet table."""
    fields, columns = [], []
    for name, array in arrays.items():
        per_sample = math.prod(array.shape[1:])
        values = pa.array(np.ascontiguousarray(array).reshape(-1))
        column = values if array.ndim == 1 else pa.FixedSizeListArray.from_arrays(values, per_sample)
        metadata = {_SHAPE_KEY: json.dumps(list(array.shape[1:])).encode()}
        fields.append(pa.field(name, column.type, nullable=False, metadata=metadata))
        columns.append(column)
    return pa.Table.from_arrays(columns, schema=pa.schema(fields))


def write_inputs(arrays: dict[str, np.ndarray], path: Path) -> None:
    """Store the inputs as ``path`` (inputs.parquet), atomically."""
    io.write_table(inputs_table(arrays), path)


def load_inputs(
    path: Path, spec: ModelSpec, sample_shapes: dict[str, tuple[int, ...]]
) -> dict[str, np.ndarray]:
    """Read and check the user's ``path`` against the model's inputs; return them by name.

    ``sample_shapes`` is each input's shape without the batch axis, as the flags fill it.
    """

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
    try:
        table = parquet.read()
    except (pa.ArrowInvalid, OSError) as exc:  # a valid footer over corrupt pages
        raise fail(f"is not a readable Parquet file ({str(exc).splitlines()[0]})") from exc
    if table.num_rows == 0:
        raise fail("has no rows, expected at least one")
    names = spec.input_names()
    if names[0] not in table.column_names and len(names) == 1 and len(sample_shapes[names[0]]) == 1:
        return {names[0]: _feature_columns(table, spec.inputs[0].dtype, sample_shapes[names[0]][0], fail)}
    missing = [name for name in names if name not in table.column_names]
    if missing:
        expected = ", ".join(names)
        raise fail(f"has no column {missing[0]!r}; expected one column per model input ({expected})")
    return {
        item.name: _input_column(
            table.column(item.name), item.name, item.dtype, sample_shapes[item.name], fail
        )
        for item in spec.inputs
    }


def _input_column(
    column: pa.ChunkedArray, name: str, dtype: str, sample_shape: tuple[int, ...], fail: Fail
) -> np.ndarray:
    values: pa.Array = column.combine_chunks()
    if values.null_count:
        raise fail(f"column {name!r} has {values.null_count} null samples, expected none")
    while pa.types.is_fixed_size_list(values.type):
        values = pc.list_flatten(values)
        if values.null_count:
            raise fail(f"column {name!r} holds null values, expected none")
    count = len(column)
    per_sample = math.prod(sample_shape)
    if len(values) != count * per_sample:
        found = len(values) // count if count else 0
        raise fail(
            f"column {name!r} has {found} values per sample, expected {per_sample} "
            f"(shape {'x'.join(map(str, sample_shape)) or 'scalar'}), as a fixed-size list column"
        )
    array = _typed(values, name, dtype, fail, per_sample)
    return array.reshape((count, *sample_shape))


def _typed(values: pa.Array, name: str, dtype: str, fail: Fail, per_sample: int = 1) -> np.ndarray:
    """The column's values as numpy of the input's dtype; ``per_sample`` values make one row."""
    if dtype.startswith("float"):
        if values.type != pa.float32():
            raise fail(f"column {name!r} is {values.type}, expected float (float32)")
        array: np.ndarray = values.to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
        bad = ~np.isfinite(array)
        if bad.any():
            index = int(np.flatnonzero(bad)[0])
            raise fail(f"column {name!r} row {index // per_sample} is {array[index]}, expected finite values")
        return array
    if values.type not in (pa.int64(), pa.int32()):
        raise fail(f"column {name!r} is {values.type}, expected int64")
    integers: np.ndarray = values.to_numpy(zero_copy_only=False).astype(dtype, copy=False)
    return integers


def _feature_columns(table: pa.Table, dtype: str, features: int, fail: Fail) -> np.ndarray:
    """The first release's layout: one plain float32 column per feature of the one input."""
    if table.num_columns != features:
        raise fail(
            f"has {table.num_columns} columns, expected {features} (one float32 column per model "
            "feature) or one column per named model input"
        )
    columns = []
    for name, column in zip(table.column_names, table.columns):
        if column.null_count:
            raise fail(f"column {name!r} has {column.null_count} null values, expected none")
        columns.append(_typed(column.combine_chunks(), name, dtype, fail))
    return np.stack(columns, axis=1)

"""Atomic Parquet and JSON writes, and schema-checked reads."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from schemas import OLDEST_READABLE_VERSION, SCHEMA_VERSION
from schemas.files import atomic_write, write_bytes, write_json

__all__ = ["SchemaError", "read_table", "write_bytes", "write_json", "write_table"]

_VERSION_KEY = b"schema_version"


class SchemaError(ValueError):
    """A file does not match the schema it is supposed to carry."""


def _version(table: pa.Table) -> int | None:
    try:
        return int((table.schema.metadata or {}).get(_VERSION_KEY, b""))
    except ValueError:
        return None


def _with_added_columns(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """An older file's table with the columns added since: each its default, or null."""
    from schemas.configuration import ADDED_COLUMN_DEFAULTS

    for field in schema:
        if field.name not in table.column_names and (field.nullable or field.name in ADDED_COLUMN_DEFAULTS):
            value = ADDED_COLUMN_DEFAULTS.get(field.name)
            table = table.append_column(field, pa.array([value] * table.num_rows, field.type))
    return table


def write_table(table: pa.Table, path: Path) -> None:
    """Write ``table`` to ``path`` as Parquet, atomically, stamped with the schema version."""
    metadata = dict(table.schema.metadata or {})
    metadata[_VERSION_KEY] = str(SCHEMA_VERSION).encode()
    table = table.replace_schema_metadata(metadata)
    atomic_write(path, lambda tmp: pq.write_table(table, tmp))


def read_table(path: Path, schema: pa.Schema) -> pa.Table:
    """Read a Parquet file written by :func:`write_table` and check it against ``schema``.

    Raises :class:`SchemaError` naming the file and what differs.
    """
    path = Path(path)
    try:
        # ParquetFile, not pq.read_table: the latter imports pandas when it is installed, which
        # would put ~35 MB of harness into every runner's memory figures on such machines.
        table = pq.ParquetFile(path).read()
    except (pa.ArrowInvalid, OSError) as exc:
        raise SchemaError(f"{path}: not a readable Parquet file ({exc})") from exc
    version = _version(table)
    if version is None or not OLDEST_READABLE_VERSION <= version <= SCHEMA_VERSION:
        shown = (table.schema.metadata or {}).get(_VERSION_KEY, b"none").decode(errors="replace")
        raise SchemaError(
            f"{path}: schema_version {shown}; this version of the tool reads "
            f"{OLDEST_READABLE_VERSION} to {SCHEMA_VERSION}"
        )
    if version < SCHEMA_VERSION:
        table = _with_added_columns(table, schema)
    missing = [f.name for f in schema if f.name not in table.column_names]
    if missing:
        raise SchemaError(f"{path}: missing columns {', '.join(missing)}")
    try:
        return table.select(schema.names).cast(schema)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise SchemaError(f"{path}: column types differ from the schema ({exc})") from exc

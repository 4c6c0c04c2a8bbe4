"""Atomic Parquet and JSON writes, and schema-checked reads."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from schemas import SCHEMA_VERSION

_VERSION_KEY = b"schema_version"


class SchemaError(ValueError):
    """A file does not match the schema it is supposed to carry."""


def current_umask() -> int:
    """This process's umask, read without changing it.

    ``os.umask`` can only be read by setting it, which races with any other thread creating a
    file at that moment; Linux shows it in /proc/self/status (4.7+), so read it there.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _atomic_write(path: Path, write: Any) -> None:
    """Write through a temporary file in the same directory, then rename over ``path``.

    A reader sees either the old file or the complete new one, never a torn write; a
    failure (disk full, permission) leaves whatever was at ``path`` untouched. The file gets
    the mode an ordinary new file gets under the umask (0644 under 022), not the private
    0600 of the temporary file: results are read by other users and services.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        try:
            os.fchmod(fd, 0o666 & ~current_umask())
        finally:
            os.close(fd)
        write(tmp)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_table(table: pa.Table, path: Path) -> None:
    """Write ``table`` to ``path`` as Parquet, atomically, stamped with the schema version."""
    metadata = dict(table.schema.metadata or {})
    metadata[_VERSION_KEY] = str(SCHEMA_VERSION).encode()
    table = table.replace_schema_metadata(metadata)
    _atomic_write(path, lambda tmp: pq.write_table(table, tmp))


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
    version = (table.schema.metadata or {}).get(_VERSION_KEY)
    if version != str(SCHEMA_VERSION).encode():
        raise SchemaError(f"{path}: schema_version {version!r}, expected {SCHEMA_VERSION}")
    missing = [f.name for f in schema if f.name not in table.column_names]
    if missing:
        raise SchemaError(f"{path}: missing columns {', '.join(missing)}")
    try:
        return table.select(schema.names).cast(schema)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise SchemaError(f"{path}: column types differ from the schema ({exc})") from exc


def write_bytes(data: bytes, path: Path) -> None:
    """Write ``data`` to ``path``, atomically."""
    _atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))


def write_json(data: Any, path: Path) -> None:
    """Write ``data`` as indented JSON, atomically."""
    text = json.dumps(data, indent=2, sort_keys=True, default=str) + "\n"
    _atomic_write(path, lambda tmp: Path(tmp).write_text(text))

"""Atomic file writes with ordinary permissions. Stdlib only: runners use it before any import."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any


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


def atomic_write(path: Path, write: Callable[[str], Any]) -> None:
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


def write_bytes(data: bytes, path: Path) -> None:
    """Write ``data`` to ``path``, atomically."""
    atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))


def write_json(data: Any, path: Path) -> None:
    """Write ``data`` as indented JSON, atomically."""
    text = json.dumps(data, indent=2, sort_keys=True, default=str) + "\n"
    atomic_write(path, lambda tmp: Path(tmp).write_text(text))

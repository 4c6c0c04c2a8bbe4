"""What identifies a configuration: the one definition that the plan, the summary, the reports,
the history, compare, trend and the isolation table all use.

Two rows measure the same configuration when every column of :data:`CONFIG_COLUMNS` is equal;
the machine (the host fingerprint) is checked beside it wherever runs from different hosts meet.
A row from before a column existed reads it as None (``.get``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

# In display order. framework_pin is the version asked for with framework@VERSION (None when
# the environment's own version runs); environment is own | shared | current.
CONFIG_COLUMNS = (
    "model",
    "framework",
    "framework_pin",
    "environment",
    "scenario",
    "target_qps",
    "latency_bound_ms",
    "batch_size",
    "input_shapes",
    "threads",
    "cpus",
    "precision",
    "options_json",
    "instances",
    "mode",
)

# The columns that say which implementation ran -- the framework, its version, its execution
# options (each framework has its own) -- rows that differ only in these are the contenders of
# one comparison (the "x fastest" column ranks them).
CONTENDER_COLUMNS = ("framework", "framework_pin", "options_json")

_LABEL_PREFIXES = {
    "batch_size": "b",
    "threads": "t",
    "cpus": "cpus ",
    "target_qps": "qps ",
    "latency_bound_ms": "bound ",
}
_HEADERS = {
    "target_qps": "QPS",
    "latency_bound_ms": "bound ms",
    "batch_size": "batch",
    "framework_pin": "version",
    "options_json": "options",
    "input_shapes": "shapes",
}


# Columns added since schemas.OLDEST_READABLE_VERSION whose absence means a value, not
# "unknown": an older run ran one copy of each runner. A row from before reads as this value,
# so that it matches the same configuration today (and its config_id does not change).
ADDED_COLUMN_DEFAULTS = {"instances": 1, "instance": 0}


def _value(row: Mapping[str, Any], column: str) -> Any:
    value = row.get(column)
    return ADDED_COLUMN_DEFAULTS.get(column) if value is None else value


def config_key(row: Mapping[str, Any], without: Iterable[str] = ()) -> tuple[Any, ...]:
    """The row's configuration as a tuple, optionally leaving some columns out."""
    skip = set(without)
    return tuple(_value(row, column) for column in CONFIG_COLUMNS if column not in skip)


def config_id(row: Mapping[str, Any]) -> str:
    """A readable, file-name-safe id of the configuration, the same for all its repeats:
    ``mlp-onnxruntime-offline-b1000-t2-fp32-3f9a1c20`` (the hash covers every column)."""
    framework = str(row.get("framework"))
    if row.get("framework_pin"):
        framework += f"@{row['framework_pin']}"
    readable = [
        str(row.get("model")),
        framework,
        str(row.get("scenario")),
        f"b{row.get('batch_size')}",
        f"t{row.get('threads')}",
        str(row.get("precision")),
    ]
    if row.get("mode") == "in-process":
        readable.append("inproc")
    # A column added later is left out of the hash at its default: the ids of earlier runs hold.
    hashed = [
        _value(row, c)
        for c in CONFIG_COLUMNS
        if not (c in ADDED_COLUMN_DEFAULTS and _value(row, c) == ADDED_COLUMN_DEFAULTS[c])
    ]
    digest = hashlib.sha256(json.dumps(hashed, default=str).encode()).hexdigest()[:8]
    return "-".join(_safe(part) for part in [*readable, digest])


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "._@" else "_" for c in text)


def framework_label(row: Mapping[str, Any]) -> str:
    """``onnxruntime`` or ``onnxruntime@1.31.1``."""
    pin = row.get("framework_pin")
    return f"{row['framework']}@{pin}" if pin else str(row["framework"])


def varying(rows: Sequence[Mapping[str, Any]], among: Iterable[str] = CONFIG_COLUMNS) -> list[str]:
    """The configuration columns (besides the framework) whose value differs between rows."""
    skip = set(CONTENDER_COLUMNS)
    return [c for c in among if c not in skip and len({_hashable(row.get(c)) for row in rows}) > 1]


def _hashable(value: Any) -> Any:
    return json.dumps(value, sort_keys=True, default=str) if isinstance(value, (dict, list)) else value


def label(row: Mapping[str, Any], vary: list[str]) -> str:
    """The framework, plus the columns that vary: ``resnet50 pytorch b16 t2``."""
    parts = [str(row.get(c)) for c in vary if c == "model"]
    parts.append(framework_label(row))
    parts += [
        f"{_LABEL_PREFIXES.get(c, '')}{_shown(row.get(c))}"
        for c in vary
        if c != "model" and row.get(c) is not None
    ]
    return " ".join(parts)


def _shown(value: Any) -> str:
    """A configuration value as a reader wants it: 200 rather than 200.0."""
    return f"{value:g}" if isinstance(value, float) else str(value)


def display_value(value: Any) -> str:
    """A configuration value in a table cell: "-" for none."""
    return "-" if value is None else _shown(value)


def header(column: str) -> str:
    """A column's heading in tables: ``batch`` for batch_size."""
    return _HEADERS.get(column, column)

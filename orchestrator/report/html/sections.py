"""report.html's text sections: the warnings and errors of each cell, each cell's recorded
settings, and the machine and each framework's environment (environment.json)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from html import escape
from typing import Any

from orchestrator.report.labels import Row


def warnings_section(rows: list[Row], name: Any) -> str:
    """Every cell that failed, diverged or carries a warning, each warning with its reason."""
    items = []
    for row in rows:
        lines = []
        if row.get("status") != "ok":
            error = escape(str(row.get("error") or ""))
            lines.append(f"<li><code>{escape(str(row.get('status')))}</code>: {error}</li>")
        if row.get("parity_ok") is False:
            diff = row.get("max_abs_diff")
            lines.append(f"<li><code>diverged</code>: max |difference| {diff} from the reference</li>")
        for part in str(row.get("warnings") or "").split(";"):
            code, _, reason = part.strip().partition(":")
            if code:
                lines.append(f"<li><code>{escape(code)}</code>: {escape(reason.strip())}</li>")
        if lines:
            items.append(f"<li><b>{escape(name(row))}</b><ul>{''.join(lines)}</ul></li>")
    if not items:
        return f"<p>No warning: all {len(rows)} cells ok and agreeing with the reference.</p>"
    return f'<ul class="warnings">{"".join(items)}</ul>'


def settings_section(rows: list[Row], name: Any) -> str:
    """Each cell's settings as the runner read them back (settings_json), with its options and
    how it was timed; folded, one cell each."""
    parts = []
    for row in rows:
        recorded = {
            "settings (read back from the process and the framework)": _json(row.get("settings_json")),
            "options": _json(row.get("options_json")),
            "timing": _json(row.get("measurement_json")),
        }
        parts.append(f"<details><summary>{escape(name(row))}</summary>{key_values(recorded)}</details>")
    return "".join(parts)


def environment_section(environment: Mapping[str, Any], rows: list[Row]) -> str:
    """The machine (host, Python, packages, roofs) and each framework's environment and version."""
    frameworks: dict[str, dict[str, Any]] = {}
    for row in rows:
        name = str(row["framework"])
        built = (environment.get("environments") or {}).get(name) or {}
        frameworks.setdefault(
            name, {"version": row.get("framework_version"), "python": row.get("python")} | built
        )
    machine = {key: value for key, value in environment.items() if key != "environments"}
    if not environment:
        machine = {"environment.json": "not found in the run directory"}
    return f"<h3>Machine</h3>{key_values(machine)}<h3>Frameworks</h3>{key_values(frameworks)}"


def key_values(mapping: Mapping[str, Any]) -> str:
    """A mapping as a two-column table, nested mappings as nested tables, long lists folded."""
    rows = "".join(
        f"<tr><th>{escape(str(key))}</th><td>{_value(value)}</td></tr>" for key, value in mapping.items()
    )
    return f'<table class="kv">{rows}</table>'


def _value(value: Any) -> str:
    if isinstance(value, Mapping):
        return key_values(value) if value else "{}"
    if isinstance(value, list) and len(value) > 8:
        return f"<details><summary>{len(value)} items</summary>{escape(', '.join(map(str, value)))}</details>"
    if isinstance(value, list):
        return escape(", ".join(map(str, value)))
    return "\N{EN DASH}" if value is None else escape(str(value))


def _json(text: Any) -> Any:
    """A JSON column's value decoded; the text itself where it is not JSON."""
    try:
        return json.loads(text) if text else None
    except (TypeError, ValueError):
        return text

"""The history as series: one per configuration and machine, its runs in time order, and the
places where what ran changed (framework version, environment, host hardware).

A configuration is ``schemas.configuration.config_key`` (the one definition every consumer
uses); the machine is the history's ``host`` partition. Rows of every schema version the
history holds are read alike: a column an older run lacks reads as its default or None
(``config_key`` maps a missing ``instances`` to 1, so an old run joins today's series).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

from schemas.configuration import CONFIG_COLUMNS, config_key, framework_label, label, varying

Row = dict[str, Any]
SeriesKey = tuple[tuple[Any, ...], str]  # (config_key, host)

# Shown as columns of their own on the index; the other varying columns go into the settings.
MAIN_COLUMNS = ("model", "framework", "scenario", "precision")


@dataclass(frozen=True)
class Change:
    """Something that changed between two consecutive runs of a series, at the later run."""

    run_id: str
    kind: str  # framework | environment | host
    text: str


@dataclass
class Series:
    """One configuration on one machine: its rows oldest first, what changed, its page's name."""

    key: SeriesKey
    rows: list[Row]
    settings: str = ""  # the varying configuration columns beyond MAIN_COLUMNS, as a label
    changes: list[Change] = field(default_factory=list)

    @property
    def host(self) -> str:
        return self.key[1]

    @property
    def latest(self) -> Row:
        return self.rows[-1]

    @property
    def ok_rows(self) -> list[Row]:
        """The rows with a p50 to plot."""
        return [
            row for row in self.rows if row.get("status") == "ok" and row.get("latency_ms_p50") is not None
        ]

    @property
    def page(self) -> str:
        """The file name of its page: the newest config_id (file-name safe) and the host."""
        return f"c-{self.latest.get('config_id') or 'config'}--{self.host}.html"

    @property
    def title(self) -> str:
        row = self.latest
        parts = [
            str(row.get("model")),
            framework_label(row),
            str(row.get("scenario")),
            str(row.get("precision")),
        ]
        return " ".join([*parts, *([self.settings] if self.settings else []), "on", self.host])


def run_time(run_id: str) -> datetime:
    """When a run started, from its id ``YYYYMMDDTHHMMSSZ-xxxxxx``."""
    return datetime.strptime(run_id.split("-", 1)[0], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def build_series(rows: list[Row]) -> list[Series]:
    """The history's summary rows (``store.read_history``) as series, sorted by their columns."""
    grouped: dict[SeriesKey, list[Row]] = {}
    for row in rows:
        grouped.setdefault((config_key(row), str(row.get("host"))), []).append(row)
    latest_rows = [group[-1] for group in grouped.values()]
    extra = [column for column in varying(latest_rows) if column not in MAIN_COLUMNS]
    if "batch_size" in extra and "input_shapes" in extra:
        extra.remove("input_shapes")  # the batch says it already
    series = []
    for key, group in grouped.items():
        group.sort(key=lambda row: (run_time(str(row["run_id"])), str(row["run_id"])))
        newest = group[-1]
        settings = label(newest, extra)[len(framework_label(newest)) :].strip()
        series.append(Series(key, group, settings, changes_in(group)))
    return sorted(series, key=_sort_key)


def _sort_key(series: Series) -> tuple[str, ...]:
    row = series.latest
    return (*(str(row.get(column)) for column in MAIN_COLUMNS), series.settings, series.host)


def changes_in(rows: list[Row]) -> list[Change]:
    """What changed from each run to the next (rows oldest first): the framework's version, its
    environment (the recipe's hash, or the parent's packages), the host's hardware fingerprint.
    A value unknown on either side (a run from before it was recorded) is not a change."""
    changes = []
    for before, after in pairwise(rows):
        run_id = str(after["run_id"])
        version = _changed(before, after, "framework_version")
        if version:
            changes.append(Change(run_id, "framework", f"{framework_label(after)} {version}"))
        recipe = _changed(before, after, "environment_key")
        packages = _package_changes(before.get("versions_json"), after.get("versions_json"))
        if recipe or packages:
            what = ", ".join([*([f"recipe {recipe}"] if recipe else []), *packages])
            changes.append(Change(run_id, "environment", f"environment: {what}"))
        fingerprint = _changed(before, after, "fingerprint")
        if fingerprint:
            changes.append(Change(run_id, "host", f"host hardware: {fingerprint}"))
    return changes


def _changed(before: Row, after: Row, column: str) -> str | None:
    """``old -> new`` when both are known and differ, else None."""
    old, new = before.get(column), after.get(column)
    if old is None or new is None or old == new:
        return None
    return f"{old} \u2192 {new}"


def _package_changes(before: Any, after: Any, shown: int = 4) -> list[str]:
    """``numpy 2.1 -> 2.2`` for each package whose recorded version differs (a few, then a count)."""
    if not before or not after:
        return []
    try:
        old, new = json.loads(before), json.loads(after)
    except (TypeError, ValueError):
        return []
    names = sorted(name for name in set(old) | set(new) if old.get(name) != new.get(name))
    lines = [f"{name} {old.get(name) or '-'} \u2192 {new.get(name) or '-'}" for name in names[:shown]]
    return lines + ([f"{len(names) - shown} more"] if len(names) > shown else [])


def key_of(row: Row) -> SeriesKey:
    """The series a summary row belongs to."""
    return config_key(row), str(row.get("host"))


def columns_of(series: Series) -> dict[str, Any]:
    """The configuration's columns (from its newest row), for a page's settings table."""
    return {column: series.latest.get(column) for column in CONFIG_COLUMNS}

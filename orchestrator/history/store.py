"""A history of past runs: a hive-partitioned Parquet dataset any Parquet reader can open.

Layout under ``history_dir``::

    summary/date=YYYY-MM-DD/host=<hostname>/<run_id>.parquet   one row per configuration
    samples/date=YYYY-MM-DD/host=<hostname>/<run_id>.parquet   one row per timed call

``date`` comes from the run id (``YYYYMMDDTHHMMSSZ-xxxxxx``, UTC) and ``host`` from the run's
environment.json, sanitised to ``[A-Za-z0-9._-]``. Neither is a column inside the files: they
are the partition path, which pyarrow (``partitioning="hive"``), pandas, polars
(``hive_partitioning=True``) and DuckDB (``hive_partitioning = true``) turn back into columns.
A summary file holds the columns of ``schemas.tables.SUMMARY`` plus ``fingerprint`` (the host
hardware, from environment.json), ``git_commit`` and ``versions_json`` (the package versions,
as JSON), so a reader can pick runs that are comparable.

Crash safety: every file is written atomically (a hidden temporary file in the same directory,
then a rename), and a run's samples are written before its summary. A run is in the history
exactly when its summary file exists, so an append that dies half-way leaves at most a samples
file that this module never reads (a tool reading samples/ directly should keep only the run ids
found in summary/); appending the run again completes it. A process killed
mid-write can leave a ``.<name>.*.tmp`` file behind: its leading dot and suffix keep it out of
every reader's way (pyarrow ignores names starting with ``.`` or ``_``; a ``*.parquet`` glob
does not match it).

Appending a run that is already in the history is a no-op and returns an empty list, so a
whole results directory can be appended again and again (e.g. a nightly backfill).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from schemas import io, tables

if TYPE_CHECKING:
    import pyarrow.dataset as ds

Row = dict[str, Any]

# Columns added to each summary row; nullable, so runs from before they existed still load.
EXTRA_FIELDS = (
    pa.field("fingerprint", pa.string()),  # host hardware: CPU model, logical/allowed CPUs, memory
    pa.field("git_commit", pa.string()),
    pa.field("versions_json", pa.string()),  # environment.json "packages", as sorted JSON
)
HISTORY_SUMMARY = pa.schema([*tables.SUMMARY, *EXTRA_FIELDS])

# The hive partition keys, typed as strings so a numeric hostname stays a string.
PARTITIONS = pa.schema([pa.field("date", pa.string()), pa.field("host", pa.string())])

_RUN_ID = re.compile(r"^(?P<date>\d{8})T\d{6}Z-[0-9A-Za-z]+$")
_UNSAFE_HOST_CHARS = re.compile(r"[^A-Za-z0-9._-]+")


class HistoryError(ValueError):
    """A run cannot be appended to, or found in, the history."""


def sanitise_host(hostname: str | None) -> str:
    """``hostname`` reduced to ``[A-Za-z0-9._-]`` (other runs of characters become ``_``).

    An empty or missing hostname becomes ``unknown``. The result needs no escaping in a hive
    partition path.
    """
    host = _UNSAFE_HOST_CHARS.sub("_", hostname or "").strip("_")
    return host if host and host not in {".", ".."} else "unknown"


def run_date(run_id: str) -> str:
    """The UTC date of a run id ``YYYYMMDDTHHMMSSZ-xxxxxx`` as ``YYYY-MM-DD``."""
    match = _RUN_ID.match(run_id)
    if not match:
        raise HistoryError(f"{run_id!r} is not a run id (expected YYYYMMDDTHHMMSSZ-xxxxxx)")
    try:
        return datetime.strptime(match["date"], "%Y%m%d").date().isoformat()
    except ValueError as exc:
        raise HistoryError(f"{run_id!r} does not start with a valid date") from exc


def read_environment(run_dir: Path) -> dict[str, Any]:
    """The run's environment.json, or ``{}`` when it has none."""
    path = Path(run_dir) / "environment.json"
    if not path.exists():
        return {}
    try:
        environment = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise HistoryError(f"{path}: not readable JSON ({exc})") from exc
    if not isinstance(environment, dict):
        raise HistoryError(f"{path}: expected a JSON object")
    return environment


def fingerprint_of(environment: dict[str, Any]) -> str | None:
    """The host fingerprint recorded in an environment.json, None for runs from before it existed."""
    value = environment.get("fingerprint")
    return None if value is None else str(value)


def load_run_dir(run_dir: Path) -> tuple[list[Row], pa.Table, str | None]:
    """A run directory's summary rows, its samples table and its host fingerprint (or None).

    For comparing against a run that is not (or not yet) in the history.
    """
    run_dir = Path(run_dir)
    summary = io.read_table(run_dir / "summary.parquet", tables.SUMMARY)
    samples = io.read_table(run_dir / "samples.parquet", tables.SAMPLES)
    return summary.to_pylist(), samples, fingerprint_of(read_environment(run_dir))


def _report_skipped(message: str) -> None:
    print(message, file=sys.stderr)


# Where a skipped history file is reported: one line each, so the user knows what to clean up.
# Tests replace it to capture the lines.
report_skipped: Callable[[str], None] = _report_skipped
_reported: set[Path] = set()  # each unreadable file is named once per process, not per read


def _summary_files(history_dir: Path, run_id: str = "*") -> list[Path]:
    """The history's summary files that can be read as Parquet; the others are named and skipped."""
    root = Path(history_dir) / "summary"
    candidates = sorted(
        path for path in root.glob(f"date=*/host=*/{run_id}.parquet") if not path.name.startswith(".")
    )
    readable = []
    for path in candidates:
        try:
            pq.read_schema(path)
        except (pa.ArrowException, OSError) as exc:
            if path not in _reported:
                _reported.add(path)
                reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                report_skipped(f"history: skipped {path}: not a readable Parquet file ({reason})")
            continue
        readable.append(path)
    return readable


def append_run(history_dir: Path, run_dir: Path) -> list[Path]:
    """Copy a finished run's summary and samples into the history; return the files written.

    The run id is the run directory's name. Samples are written first and the summary last,
    each atomically, so a run becomes visible only once both are complete. A run already in
    the history is left alone and an empty list returned. Raises :class:`HistoryError` for a
    directory whose name is not a run id or whose summary rows carry another run id, and
    ``schemas.io.SchemaError`` for a summary or samples file that does not match its schema.
    """
    run_dir = Path(run_dir)
    run_id = run_dir.name
    date = run_date(run_id)
    if _summary_files(history_dir, run_id):
        return []
    environment = read_environment(run_dir)
    host = sanitise_host((environment.get("host") or {}).get("hostname"))
    summary = io.read_table(run_dir / "summary.parquet", tables.SUMMARY)
    samples = io.read_table(run_dir / "samples.parquet", tables.SAMPLES)
    for name, table in (("summary", summary), ("samples", samples)):
        others = set(table.column("run_id").to_pylist()) - {run_id}
        if others:
            raise HistoryError(f"{run_dir}: {name} rows carry run id {sorted(others)[0]!r}, not {run_id!r}")
    packages = environment.get("packages")
    extras = {
        "fingerprint": fingerprint_of(environment),
        "git_commit": environment.get("git_commit"),
        "versions_json": None if packages is None else json.dumps(packages, sort_keys=True),
    }
    for field in EXTRA_FIELDS:
        value = extras[field.name]
        summary = summary.append_column(field, pa.array([value] * summary.num_rows, field.type))
    written = []
    for kind, table in (("samples", samples), ("summary", summary)):  # the summary last: see above
        directory = Path(history_dir) / kind / f"date={date}" / f"host={host}"
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{run_id}.parquet"
        io.write_table(table, path)
        written.append(path)
    return written


def partition_of(history_dir: Path, run_id: str) -> Path:
    """``date=YYYY-MM-DD/host=NAME``: where the run's files sit under each kind of the history.

    Raises :class:`HistoryError` when the run is not in the history.
    """
    files = _summary_files(history_dir, run_id) if _RUN_ID.match(run_id) else []
    if not files:
        raise HistoryError(f"run {run_id!r} is not in the history at {history_dir}")
    return files[0].parent.relative_to(Path(history_dir) / "summary")


def _dataset(files: list[Path], root: Path) -> ds.Dataset:
    """The files as one dataset with hive partitions, schemas unified across schema versions."""
    import pyarrow.dataset as ds  # here, not at the top: it imports pandas, a fifth of every CLI start

    partitioning = ds.partitioning(PARTITIONS, flavor="hive")
    schemas = [pq.read_schema(path) for path in files]
    unified = pa.unify_schemas([*schemas, PARTITIONS], promote_options="permissive")
    return ds.dataset(
        [str(path) for path in files],
        format="parquet",
        partitioning=partitioning,
        partition_base_dir=str(root),
        schema=unified.remove_metadata(),
    )


def read_history(history_dir: Path) -> pa.Table:
    """Every summary row in the history, with its ``date`` and ``host`` partition columns.

    An empty or missing history gives an empty table of :data:`HISTORY_SUMMARY` plus the
    partition columns.
    """
    files = _summary_files(history_dir)
    if not files:
        return pa.schema([*HISTORY_SUMMARY, *PARTITIONS]).empty_table()
    return _dataset(files, Path(history_dir) / "summary").to_table()


def run_ids(history_dir: Path) -> list[str]:
    """The run ids in the history, oldest first."""
    return sorted(path.stem for path in _summary_files(history_dir))


def latest_comparable(history_dir: Path, fingerprint: str, before_run_id: str | None = None) -> str | None:
    """The newest run in the history recorded on a host with ``fingerprint``, or None.

    With ``before_run_id``, only runs that started strictly earlier (by the timestamp in the
    run id) count; ``before_run_id`` itself need not be in the history.
    """
    found = comparable_runs(history_dir, fingerprint, before_run_id, limit=1)
    return found[0] if found else None


def comparable_runs(
    history_dir: Path, fingerprint: str, before_run_id: str | None = None, limit: int = 5
) -> list[str]:
    """The newest ``limit`` runs recorded on a host with ``fingerprint``, newest first (only
    those that started before ``before_run_id`` when it is given)."""
    files = _summary_files(history_dir)
    if not files:
        return []
    table = _dataset(files, Path(history_dir) / "summary").to_table(columns=["run_id", "fingerprint"])
    candidates = {
        row["run_id"]
        for row in table.to_pylist()
        if row["fingerprint"] is not None and row["fingerprint"] == fingerprint
    }
    if before_run_id is not None:
        cutoff = _timestamp(before_run_id)
        candidates = {run_id for run_id in candidates if _timestamp(run_id) < cutoff}
    return sorted(candidates, key=lambda run_id: (_timestamp(run_id), run_id), reverse=True)[:limit]


def _timestamp(run_id: str) -> str:
    """The ``YYYYMMDDTHHMMSSZ`` part of a run id, which sorts in time order."""
    return run_id.split("-", 1)[0]


def load_history_run(history_dir: Path, run_id: str) -> tuple[list[Row], pa.Table]:
    """One run from the history: its summary rows (with ``fingerprint``, ``git_commit``,
    ``versions_json``, ``date`` and ``host``) and its samples table (``schemas.tables.SAMPLES``).

    Raises :class:`HistoryError` when the run is not in the history.
    """
    files = _summary_files(history_dir, run_id) if _RUN_ID.match(run_id) else []
    if not files:
        raise HistoryError(f"run {run_id!r} is not in the history at {history_dir}")
    summary_path = files[0]
    summary = io.read_table(summary_path, HISTORY_SUMMARY)
    host_dir, date_dir = summary_path.parent, summary_path.parent.parent
    rows = summary.to_pylist()
    for row in rows:
        row["date"] = date_dir.name.split("=", 1)[1]
        row["host"] = host_dir.name.split("=", 1)[1]
    samples_path = Path(history_dir) / "samples" / date_dir.name / host_dir.name / summary_path.name
    if not samples_path.exists():
        raise HistoryError(f"run {run_id!r}: {samples_path} is missing")
    return rows, io.read_table(samples_path, tables.SAMPLES)

"""The gate's verdicts, kept in the history beside the runs they judged.

When a run is gated (``--history``, see ``regressions.record_and_compare``), each compared
cell's verdict -- the run it was shown against, the changes, the evidence -- is written to
``HISTORY/gate/date=.../host=.../RUN_ID.parquet``, one row per cell. The history site lists
the regressions from these files without reading a single timed call again: judging a year of
nights afresh would read every night's samples five times over (see scripts/history_scale.py).

A run appended without being gated (before this file existed, or by ``merge``) has no verdict
file; the site judges such runs itself, the same way, when their samples are there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa

from orchestrator.history.compare import ComparisonReport, is_regression
from orchestrator.history.store import partition_of, report_skipped
from schemas import io

Row = dict[str, Any]

VERDICTS = pa.schema(
    [
        pa.field("run_id", pa.string(), nullable=False),  # the run judged
        pa.field("config_id", pa.string()),  # its cell (summary config_id)
        pa.field("base_run_id", pa.string()),  # the earlier run the cell is shown against
        pa.field("label", pa.string()),
        pa.field("latency_verdict", pa.string()),  # slower | faster | same | slower? | ...
        pa.field("more_memory", pa.bool_()),
        pa.field("p50_change_pct", pa.float64()),
        pa.field("p99_change_pct", pa.float64()),
        pa.field("peak_rss_change_pct", pa.float64()),
        pa.field("base_p50_ms", pa.float64()),
        pa.field("new_p50_ms", pa.float64()),
        pa.field("p_value", pa.float64()),
        pa.field("base_processes", pa.int64()),
        pa.field("new_processes", pa.int64()),
        pa.field("threshold_pct", pa.float64()),  # --fail-on-regression; null when not asked
        pa.field("window", pa.int64()),  # how many earlier runs the cell was judged against
        pa.field("regression", pa.bool_()),  # by the gate's rule at threshold_pct (null without one)
    ]
)


def verdict_rows(report: ComparisonReport, fail_pct: float | None, window: int) -> list[Row]:
    """One row per compared cell of ``report`` (a run against its window of earlier runs)."""
    rows = []
    for cell in report.compared:
        change = (cell.latency_verdict, cell.p50_change_pct, cell.more_memory, cell.peak_rss_change_pct)
        rows.append(
            {
                "run_id": report.new_run_id,
                "config_id": cell.new.get("config_id"),
                "base_run_id": report.base_runs.get(cell.key) or cell.base.get("run_id"),
                "label": report.label(cell.key),
                "latency_verdict": cell.latency_verdict,
                "more_memory": cell.more_memory,
                "p50_change_pct": cell.p50_change_pct,
                "p99_change_pct": cell.p99_change_pct,
                "peak_rss_change_pct": cell.peak_rss_change_pct,
                "base_p50_ms": cell.base.get("latency_ms_p50"),
                "new_p50_ms": cell.new.get("latency_ms_p50"),
                "p_value": cell.p_value,
                "base_processes": cell.processes[0],
                "new_processes": cell.processes[1],
                "threshold_pct": fail_pct,
                "window": window,
                "regression": None if fail_pct is None else is_regression(*change, fail_pct),
            }
        )
    return rows


def record_verdicts(history_dir: Path, run_id: str, rows: list[Row]) -> Path:
    """Write ``rows`` as the gate's verdicts on ``run_id`` (already in the history), atomically."""
    path = Path(history_dir) / "gate" / partition_of(history_dir, run_id) / f"{run_id}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    io.write_table(pa.Table.from_pylist(rows, schema=VERDICTS), path)
    return path


def read_verdicts(history_dir: Path) -> dict[str, list[Row]]:
    """Every recorded verdict, by the run id judged. An unreadable file is named and skipped."""
    by_run: dict[str, list[Row]] = {}
    files = sorted(Path(history_dir).glob("gate/date=*/host=*/*.parquet"))
    for path in (path for path in files if not path.name.startswith(".")):
        try:
            table = io.read_table(path, VERDICTS)
        except io.SchemaError as exc:
            report_skipped(f"history: skipped {exc}")
            continue
        by_run[path.stem] = table.to_pylist()
    return by_run

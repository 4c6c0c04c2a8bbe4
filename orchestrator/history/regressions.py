"""Run history and regression checks: ``compare BASE NEW``, and the nightly step after a run.

A nightly run appends itself to ``--history``, is compared with the latest earlier run from a
comparable host, and -- with ``--fail-on-regression PCT`` -- turns a significant slow-down or
memory growth beyond PCT into exit status 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
from rich.console import Console

from orchestrator.history.compare import ComparisonReport, compare_runs, worst_of
from orchestrator.history.gate_log import record_verdicts, verdict_rows
from orchestrator.history.store import (
    HistoryError,
    append_run,
    comparable_runs,
    load_history_run,
    load_run_dir,
    read_history,
    run_ids,
)
from orchestrator.history.trend import trend_chart
from schemas import io


@dataclass(frozen=True)
class StoredRun:
    """A run to compare: its summary rows, its per-call samples and its host fingerprint."""

    name: str
    rows: list[dict[str, Any]]
    samples: pa.Table
    fingerprint: str | None


def load_run(spec: str) -> StoredRun:
    """A run named as a run directory, ``HISTORY_DIR`` (its latest run) or ``HISTORY_DIR@RUN_ID``."""
    location, _, run_id = spec.partition("@")
    path = Path(location)
    if (path / "summary.parquet").is_file() and not run_id:
        rows, samples, fingerprint = load_run_dir(path)
        return StoredRun(spec, rows, samples, fingerprint)
    if (path / "summary").is_dir():
        run_id = run_id or max(run_ids(path), default="")
        if not run_id:
            raise HistoryError(f"{path}: the history holds no run")
        rows, samples = load_history_run(path, run_id)
        return StoredRun(f"{path}@{run_id}", rows, samples, rows[0].get("fingerprint") if rows else None)
    raise HistoryError(f"{spec}: expected a run directory, a history directory, or HISTORY@RUN_ID")


def verdict(console: Console, report: ComparisonReport, fail_pct: float | None) -> int:
    """Say what could not be judged, then (with ``fail_pct``) the gate's verdict on the rest:
    1 on a regression, else 0 -- never "no regression" for what was not judged."""
    not_judged = report.not_judged_line()
    if not_judged:
        console.print(not_judged, markup=False, highlight=False)
    if fail_pct is None:
        return 0
    regressions = report.regressions(fail_pct)
    if regressions:
        console.print(f"[bold red]{len(regressions)} regression(s) of {fail_pct:g} % or more[/]")
        return 1
    judged = len(report.compared) - len(report.latency_not_judged())
    if not report.compared:
        console.print("no cell could be compared: nothing judged, no regression found")
    elif judged == len(report.compared):
        console.print(f"no regression of {fail_pct:g} % or more")
    else:
        console.print(
            f"no regression of {fail_pct:g} % or more in what could be judged: the peak memory of "
            f"{len(report.compared)} cell(s), the latency of {judged} of them"
        )
    return 0


def record_and_compare(
    run_dir: Path,
    history_dir: Path,
    kinds: tuple[str, ...],
    fail_pct: float | None,
    console: Console,
    window: int = 5,
) -> int:
    """Compare a finished run with the last ``window`` comparable runs in ``history_dir``, then
    append it.

    Each cell is judged against each of those runs (see ``compare.worst_of``), and the verdicts
    are kept in the history (``gate_log``) when the run is appended. Writes
    compare.md and trend.png into the run directory when those report kinds were asked for.
    Returns 1 when ``fail_pct`` is set and a regression reaches it, else 0.
    """
    new = load_run(str(run_dir))
    status = 0
    verdicts: list[dict[str, Any]] | None = None
    base_ids = (
        comparable_runs(history_dir, new.fingerprint, before_run_id=run_dir.name, limit=window)
        if new.fingerprint
        else []
    )
    if not base_ids:
        console.print(f"history {history_dir}: no earlier run from a comparable host to compare with")
    else:
        reports = []
        for base_id in base_ids:
            base = load_run(f"{history_dir}@{base_id}")
            fingerprints = (base.fingerprint, new.fingerprint)
            reports.append(compare_runs(base.rows, base.samples, new.rows, new.samples, *fingerprints))
        report = worst_of(reports, fail_pct)
        console.print(
            f"compared with {', '.join(base_ids)} ({len(base_ids)} comparable run(s), newest first)"
        )
        console.print(report.to_table())
        if "md" in kinds:
            io.write_bytes(report.to_markdown().encode(), run_dir / "compare.md")
            console.print(f"report: {run_dir / 'compare.md'}")
        status = verdict(console, report, fail_pct)
        verdicts = verdict_rows(report, fail_pct, len(base_ids))
    if append_run(history_dir, run_dir) and verdicts is not None:
        record_verdicts(history_dir, run_dir.name, verdicts)  # for the history site's regression list
    if "png" in kinds:
        path = trend_chart(read_history(history_dir).to_pylist(), run_dir / "trend.png")
        if path is not None:
            console.print(f"report: {path}")
    return status

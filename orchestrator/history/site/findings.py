"""The regressions the gate found, with the runs on each side.

The gate's verdicts are read from the history (``gate_log``); a run appended without being
gated (before verdicts were kept, by ``merge``, with no ``--history`` compare) is judged here
exactly as the gate would have judged it -- ``compare_runs`` against each of the last
``window`` comparable runs, ``worst_of`` them -- as long as its samples and theirs are there.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.history.compare import compare_runs, is_regression, worst_of
from orchestrator.history.gate_log import read_verdicts, verdict_rows
from orchestrator.history.regressions import StoredRun, load_run
from orchestrator.history.site.series import SeriesKey, key_of, run_time
from orchestrator.history.store import HistoryError, comparable_runs
from schemas import io

Row = dict[str, Any]


@dataclass(frozen=True)
class Regression:
    """A cell the gate called a regression: its verdict, and its row in the runs on each side."""

    verdict: Row  # a gate_log.VERDICTS row
    new: Row  # the judged run's summary row of the cell
    base: Row | None  # the earlier run's row (None when that run is no longer in the history)
    series: SeriesKey
    replayed: bool  # judged while writing the site, not recorded by the gate

    @property
    def threshold_pct(self) -> float:
        return float(self.verdict["threshold_pct"])


@dataclass
class Findings:
    """Every regression found (newest first), and how the runs were judged."""

    regressions: list[Regression] = field(default_factory=list)
    gated_runs: int = 0  # runs whose verdicts the gate recorded
    replayed_runs: int = 0  # runs judged here
    not_judged: list[str] = field(default_factory=list)  # runs that could not be judged, and why


def find_regressions(history_dir: Path, rows: list[Row], threshold_pct: float, window: int) -> Findings:
    """The regressions in the history whose summary rows are ``rows`` (``store.read_history``).

    A verdict recorded without a threshold (the gate ran without ``--fail-on-regression``), and
    every run judged here, uses ``threshold_pct``.
    """
    recorded = read_verdicts(history_dir)
    by_run_key = {(str(row["run_id"]), key_of(row)): row for row in rows}
    by_run_config = {(str(row["run_id"]), row.get("config_id")): row for row in rows}
    present = {str(row["run_id"]) for row in rows}
    findings = Findings(gated_runs=len(present & set(recorded)))
    verdicts = [verdict for run_id, found in recorded.items() if run_id in present for verdict in found]
    verdicts += _replay(history_dir, rows, set(recorded), threshold_pct, window, findings)
    for verdict in verdicts:
        threshold = verdict["threshold_pct"] if verdict["threshold_pct"] is not None else threshold_pct
        change = (verdict["latency_verdict"], verdict["p50_change_pct"], verdict["more_memory"])
        if not is_regression(*change, verdict["peak_rss_change_pct"], threshold):
            continue
        new = by_run_config.get((verdict["run_id"], verdict["config_id"]))
        if new is None:
            continue  # a verdict on a cell whose run has left the history
        base = by_run_key.get((str(verdict["base_run_id"]), key_of(new)))
        shown = verdict | {"threshold_pct": threshold}
        findings.regressions.append(
            Regression(shown, new, base, key_of(new), verdict["run_id"] not in recorded)
        )
    findings.regressions.sort(key=lambda found: (run_time(found.verdict["run_id"]), found.verdict["run_id"]))
    findings.regressions.reverse()
    return findings


def _replay(
    history_dir: Path,
    rows: list[Row],
    recorded: set[str],
    threshold_pct: float,
    window: int,
    findings: Findings,
) -> list[Row]:
    """Verdicts on the runs the gate did not record, judged as the gate judges (oldest first)."""
    fingerprints = {str(row["run_id"]): row.get("fingerprint") for row in rows}
    cache: OrderedDict[str, StoredRun] = OrderedDict()
    verdicts: list[Row] = []
    for run_id in sorted(fingerprints, key=lambda run_id: (run_time(run_id), run_id)):
        fingerprint = fingerprints[run_id]
        if run_id in recorded or fingerprint is None:
            continue
        base_ids = comparable_runs(history_dir, fingerprint, before_run_id=run_id, limit=window)
        if not base_ids:
            continue  # the first run of its host: nothing to judge it against
        try:
            new = _load(history_dir, run_id, cache, window)
            reports = [
                compare_runs(
                    base.rows, base.samples, new.rows, new.samples, base.fingerprint, new.fingerprint
                )
                for base in (_load(history_dir, base_id, cache, window) for base_id in base_ids)
            ]
        except (HistoryError, io.SchemaError, OSError) as exc:
            findings.not_judged.append(f"{run_id}: {exc}")
            continue
        findings.replayed_runs += 1
        verdicts += verdict_rows(worst_of(reports, threshold_pct), None, len(base_ids))
    return verdicts


def _load(history_dir: Path, run_id: str, cache: OrderedDict[str, StoredRun], window: int) -> StoredRun:
    """A run from the history, kept while the next runs may still be judged against it."""
    if run_id not in cache:
        cache[run_id] = load_run(f"{history_dir}@{run_id}")
        while len(cache) > window + 1:
            cache.popitem(last=False)
    return cache[run_id]

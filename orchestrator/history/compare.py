"""Compare two runs cell by cell: what got slower, faster or bigger, and what cannot be compared.

Cells match on (framework, scenario, batch_size, threads, cpus, precision, mode, model). Only
cells that are ``ok`` in both runs, agree with the reference, and were measured on hardware
with the same fingerprint are compared; every other cell is listed with the reason it was not.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
from rich.markup import escape
from rich.table import Table

from orchestrator.figures.stats import (
    FASTER,
    MIN_PROCESSES,
    NOT_JUDGED,
    SAME,
    SLOWER,
    UNCONFIRMED_FASTER,
    UNCONFIRMED_SLOWER,
    format_p_value,
    judge_latency,
)
from orchestrator.report.labels import format_ms, md_escape, shown_percentile
from schemas.configuration import CONFIG_COLUMNS, config_key, varying
from schemas.configuration import label as config_label

Row = dict[str, Any]

# What makes two summary rows the same cell: schemas.configuration's one definition (the host
# fingerprint is checked beside it). Read with .get(): older rows may lack a column.
KEY_COLUMNS = CONFIG_COLUMNS

# Below this growth of the peak RSS a percentage is noise (allocator arenas, page rounding).
MIN_MEMORY_GROWTH_MB = 5.0

MORE_MEMORY = "more memory"


def _key(row: Row) -> tuple[Any, ...]:
    return config_key(row)


def _number(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number


def pct_change(base: Any, new: Any) -> float | None:
    """``(new - base) / base`` in percent; None when either is missing or base is 0."""
    old, now = _number(base), _number(new)
    if old is None or now is None or old == 0.0:
        return None
    return (now - old) / abs(old) * 100.0


def latencies_by_config(samples: pa.Table) -> dict[str, np.ndarray]:
    """``latency_ns`` of every timed call, grouped by ``config_id`` (all repeats together)."""
    if samples.num_rows == 0:
        return {}
    ids = pa.concat_arrays(samples.column("config_id").chunks).dictionary_encode()
    codes = ids.indices.to_numpy(zero_copy_only=False)
    latencies = samples.column("latency_ns").to_numpy()
    order = np.argsort(codes, kind="stable")
    bounds = np.cumsum(np.bincount(codes, minlength=len(ids.dictionary)))
    groups = np.split(latencies[order], bounds[:-1])
    return {str(config_id): group for config_id, group in zip(ids.dictionary.to_pylist(), groups)}


def process_p50s_by_config(samples: pa.Table) -> dict[str, list[float]]:
    """The median latency (ms) of each worker process, grouped by ``config_id`` (processes in
    order of pid)."""
    if samples.num_rows == 0:
        return {}
    ids = pa.concat_arrays(samples.column("config_id").chunks).dictionary_encode()
    codes = ids.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    pids, pid_codes = np.unique(samples.column("pid").to_numpy(), return_inverse=True)
    # One integer per (config, process): a single sort groups the calls (a year's history gates
    # 600 k calls a night against five earlier nights; np.unique over (config, pid) pairs took
    # most of that time).
    groups = codes * len(pids) + pid_codes.ravel()
    order = np.argsort(groups, kind="stable")
    ordered_groups, ordered = groups[order], samples.column("latency_ns").to_numpy()[order]
    starts = np.flatnonzero(np.r_[True, ordered_groups[1:] != ordered_groups[:-1]])
    medians: dict[str, list[float]] = {}
    names = ids.dictionary.to_pylist()
    for start, stop in zip(starts, [*starts[1:], ordered.size]):
        name = str(names[ordered_groups[start] // len(pids)])
        medians.setdefault(name, []).append(float(np.median(ordered[start:stop])) / 1e6)
    return medians


def is_regression(
    latency_verdict: str,
    p50_change_pct: float | None,
    more_memory: bool,
    peak_rss_change_pct: float | None,
    threshold_pct: float,
) -> bool:
    """The gate's rule: judged slower by at least ``threshold_pct`` on the p50, or judged to use
    more memory by at least ``threshold_pct`` of peak RSS. (Also applied by the history site to
    the verdicts the gate recorded.)"""
    slower = latency_verdict == SLOWER and p50_change_pct is not None and p50_change_pct >= threshold_pct
    bigger = more_memory and peak_rss_change_pct is not None and peak_rss_change_pct >= threshold_pct
    return slower or bigger


@dataclass(frozen=True)
class CellComparison:
    """One cell measured in both runs. Changes are percent of the base run's figure."""

    key: tuple[Any, ...]
    base: Row
    new: Row
    p50_change_pct: float | None
    p99_change_pct: float | None
    throughput_change_pct: float | None
    cpu_change_pct: float | None
    peak_rss_change_pct: float | None
    peak_rss_change_mb: float | None
    p_value: float
    base_spread_pct: float | None  # the wider between-process p50 spread of the two runs (shown)
    latency_verdict: str  # slower | faster | same | slower? | faster? | latency not judged
    more_memory: bool
    processes: tuple[int, int] = (1, 1)  # worker processes the latency verdict rests on

    @property
    def verdict(self) -> str:
        """``slower``, ``faster``, ``more memory``, ``slower, more memory`` ... or ``same``;
        ``slower?`` when one process a side is all the evidence."""
        parts = [self.latency_verdict] if self.latency_verdict != SAME else []
        parts += [MORE_MEMORY] if self.more_memory else []
        return ", ".join(parts) or SAME

    @property
    def latency_judged(self) -> bool:
        """Whether the latency verdict rests on :data:`MIN_PROCESSES` or more processes a side."""
        return min(self.processes) >= MIN_PROCESSES

    @property
    def evidence(self) -> str:
        """``3 vs 3``: the base and new processes behind the verdict."""
        return f"{self.processes[0]} vs {self.processes[1]}"


@dataclass(frozen=True)
class NotCompared:
    """A cell of either run that was not compared, and why."""

    key: tuple[Any, ...]
    reason: str


@dataclass(frozen=True)
class ComparisonReport:
    """Every cell of two runs: compared ones with their changes and verdicts, the rest with reasons."""

    base_run_id: str | None
    new_run_id: str | None
    compared: list[CellComparison]
    not_compared: list[NotCompared]
    min_effect_pct: float
    alpha: float
    labels: dict[tuple[Any, ...], str] = field(default_factory=dict, repr=False)
    # With a window of past runs: which base run each compared cell is shown against.
    base_runs: dict[tuple[Any, ...], str] = field(default_factory=dict, repr=False)
    # Timing settings that differ between the runs (warm-up, stop rule, seed): shown.
    differences: list[str] = field(default_factory=list)
    # Both sides are one run (its id and every timed call the same): nothing to compare.
    same_run: bool = False

    def regressions(self, threshold_pct: float) -> list[CellComparison]:
        """Cells judged slower by at least ``threshold_pct`` on the p50, or judged to use more
        memory by at least ``threshold_pct`` of peak RSS."""
        return [
            cell
            for cell in self.compared
            if is_regression(
                cell.latency_verdict,
                cell.p50_change_pct,
                cell.more_memory,
                cell.peak_rss_change_pct,
                threshold_pct,
            )
        ]

    def latency_not_judged(self) -> list[CellComparison]:
        """Compared cells whose latency no verdict could be given on: fewer than
        :data:`MIN_PROCESSES` worker processes on a side (their peak memory was still judged)."""
        return [cell for cell in self.compared if not cell.latency_judged]

    def not_judged_line(self) -> str | None:
        """One plain sentence on which latencies could not be judged and why; None when all were."""
        cells = self.latency_not_judged()
        if not cells:
            return None
        names = ", ".join(f"{self.label(cell.key)} {cell.evidence}" for cell in cells)
        return (
            f"latency not judged for {len(cells)} of {len(self.compared)} compared cell(s), too few "
            f"worker processes (base vs new): {names}. One process's calls are not independent "
            f"draws: a latency verdict needs {MIN_PROCESSES} or more processes a side (run both with "
            f"--repeats {MIN_PROCESSES} or more). Peak memory was judged."
        )

    def label(self, key: tuple[Any, ...]) -> str:
        """The cell's name: its framework plus the dimensions that vary across both runs."""
        return self.labels.get(key) or str(key[0])

    def _lines(self) -> Iterable[tuple[str, list[str], str]]:
        """(label, figure cells, verdict or reason) for every cell, compared ones first."""
        for cell in self.compared:
            figures = [
                *([self.base_runs.get(cell.key, "-")] if self.base_runs else []),
                format_ms(cell.base.get("latency_ms_p50")),
                format_ms(cell.new.get("latency_ms_p50")),
                _fmt_pct(cell.p50_change_pct),
                _fmt_pct(cell.p99_change_pct),
                _fmt_pct(cell.throughput_change_pct),
                _fmt_pct(cell.cpu_change_pct),
                _fmt_pct(cell.peak_rss_change_pct),
                format_p_value(cell.p_value),
                cell.evidence,
                "-" if not cell.base_spread_pct else f"{cell.base_spread_pct:.1f} %",
            ]
            yield self.label(cell.key), figures, cell.verdict
        for missing in self.not_compared:
            blanks = ["-"] * len(self._figure_headers())
            yield self.label(missing.key), blanks, f"not compared: {missing.reason}"

    def _figure_headers(self) -> tuple[str, ...]:
        return (("base run",) if self.base_runs else ()) + _FIGURE_HEADERS

    def to_table(self) -> Table:
        """A Rich table: one line per cell, compared cells first, then the others with reasons."""
        title = f"{self.base_run_id or 'base'} -> {self.new_run_id or 'new'}"
        if self.differences:
            title += f" (timed differently: {', '.join(self.differences)})"
        table = Table(title=title, title_justify="left")
        table.add_column("cell")
        for header in self._figure_headers():
            table.add_column(header, justify="right")
        table.add_column("verdict", overflow="fold")
        colours = {SLOWER: "bold red", MORE_MEMORY: "bold red", FASTER: "green", SAME: "default"}
        colours |= {UNCONFIRMED_SLOWER: "yellow", UNCONFIRMED_FASTER: "yellow", NOT_JUDGED: "yellow"}
        for label, figures, verdict in self._lines():
            colour = colours.get(verdict.split(",")[0], "yellow")
            table.add_row(escape(label), *figures, f"[{colour}]{escape(verdict)}[/]")
        return table

    def _headline(self) -> list[str]:
        """Regressions first, then improvements, one line each; or that there were none."""
        slower = [self.label(c.key) for c in self.compared if c.latency_verdict == SLOWER or c.more_memory]
        faster = [self.label(c.key) for c in self.compared if c.latency_verdict == FASTER]
        unconfirmed = [
            self.label(c.key)
            for c in self.compared
            if c.latency_verdict in (UNCONFIRMED_SLOWER, UNCONFIRMED_FASTER)
        ]
        lines = [
            f"**Regressions ({len(slower)}):** {', '.join(slower) or 'none'}  ",
            f"**Improvements ({len(faster)}):** {', '.join(faster) or 'none'}  ",
        ]
        if unconfirmed:
            lines.append(
                f"**Unconfirmed ({len(unconfirmed)}, one process a side):** {', '.join(unconfirmed)}  "
            )
        not_judged = self.not_judged_line()
        if not_judged:
            lines.append(f"**Not judged:** {not_judged}  ")
        if self.same_run:
            lines.insert(0, f"**Same run:** `{self.base_run_id}` on both sides: nothing to compare.  ")
        missing = (
            f"; {len(self.not_compared)} not comparable (reasons in the table)" if self.not_compared else ""
        )
        lines.append(f"Compared {len(self.compared)} cells{missing}.")
        return lines

    def to_markdown(self) -> str:
        """The comparison as Markdown (for a CI job page), with the rule behind the verdicts."""
        headers = ["cell", *self._figure_headers(), "verdict"]
        lines = [
            f"# Comparison `{self.base_run_id or 'base'}` -> `{self.new_run_id or 'new'}`",
            "",
            f"Slower / faster: Mann-Whitney p < {self.alpha:g}, p50 changed by at least "
            f"{self.min_effect_pct:g} % and every new process beyond every base one, with "
            f"{MIN_PROCESSES}+ processes a side (with fewer: `slower?`, shown, never a regression). "
            f"More memory: peak RSS up by at least {self.min_effect_pct:g} % "
            f"and {MIN_MEMORY_GROWTH_MB:g} MB.",
            "",
            *self._headline(),
            *([f"**Timed differently:** {', '.join(self.differences)}  "] if self.differences else []),
            "",
            "| " + " | ".join(headers) + " |",
            "|:---|" + "---:|" * len(self._figure_headers()) + ":---|",
        ]
        for label, figures, verdict in self._lines():
            text = (
                verdict
                if verdict in (SAME, FASTER, NOT_JUDGED) or verdict.startswith("not compared")
                else f"**{verdict}**"
            )
            lines.append("| " + " | ".join([md_escape(label), *figures, md_escape(text)]) + " |")
        lines.append("")
        return "\n".join(lines)


_FIGURE_HEADERS = (
    "base p50 ms",
    "new p50 ms",
    "p50 %",
    "p99 %",
    "samples/s %",
    "CPU %",
    "peak MB %",
    "p-value",
    "processes",
    "spread",
)


def _fmt_pct(value: float | None) -> str:
    return "-" if value is None else f"{value:+.1f}"


def _labels(keys: Iterable[tuple[Any, ...]]) -> dict[tuple[Any, ...], str]:
    rows = [dict(zip(KEY_COLUMNS, key)) for key in keys]
    vary = [
        column for column in varying(rows) if column != "input_shapes" or "batch_size" not in varying(rows)
    ]
    return {config_key(row): config_label(row, vary) for row in rows}


def _index(rows: list[Row]) -> tuple[dict[tuple[Any, ...], Row], dict[tuple[Any, ...], int]]:
    """Rows by cell key (first wins), and how often each key occurred."""
    by_key: dict[tuple[Any, ...], Row] = {}
    counts: dict[tuple[Any, ...], int] = {}
    for row in rows:
        key = _key(row)
        by_key.setdefault(key, row)
        counts[key] = counts.get(key, 0) + 1
    return by_key, counts


def _status_reason(row: Row, run: str) -> str | None:
    if row.get("status") != "ok":
        return f"status {row.get('status')} in {run} run"
    if row.get("parity_ok") is False:
        return f"parity DIVERGED in {run} run"
    if _number(row.get("latency_ms_p50")) is None:
        return f"no p50 in {run} run"
    return None


def _run_id(rows: list[Row]) -> str | None:
    return str(rows[0]["run_id"]) if rows and rows[0].get("run_id") is not None else None


def compare_runs(
    base_rows: list[Row],
    base_samples: pa.Table,
    new_rows: list[Row],
    new_samples: pa.Table,
    base_fingerprint: str | None,
    new_fingerprint: str | None,
    min_effect_pct: float = 5.0,
    alpha: float = 0.01,
) -> ComparisonReport:
    """Compare every cell of ``new_rows`` with the same cell of ``base_rows``.

    Rows are summary rows (``schemas.tables.SUMMARY``); samples are samples tables, matched to
    a row by ``config_id``. A cell is compared only when it is in both runs, ``ok`` and within
    the parity tolerance in both, has latency samples in both, and both fingerprints are known
    and equal; otherwise it is listed in ``not_compared`` with the reason. Cells are listed in
    the new run's order, then the base run's cells missing from the new one.

    Latency verdict ("slower" / "faster"): the Mann-Whitney p-value on the per-call latencies is
    below ``alpha``, the p50 moved by at least ``min_effect_pct``, and the two runs'
    processes stand apart: with two or more worker processes on each side, every new process's p50
    beyond every base process's (see the comment in :func:`orchestrator.figures.stats.judge_latency`).
    Memory verdict ("more memory"): peak RSS grew by at least ``min_effect_pct`` and by at least
    :data:`MIN_MEMORY_GROWTH_MB`.
    """
    base_side, new_side = _Side.of(base_rows, base_samples), _Side.of(new_rows, new_samples)
    keys = list(new_side.by_key) + [key for key in base_side.by_key if key not in new_side.by_key]
    host_reason = _host_reason(base_fingerprint, new_fingerprint)
    compared: list[CellComparison] = []
    not_compared: list[NotCompared] = []
    for key in keys:
        base, new = base_side.by_key.get(key), new_side.by_key.get(key)
        if base is None or new is None:
            not_compared.append(NotCompared(key, "not in base run" if base is None else "not in new run"))
            continue
        reasons = _why_not_comparable(base, new, (base_side.counts[key], new_side.counts[key]), host_reason)
        base_ns, new_ns = base_side.latencies_of(base), new_side.latencies_of(new)
        if not reasons:
            reasons += ["no latency samples in base run"] if base_ns is None or base_ns.size == 0 else []
            reasons += ["no latency samples in new run"] if new_ns is None or new_ns.size == 0 else []
        if reasons or base_ns is None or new_ns is None:
            not_compared.append(NotCompared(key, "; ".join(reasons)))
            continue
        processes = (base_side.processes_of(base), new_side.processes_of(new))
        compared.append(_compare_cell(key, base, new, base_ns, new_ns, processes, min_effect_pct, alpha))
    return ComparisonReport(
        base_run_id=_run_id(base_rows),
        new_run_id=_run_id(new_rows),
        compared=compared,
        not_compared=not_compared,
        min_effect_pct=min_effect_pct,
        alpha=alpha,
        labels=_labels(keys),
        differences=timed_differently(base_rows, new_rows),
        same_run=_same_run(base_rows, base_samples, new_rows, new_samples),
    )


@dataclass(frozen=True)
class _Side:
    """One run of a comparison: its rows by cell key (and how many share each key), its calls'
    latencies and its processes' p50s by config_id."""

    by_key: dict[tuple[Any, ...], Row]
    counts: dict[tuple[Any, ...], int]
    latencies: dict[str, np.ndarray]
    processes: dict[str, list[float]]

    @classmethod
    def of(cls, rows: list[Row], samples: pa.Table) -> _Side:
        by_key, counts = _index(rows)
        return cls(by_key, counts, latencies_by_config(samples), process_p50s_by_config(samples))

    def latencies_of(self, row: Row) -> np.ndarray | None:
        return self.latencies.get(str(row.get("config_id")))

    def processes_of(self, row: Row) -> list[float]:
        return self.processes.get(str(row.get("config_id")), [])


def _host_reason(base_fingerprint: str | None, new_fingerprint: str | None) -> str | None:
    """Why no cell of the two runs can be compared, host-wise, or None."""
    if base_fingerprint is None or new_fingerprint is None:
        which = "base" if base_fingerprint is None else "new"
        return f"host fingerprint unknown in {which} run"
    if base_fingerprint != new_fingerprint:
        return f"host fingerprint differs ({base_fingerprint} vs {new_fingerprint})"
    return None


def _why_not_comparable(base: Row, new: Row, counts: tuple[int, int], host_reason: str | None) -> list[str]:
    """Why one cell present in both runs cannot be compared (before looking at its samples)."""
    reasons = [f"{count} rows in {run} run" for run, count in zip(("base", "new"), counts) if count > 1]
    reasons += [host_reason] if host_reason else []
    reasons += _different_inputs(base, new) + _other_cpus(base, new)
    reasons += [reason for reason in (_status_reason(new, "new"), _status_reason(base, "base")) if reason]
    return reasons


def _same_run(
    base_rows: list[Row], base_samples: pa.Table, new_rows: list[Row], new_samples: pa.Table
) -> bool:
    """One run on both sides: the same run id and the same calls (an edited copy of a run
    directory keeps the id, but not the calls)."""
    if _run_id(base_rows) is None or _run_id(base_rows) != _run_id(new_rows):
        return False
    latencies = [samples.column("latency_ns").combine_chunks() for samples in (base_samples, new_samples)]
    return bool(latencies[0].equals(latencies[1]))


def _different_inputs(base: Row, new: Row) -> list[str]:
    """A verdict on other weights or other inputs would measure something else: not compared."""
    reasons = []
    for column, what in (
        ("model_sha256", "weights (another --seed, or another model file)"),
        ("inputs_sha256", "inputs (another --seed, or --inputs)"),
    ):
        if base.get(column) and new.get(column) and base[column] != new[column]:
            reasons.append(f"other {what}")
    return reasons


def _other_cpus(base: Row, new: Row) -> list[str]:
    """The runners' threads could use other CPUs (read back: ``cpus_observed``), whatever
    --cpus asked: the two latencies are not of one CPU budget. Unknown in a run from before."""
    ran_on = base.get("cpus_observed"), new.get("cpus_observed")
    if None in ran_on or ran_on[0] == ran_on[1]:
        return []
    return [f"ran on other CPUs (base {ran_on[0]}, new {ran_on[1]})"]


def timed_differently(base_rows: list[Row], new_rows: list[Row]) -> list[str]:
    """How the two runs' timing settings differ (``warmup 50 -> 3``): shown with the verdicts,
    which then compare figures taken differently."""

    def settings(rows: list[Row]) -> dict[str, Any]:
        found = [str(row["measurement_json"]) for row in rows if row.get("measurement_json")]
        try:
            return dict(json.loads(found[0])) if found else {}
        except (ValueError, TypeError):  # not what this version writes: nothing to say
            return {}

    before, after = settings(base_rows), settings(new_rows)
    return [
        f"{key} {before.get(key)} -> {after.get(key)}"
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key) and before and after
    ]


def _compare_cell(
    key: tuple[Any, ...],
    base: Row,
    new: Row,
    base_ns: np.ndarray,
    new_ns: np.ndarray,
    processes: tuple[list[float], list[float]],
    min_effect_pct: float,
    alpha: float,
) -> CellComparison:
    p50_change = pct_change(base.get("latency_ms_p50"), new.get("latency_ms_p50"))
    spreads = [_number(row.get("latency_ms_p50_spread_pct")) for row in (base, new)]
    spread = max((value for value in spreads if value is not None), default=None)  # shown only
    base_p50s, new_p50s = processes
    latency_verdict, p_value = judge_latency(
        base_ns, new_ns, processes, p50_change, min_effect_pct=min_effect_pct, alpha=alpha
    )
    base_peak, new_peak = _number(base.get("peak_rss_mb")), _number(new.get("peak_rss_mb"))
    peak_change_mb = None if base_peak is None or new_peak is None else new_peak - base_peak
    peak_change_pct = pct_change(base_peak, new_peak)
    more_memory = (
        peak_change_pct is not None
        and peak_change_mb is not None
        and peak_change_pct >= min_effect_pct
        and peak_change_mb >= MIN_MEMORY_GROWTH_MB
    )
    return CellComparison(
        key=key,
        base=base,
        new=new,
        p50_change_pct=p50_change,
        # Only where both runs made enough calls for a p99 (the rule every report uses).
        p99_change_pct=pct_change(shown_percentile(base, 99), shown_percentile(new, 99)),
        throughput_change_pct=pct_change(base.get("throughput_per_s"), new.get("throughput_per_s")),
        cpu_change_pct=pct_change(base.get("cpu_percent"), new.get("cpu_percent")),
        peak_rss_change_pct=peak_change_pct,
        peak_rss_change_mb=peak_change_mb,
        p_value=p_value,
        base_spread_pct=spread,
        latency_verdict=latency_verdict,
        more_memory=more_memory,
        processes=(max(len(base_p50s), 1), max(len(new_p50s), 1)),
    )


def worst_of(reports: list[ComparisonReport], threshold_pct: float | None) -> ComparisonReport:
    """One report of a run against a window of past runs (newest first): each cell shown
    against the past run it regressed most from, or against the newest when it regressed from
    none.

    A creep of a few percent a night never trips a gate that looks only at the night before;
    against each of the last N runs it does, once it adds up -- and a run flagged as a
    regression is never the only baseline of the next.
    """
    newest = reports[0]
    threshold = newest.min_effect_pct if threshold_pct is None else threshold_pct
    candidates: dict[tuple[Any, ...], list[tuple[CellComparison, str, bool]]] = {}
    for report in reports:
        regressed = {id(cell) for cell in report.regressions(threshold)}
        for cell in report.compared:
            entry = (cell, report.base_run_id or "", id(cell) in regressed)
            candidates.setdefault(cell.key, []).append(entry)
    chosen: dict[tuple[Any, ...], tuple[CellComparison, str]] = {}
    for key, entries in candidates.items():
        regressions = [entry for entry in entries if entry[2]]
        if regressions:
            cell, run, _ = max(regressions, key=lambda entry: _size(entry[0]))
        else:
            cell, run, _ = entries[0]  # the newest run that compared it
        chosen[key] = (cell, run)
    order = [cell.key for cell in newest.compared] + [
        key for key in chosen if key not in {c.key for c in newest.compared}
    ]
    return ComparisonReport(
        base_run_id=f"the last {len(reports)} comparable runs" if len(reports) > 1 else newest.base_run_id,
        new_run_id=newest.new_run_id,
        compared=[chosen[key][0] for key in order],
        not_compared=[missing for missing in newest.not_compared if missing.key not in chosen],
        min_effect_pct=newest.min_effect_pct,
        alpha=newest.alpha,
        labels={key: label for report in reports for key, label in report.labels.items()},
        base_runs={key: run for key, (_, run) in chosen.items()} if len(reports) > 1 else {},
        differences=list(dict.fromkeys(d for report in reports for d in report.differences)),
    )


def _size(cell: CellComparison) -> float:
    """How large a regression is: the larger of its p50 and peak-memory changes, in percent."""
    return max(cell.p50_change_pct or 0.0, cell.peak_rss_change_pct or 0.0)

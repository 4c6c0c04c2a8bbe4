"""The cross-machine report: per model and scenario, frameworks x machines -- p50 latency,
throughput and peak memory on each machine -- relative to a chosen machine, as a console
table, machines.md and machines.png.

Machines are told apart by their label: the machine a fleet job asked for (a node or a
constraint), or the host name of a run read back from disk. A configuration is the same on
two machines when every configuration column but the thread count and CPU list agrees: those
follow the machine (by default, one thread per CPU it has). Regression comparisons do not come
here: they stay per machine (the host fingerprint), in compare and the history.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from rich.table import Table

from orchestrator.history import store as history
from schemas import files, io, tables
from schemas.configuration import config_key, framework_label, label, varying

Row = dict[str, Any]
_MACHINE_DEPENDENT = ("threads", "cpus")  # follow the machine's CPUs: not part of the match


@dataclasses.dataclass(frozen=True)
class MachineRun:
    """One machine's run: its label, its host description (environment.json ``host``) and rows."""

    label: str
    host: dict[str, Any]
    rows: list[Row]

    @property
    def description(self) -> str:
        """``vm: Intel(R) Xeon(R) ..., 2 CPUs``."""
        cpus = self.host.get("allowed_cpus") or self.host.get("logical_cpus")
        count = len(cpus) if isinstance(cpus, list) else cpus
        known = [str(self.host[key]) for key in ("cpu_model",) if self.host.get(key)]
        known += [f"{count} CPUs"] if count else []
        known += [f"fingerprint {self.host['fingerprint']}"] if self.host.get("fingerprint") else []
        return f"{self.host.get('hostname', '?')}: {', '.join(known) or 'no hardware recorded'}"


class MachinesError(ValueError):
    """The report cannot be made: no runs, or an unknown reference machine."""


def read_machine_runs(
    run_dirs: Iterable[Path],
    labels: Iterable[str] | None = None,
    skipped: Callable[[str], object] = print,
) -> list[MachineRun]:
    """The runs as machines, in the order given, labelled by ``labels`` or else by host name.
    Of two runs of one machine the newer is kept: the report is one run per machine. A run
    whose summary cannot be read is named through ``skipped`` and left out."""
    runs: dict[str, tuple[str, MachineRun]] = {}
    given = list(labels) if labels is not None else None
    for index, run_dir in enumerate(run_dirs):
        try:
            rows = io.read_table(run_dir / "summary.parquet", tables.SUMMARY).to_pylist()
            environment = history.read_environment(run_dir)
        except (io.SchemaError, history.HistoryError) as exc:
            skipped(f"machines: skipped {run_dir}: {exc}")
            continue
        host = dict(environment.get("host") or {})
        fingerprint = history.fingerprint_of(environment)
        name = given[index] if given is not None else str(host.get("hostname") or "unknown")
        if (
            given is None
            and name in runs
            and runs[name][1].host.get("fingerprint") not in (None, fingerprint)
        ):
            name = f"{name}~{(fingerprint or '')[:6]}"  # one name, two machines: keep both
        host["fingerprint"] = fingerprint
        if name not in runs or runs[name][0] < run_dir.name:
            runs[name] = (run_dir.name, MachineRun(name, host, rows))
    return [run for _, run in runs.values()]


def history_machine_runs(store: Path) -> list[MachineRun]:
    """The history's newest run of each machine (host name and fingerprint), labelled by host."""
    rows = history.read_history(store).to_pylist()
    newest: dict[tuple[str, str | None], str] = {}
    for row in rows:
        key = (str(row["host"]), row["fingerprint"])
        newest[key] = max(newest.get(key, ""), row["run_id"])
    if not newest:
        raise MachinesError(f"{store}: no runs in this history")
    hosts = [host for host, _ in newest]
    runs = []
    for (host, fingerprint), run_id in sorted(newest.items(), key=lambda item: (item[0][0], str(item[0][1]))):
        name = host if hosts.count(host) == 1 else f"{host}~{(fingerprint or '')[:6]}"
        mine = [row for row in rows if row["run_id"] == run_id]
        runs.append(MachineRun(name, {"hostname": host, "fingerprint": fingerprint}, mine))
    return runs


def reference_machine(runs: list[MachineRun], chosen: str | None) -> str:
    """The machine the others are relative to: ``chosen``, or the first label."""
    if not runs:
        raise MachinesError("no runs to report on")
    labels = [run.label for run in runs]
    if chosen is None:
        return labels[0]
    if chosen not in labels:
        raise MachinesError(f"no machine {chosen!r}; the machines are {', '.join(labels)}")
    return chosen


def _sweeps_threads(runs: list[MachineRun]) -> bool:
    return any(len({row.get("threads") for row in run.rows}) > 1 for run in runs)


def sections(runs: list[MachineRun]) -> dict[tuple[str, str], dict[tuple[Any, ...], dict[str, Row]]]:
    """{(model, scenario): {configuration: {machine: row}}}, in first-seen order. Threads and
    CPUs follow each machine and are left out of the match -- unless a run sweeps threads,
    whose rows would otherwise fall on one another."""
    without = ("cpus",) if _sweeps_threads(runs) else _MACHINE_DEPENDENT
    found: dict[tuple[str, str], dict[tuple[Any, ...], dict[str, Row]]] = {}
    for run in runs:
        for row in run.rows:
            section = found.setdefault((str(row.get("model")), str(row.get("scenario"))), {})
            section.setdefault(config_key(row, without=without), {})[run.label] = row
    return found


def _ratio(value: float | None, reference: float | None) -> str:
    if value is None or reference is None or reference <= 0 or not math.isfinite(value):
        return ""
    return f" ({value / reference:.2f}x)"


def _per_second(value: float) -> str:
    """``1953/s``, ``1.05M/s``: a rate a reader takes in at a glance."""
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= scale:
            return f"{value / scale:.3g}{suffix}/s"
    return f"{value:.4g}/s"


def _cell(row: Row | None, reference: Row | None) -> str:
    """``0.512 ms (1.20x) · 1953/s · 80 MB``; the status when the cell is not ok."""
    if row is None:
        return "-"
    if row.get("status") != "ok" or row.get("latency_ms_p50") is None:
        return str(row.get("status"))
    ok_reference = reference if reference is not None and reference.get("status") == "ok" else None
    p50 = row["latency_ms_p50"]
    text = f"{p50:.4g} ms" + _ratio(p50, None if ok_reference is None else ok_reference.get("latency_ms_p50"))
    if row.get("throughput_per_s") is not None:
        text += f" · {_per_second(row['throughput_per_s'])}"
    if row.get("peak_rss_mb") is not None:
        text += f" · {row['peak_rss_mb']:.0f} MB"
    return text


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def _row_label(rows: list[Row], all_rows: list[Row], runs: list[MachineRun]) -> str:
    """The configuration's name: the framework and what varies, threads only when swept."""
    ignored = (
        ("model", "scenario", "cpus") if _sweeps_threads(runs) else ("model", "scenario", *_MACHINE_DEPENDENT)
    )
    vary = [c for c in varying(all_rows) if c not in ignored]
    return label(rows[0], vary) if vary else framework_label(rows[0])


def machines_tables(runs: list[MachineRun], chosen: str | None = None) -> list[tuple[str, Table]]:
    """Per model and scenario, a heading and a Rich table: frameworks down, machines across."""
    reference = reference_machine(runs, chosen)
    labels = [run.label for run in runs]
    tables = []
    for (model, scenario), configurations in sections(runs).items():
        all_rows = [row for by_machine in configurations.values() for row in by_machine.values()]
        heading = f"{model} · {scenario}: p50 (its ratio to {reference}'s) · throughput · peak RSS"
        table = Table()
        table.add_column("configuration")
        for machine in labels:
            table.add_column(machine + (" (reference)" if machine == reference else ""), justify="right")
        for by_machine in configurations.values():
            table.add_row(
                _row_label(list(by_machine.values()), all_rows, runs),
                *(_cell(by_machine.get(machine), by_machine.get(reference)) for machine in labels),
            )
        tables.append((heading, table))
    return tables


def machines_markdown(runs: list[MachineRun], chosen: str | None = None) -> str:
    """machines.md: the machines, then one table per model and scenario."""
    reference = reference_machine(runs, chosen)
    labels = [run.label for run in runs]
    lines = ["# Machines", ""]
    lines += [
        f"- **{run.label}**{' (reference)' if run.label == reference else ''}: {run.description}"
        for run in runs
    ]
    lines += ["", f"p50 latency (its ratio to {reference}'s: below 1 is faster), throughput, peak RSS.", ""]
    for (model, scenario), configurations in sections(runs).items():
        all_rows = [row for by_machine in configurations.values() for row in by_machine.values()]
        lines += [f"## {model} · {scenario}", "", "| configuration | " + " | ".join(map(_md, labels)) + " |"]
        lines.append("|---" * (len(labels) + 1) + "|")
        for by_machine in configurations.values():
            cells = [_cell(by_machine.get(machine), by_machine.get(reference)) for machine in labels]
            name = _md(_row_label(list(by_machine.values()), all_rows, runs))
            lines.append(f"| {name} | " + " | ".join(map(_md, cells)) + " |")
        lines.append("")
    return "\n".join(lines)


def machines_chart(runs: list[MachineRun], path: Path, chosen: str | None = None) -> Path | None:
    """machines.png: per model and scenario, each configuration's p50 on each machine relative
    to the reference machine's (1 = as fast; below, faster). None when nothing can be drawn."""
    reference = reference_machine(runs, chosen)
    panels = []
    for (model, scenario), configurations in sections(runs).items():
        all_rows = [row for by_machine in configurations.values() for row in by_machine.values()]
        bars = []
        for by_machine in configurations.values():
            base = by_machine.get(reference)
            if base is None or base.get("status") != "ok" or not base.get("latency_ms_p50"):
                continue
            ratios = {
                machine: row["latency_ms_p50"] / base["latency_ms_p50"]
                for machine, row in by_machine.items()
                if row.get("status") == "ok" and row.get("latency_ms_p50")
            }
            bars.append((_row_label(list(by_machine.values()), all_rows, runs), ratios))
        if bars:
            panels.append((f"{model} · {scenario}", bars))
    if not panels:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from orchestrator.report.charts import save_figure

    labels = [run.label for run in runs]
    figure, axes = plt.subplots(len(panels), 1, figsize=(10, 3.6 * len(panels)), squeeze=False)
    try:
        width = 0.8 / len(labels)
        for axis, (title, bars) in zip(axes[:, 0], panels):
            for offset, machine in enumerate(labels):
                xs = [i + (offset - (len(labels) - 1) / 2) * width for i in range(len(bars))]
                values = [ratios.get(machine, math.nan) for _, ratios in bars]
                axis.bar(xs, values, width, label=machine + (" (reference)" if machine == reference else ""))
            axis.axhline(1.0, color="0.3", linewidth=1)
            axis.set_xticks(range(len(bars)), [name for name, _ in bars], fontsize=8)
            axis.set_ylabel(f"p50 / p50 on {reference}")
            axis.set_title(f"{title}: p50 relative to {reference} (below 1: faster)")
            axis.legend(fontsize=8)
            axis.grid(axis="y", alpha=0.3)
        figure.tight_layout()
        return save_figure(figure, path)
    finally:
        plt.close(figure)


def write_machines_report(runs: list[MachineRun], directory: Path, chosen: str | None = None) -> list[Path]:
    """machines.md and (when there is a figure to draw) machines.png in ``directory``."""
    written = [directory / "machines.md"]
    files.write_bytes(machines_markdown(runs, chosen).encode(), written[0])
    chart = machines_chart(runs, directory / "machines.png", chosen)
    if chart is not None:
        written.append(chart)
    return written

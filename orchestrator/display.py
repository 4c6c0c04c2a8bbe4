"""What the user watches while a run goes on, driven by the runners' events.

A Rich live table when stdout is a terminal; plain timestamped lines otherwise (nightly logs,
pipes), so that no control code ever reaches a file.
"""

from __future__ import annotations

import contextlib
import io
import os
import time
from dataclasses import dataclass
from typing import Any, Protocol

from rich.console import Console, Group
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table

from orchestrator.plan import Cell


class Display(Protocol):
    """Receives the run's progress; one implementation per kind of output."""

    def start(self, cells: list[Cell]) -> None: ...
    def event(self, cell: Cell, event: dict[str, Any]) -> None: ...
    def finish_cell(self, cell: Cell, row: dict[str, Any]) -> None: ...
    def stop(self) -> None: ...


@dataclass
class _CellState:
    phase: str = "queued"
    started: float | None = None
    ended: float | None = None
    fraction: float = 0.0
    p50_ms: float | None = None
    cpu_percent: float | None = None
    peak_rss_mb: float | None = None

    def update(self, event: dict[str, Any]) -> None:
        if event.get("event") == "phase":
            self.phase = str(event.get("phase", self.phase)).replace("_", " ")
            if self.phase == "starting":
                self.started = time.monotonic()
        elif event.get("event") == "progress" and "probe_qps" in event:  # a peak search's probe
            qps, verdict = event["probe_qps"], event.get("validity")
            self.phase = f"peak search: probe {event.get('done')} at {qps:,.0f} QPS {verdict}"
        elif event.get("event") == "progress" and "issued" in event:  # LoadGen's queries
            self.phase = f"LoadGen: {event.get('done', 0):,} of {event['issued']:,} queries done"
            self.p50_ms = event.get("p50_ms")
            self.peak_rss_mb = event.get("peak_rss_mb")
        elif event.get("event") == "progress":
            target, min_time = event.get("target") or 0, event.get("min_time_s") or 0
            parts = [event.get("done", 0) / target if target else 1.0]
            parts.append(event.get("elapsed_s", 0) / min_time if min_time else 1.0)
            self.fraction = min(1.0, *parts)
            self.p50_ms = event.get("p50_ms")
            self.cpu_percent = event.get("cpu_percent")
            self.peak_rss_mb = event.get("peak_rss_mb")

    def finish(self, row: dict[str, Any]) -> None:
        self.phase = "done" if row["status"] == "ok" else row["status"]
        self.ended = time.monotonic()
        if row["status"] == "ok":
            self.fraction = 1.0
            self.p50_ms, self.cpu_percent = row["latency_ms_p50"], row["cpu_percent"]
            self.peak_rss_mb = row["peak_rss_mb"]

    def elapsed(self) -> float:
        if self.started is None:
            return 0.0
        return (self.ended or time.monotonic()) - self.started


def _label(cell: Cell, cells: list[Cell]) -> str:
    """The framework, plus whichever settings vary across the run's cells."""
    label = cell.framework_label
    if len({c.model for c in cells}) > 1:
        label = f"{cell.model} {label}"
    for attribute, prefix in (
        ("scenario", " "),
        ("target_qps", " qps "),
        ("batch_size", " b"),
        ("threads", " t"),
        ("mode", " "),
        ("repeat", " #"),
        ("instance", " copy "),
    ):
        if len({getattr(c, attribute) for c in cells}) > 1:
            label += f"{prefix}{getattr(cell, attribute)}"
    return label


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


class LiveDisplay:
    """A Rich live table, one row per cell, refreshed a few times a second."""

    def __init__(self, console: Console) -> None:
        self._console = console
        self._cells: list[Cell] = []
        self._states: dict[str, _CellState] = {}
        self._live: Live | None = None

    def start(self, cells: list[Cell]) -> None:
        self._cells = cells
        self._states = {cell.cell_id: _CellState() for cell in cells}
        self._live = Live(self, console=self._console, refresh_per_second=2, transient=False)
        self._live.start()

    def event(self, cell: Cell, event: dict[str, Any]) -> None:
        self._states[cell.cell_id].update(event)

    def finish_cell(self, cell: Cell, row: dict[str, Any]) -> None:
        self._states[cell.cell_id].finish(row)

    def stop(self) -> None:
        if self._live is not None:
            self._live.stop()

    def __rich__(self) -> Group:
        table = Table(box=None, pad_edge=False)
        for header in ("cell", "phase", "progress", "p50 ms", "CPU %", "peak MB", "elapsed"):
            table.add_column(header, justify="left" if header in ("cell", "phase") else "right")
        finished = 0
        for cell in self._cells:
            state = self._states[cell.cell_id]
            finished += state.ended is not None
            table.add_row(
                _label(cell, self._cells),
                state.phase,
                ProgressBar(total=1.0, completed=state.fraction, width=24),
                _fmt(state.p50_ms, ".3f"),
                _fmt(state.cpu_percent, ".0f"),
                _fmt(state.peak_rss_mb, ".0f"),
                f"{state.elapsed():.1f} s",
            )
        overall = Table.grid(padding=(0, 1))
        overall.add_row(
            ProgressBar(total=len(self._cells), completed=finished, width=40),
            f"{finished}/{len(self._cells)} cells finished",
        )
        return Group(table, overall)


class PlainDisplay:
    """Timestamped lines, one per phase change and one per finished cell; no control codes."""

    def __init__(self, console: Console) -> None:
        self._console = console
        self._cells: list[Cell] = []

    def _line(self, cell: Cell, text: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        self._console.print(f"{stamp} {_label(cell, self._cells)}: {text}", markup=False, highlight=False)

    def start(self, cells: list[Cell]) -> None:
        self._cells = cells

    def event(self, cell: Cell, event: dict[str, Any]) -> None:
        if event.get("event") == "phase" and event.get("phase") not in ("done", "failed", "skipped"):
            self._line(cell, str(event.get("phase")).replace("_", " "))

    def finish_cell(self, cell: Cell, row: dict[str, Any]) -> None:
        if row["status"] == "ok":
            self._line(
                cell,
                f"done, p50 {row['latency_ms_p50']:.3f} ms over {row['iterations']} calls, "
                f"CPU {row['cpu_percent']:.0f} %, peak {row['peak_rss_mb']:.0f} MB",
            )
        else:
            self._line(cell, f"{row['status']}: {row['error']}")

    def stop(self) -> None:
        pass


class QuietDisplay:
    """Shows nothing while the run goes on."""

    def start(self, cells: list[Cell]) -> None:
        pass

    def event(self, cell: Cell, event: dict[str, Any]) -> None:
        pass

    def finish_cell(self, cell: Cell, row: dict[str, Any]) -> None:
        pass

    def stop(self) -> None:
        pass


class PipeGuard(io.TextIOBase):
    """Standard output that survives its reader going away (``... | head -2``): the run goes on
    and writes every result; what it would have printed is dropped, and ``broken`` says so."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self.broken = False

    def _lost(self) -> None:
        self.broken = True
        # Later writes, and the interpreter's own flush at exit, go nowhere rather than fail.
        with contextlib.suppress(OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())
            os.close(devnull)

    def write(self, text: str) -> int:
        if not self.broken:
            try:
                self._stream.write(text)
            except BrokenPipeError:
                self._lost()
        return len(text)

    def flush(self) -> None:
        if not self.broken:
            try:
                self._stream.flush()
            except BrokenPipeError:
                self._lost()

    def isatty(self) -> bool:
        return bool(self._stream.isatty())

    def fileno(self) -> int:
        return int(self._stream.fileno())


def make_console(file: Any = None) -> Console:
    """The console for results: the terminal's width, or -- a log or a pipe -- one wide enough
    that a table takes its natural width and no value is ever cut."""
    console = Console(file=file)
    if not console.is_terminal:
        console = Console(file=file, width=100_000)
    return console


def make_display(console: Console, quiet: bool) -> Display:
    """The display that fits ``console``: live on a terminal, plain lines elsewhere."""
    if quiet:
        return QuietDisplay()
    return LiveDisplay(console) if console.is_terminal else PlainDisplay(console)

"""What the user watches while a run goes on, driven by the runners' events.

A Rich live table when stdout is a terminal; plain timestamped lines otherwise (nightly logs,
pipes), so that no control code ever reaches a file.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import sys
import time
from dataclasses import dataclass
from typing import Any, Protocol

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table

from orchestrator.plan.cells import Cell
from orchestrator.report.labels import contender_label, format_ms


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
            self.phase = f"probe {event.get('done')}: {qps:,.0f} QPS {verdict}"
        elif event.get("event") == "progress" and "issued" in event:  # LoadGen's queries
            self.phase = f"{event.get('done', 0):,}/{event['issued']:,} queries"
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
    label = contender_label(cell.settings)
    if len({c.model for c in cells}) > 1:
        label = f"{cell.model} {label}"
    for attribute, prefix in (
        ("scenario", " "),
        ("target_qps", " qps "),
        ("batch_size", " b"),
        ("threads", " t"),
        ("precision", " "),
        ("mode", " "),
        ("repeat", " #"),
        ("instance", " copy "),
    ):
        if len({getattr(c, attribute) for c in cells}) > 1:
            label += f"{prefix}{getattr(cell, attribute)}"
    return label


def probe_line(event: dict[str, Any]) -> str | None:
    """``peak search: probe 3 at 1,234 QPS: p99 4.210 ms, VALID`` for a peak search's probe
    event; None for any other event."""
    if event.get("event") != "progress" or "probe_qps" not in event:
        return None
    p99 = event.get("p99_ms")
    tail = "p99 unknown" if p99 is None else f"p99 {p99:.3f} ms"
    rate = f"{event['probe_qps']:,.0f} QPS"
    return f"peak search: probe {event.get('done')} at {rate}: {tail}, {event.get('validity')}"


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
        line = probe_line(event)
        if line is not None and self._live is not None:  # above the live table, kept on screen
            self._console.print(f"{_label(cell, self._cells)}: {line}", markup=False, highlight=False)

    def finish_cell(self, cell: Cell, row: dict[str, Any]) -> None:
        self._states[cell.cell_id].finish(row)

    def stop(self) -> None:
        if self._live is not None:
            self._live.stop()

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.view(options.max_width)

    def view(self, width: int) -> Group:
        """The table at ``width`` columns: every label whole; the figures that do not fit left
        out, the least useful first; the phase wraps rather than being cut."""
        labels = [_label(cell, self._cells) for cell in self._cells]
        states = [self._states[cell.cell_id] for cell in self._cells]
        figures = {
            "p50 ms": [_fmt(state.p50_ms, ".3f") for state in states],
            "elapsed": [f"{state.elapsed():.1f} s" for state in states],
            "CPU %": [_fmt(state.cpu_percent, ".0f") for state in states],
            "peak MB": [_fmt(state.peak_rss_mb, ".0f") for state in states],
        }
        label_width = max([len("cell"), *(len(label) for label in labels)])
        # The phase whole where it can be (up to a limit), before any figure.
        phase_width = max(_MIN_PHASE, min(_MAX_PHASE, *(len(state.phase) for state in states)))
        phase_width = min(phase_width, max(_MIN_PHASE, width - label_width - 2))
        room = width - label_width - 2 - phase_width  # each column after the first: 2 of padding
        bar = min(24, room - 2) if room - 2 >= 8 else 0
        room -= bar + 2 if bar else 0
        shown = []
        for header, values in figures.items():  # in order of use: the first kept longest
            needed = max(len(header), *(len(value) for value in values)) + 2
            if needed <= room:
                shown.append(header)
                room -= needed
        table = Table(box=None, pad_edge=False)
        table.add_column("cell", no_wrap=True, min_width=label_width)
        table.add_column("phase", min_width=phase_width, overflow="fold")
        if bar:
            table.add_column("progress", no_wrap=True)
        for header in (name for name in figures if name in shown):
            table.add_column(header, justify="right", no_wrap=True)
        for index, (label, state) in enumerate(zip(labels, states)):
            row: list[RenderableType] = [label, state.phase]
            if bar:
                row.append(ProgressBar(total=1.0, completed=state.fraction, width=bar))
            row += [figures[header][index] for header in figures if header in shown]
            table.add_row(*row)
        finished = sum(state.ended is not None for state in states)
        caption = f"{finished}/{len(self._cells)} cells finished"
        overall = Table.grid(padding=(0, 1))
        overall.add_row(
            ProgressBar(
                total=len(self._cells), completed=finished, width=max(4, min(40, width - len(caption) - 1))
            ),
            caption,
        )
        return Group(table, overall)


# The phase column's width: a short phase ("loading") always whole, one up to _MAX_PHASE whole
# when the figures can make room, a longer one wrapped.
_MIN_PHASE, _MAX_PHASE = 10, 28


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
        line = probe_line(event)
        if line is not None:
            self._line(cell, line)

    def finish_cell(self, cell: Cell, row: dict[str, Any]) -> None:
        if row["status"] == "ok":
            self._line(
                cell,
                f"done, p50 {format_ms(row['latency_ms_p50'])} ms over {row['iterations']} calls, "
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


class _Trimmed(io.TextIOBase):
    """A log or a pipe as written to by Rich, each line without the spaces Rich pads it with
    (a table's title is padded to the table's width): what a log keeps is the text."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(_TRAILING.sub("\n", text))
        return len(text)

    def flush(self) -> None:
        self._stream.flush()

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return int(self._stream.fileno())


_TRAILING = re.compile(r"[ \t]+\n")


def make_console(file: Any = None) -> Console:
    """The console for results: the terminal's width, or -- a log or a pipe -- one wide enough
    that a table takes its natural width and no value is ever cut, and no line ends in spaces."""
    console = Console(file=file)
    if not console.is_terminal:
        trimmed: Any = _Trimmed(file or sys.stdout)
        console = Console(file=trimmed, width=100_000)
    return console


def make_display(console: Console, quiet: bool) -> Display:
    """The display that fits ``console``: live on a terminal, plain lines elsewhere."""
    if quiet:
        return QuietDisplay()
    return LiveDisplay(console) if console.is_terminal else PlainDisplay(console)

"""The live display through a capture console, and the plain-line fallback for logs and pipes."""

import io
import re

from rich.console import Console

from orchestrator.execute.display import LiveDisplay, PlainDisplay, QuietDisplay, make_display
from orchestrator.plan.plan import Plan

CELLS = Plan(frameworks=("fake", "noop"), batch_sizes=(8, 64)).cells()


def ok_row(p50_ms: float) -> dict[str, object]:
    return {"status": "ok", "error": None, "latency_ms_p50": p50_ms, "cpu_percent": 99.0,
            "peak_rss_mb": 123.0, "iterations": 10}  # fmt: skip


def render(display: LiveDisplay) -> str:
    console = Console(record=True, width=140, force_terminal=True, color_system=None)
    console.print(display)
    return console.export_text()


def test_live_rows_move_through_their_phases() -> None:
    console = Console(file=io.StringIO(), force_terminal=True, width=140)
    display = LiveDisplay(console)
    display.start(CELLS)
    first, second = CELLS[0], CELLS[1]
    display.event(first, {"event": "phase", "phase": "starting"})
    display.event(first, {"event": "phase", "phase": "measuring"})
    display.event(first, {"event": "progress", "done": 50, "target": 100, "elapsed_s": 0.5, "min_time_s": 2.0,
                          "p50_ms": 0.4321, "cpu_percent": 187.0, "peak_rss_mb": 321.0})  # fmt: skip
    text = render(display)
    lines = {
        line.split()[0] + " " + line.split()[1]: line
        for line in text.splitlines()
        if line.startswith(("fake", "noop"))
    }
    assert "measuring" in lines["fake b8"]
    assert "0.432" in lines["fake b8"] and "187" in lines["fake b8"] and "321" in lines["fake b8"]
    assert "queued" in lines["noop b8"]
    assert "0/4 cells finished" in text

    display.finish_cell(first, ok_row(0.4))
    display.event(second, {"event": "phase", "phase": "starting"})
    display.finish_cell(second, {"status": "failed", "error": "boom", "latency_ms_p50": None,
                                 "cpu_percent": None, "peak_rss_mb": None})  # fmt: skip
    text = render(display)
    assert re.search(r"fake b8\s+done", text) and re.search(r"noop b8\s+failed", text)
    assert "2/4 cells finished" in text
    display.stop()


def test_plain_lines_carry_timestamps_and_no_control_codes() -> None:
    out = io.StringIO()
    console = Console(file=out, width=200)  # a file is not a terminal
    display = make_display(console, quiet=False)
    assert isinstance(display, PlainDisplay)
    display.start(CELLS)
    display.event(CELLS[0], {"event": "phase", "phase": "importing"})
    display.event(CELLS[0], {"event": "progress", "done": 5, "target": 10, "p50_ms": 1.0})  # not a line
    display.finish_cell(CELLS[0], ok_row(0.25))
    display.finish_cell(CELLS[1], {"status": "skipped", "error": "ImportError: no", "latency_ms_p50": None})
    display.stop()
    lines = out.getvalue().splitlines()
    assert len(lines) == 3
    assert all(re.match(r"\d\d:\d\d:\d\d ", line) for line in lines)
    assert "fake b8: importing" in lines[0]
    assert "p50 0.250 ms over 10 calls" in lines[1]
    assert "noop b8: skipped: ImportError: no" in lines[2]
    assert "\x1b" not in out.getvalue()


def test_quiet_shows_nothing_and_a_terminal_gets_the_live_view() -> None:
    assert isinstance(make_display(Console(file=io.StringIO()), quiet=True), QuietDisplay)
    assert isinstance(
        make_display(Console(file=io.StringIO(), force_terminal=True), quiet=False), LiveDisplay
    )

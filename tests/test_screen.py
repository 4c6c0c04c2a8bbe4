"""What a user reads on the terminal: what ran (the settings, each row's label), what LoadGen
judged, the table and the live view at narrow widths -- checked as exact lines."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from conftest import Row, run_cli, summary_row
from orchestrator.cli.run import exit_status, log_note
from orchestrator.execute.display import LiveDisplay, PlainDisplay, make_console
from orchestrator.execute.run import execute
from orchestrator.fleet.machines import MachineRun, machines_tables
from orchestrator.plan.plan import Plan
from orchestrator.report.console_table import notes, settings_lines, summary_view, version_parts, wrapped
from orchestrator.report.labels import settings_parts, varying_keys
from orchestrator.report.load_chart import load_chart, load_figure, load_points
from orchestrator.report.markdown import markdown_summary


def ok(index: int, framework: str, p50_ms: float, **extra: Any) -> Row:
    figures: Row = {
        "status": "ok",
        "iterations": 10,
        "latency_ms_p50": p50_ms,
        "throughput_per_s": 1000 / p50_ms * 1000,
        "cpu_percent": 101.0,
        "peak_rss_mb": 33.0,
        "import_s": 0.0,
        "ready_s": 0.0,
        "max_abs_diff": 6.4e-8,
        "parity_ok": True,
        "repeats": 1,
        "repeats_ok": 1,
    }
    return summary_row(index, framework, **(figures | extra))


def lines_at(renderable: Any, width: int) -> list[str]:
    console = Console(record=True, width=width, force_terminal=True, color_system=None)
    console.print(renderable)
    return console.export_text().splitlines()


# --- the table's width ----------------------------------------------------------------------------


def test_at_80_columns_a_table_that_fits_keeps_cpu_percent() -> None:
    # samples/s is too wide to join at 80 columns; CPU % is not, and must not go with it.
    rows = [
        ok(0, "fake", 57.951),
        ok(1, "noop", 0.0001255, throughput_per_s=7_968_127_490.0, max_abs_diff=None),
    ]
    lines = lines_at(summary_view(rows, 80, relative=True), 80)
    times = "\N{MULTIPLICATION SIGN}"
    assert lines[1] == f"┃ framework ┃    p50 ms ┃ {times} fastest ┃ CPU % ┃ peak MB ┃     parity ┃ status ┃"
    assert lines[3] == "│ fake      │    57.951 │     1.00x │   101 │      33 │ ok 6.4e-08 │ ok     │"
    assert lines[4] == "│ noop      │ 0.0001255 │     0.00x │   101 │      33 │          - │ ok     │"


def test_at_50_columns_the_live_view_keeps_every_name_whole() -> None:
    cells = Plan(frameworks=("onnxruntime@1.31.1", "onnxruntime")).cells()
    display = LiveDisplay(Console(file=io.StringIO(), force_terminal=True, width=50))
    display.start(cells)
    display.event(cells[0], {"event": "phase", "phase": "warming_up"})
    lines = lines_at(display, 50)
    display.stop()
    assert all(len(line) <= 50 for line in lines)
    assert [line.rstrip() for line in lines[:3]] == [
        "cell                phase       progress",
        "onnxruntime@1.31.1  warming up",
        "onnxruntime         queued",
    ]
    assert "\N{HORIZONTAL ELLIPSIS}" not in "\n".join(lines)


def test_at_80_columns_a_probe_phase_is_whole_on_one_line() -> None:
    cells = Plan(frameworks=("onnxruntime",)).cells()
    display = LiveDisplay(Console(file=io.StringIO(), force_terminal=True, width=80))
    display.start(cells)
    display.event(cells[0], {"event": "progress", "done": 2, "target": 3, "probe_qps": 11_703.2,
                             "p99_ms": 4.11, "validity": "VALID"})  # fmt: skip
    lines = lines_at(display, 80)
    display.stop()
    assert lines[1].split("  ")[:2] == ["onnxruntime", "probe 2: 11,703 QPS VALID"]


def test_the_live_view_at_140_columns_shows_every_figure() -> None:
    cells = Plan(frameworks=("fake",)).cells()
    display = LiveDisplay(Console(file=io.StringIO(), force_terminal=True, width=140))
    display.start(cells)
    display.event(cells[0], {"event": "progress", "done": 5, "target": 10, "p50_ms": 1.5,
                             "cpu_percent": 99.0, "peak_rss_mb": 120.0})  # fmt: skip
    header = lines_at(display, 140)[0]
    display.stop()
    assert header.split() == ["cell", "phase", "progress", "p50", "ms", "elapsed", "CPU", "%", "peak", "MB"]


# --- what ran -------------------------------------------------------------------------------------


def test_each_row_says_what_tells_it_apart() -> None:
    rows = [
        ok(0, "onnxruntime", 1.0, framework_pin="1.31.1"),
        ok(1, "onnxruntime", 1.1),
        ok(
            2,
            "onnxruntime",
            1.2,
            options_json=json.dumps({"graph_optimization": "disabled", "spinning": "on"}),
        ),
    ]
    lines = lines_at(summary_view(rows, None, relative=True), 200)
    assert [line.split("│")[1].strip() for line in lines[3:6]] == [
        "onnxruntime@1.31.1",
        "onnxruntime",
        "onnxruntime [graph_optimization=disabled]",
    ]
    two = [ok(0, "onnxruntime", 1.0, instances=2, warnings="noisy: IQR/p50 = 0.5 within the run")]
    assert lines_at(summary_view(two, None), 200)[3].split("│")[1].strip() == "onnxruntime x2"
    assert notes(two) == ["onnxruntime x2: warning: noisy: IQR/p50 = 0.5 within the run"]


def test_the_versions_line_says_what_ran_without_a_pin() -> None:
    rows = [
        ok(0, "onnxruntime", 1.0, framework_pin="1.31.1", framework_version="1.31.1"),
        ok(1, "onnxruntime", 1.0, framework_version="1.32.0"),
        ok(2, "onnxruntime", 1.0, framework_version="1.32.0", options_json=json.dumps({"spinning": "off"})),
        ok(3, "jax", 1.0, framework_version="0.8.1"),
        summary_row(4, "tensorflow", status="skipped", error="not installed"),
    ]
    assert settings_lines(version_parts(rows), 80, "versions:") == [
        "versions: onnxruntime@1.31.1; onnxruntime 1.32.0; jax 0.8.1"
    ]


def test_the_settings_line_is_summary_mds() -> None:
    shapes = json.dumps({"input": [1000, 200]})
    timing = json.dumps({"min_iterations": 10, "min_time_s": 0.0, "warmup": 3, "seed": 0})
    rows = [
        ok(i, name, 1.0, input_shapes=shapes, measurement_json=timing) for i, name in enumerate(["a", "b"])
    ]
    parts = settings_parts(rows, varying_keys(rows))
    assert "; ".join(parts) == (
        "model mlp (input 1000x200); scenario offline; batch 1000; threads 2; CPUs 0,1; precision fp32; "
        "instances 1; repeats 1; environment own; mode isolated; "
        "timed loop at least 10 calls and 0 s after 3 warm-up calls; seed 0"
    )
    assert settings_lines(parts, 80) == [
        "settings: model mlp (input 1000x200); scenario offline; batch 1000; threads 2;",
        "  CPUs 0,1; precision fp32; instances 1; repeats 1; environment own;",
        "  mode isolated; timed loop at least 10 calls and 0 s after 3 warm-up calls;",
        "  seed 0",
    ]
    assert settings_lines(parts, None) == ["settings: " + "; ".join(parts)]
    assert "**Settings:** " + "; ".join(parts) + ".  " in markdown_summary(rows, "run")
    sweep = [ok(0, "a", 1.0, batch_size=1, input_shapes=json.dumps({"input": [1, 200]})),
             ok(1, "a", 1.0, batch_size=8, input_shapes=json.dumps({"input": [8, 200]}))]  # fmt: skip
    assert settings_parts(sweep, varying_keys(sweep))[0] == "model mlp (input Bx200)"
    server = [ok(0, "a", 1.0, scenario="server", target_qps=200.0, latency_bound_ms=5.0)]
    assert settings_parts(server, [])[1] == "scenario server at 200 QPS, bound 5 ms"


# --- what LoadGen judged --------------------------------------------------------------------------


def _loadgen(index: int, validity: str, framework: str = "fake", **extra: Any) -> Row:
    reason = None if validity == "VALID" else "99.00 percentile latency 7.1 ms > bound 5 ms"
    settings: Row = {"scenario": "server", "target_qps": 200.0, "latency_bound_ms": 5.0}
    return ok(
        index, framework, 2.0, loadgen_validity=validity,
        loadgen_json=json.dumps({"validity": validity, "invalid_reason": reason}), **(settings | extra),
    )  # fmt: skip


def test_the_table_shows_loadgens_verdict_and_an_invalid_run_exits_1() -> None:
    rows = [
        _loadgen(0, "VALID"),
        _loadgen(1, "INVALID", framework="noop", warnings="loadgen-invalid: 1 of 1 runs INVALID: x"),
    ]
    lines = lines_at(summary_view(rows, None), 200)
    header = [part.strip() for part in lines[1].split("┃")]
    assert header.index("LoadGen") == header.index("status") - 1  # the verdict beside the status
    column = header.index("LoadGen")
    assert [line.split("│")[column].strip() for line in lines[3:5]] == ["VALID", "INVALID"]
    assert notes(rows) == [
        "noop: LoadGen judged the run INVALID: 99.00 percentile latency 7.1 ms > bound 5 ms"
    ]
    assert exit_status(rows[:1], strict=False) == 0
    assert exit_status(rows, strict=False) == 1


def test_a_peak_search_shows_its_peak() -> None:
    rows = [
        _loadgen(
            0, "VALID", scenario="server-peak", target_qps=None, peak_qps=32_712.4, throughput_per_s=32_893.0
        )
    ]
    lines = lines_at(summary_view(rows, None), 200)
    header = [part.strip() for part in lines[1].split("┃")]
    row = [part.strip() for part in lines[3].split("│")]
    assert row[header.index("peak QPS")] == "32,712"


def test_each_probe_of_a_peak_search_is_a_line_piped_and_on_a_terminal() -> None:
    cells = Plan(frameworks=("fake",)).cells()
    probe = {"event": "progress", "done": 3, "target": 4, "probe_qps": 20_480.0, "p99_ms": 4.2104,
             "validity": "VALID"}  # fmt: skip
    out = io.StringIO()
    plain = PlainDisplay(Console(file=out, width=200))
    plain.start(cells)
    plain.event(cells[0], probe)
    assert re.fullmatch(
        r"\d\d:\d\d:\d\d fake: peak search: probe 3 at 20,480 QPS: p99 4.210 ms, VALID\n", out.getvalue()
    )
    terminal = Console(record=True, force_terminal=True, width=100, color_system=None)
    live = LiveDisplay(terminal)
    live.start(cells)
    live.event(cells[0], probe)
    live.stop()
    assert "fake: peak search: probe 3 at 20,480 QPS: p99 4.210 ms, VALID" in terminal.export_text()


# --- --in-process: progress follows the cells -----------------------------------------------------


class Recorder:
    """A display that keeps what it was told, in order."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def start(self, cells: list[Any]) -> None:
        pass

    def event(self, cell: Any, event: dict[str, Any]) -> None:
        if event.get("event") == "phase":
            self.seen.append(f"{cell.framework} {event['phase']}")

    def finish_cell(self, cell: Any, row: dict[str, Any]) -> None:
        self.seen.append(f"{cell.framework} finished {row['status']}")

    def stop(self) -> None:
        pass


def test_in_process_each_cell_starts_when_reached_and_finishes_when_done(tmp_path: Path) -> None:
    plan = Plan(frameworks=("fake", "noop"), modes=("in-process",), warmup=2, min_iterations=7,
                min_time_s=0.0, output=tmp_path, environment="current")  # fmt: skip
    recorder = Recorder()
    execute(plan, recorder)
    seen = recorder.seen
    assert seen[0] == "fake starting"
    assert seen.index("fake finished ok") < seen.index("noop starting") < seen.index("noop importing")
    assert seen[-1] == "noop finished ok"
    assert seen.count("fake finished ok") == seen.count("noop finished ok") == 1


# --- load.png -------------------------------------------------------------------------------------


def test_load_png_marks_the_peak_keeps_the_bound_inside_and_writes_plain_rates(tmp_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    probes = [(16_000.0, 1.2, "VALID"), (32_000.0, 2.0, "VALID"), (64_000.0, 40.0, "INVALID"),
              (45_000.0, 3.1, "VALID"), (54_000.0, 9.0, "INVALID")]  # fmt: skip
    result = {"probes": [{"offered_qps": q, "latency_ms_p99": p, "validity": v} for q, p, v in probes]}
    row = ok(0, "onnxruntime", 1.0, scenario="server-peak", latency_bound_ms=5.0, peak_qps=45_000.0,
             loadgen_json=json.dumps(result), model=None)  # fmt: skip
    figure = load_figure([row], load_points([row]))
    try:
        figure.canvas.draw()
        (axis,) = figure.axes
        texts = {text.get_text(): text for text in axis.texts}
        assert "peak 45,000 QPS" in texts  # the peak, labelled where its probe is
        bound = texts["bound 5 ms"]
        box = bound.get_window_extent()
        assert box.x0 > axis.get_window_extent().x0  # inside the plot, clear of the rate axis
        labels = [t.get_text() for t in axis.get_xticklabels(which="both") if t.get_text()]
        assert labels and all(re.fullmatch(r"[\d,]+", label) for label in labels), labels
        assert "20,000" in labels or "30,000" in labels or "40,000" in labels
        heights = [t.get_text() for t in axis.get_yticklabels(which="both") if t.get_text()]
        assert heights and all(re.fullmatch(r"[\d.]+", label) for label in heights), heights
    finally:
        plt.close(figure)
    assert load_chart([row], tmp_path / "load.png") == tmp_path / "load.png"


# --- an interrupted cell's log --------------------------------------------------------------------


def test_an_empty_log_is_said_to_be_empty(tmp_path: Path) -> None:
    rows = [summary_row(0, "fake", status="interrupted", error="SIGINT"),
            summary_row(1, "noop", status="interrupted", error="SIGINT")]  # fmt: skip
    (tmp_path / "empty.log").write_text("")
    (tmp_path / "full.log").write_text("Traceback ...\n")
    logs = {"fake": tmp_path / "empty.log", "noop": tmp_path / "full.log"}
    assert notes(rows, lambda row: log_note(logs[row["framework"]])) == [
        f"fake: interrupted: SIGINT (log {tmp_path / 'empty.log'} is empty)",
        f"noop: interrupted: SIGINT (log: {tmp_path / 'full.log'})",
    ]
    assert log_note(tmp_path / "missing.log") is None


# --- --help ---------------------------------------------------------------------------------------


def test_help_lists_every_subcommand_and_ends_with_examples(tmp_path: Path) -> None:
    lines = run_cli(["--help"], cwd=tmp_path, env={"COLUMNS": "80"}).stdout.splitlines()
    start = lines.index("subcommands (each has its own --help):")
    assert [line.split()[0] for line in lines[start + 1 : start + 7] if line.startswith("  ") and
            not line.startswith("   ")] == ["compare", "setup", "merge", "machines"]  # fmt: skip
    examples = lines[lines.index("examples:") + 1 : lines.index("exit status:")]
    commands = [line.strip() for line in examples if line.startswith("  python -m orchestrator")]
    assert len(commands) >= 4 and "python -m orchestrator" in commands
    assert all(line.rstrip() == line for line in lines)  # no trailing spaces


def test_every_setup_option_says_what_it_does(tmp_path: Path) -> None:
    text = run_cli(["setup", "--help"], cwd=tmp_path, env={"COLUMNS": "80"}).stdout
    options = text.split("options:\n", 1)[1]
    for flag in ("--frameworks LIST", "--environment {own,shared}", "--envs-dir DIR"):
        start = options.index(flag)
        described = options[start + len(flag) :].split("\n  -", 1)[0]
        assert len(described.split()) >= 4, (flag, described)


# --- piped: no line ends in spaces ----------------------------------------------------------------


def test_piped_lines_end_without_spaces(tmp_path: Path) -> None:
    out = io.StringIO()
    console = make_console(out)
    table = Table(title="in-process against isolated", title_justify="left")
    table.add_column("framework")
    table.add_column("a long heading of a column")
    table.add_row("fake", "1")
    console.print(table)
    lines = out.getvalue().splitlines()
    assert lines[0] == "in-process against isolated"  # Rich pads a title to the table's width
    assert all(line == line.rstrip() for line in lines)
    proc = run_cli(
        ["--frameworks", "fake", "--warmup", "1", "--min-iterations", "5", "--min-time", "0"], tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    assert [line for line in proc.stdout.splitlines() if line != line.rstrip()] == []


def test_an_invalid_server_run_shows_invalid_and_exits_1(tmp_path: Path) -> None:
    # No call meets a 1 us p99: LoadGen judges the run INVALID; the run itself is fine.
    proc = run_cli(
        ["--frameworks", "fake", "--scenario", "server", "--target-qps", "200", "--latency-bound-ms", "0.001",
         "--warmup", "5", "--min-iterations", "50", "--min-time", "0.5"],
        cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    header = [part.strip() for part in next(line for line in lines if line.startswith("┃")).split("┃")]
    row = [part.strip() for part in next(line for line in lines if line.startswith("│ fake")).split("│")]
    assert (row[header.index("LoadGen")], row[header.index("status")]) == ("INVALID", "ok")
    assert any(line.startswith("fake: LoadGen judged the run INVALID: ") for line in lines)
    assert (
        "settings: model mlp (input 1x200); scenario server at 200 QPS, bound 0.001 ms; batch 1;"
        in proc.stdout
    )


def test_the_machines_report_right_aligns_its_figures() -> None:
    rows = [ok(0, "onnxruntime", 1.5), ok(1, "pytorch", 12.25)]
    runs = [MachineRun("vm-a", {}, rows), MachineRun("vm-b", {}, [dict(row) for row in rows])]
    ((_, table),) = machines_tables(runs)
    lines = lines_at(table, 200)
    values = [line.split("│")[2] for line in lines if line.startswith("│")]
    assert values and all(value.startswith(" ") and value.endswith(" ") for value in values)
    assert len({len(value) - len(value.lstrip()) for value in values}) > 1  # padded on the left
    assert all(value.endswith(value.strip() + " ") for value in values)  # flush right


def test_load_png_keeps_the_peak_label_inside_the_plot_at_its_lowest_point() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # The peak's probe has the lowest p99 of all: its label must not fall off the plot's bottom.
    probes = [(11_604.0, 2.26, "VALID"), (13_799.0, 1.42, "VALID"), (14_410.0, 0.456, "VALID"),
              (15_048.0, 6.67, "INVALID"), (46_414.0, 40.6, "INVALID")]  # fmt: skip
    result = {"probes": [{"offered_qps": q, "latency_ms_p99": p, "validity": v} for q, p, v in probes]}
    row = ok(0, "onnxruntime", 1.0, scenario="server-peak", latency_bound_ms=5.0, peak_qps=14_410.0,
             loadgen_json=json.dumps(result))  # fmt: skip
    figure = load_figure([row], load_points([row]))
    try:
        figure.canvas.draw()
        (axis,) = figure.axes
        (label,) = [text for text in axis.texts if text.get_text() == "peak 14,410 QPS"]
        inside, box = axis.get_window_extent(), label.get_window_extent()
        assert inside.y0 <= box.y0 and box.y1 <= inside.y1 and inside.x0 <= box.x0 and box.x1 <= inside.x1
    finally:
        plt.close(figure)


def test_a_plain_line_writes_a_sub_microsecond_p50_in_significant_digits() -> None:
    cells = Plan(frameworks=("noop",)).cells()
    out = io.StringIO()
    plain = PlainDisplay(Console(file=out, width=200))
    plain.start(cells)
    plain.finish_cell(cells[0], {"status": "ok", "latency_ms_p50": 0.0001295, "iterations": 10,
                                 "cpu_percent": 101.0, "peak_rss_mb": 33.0})  # fmt: skip
    assert out.getvalue()[9:] == "noop: done, p50 0.0001295 ms over 10 calls, CPU 101 %, peak 33 MB\n"


def test_on_a_terminal_a_note_breaks_between_words_never_inside_a_figure() -> None:
    note = (
        "pytorch: warning: noisy: IQR/p50 = 0.36 within the run; heavy-tail: p99/p50 = 197.7 within "
        "the run; busy-machine: load average 2.61, ~0.61 of it not this benchmark, on 2 allowed CPUs"
    )
    assert wrapped(note, 80) == [
        "pytorch: warning: noisy: IQR/p50 = 0.36 within the run; heavy-tail:",
        "  p99/p50 = 197.7 within the run; busy-machine: load average 2.61, ~0.61 of it",
        "  not this benchmark, on 2 allowed CPUs",
    ]
    assert wrapped(note, None) == [note]
    tight = "onnxruntime: warning: noisy: IQR/p50 = 0.29 within the run; heavy-tail: p99/p50 = 29.2 within"
    assert wrapped(tight + " 179 % of it", 80) == [
        "onnxruntime: warning: noisy: IQR/p50 = 0.29 within the run; heavy-tail:",
        "  p99/p50 = 29.2 within 179 % of it",
    ]
    path = "fake: failed: boom (log: /a/very/long/path/" + "x" * 90 + "/stderr.log)"
    assert "/a/very/long/path/" + "x" * 90 + "/stderr.log)" in wrapped(path, 80)[1]  # a path whole

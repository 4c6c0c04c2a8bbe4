"""sweep.png: latency against batch size and throughput against threads, on synthetic summary rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conftest import Row, colour_pixels, summary_row
from orchestrator.report.charts import sweep_panels
from orchestrator.report.formats import COMPANIONS, EXPORTERS, write_reports

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
FRAMEWORKS = ("pytorch", "onnxruntime")


def ok_row(index: int, framework: str, batch_size: int, threads: int, **extra: Any) -> Row:
    """A finished cell whose median grows with the batch and shrinks with the threads."""
    p50_ms = (0.02 + 0.001 * batch_size) / threads * (1.5 if framework == "pytorch" else 1.0)
    measured: Row = {
        "status": "ok",
        "framework_version": "1.0",
        "iterations": 200,
        "latency_ms_p50": p50_ms,
        "latency_ms_p90": p50_ms * 1.4,
        "latency_ms_p99": p50_ms * 2.0,
        "latency_ms_p50_ci_low": p50_ms * 0.95,
        "latency_ms_p50_ci_high": p50_ms * 1.1,
        "throughput_per_s": batch_size / p50_ms * 1000,
        "cpu_percent": 100.0 * threads,
        "peak_rss_mb": 150.0,
        "max_abs_diff": 5e-8,
        "parity_ok": True,
        "repeats_ok": 1,
    }
    return summary_row(index, framework, batch_size, threads, **(measured | extra))


def grid(
    batch_sizes: tuple[int, ...], threads: tuple[int, ...], frameworks: tuple[str, ...] = FRAMEWORKS
) -> list[Row]:
    cells = [(b, t, f) for b in batch_sizes for t in threads for f in frameworks]
    return [ok_row(i, f, b, t) for i, (b, t, f) in enumerate(cells)]


def read_png(path: Path) -> Any:
    import matplotlib.image

    assert path.read_bytes()[:8] == PNG_SIGNATURE
    return matplotlib.image.imread(path)


def drawn_panels(path: Path) -> list[set[str]]:
    """The framework colours painted in each half of a sweep chart, left then right (one panel
    spans both halves; two panels sit side by side)."""
    image = read_png(path)
    width = image.shape[1]
    halves = (slice(0, width // 2), slice(width // 2, width))
    colours = {"C0": "pytorch", "C1": "onnxruntime", "C2": "a third framework"}
    return [
        {name for c, name in colours.items() if colour_pixels(image, c)[:, half].any()} for half in halves
    ]


def test_a_batch_sweep_writes_sweep_png_and_lists_it(tmp_path: Path) -> None:
    rows = grid((1, 16, 256, 1000), (2,))
    assert sweep_panels(rows)[1] == ["batch_size"]
    paths = write_reports(rows, tmp_path, ["csv", "png"])
    assert paths == [tmp_path / "summary.csv", tmp_path / "summary.png", tmp_path / "sweep.png"]
    height, width = read_png(tmp_path / "sweep.png").shape[:2]
    assert width > height > 100
    assert drawn_panels(tmp_path / "sweep.png") == [set(FRAMEWORKS)] * 2  # a line each, across
    assert not list(tmp_path.glob(".*.tmp"))  # the atomic write left no temporary behind


def test_a_threads_sweep_writes_sweep_png(tmp_path: Path) -> None:
    rows = grid((1000,), (1, 2, 4))
    assert sweep_panels(rows)[1] == ["threads"]
    assert write_reports(rows, tmp_path, ["png"]) == [tmp_path / "summary.png", tmp_path / "sweep.png"]
    assert drawn_panels(tmp_path / "sweep.png") == [set(FRAMEWORKS)] * 2


def test_both_sweeps_draw_two_panels_side_by_side(tmp_path: Path) -> None:
    rows = grid((1, 64, 1000), (1, 2))
    rows[0].update(parity_ok=False, max_abs_diff=0.03)  # diverged: still drawn, and marked
    assert sweep_panels(rows)[1] == ["batch_size", "threads"]
    write_reports(rows, tmp_path, ["png"])
    height, width = read_png(tmp_path / "sweep.png").shape[:2]
    assert width > 2 * height
    assert drawn_panels(tmp_path / "sweep.png") == [set(FRAMEWORKS)] * 2  # both, in each panel


def test_one_batch_and_one_thread_count_write_no_sweep(tmp_path: Path) -> None:
    rows = grid((1000,), (2,))
    assert write_reports(rows, tmp_path, ["png"]) == [tmp_path / "summary.png"]
    assert not (tmp_path / "sweep.png").exists()
    assert COMPANIONS["png"][0](rows, tmp_path, None) is None


def test_the_png_exporter_alone_still_returns_summary_png(tmp_path: Path) -> None:
    assert EXPORTERS["png"](grid((1, 1000), (2,)), tmp_path, None) == tmp_path / "summary.png"


def test_failed_rows_are_left_out_without_error(tmp_path: Path) -> None:
    rows = grid((1, 64, 1000), (1, 2))
    rows[1].update(status="failed", error="RuntimeError: boom", latency_ms_p50=None, throughput_per_s=None)
    rows.append(summary_row(99, "jax", 64, 2, status="skipped", error="No module named 'jax'"))
    drawn, panels = sweep_panels(rows)
    assert rows[1] not in drawn and all(row["status"] == "ok" for row in drawn)
    assert panels == ["batch_size", "threads"]
    assert tmp_path / "sweep.png" in write_reports(rows, tmp_path, ["png"])
    assert drawn_panels(tmp_path / "sweep.png") == [set(FRAMEWORKS)] * 2  # jax skipped: no line


def test_a_sweep_where_only_one_value_succeeded_writes_no_sweep(tmp_path: Path) -> None:
    rows = grid((1, 1000), (2,), frameworks=("pytorch",))
    rows[1].update(status="timeout", latency_ms_p50=None, throughput_per_s=None)
    assert write_reports(rows, tmp_path, ["png"]) == [tmp_path / "summary.png"]


def test_in_process_rows_only_when_no_isolated_ones(tmp_path: Path) -> None:
    isolated = grid((1, 1000), (2,))
    shared = [
        ok_row(10 + i, row["framework"], row["batch_size"], 2, mode="in-process", cell_id=f"ip{i}")
        for i, row in enumerate(isolated)
    ]
    assert {row["mode"] for row in sweep_panels(isolated + shared)[0]} == {"isolated"}
    assert {row["mode"] for row in sweep_panels(shared)[0]} == {"in-process"}
    assert tmp_path / "sweep.png" in write_reports(shared, tmp_path, ["png"])


def test_single_stream_and_noop_rows_are_not_drawn() -> None:
    single_stream = ok_row(20, "pytorch", 1, 1, scenario="single-stream")
    rows = [*grid((1, 1000), (2,)), single_stream, ok_row(21, "noop", 1, 1)]
    drawn, panels = sweep_panels(rows)
    assert panels == ["batch_size"]  # the other thread count is only in rows not drawn
    assert all(row["scenario"] == "offline" and row["framework"] != "noop" for row in drawn)

"""Report exporters (CSV, Markdown, PNG) and relative latency, on synthetic summary rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from conftest import RUN_ID, Row, colour_pixels, ink_pixels, summary_row
from orchestrator.report import charts
from orchestrator.report.console_table import notes, summary_view
from orchestrator.report.csv_file import read_summary_csv
from orchestrator.report.formats import EXPORTERS, write_reports
from orchestrator.report.labels import format_ms, relative_to, shown_percentile
from schemas import tables

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TIMES = "\N{MULTIPLICATION SIGN}"


def ok_row(
    index: int, framework: str, p50_ms: float, batch_size: int = 1000, threads: int = 2, **extra: Any
) -> Row:
    """A finished cell that agrees with the reference; its figures derive from its median latency."""
    measured: Row = {
        "status": "ok",
        "framework_version": "1.0",
        "iterations": 200,
        "latency_ms_mean": p50_ms * 1.1,
        "latency_ms_p50": p50_ms,
        "latency_ms_p90": p50_ms * 1.4,
        "latency_ms_p95": p50_ms * 1.6,
        "latency_ms_p99": p50_ms * 2.0,
        "latency_ms_min": p50_ms * 0.9,
        "latency_ms_max": p50_ms * 3.0,
        "latency_ms_std": p50_ms * 0.1,
        "throughput_per_s": batch_size / p50_ms * 1000,
        "cpu_percent": 150.0 + index,
        "rss_mb_baseline": 20.0,
        "rss_mb_import": 100.0 + 10 * index,
        "rss_mb_load": 120.0 + 10 * index,
        "peak_rss_mb": 130.0 + 100 * index,
        "import_s": 0.5,
        "load_s": 0.01,
        "first_inference_ms": 3.0,
        "timed_s": 2.0,
        "max_abs_diff": 5e-8,
        "parity_ok": True,
        "repeats_ok": 1,
        "settings_json": '{"intra_op": 2, "note": "a, \\"quoted\\" value"}',
    }
    # Only the columns this schema version has (precision_effective, repeats_ok ... come and go).
    measured = {k: v for k, v in measured.items() if k in tables.SUMMARY.names}
    return summary_row(index, framework, batch_size, threads, **(measured | extra))


def skipped_row(index: int, framework: str) -> Row:
    return summary_row(index, framework, status="skipped", error="No module named 'jax'")


@pytest.fixture
def rows() -> list[dict[str, Any]]:
    """Four ok cells (one diverged) and a skipped one."""
    return [
        ok_row(0, "pytorch", 0.5),
        ok_row(1, "tensorflow", 1.0),
        skipped_row(2, "jax"),
        ok_row(3, "onnxruntime", 0.4),
        ok_row(4, "openvino", 0.3, max_abs_diff=0.03, parity_ok=False),
    ]


def ratios_by_framework(rows: list[dict[str, Any]], baseline: str | None) -> dict[str, float | None]:
    ratios = relative_to(rows, baseline)
    return {row["framework"]: ratios[row["cell_id"]] for row in rows}


# --- relative_to ----------------------------------------------------------------------------------


def test_relative_to_an_explicit_baseline(rows: list[dict[str, Any]]) -> None:
    ratios = ratios_by_framework(rows, "pytorch")
    assert ratios["pytorch"] == pytest.approx(1.0)
    assert ratios["tensorflow"] == pytest.approx(2.0)
    assert ratios["onnxruntime"] == pytest.approx(0.8)
    assert ratios["jax"] is None


def test_relative_to_the_fastest_agreeing_cell_by_default(rows: list[dict[str, Any]]) -> None:
    # openvino is faster but diverged, so onnxruntime is the yardstick; openvino still gets a ratio.
    ratios = ratios_by_framework(rows, None)
    assert ratios["onnxruntime"] == pytest.approx(1.0)
    assert ratios["pytorch"] == pytest.approx(1.25)
    assert ratios["openvino"] == pytest.approx(0.75)
    assert ratios["jax"] is None


def test_relative_to_a_missing_or_not_ok_baseline_is_all_none(rows: list[dict[str, Any]]) -> None:
    assert set(relative_to(rows, "no-such-framework").values()) == {None}
    assert set(relative_to(rows, "jax").values()) == {None}  # the baseline was skipped


def test_relative_to_matches_batch_size_and_threads() -> None:
    rows = [
        ok_row(0, "pytorch", 1.0, batch_size=1),
        ok_row(1, "onnxruntime", 0.5, batch_size=1),
        ok_row(2, "pytorch", 10.0, batch_size=1000),
        ok_row(3, "onnxruntime", 40.0, batch_size=1000),
        ok_row(4, "onnxruntime", 8.0, batch_size=1000, threads=1),
    ]
    ratios = relative_to(rows, "pytorch")
    assert [ratios[row["cell_id"]] for row in rows] == pytest.approx([1.0, 0.5, 1.0, 4.0, None])
    fastest = relative_to(rows, None)
    assert [fastest[row["cell_id"]] for row in rows] == pytest.approx([2.0, 1.0, 1.0, 4.0, 1.0])


def test_relative_to_ignores_rows_without_a_median() -> None:
    rows = [ok_row(0, "pytorch", 1.0), ok_row(1, "jax", 2.0, latency_ms_p50=None)]
    assert ratios_by_framework(rows, None) == {"pytorch": 1.0, "jax": None}
    assert relative_to([], None) == {}


# --- console table --------------------------------------------------------------------------------


def render(table: Any) -> str:
    console = Console(record=True, width=200)
    console.print(table)
    return console.export_text()


def test_summary_table_with_a_baseline_shows_ratios(rows: list[dict[str, Any]]) -> None:
    text = render(summary_view(rows, None, baseline="tensorflow"))
    assert TIMES + " tensorflow" in text
    assert "1.00x" in text and "0.50x" in text  # tensorflow itself, then pytorch


def test_summary_table_relative_to_fastest(rows: list[dict[str, Any]]) -> None:
    text = render(summary_view(rows, None, relative=True))
    assert TIMES + " fastest" in text and "1.00x" in text and "1.25x" in text


def test_summary_table_without_baseline_is_unchanged(rows: list[dict[str, Any]]) -> None:
    text = render(summary_view(rows, None, "a title"))
    assert "a title" in text and TIMES not in text
    assert all(row["framework"] in text for row in rows)


def _wide_rows() -> list[dict[str, Any]]:
    """Long names, a sweep, a failure with a long reason, a warning: what squeezes a table."""
    rows = [
        ok_row(0, "onnxruntime", 0.012345, batch_size=1, scenario="single-stream", throughput_per_s=81_004.2),
        ok_row(
            1, "tensorflow", 1234.5678, batch_size=1000, throughput_per_s=1_591_880.0, peak_rss_mb=1_123.0
        ),
        ok_row(2, "openvino", 0.4, batch_size=1000, warnings="noisy: IQR/p50 = 0.29 within the run"),
    ]
    rows.append(
        summary_row(3, "pytorch", status="failed", error="runner killed by SIGSEGV; it wrote no result " * 3)
    )
    return rows


@pytest.mark.parametrize("width", [80, 100, 120, None])
def test_every_value_is_whole_at_any_width_and_piped(width: int | None) -> None:
    rows = _wide_rows()
    console = Console(record=True, width=width or 100_000)  # None: a pipe gets the natural width
    console.print(summary_view(rows, width, relative=True))
    text = console.export_text()
    assert all(len(line) <= (width or 100_000) for line in text.splitlines())
    assert "\N{HORIZONTAL ELLIPSIS}" not in text  # Rich cuts with an ellipsis: nothing is cut
    essential = ["onnxruntime", "single-stream", "tensorflow", "1,234.568", format_ms(0.012345), "failed"]
    everything = [*essential, "81,004", "1,591,880", "1,123"]  # less important columns may go, whole
    for value in everything if width is None else essential:
        assert value in text, (width, value)
    header = text.splitlines()[1]
    for shown, value in (("samples/s", "1,591,880"), ("peak MB", "1,123")):
        assert (shown in header) == (value in text), (width, shown)  # a column is there whole, or not at all
    below = notes(rows)
    assert any(line.startswith("pytorch") and "SIGSEGV" in line for line in below)
    assert any("noisy: IQR/p50 = 0.29" in line for line in below)


def test_too_narrow_for_a_table_the_cells_become_blocks() -> None:
    rows = _wide_rows()
    console = Console(record=True, width=40)
    console.print(summary_view(rows, 40, relative=True))
    text = console.export_text().replace("\u00a0", " ")
    assert "┃" not in text  # no table
    assert all(len(line) <= 40 for line in text.splitlines())
    assert "p50 ms 1,234.568" in text and "tensorflow" in text


# --- exporters ------------------------------------------------------------------------------------


def same_value(written: Any, read: Any) -> bool:
    """Exactly equal and of the same Python type (so 1 is not 1.0 and None is not "")."""
    return bool(written == read) and type(written) is type(read)


def test_csv_parses_back_to_the_same_rows(rows: list[dict[str, Any]], tmp_path: Path) -> None:
    rows[1]["error"] = 'a "quoted", multi-line\nwarning'
    rows[1]["affinity_observed"] = ""  # an empty string must not come back as null
    for row in rows:  # enough calls for every percentile: each one comes back
        row["iterations"] = 5000
    path = EXPORTERS["csv"](rows, tmp_path, None)
    assert path == tmp_path / "summary.csv"
    header = path.read_text().splitlines()[0]
    assert header == ",".join(f'"{name}"' for name in tables.SUMMARY.names)
    back = read_summary_csv(path)
    assert len(back) == len(rows)
    for written, read in zip(rows, back):
        assert list(read) == tables.SUMMARY.names
        different = [k for k in tables.SUMMARY.names if not same_value(written[k], read[k])]
        assert not different, [(k, written[k], read[k]) for k in different]
    assert back[2]["latency_ms_p50"] is None and back[2]["parity_ok"] is None
    assert back[4]["parity_ok"] is False


def test_markdown_lists_every_cell_ratio_and_problem(rows: list[dict[str, Any]], tmp_path: Path) -> None:
    path = EXPORTERS["md"](rows, tmp_path, "pytorch")
    assert path == tmp_path / "summary.md"
    text = path.read_text()
    assert text.startswith(f"# Benchmark run `{RUN_ID}`")
    table_lines = [line for line in text.splitlines() if line.startswith("|")]
    assert len(table_lines) == 2 + len(rows)  # header, alignment, one per cell
    assert TIMES + " pytorch" in table_lines[0]
    for row in rows:
        assert any(f"| {row['framework']} |" in line for line in table_lines)
    for ratio in ("1.00x", "2.00x", "0.80x", "0.60x"):
        assert ratio in text
    assert "**DIVERGED** 3.0e-02" in text
    assert "**skipped** No module named 'jax'" in text
    assert "Not ok: jax (skipped), openvino (parity DIVERGED)." in text


def test_markdown_shows_varying_batch_and_escapes_pipes(tmp_path: Path) -> None:
    rows = [ok_row(0, "pytorch", 1.0, batch_size=1), ok_row(1, "pytorch", 9.0, batch_size=64)]
    rows[1].update(status="failed", error="bad | value\nsecond line")
    text = EXPORTERS["md"](rows, tmp_path, None).read_text()
    assert "| framework | batch | p50 ms |" in text
    assert "**failed** bad \\| value second line" in text
    assert "Not ok: pytorch b64 (failed)." in text


def test_markdown_when_all_ok(tmp_path: Path) -> None:
    text = EXPORTERS["md"]([ok_row(0, "pytorch", 1.0)], tmp_path, None).read_text()
    assert "All 1 cells ok." in text and TIMES + " fastest" in text


def read_png(path: Path) -> Any:
    import matplotlib.image

    assert path.read_bytes()[:8] == PNG_SIGNATURE
    return matplotlib.image.imread(path)


def test_png_is_a_wide_image(rows: list[dict[str, Any]], tmp_path: Path) -> None:
    path = EXPORTERS["png"](rows, tmp_path, None)
    assert path == tmp_path / "summary.png"
    image = read_png(path)
    height, width = image.shape[:2]
    assert width > height > 100
    # Each ok cell's bars in its framework's colour (matplotlib's cycle, red kept for DIVERGED),
    # in each of the three panels; the diverged cell's label in red.
    for colour in ("C0", "C1", "C2"):  # pytorch, tensorflow, onnxruntime
        painted = colour_pixels(image, colour)
        assert all(painted[:, i * width // 3 : (i + 1) * width // 3].any() for i in range(3)), colour
    assert colour_pixels(image, "#c0392b").any()
    assert not list(tmp_path.glob(".*.tmp"))  # the atomic write left no temporary behind


def test_png_with_nothing_to_plot(tmp_path: Path) -> None:
    path = EXPORTERS["png"]([skipped_row(0, "jax")], tmp_path, "pytorch")
    image = read_png(path)
    height, width = image.shape[:2]
    assert width > height
    assert not colour_pixels(image, "C0").any()  # no bar: nothing ran
    assert ink_pixels(image).any()  # but axes and the footnote saying why


def test_write_reports_writes_each_kind(rows: list[dict[str, Any]], tmp_path: Path) -> None:
    paths = write_reports(rows, tmp_path, ["md", "csv", "png", "md"], baseline="pytorch")
    assert paths == [tmp_path / "summary.md", tmp_path / "summary.csv", tmp_path / "summary.png"]
    assert all(path.stat().st_size > 0 for path in paths)


def test_write_reports_refuses_an_unknown_kind_before_writing(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'pdf'"):
        write_reports([ok_row(0, "pytorch", 1.0)], tmp_path, ["csv", "pdf"])
    assert list(tmp_path.iterdir()) == []


def test_png_across_batch_sizes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Medians three decades apart: the chart must still draw every cell (on a log axis).
    rows = [ok_row(i, "pytorch", 0.002 * b, batch_size=b) for i, b in enumerate((1, 16, 1000))]
    drawn: list[Any] = []
    save = charts.save_figure
    monkeypatch.setattr(charts, "save_figure", lambda fig, *args: drawn.append(fig) or save(fig, *args))
    height, width = read_png(EXPORTERS["png"](rows, tmp_path, "pytorch")).shape[:2]
    assert width > height
    (figure,) = drawn
    latency = figure.axes[0]
    assert latency.get_xscale() == "log"
    bars = sorted(patch.get_width() for patch in latency.patches)
    assert bars == pytest.approx([0.002, 0.032, 2.0])  # every cell's p50, the smallest too


def test_every_output_shows_only_the_percentiles_the_calls_support(tmp_path: Path) -> None:
    # 200 calls support a p95 (10 calls beyond it) but not a p99 (needs 1000): the console table
    # refused the p99 while summary.md, summary.png and compare printed it.
    few, many = ok_row(0, "pytorch", 10.0), ok_row(1, "onnxruntime", 1.0, iterations=5000)
    rows = [few, many]
    assert shown_percentile(few, 99) is None and shown_percentile(few, 95) == 16.0
    assert shown_percentile(many, 99) == 2.0
    text = EXPORTERS["md"](rows, tmp_path, None).read_text()
    assert "| p50 ms | tail ms |" in text
    (few_line,) = [line for line in text.splitlines() if line.startswith("| pytorch")]
    assert "| p95 16.000 |" in few_line and "20.000" not in few_line
    (many_line,) = [line for line in text.splitlines() if line.startswith("| onnxruntime")]
    assert "| p99 2.000 |" in many_line
    console = Console(width=250, record=True, color_system=None)
    console.print(summary_view(rows, None, baseline=None, relative=True))
    table = console.export_text()
    assert "tail ms" in table and "p95 16.000" in table and "20.000" not in table
    few_back, many_back = read_summary_csv(EXPORTERS["csv"](rows, tmp_path, None))
    assert few_back["latency_ms_p99"] is None and few_back["latency_ms_p95"] == 16.0
    assert many_back["latency_ms_p99"] == 2.0

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from orchestrator.report.charts import _tails

    fig, ax = plt.subplots()
    try:
        ends = _tails(ax, rows, [10.0, 1.0])
        (markers,) = ax.collections[-1:]
        assert markers.get_offsets().tolist() == [[2.0, 1.0]]  # the p99 of the second row only
        assert ends == [14.0, 2.0]  # the p90 whisker of the first, the p99 of the second
    finally:
        plt.close(fig)

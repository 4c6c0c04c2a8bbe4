"""report.html (--report html): one self-contained page per run, opened in headless Chromium.

The browser tests open what a real run wrote (the fake runner, and ONNX Runtime on the MLP)
and assert that the plots drew, that the table holds the run's rows and sorts, and that the
page raised no JavaScript error and asked the network for nothing. The others test the page's
parts on rows made here.
"""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest

from browser import Chromium, PageReport
from conftest import QUICK, only_run_dir, run_cli, summary_row
from orchestrator.report.formats import write_reports
from orchestrator.report.html.fidelity import fidelity_chart
from orchestrator.report.html.latency import latency_chart
from orchestrator.report.html.page import write_html
from orchestrator.report.html.roofline import roofline_chart
from orchestrator.report.html.sweeps import load_chart
from orchestrator.report.html.table import summary_table
from schemas import tables

# The page's charts, each drawn (its figure's svg) or omitted with its reason, never both.
CHARTS = ("latency", "phases", "sweep", "load", "roofline", "fidelity")

# Counted in the page besides tests/browser.py's defaults.
SELECTORS = {
    "summary_rows": "#summary tbody tr",
    "warned_cells": "ul.warnings > li",
    **{f"{chart} drawn": f"#chart-{chart} svg.main-svg" for chart in CHARTS},
    **{f"{chart} omitted": f"#omitted-{chart}" for chart in CHARTS},
}


def drawn_charts(page: PageReport) -> set[str]:
    """The charts the page drew; every other one must say why it is not there."""
    drawn = {chart for chart in CHARTS if page.counts[f"{chart} drawn"]}
    omitted = {chart for chart in CHARTS if page.counts[f"{chart} omitted"]}
    assert drawn | omitted == set(CHARTS) and not drawn & omitted, (drawn, omitted)
    return drawn


# Clicks the p50 column's header and returns that column's sort keys, top to bottom.
SORT_BY_P50 = """() => {
    const headers = Array.from(document.querySelectorAll('#summary thead th'));
    const index = headers.findIndex((th) => th.textContent === 'latency_ms_p50');
    headers[index].click();
    return Array.from(document.querySelectorAll('#summary tbody tr'))
        .map((row) => row.cells[index].dataset.sort);
}"""


def _run(tmp_path: Path, *args: str) -> tuple[Path, list[dict[str, Any]]]:
    proc = run_cli(["--output", "out", "--report", "html", *QUICK, *args], cwd=tmp_path)
    run_dir = only_run_dir(tmp_path / "out")
    assert f"report: {(run_dir / 'report.html').relative_to(tmp_path)}" in proc.stdout, (
        proc.stdout + proc.stderr
    )
    return run_dir / "report.html", pq.read_table(run_dir / "summary.parquet").to_pylist()


def test_a_run_report_renders_in_a_browser(chromium: Chromium, tmp_path: Path) -> None:
    """A batch sweep at two precisions with a failing framework: latency, phases, sweep and
    speed-against-fidelity and roofline plots drawn; the load curve omitted saying why;
    every row in the table, sortable, the failed cells last."""
    report, rows = _run(
        tmp_path, "--frameworks", "fake,fake-raise", "--batch-size", "1,8", "--precision", "fp32,bf16"
    )

    page = chromium.open(report, SELECTORS, screenshot=tmp_path / "report.png", scripts={"p50": SORT_BY_P50})

    assert page.errors == [] and page.requests == []
    assert drawn_charts(page) == {"latency", "phases", "sweep", "roofline", "fidelity"}  # no LoadGen: no load
    assert page.counts["plot_svgs"] >= 3 * page.counts["plots"]  # plotly's layers, drawn
    assert page.counts["summary_rows"] == len(rows) == 8
    assert page.counts["warned_cells"] >= 4  # the failed cells, each with its error
    p50 = [float(value) for value in page.values["p50"] if value != ""]
    assert p50 == sorted(p50) and len(p50) == 4  # the ok cells, ascending; the failed ones last
    assert page.values["p50"][-4:] == [""] * 4
    text = report.read_text()
    assert "injected fault" in text  # the failed cells' error, in the warnings


def test_a_real_framework_run_renders(chromium: Chromium, tmp_path: Path) -> None:
    """ONNX Runtime on the MLP, from its own environment: the report draws its plots."""
    report, rows = _run(tmp_path, "--frameworks", "onnxruntime", "--model", "mlp", "--batch-size", "8")

    page = chromium.open(report, SELECTORS, screenshot=tmp_path / "report.png")

    assert rows[0]["status"] == "ok", rows[0]["error"]
    assert page.errors == [] and page.requests == []
    assert drawn_charts(page) == {"latency", "phases", "roofline"}
    assert page.counts["summary_rows"] == 1


class _Loads(HTMLParser):
    """Every URL an element would load (src, href, a stylesheet link) and every inline script."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [value or "" for name, value in attrs if name in ("src", "href", "srcset", "data")]
        self._in_script = tag == "script"

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts.append(data)

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False


def _rows(**values: Any) -> list[dict[str, Any]]:
    """Two ok cells, batch 1 and 8, measured; ``values`` may name columns of schema 7 that the
    summary does not have yet (the roofline's, the fidelity's), as a newer summary would."""
    figures = {
        "status": "ok",
        "latency_ms_p50": 1.0,
        "iterations": 50,
        "cpu_percent": 90.0,
        "cpus_allowed": 2,
    }
    known = {key: value for key, value in values.items() if key in tables.SUMMARY.names}
    newer = {key: value for key, value in values.items() if key not in known}
    return [
        summary_row(0, "onnxruntime", batch_size=1, **figures | known) | newer,
        summary_row(1, "onnxruntime", batch_size=8, **figures | known | {"latency_ms_p50": 3.0}) | newer,
    ]


def test_the_page_loads_nothing_from_the_network(tmp_path: Path) -> None:
    (tmp_path / "environment.json").write_text(json.dumps({"host": {"cpu_model": "a <CPU>"}}))

    page = write_html(_rows(warnings="noisy: IQR/p50 = 0.4 within the run"), tmp_path)

    parsed = _Loads()
    parsed.feed(page.read_text())
    assert parsed.urls and all(url.startswith("#") for url in parsed.urls)  # the page's own anchors
    assert max(map(len, parsed.scripts)) > 1_000_000  # plotly.js itself, inlined
    assert "url(" not in page.read_text().split("<script", 1)[0]  # no stylesheet fetches a file
    assert "a &lt;CPU&gt;" in page.read_text()


def test_write_reports_knows_the_html_kind(tmp_path: Path) -> None:
    assert write_reports(_rows(), tmp_path, ["html"]) == [tmp_path / "report.html"]


def test_the_page_names_the_machines_roofs_as_summary_md_does(tmp_path: Path) -> None:
    roofs = _ROOFS | {"threads": 2, "cpus": [0, 1]}
    (tmp_path / "environment.json").write_text(json.dumps({"roofs": roofs}))

    text = write_html(_rows(), tmp_path).read_text()

    assert (
        "<b>Roofs:</b> fp32 250 measured / 400 theoretical GFLOP/s; memory 20 GB/s measured"
        " (2 thread(s) on CPUs 0,1)"
    ) in text


def test_without_samples_or_environment_the_page_says_so(tmp_path: Path) -> None:
    text = write_html(_rows(), tmp_path).read_text()

    assert "not drawn, samples.parquet holds no timed call of an ok cell" in text
    assert "environment.json</th><td>not found in the run directory" in text


def test_the_table_has_every_summary_column_and_escapes_values() -> None:
    rows = _rows(
        error="<script>alert(1)</script>", sqnr_db=float("inf"), latency_ms_p90=1.25, latency_ms_p99=1.75
    )

    table = summary_table(rows, baseline=None)

    for column in tables.SUMMARY.names:
        assert f'<th title="click to sort">{column}</th>' in table
    assert "<script>" not in table and "&lt;script&gt;" in table
    assert table.count('<tr class="status-ok">') == 2
    assert '<td class="number" data-sort="Infinity">inf</td>' in table  # sorts as a number
    assert ">1.25</td>" not in table and ">1.75</td>" not in table  # 50 calls: too few for a tail


_ROOFS = {
    "fp32": {"theoretical_gflops": 400.0, "measured_gflops": 250.0, "basis": "AVX-512, 2 FMA units assumed"},
    "bandwidth": {"theoretical_gbs": None, "measured_gbs": 20.0, "basis": "DRAM speed unknown"},
}


def test_the_roofline_draws_each_roof_and_point_and_says_what_it_left_out() -> None:
    rows = _rows(gflops_per_s=40.0, arithmetic_intensity=3.0, roof_precision="fp32", roof_pct_measured=16.0)
    rows[1] |= {
        "gflops_per_s": None,
        "arithmetic_intensity": None,
        "roof_omitted": "no FLOPs: not an ONNX graph",
    }

    chart = roofline_chart(rows, _ROOFS)

    names = [trace.name for trace in chart.figure.data]
    assert names[0] == "measured fp32 roof: 250 GFLOP/s, 20 GB/s"
    assert names[1] == "theoretical fp32 roof: 400 GFLOP/s (no theoretical bandwidth: flat)"
    assert len(names) == 3  # the two roofs, one point
    measured, theoretical = chart.figure.data[0].y, chart.figure.data[1].y
    assert measured.max() == 250.0 and measured.min() < 250.0  # the compute ceiling caps the slope
    assert set(theoretical) == {400.0}
    assert chart.notes == ("onnxruntime b8: no FLOPs: not an ONNX graph",)
    assert list(chart.figure.data[2].text) == [" 16 %"]  # its share of the measured roof


def test_the_roofline_takes_the_roofs_of_the_threads_each_cell_kept_busy() -> None:
    rows = _rows(gflops_per_s=40.0, arithmetic_intensity=3.0, roof_precision="bf16", threads=1)
    wide = _ROOFS | {"bf16": {"measured_gflops": 900.0, "basis": "AVX512-BF16"}}
    one_thread = {
        "bf16": {"measured_gflops": 450.0, "basis": "AVX512-BF16"},
        "bandwidth": {"measured_gbs": 12.0},
    }

    chart = roofline_chart(rows, wide | {"by_threads": {"1": one_thread, "2": wide}})

    assert chart.figure.data[0].name == "measured bf16 roof: 450 GFLOP/s, 12 GB/s"
    assert chart.notes == ("no theoretical bf16 roof: AVX512-BF16",)


def test_the_roofline_without_its_columns_is_omitted() -> None:
    chart = roofline_chart(_rows(), _ROOFS)

    assert chart.figure is None
    assert chart.omitted == "the summary has no gflops_per_s or arithmetic_intensity for any cell"


@pytest.mark.parametrize(
    ("values", "x_title", "y_title"),
    [
        ({"speedup_vs_fp32": 1.8, "sqnr_db": 35.0}, "SQNR", "speed-up over the same cell at fp32"),
        ({"max_abs_diff": 1e-3}, "max |diff|", "p50 latency per call"),
        ({"speedup_vs_fp32": 1.1, "sqnr_db": 20.0, "accuracy": 0.97}, "accuracy", "speed-up"),
    ],
)
def test_speed_against_fidelity_joins_each_frameworks_precisions(
    values: dict[str, Any], x_title: str, y_title: str
) -> None:
    rows = _rows(**values)
    rows[1] |= rows[0] | {"cell_id": "b", "precision": "bf16", "precision_effective": "fp32"}

    chart = fidelity_chart(rows)

    (line,) = chart.figure.data  # one framework at one configuration: one line
    assert list(line.text) == ["fp32", "bf16 (ran fp32)"]
    assert chart.figure.layout.xaxis.title.text.startswith(x_title)
    assert chart.figure.layout.yaxis.title.text.startswith(y_title)


def test_one_precision_draws_no_speed_against_fidelity() -> None:
    assert fidelity_chart(_rows()).omitted == "one precision in this run (fp32)"


def test_an_output_equal_to_the_reference_is_named_not_plotted_at_infinity() -> None:
    rows = _rows(sqnr_db=float("inf"))
    rows[1] |= rows[0] | {"cell_id": "b", "precision": "bf16", "sqnr_db": 31.0}

    chart = fidelity_chart(rows)

    (line,) = chart.figure.data
    assert list(line.x) == [31.0]
    assert chart.notes == ("onnxruntime fp32: sqnr_db inf (its output equals the reference)",)


def test_the_load_curve_marks_invalid_runs_the_bound_and_the_peak() -> None:
    probes = [(16_000.0, 1.2, "VALID"), (32_000.0, 2.0, "VALID"), (64_000.0, 40.0, "INVALID")]
    result = {"probes": [{"offered_qps": q, "latency_ms_p99": p, "validity": v} for q, p, v in probes]}
    rows = _rows(
        scenario="server-peak", latency_bound_ms=5.0, peak_qps=32_000.0, loadgen_json=json.dumps(result)
    )

    chart = load_chart(rows[:1])

    (curve,) = chart.figure.data
    assert list(curve.x) == [16_000.0, 32_000.0, 64_000.0]
    assert list(curve.marker.symbol) == ["circle", "circle", "x"]
    notes = [note.text for note in chart.figure.layout.annotations]
    assert notes == ["bound 5 ms", "onnxruntime: peak 32,000 QPS"]


def test_one_offered_rate_draws_no_load_curve() -> None:
    result = {"offered_qps": 500.0, "latency_ms_p99": 2.0, "validity": "VALID"}
    rows = _rows(scenario="server", target_qps=500.0, loadgen_json=json.dumps(result))

    assert load_chart(rows[:1]).omitted == "no LoadGen server figures at two offered rates or more"


def test_the_latency_distribution_counts_every_call_of_each_ok_cell() -> None:
    rows = _rows()
    rows[1] |= {"status": "failed", "latency_ms_p50": None}
    calls = np.array([1.0, 1.1, 1.1, 1.2, 5.0, 0.9, 1.0, 1.05])

    chart = latency_chart(rows, {rows[0]["cell_id"]: calls, rows[1]["cell_id"]: calls})

    (line,) = chart.figure.data  # the failed cell has none
    assert line.name == "onnxruntime b1 (8 calls)"
    assert sum(line.y) == pytest.approx(100.0)  # every call in one bin or another
    assert min(line.x) < 0.9 and max(line.x) > 5.0  # an empty bin beyond each end

"""A precision sweep through the CLI, with the fakes: each cell's speed-up over its fp32 twin and
its fidelity in summary.parquet, the console table, summary.md and precision.png; a cell under
its model's int8 floor DIVERGED, saying which floor. A run at fp32 alone keeps its table as it was."""

from __future__ import annotations

import math
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from conftest import QUICK, only_run_dir, run_cli, summary_row
from orchestrator.report.console_table import columns
from orchestrator.report.fidelity_labels import format_fidelity, format_speedup, shows_precision
from orchestrator.report.markdown import markdown_summary
from orchestrator.report.precision_chart import precision_chart, precision_lines


def test_a_sweep_shows_each_precisions_speed_up_and_fidelity(tmp_path: Path) -> None:
    proc = run_cli(
        [
            "--frameworks",
            "fake,fake-noisy",
            "--precision",
            "fp32,bf16,int8",
            "--batch-size",
            "10",
            "--report",
            "png,md",
            *QUICK,
        ],
        cwd=tmp_path,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr  # fake-noisy diverges
    run_dir = only_run_dir(tmp_path / "results")
    rows = {
        (r["framework"], r["precision"]): r for r in pq.read_table(run_dir / "summary.parquet").to_pylist()
    }
    assert all(row["status"] == "ok" for row in rows.values()), proc.stdout
    fp32, bf16, int8 = rows[("fake", "fp32")], rows[("fake", "bf16")], rows[("fake", "int8")]
    assert (fp32["precision_effective"], bf16["precision_effective"], int8["precision_effective"]) == (
        "fp32", "bf16", "int8",
    )  # fmt: skip
    assert fp32["speedup_vs_fp32"] == 1.0
    assert bf16["speedup_vs_fp32"] == pytest.approx(fp32["latency_ms_p50"] / bf16["latency_ms_p50"])
    assert fp32["sqnr_db"] > int8["sqnr_db"] > 30 and fp32["sqnr_db"] > bf16["sqnr_db"] > 30
    for row in (fp32, bf16, int8):
        assert row["parity_ok"] is True and row["top1_agreement"] == 1.0 and row["fidelity_shortfall"] is None
        assert 0.0 < row["cosine_min"] <= row["cosine_mean"] <= 1.0
    noisy = rows[("fake-noisy", "int8")]
    assert noisy["parity_ok"] is False and noisy["parity_tolerance"] is None  # judged by its floors
    assert (
        noisy["fidelity_shortfall"].startswith("SQNR ")
        and "under int8's floor of 30 dB" in noisy["fidelity_shortfall"]
    )
    assert "speed-up" in proc.stdout and "cos min / SQNR" in proc.stdout
    assert f"{bf16['sqnr_db']:.1f} dB" in proc.stdout
    assert "fake-noisy int8: outputs DIVERGED" in proc.stdout and "under int8's floor" in proc.stdout
    markdown = (run_dir / "summary.md").read_text()
    assert "| speed-up |" in markdown and "| SQNR dB |" in markdown and "| top-1 |" in markdown
    assert (run_dir / "precision.png").stat().st_size > 10_000


def test_a_run_at_fp32_alone_keeps_its_table() -> None:
    rows = [summary_row(0, "fake", status="ok", latency_ms_p50=1.0, speedup_vs_fp32=1.0, sqnr_db=140.0)]
    assert not shows_precision(rows)
    headers = [column.header for column in columns(rows, None, False)]
    assert "speed-up" not in headers and "cos min / SQNR" not in headers
    assert "speed-up" not in markdown_summary(rows, "run")
    assert precision_chart(rows, Path("never-written.png")) is None


def test_one_precision_other_than_fp32_shows_the_columns() -> None:
    rows = [summary_row(0, "fake", status="ok", precision="bf16", cosine_min=0.999812, sqnr_db=math.inf)]
    assert shows_precision(rows)
    assert format_fidelity(rows[0]) == "0.99981 / inf dB" and format_speedup(rows[0]) == "-"
    assert "cos min / SQNR" in [column.header for column in columns(rows, None, False)]


def test_the_chart_draws_a_panel_per_configuration_and_a_line_per_framework() -> None:
    def row(index: int, framework: str, precision: str, batch: int, **values: object) -> dict[str, object]:
        return summary_row(index, framework, batch_size=batch, precision=precision, status="ok", **values)

    rows = [
        row(0, "a", "fp32", 1, speedup_vs_fp32=1.0, sqnr_db=140.0),
        row(1, "a", "int8", 1, speedup_vs_fp32=3.0, sqnr_db=34.0),
        row(2, "a", "bf16", 1, speedup_vs_fp32=2.0, sqnr_db=45.0),
        row(3, "b", "fp32", 1, speedup_vs_fp32=1.0, sqnr_db=math.inf),
        row(4, "a", "int8", 8, speedup_vs_fp32=None, sqnr_db=30.0),  # no fp32 twin: not drawn
        row(5, "b", "bf16", 1, speedup_vs_fp32=1.5, sqnr_db=None),  # no fidelity: not drawn
    ]
    panels = precision_lines(rows)
    assert len(panels) == 1
    lines = next(iter(panels.values()))
    assert {name: [r["precision"] for r in found] for name, found in lines.items()} == {
        "a": ["fp32", "bf16", "int8"], "b": ["fp32"],
    }  # fmt: skip

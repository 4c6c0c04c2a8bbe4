"""summary.md's table: every row has a cell under each header, whichever optional columns
(options, precision, accuracy, % roof) the run shows, and each figure sits under its own name."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from conftest import QUICK, Row, only_run_dir, run_cli, summary_row
from orchestrator.plan.options import as_json, defaults, non_default
from orchestrator.report.labels import format_ms
from orchestrator.report.markdown import markdown_summary
from schemas.configuration import framework_label

# A cell boundary: a pipe that md_escape did not escape.
_CELL_EDGE = re.compile(r"(?<!\\)\|")


def parse_table(text: str) -> tuple[list[str], list[list[str]]]:
    """summary.md's table as its header and its rows of cells (the alignment line dropped)."""
    lines = [line for line in text.splitlines() if line.startswith("|")]
    header, _alignment, *rows = ([cell.strip() for cell in _CELL_EDGE.split(line)[1:-1]] for line in lines)
    return header, rows


def assert_rows_match_header(text: str) -> list[dict[str, str]]:
    """Each row has exactly the header's number of cells; the rows as {header: cell}."""
    header, rows = parse_table(text)
    assert rows, text
    for cells in rows:
        assert len(cells) == len(header), (header, cells)
    return [dict(zip(header, cells)) for cells in rows]


def _rows(options: bool, precision: bool, accuracy: bool, roof: bool) -> list[Row]:
    """ONNX Runtime cells with the optional columns' figures where asked; the second cell runs
    another option set when ``options``, another precision when ``precision``."""
    spinning_off = as_json({**defaults("onnxruntime"), "spinning": "off"})
    rows = []
    for index in range(2):
        row = summary_row(
            index,
            "onnxruntime",
            status="ok",
            parity_ok=True,
            max_abs_diff=1e-7,
            latency_ms_p50=1.0 + index,
            throughput_per_s=1000.0 / (1 + index),
            options_json=spinning_off if options and index else as_json(defaults("onnxruntime")),
            precision="int8" if precision and index else "fp32",
        )
        if accuracy:
            row.update(accuracy=0.9, accuracy_reference=0.91, accuracy_samples=100)
        if roof:
            row["roof_pct_measured"] = 12.5
        rows.append(row)
    return rows


@pytest.mark.parametrize("options,precision,accuracy,roof", list(itertools.product([False, True], repeat=4)))
def test_every_row_has_a_cell_under_each_header(
    options: bool, precision: bool, accuracy: bool, roof: bool
) -> None:
    rows = _rows(options, precision, accuracy, roof)
    table = assert_rows_match_header(markdown_summary(rows, "run"))
    assert ("options" in table[0]) == options
    assert ("speed-up" in table[0]) == precision and ("SQNR dB" in table[0]) == precision
    assert ("accuracy" in table[0]) == accuracy and ("% roof" in table[0]) == roof
    for row, cells in zip(rows, table):
        assert cells["framework"] == framework_label(row)
        assert cells["p50 ms"] == format_ms(row["latency_ms_p50"])
        assert cells["status"] == "ok" and cells["parity"] == "ok 1.0e-07"
        if options:
            assert cells["options"] == non_default("onnxruntime", row["options_json"])
        if accuracy:
            assert cells["accuracy"] == "90.00%"
        if roof:
            assert cells["% roof"] == "12"


def test_a_run_with_options_and_a_precision_sweep_writes_an_aligned_table(tmp_path: Path) -> None:
    """The users' case: ONNX Runtime at two spinning settings beside the fake, at fp32 and bf16
    (ONNX Runtime's bf16 cells skipped): every column after ``framework`` was one cell off."""
    proc = run_cli(
        [
            "--frameworks", "fake,onnxruntime", "--option", "onnxruntime.spinning=on,off",
            "--precision", "fp32,bf16", "--batch-size", "8", "--report", "md", *QUICK,
        ],
        cwd=tmp_path,
    )  # fmt: skip
    run_dir = only_run_dir(tmp_path / "results")
    records: list[dict[str, Any]] = pq.read_table(run_dir / "summary.parquet").to_pylist()
    table = assert_rows_match_header((run_dir / "summary.md").read_text())
    assert len(table) == len(records) == 6, proc.stdout + proc.stderr  # fake x2, onnxruntime x2 x2
    assert {"options", "speed-up", "SQNR dB", "precision"} <= set(table[0])
    ok = [record for record in records if record["status"] == "ok"]
    assert {(r["framework"], r["precision"]) for r in ok} >= {("fake", "fp32"), ("fake", "bf16")}
    for record in records:
        (cells,) = [
            cells
            for cells in table
            if cells["framework"] == framework_label(record)
            and cells["options"] == non_default(record["framework"], record["options_json"])
            and cells["precision"] == record["precision"]
        ]
        assert cells["status"].lstrip("*").startswith(record["status"]), (cells, record["error"])
        if record["status"] == "ok":
            assert cells["p50 ms"] == format_ms(record["latency_ms_p50"])
            assert cells["samples/s"] == f"{record['throughput_per_s']:,.0f}"
    onnxruntime = [json.loads(r["options_json"]) for r in records if r["framework"] == "onnxruntime"]
    assert {options.get("spinning") for options in onnxruntime} == {"on", "off"}

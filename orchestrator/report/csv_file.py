"""The ``csv`` report format: summary.csv, and reading it back."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv

from orchestrator.report.labels import Row, supported_only
from schemas import io, tables


def write_csv(rows: list[Row], run_dir: Path, baseline: str | None = None) -> Path:
    """Write summary.csv: every summary column in schema order, one line per cell.

    Nulls are empty fields and strings are always quoted, so an empty string and a null
    stay apart; :func:`read_summary_csv` reads it back with the schema's types. A tail
    percentile the cell's calls do not support is an empty field (:func:`supported_only`).
    """
    del baseline  # the CSV carries raw figures; ratios are derived from them
    table = pa.Table.from_pylist([supported_only(row) for row in rows], schema=tables.SUMMARY)
    sink = pa.BufferOutputStream()
    pa_csv.write_csv(table, sink)
    path = run_dir / "summary.csv"
    io.write_bytes(sink.getvalue().to_pybytes(), path)
    return path


def read_summary_csv(path: Path) -> list[Row]:
    """Read a summary.csv written by :func:`write_csv` back into summary rows."""
    table = pa_csv.read_csv(
        path,
        # Error messages may span lines; the writer quotes them.
        parse_options=pa_csv.ParseOptions(newlines_in_values=True),
        convert_options=pa_csv.ConvertOptions(
            column_types=tables.SUMMARY,
            include_columns=tables.SUMMARY.names,
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
        ),
    )
    return table.select(tables.SUMMARY.names).to_pylist()  # type: ignore[no-any-return]

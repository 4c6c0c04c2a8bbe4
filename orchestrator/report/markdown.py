"""The ``md`` report format: summary.md, the table and notes of a run in Markdown."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from orchestrator.plan.options import non_default
from orchestrator.report.fidelity_labels import (
    format_cosine,
    format_speedup,
    format_sqnr,
    format_top1,
    shows_precision,
)
from orchestrator.report.labels import (
    Row,
    _fmt,
    _header,
    _options_vary,
    cell_label,
    describe_roofs,
    format_accuracy,
    format_accuracy_drop,
    format_ms,
    format_ratio,
    format_roof_pct,
    has_accuracy,
    md_escape,
    relative_header,
    relative_to,
    run_id_of,
    settings_parts,
    tail_column,
    varying_keys,
)
from schemas import io
from schemas.configuration import (
    display_value,
    framework_label,
)


def _md_parity(row: Row) -> str:
    diff = row["max_abs_diff"]
    if diff is None:
        return "-"
    return f"ok {diff:.1e}" if row["parity_ok"] else f"**DIVERGED** {diff:.1e}"


def _md_status(row: Row) -> str:
    status = row["status"] if row["status"] == "ok" else f"**{row['status']}**"
    return f"{status} {md_escape(row['error'])}" if row["error"] else status


def _roof_note(shown: bool) -> list[str]:
    """What the % roof column means, when the table has it."""
    if not shown:
        return []
    return [
        "",
        "`% roof`: the cell's GFLOP/s over the measured roof of the precision that executed, at its "
        "thread count (summary.parquet: roof_pct_theoretical, arithmetic_intensity, roof_omitted).",
    ]


def _accuracy_note(rows: list[Row], shown: bool) -> list[str]:
    """What the accuracy columns mean, when the table has them."""
    if not shown:
        return []
    counts = sorted({row["accuracy_samples"] for row in rows if row.get("accuracy_samples")})
    samples = "/".join(map(str, counts)) or "the"
    return [
        "",
        f"`accuracy`: the share of {samples} held-out labels that the cell's outputs predict (argmax); "
        "`vs ref`: that minus the float64 reference's on the same samples, in percentage points.",
    ]


# The fidelity columns of a run with a precision other than fp32, and what they mean.
_FIDELITY = ["cos min", "SQNR dB", "top-1"]
_PRECISION_NOTE = [
    "",
    "`speed-up`: the p50 of the same configuration at fp32 over this cell's (2.00x: twice as fast). "
    "Against the model's float64 reference: `cos min` the least cosine similarity of a sample's "
    "outputs, `SQNR dB` 10 log10 of the reference's energy over the error's, `top-1` the samples "
    "whose class is the reference's (docs/fidelity.md).",
]


def _not_ok_note(rows: list[Row], vary: list[str]) -> str:
    """One line naming every cell that failed, was skipped or diverged."""
    problems = [f"{cell_label(row, vary)} ({row['status']})" for row in rows if row["status"] != "ok"] + [
        f"{cell_label(row, vary)} (parity DIVERGED)" for row in rows if row["parity_ok"] is False
    ]
    if not problems:
        return f"All {len(rows)} cells ok."
    return "Not ok: " + ", ".join(problems) + "."


def _settings_lines(rows: list[Row], vary: list[str]) -> list[str]:
    """summary.md's settings line (:func:`settings_parts`)."""
    parts = settings_parts(rows, vary)
    return ["**Settings:** " + "; ".join(parts) + ".  "] if parts else []


def host_line(run_dir: Path) -> str | None:
    """The machine a run measured, from its environment.json: CPU model, CPUs allowed, host name."""
    try:
        host = json.loads((run_dir / "environment.json").read_text()).get("host") or {}
    except (OSError, ValueError):
        return None
    cpus = host.get("allowed_cpus") or []
    return f"{host.get('cpu_model', '?')}, {len(cpus)} CPUs allowed, host {host.get('hostname', '?')}"


def roofs_line(run_dir: Path) -> str | None:
    """The machine's roofs the run measured, from its environment.json, in one line."""
    try:
        roofs = json.loads((run_dir / "environment.json").read_text()).get("roofs")
    except (OSError, ValueError):
        return None
    return describe_roofs(roofs)


@dataclass(frozen=True)
class _Shown:
    """Which of the optional columns the table has."""

    options: bool
    precision: bool
    roof: bool
    accuracy: bool


def _figures(row: Row, shown: _Shown) -> list[str]:
    """A row's cells after its ratio, the optional ones where the table has them."""
    cells = [format_speedup(row)] if shown.precision else []
    cells += [_fmt(row["throughput_per_s"], 0)]
    cells += [format_roof_pct(row)] if shown.roof else []
    cells += [_fmt(row["cpu_percent"], 0), _fmt(row["peak_rss_mb"], 0)]
    cells += [_fmt(row["import_s"], 2), _fmt(row.get("ready_s"), 2)]
    cells += [format_accuracy(row), format_accuracy_drop(row)] if shown.accuracy else []
    cells += [format_cosine(row), format_sqnr(row), format_top1(row)] if shown.precision else []
    return [*cells, _md_parity(row), _md_status(row)]


def markdown_summary(
    rows: list[Row],
    run_id: str,
    baseline: str | None = None,
    host: str | None = None,
    roofs: str | None = None,
) -> str:
    """The run as a Markdown document: a heading, one table line per cell, a not-ok note."""
    vary = varying_keys(rows)
    ratios = relative_to(rows, baseline)
    # The options column sits right after the framework, in the header as in every row.
    options_vary = _options_vary(rows)
    headers = ["framework", *(["options"] if options_vary else []), *(_header(key) for key in vary)]
    tail_header, tail_value = tail_column(rows)
    precision = shows_precision(rows)
    roof = any(row.get("roof_pct_measured") is not None for row in rows)
    headers += ["p50 ms", tail_header, relative_header(baseline), *(["speed-up"] if precision else [])]
    headers += ["samples/s", *(["% roof"] if roof else []), "CPU %", "peak MB", "import s", "ready s"]
    accuracy = has_accuracy(rows)
    headers += [*(["accuracy", "vs ref"] if accuracy else []), *(_FIDELITY if precision else [])]
    headers += ["parity", "status"]
    right = {"framework", "options", "parity", "status"}  # left-aligned text columns; numbers align right
    lines = [
        f"# Benchmark run `{run_id}`",
        "",
        *_settings_lines(rows, vary),
        *([f"**Host:** {host}  "] if host else []),
        *([f"**Roofs:** {roofs}  "] if roofs else []),
        "",
        f"`{relative_header(baseline)}`: each cell's p50 over the "
        + (f"p50 of {baseline}" if baseline else "fastest p50 among the frameworks")
        + " at the same settings (1.00x is that one).",
        *_roof_note(roof),
        *_accuracy_note(rows, accuracy),
        *(_PRECISION_NOTE if precision else []),
        "",
        "| " + " | ".join(headers) + " |",
        "|" + "|".join(":---" if h in right else "---:" for h in headers) + "|",
    ]
    shown = _Shown(options_vary, precision, roof, accuracy)
    for row in rows:
        cells = [framework_label(row)]
        cells += [md_escape(non_default(row["framework"], row.get("options_json")))] if options_vary else []
        cells += [display_value(row.get(key)) for key in vary]
        cells += [format_ms(row["latency_ms_p50"]), tail_value(row), format_ratio(ratios[row["cell_id"]])]
        lines.append("| " + " | ".join(cells + _figures(row, shown)) + " |")
    lines += ["", _not_ok_note(rows, vary), ""]
    warned = [row for row in rows if row.get("warnings")]
    if warned:
        lines += ["Figures to read with care:", ""]
        lines += [f"- {cell_label(row, vary)}: {md_escape(row['warnings'])}" for row in warned]
        lines.append("")
    return "\n".join(lines)


def write_markdown(rows: list[Row], run_dir: Path, baseline: str | None = None) -> Path:
    """Write summary.md, fit for a CI job page (e.g. $GITHUB_STEP_SUMMARY)."""
    path = run_dir / "summary.md"
    text = markdown_summary(rows, run_id_of(rows, run_dir), baseline, host_line(run_dir), roofs_line(run_dir))
    io.write_bytes(text.encode(), path)
    return path

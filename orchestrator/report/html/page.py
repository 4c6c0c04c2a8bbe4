"""report.html: one self-contained page per run -- the summary table, the charts as interactive
plotly figures, every warning, the settings and the environments -- that opens from disk with
no network (plotly's JavaScript is inlined once, in the head)."""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

from orchestrator.report.html.chart import Chart, labeller
from orchestrator.report.html.fidelity import fidelity_chart
from orchestrator.report.html.latency import latency_chart, read_samples
from orchestrator.report.html.phases import phases_chart
from orchestrator.report.html.roofline import roofline_chart
from orchestrator.report.html.sections import environment_section, settings_section, warnings_section
from orchestrator.report.html.sweeps import load_chart, sweep_chart
from orchestrator.report.html.table import SORT_SCRIPT, summary_table
from orchestrator.report.labels import Row, describe_roofs, run_id_of, settings_parts, varying_keys
from orchestrator.report.markdown import host_line
from schemas import io

_STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 1.5em 2em; color: #1f2933; }
h1 { font-size: 1.5em; } h2 { margin-top: 2em; border-bottom: 1px solid #ddd; }
nav a { margin-right: 1em; }
.scroll { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; font-size: 12.5px; }
th, td { border: 1px solid #e1e4e8; padding: 3px 6px; vertical-align: top; text-align: left; }
#summary th { background: #f4f5f7; cursor: pointer; position: sticky; top: 0; white-space: nowrap; }
#summary th[data-order=asc]::after { content: " \\25B2"; }
#summary th[data-order=desc]::after { content: " \\25BC"; }
#summary td { white-space: nowrap; } #summary td.number { text-align: right; }
#summary tr:not(.status-ok) td { background: #fdecea; }
table.kv th { background: #f8f9fa; font-weight: 600; white-space: nowrap; }
pre { margin: 0; font-size: 11.5px; max-height: 24em; overflow: auto; }
.omitted, .left-out { color: #7b8794; font-style: italic; } p.left-out { margin-bottom: 0; }
.chart { margin-bottom: 1.5em; } ul.warnings > li { margin-bottom: .4em; }
"""


def write_html(rows: list[Row], run_dir: Path, baseline: str | None = None) -> Path:
    """Write report.html into ``run_dir`` (atomically) and return its path."""
    run_dir = Path(run_dir)
    environment = _read_json(run_dir / "environment.json")
    charts = build_charts(rows, run_dir, environment)
    text = render_page(rows, run_id_of(rows, run_dir), charts, environment, baseline, host_line(run_dir))
    path = run_dir / "report.html"
    io.write_bytes(text.encode(), path)
    return path


def build_charts(rows: list[Row], run_dir: Path, environment: dict[str, Any]) -> list[Chart]:
    """Every chart of the page, in order; each either drawn or saying why it is not."""
    return [
        latency_chart(rows, read_samples(run_dir / "samples.parquet")),
        phases_chart(rows),
        sweep_chart(rows),
        load_chart(rows),
        roofline_chart(rows, environment.get("roofs") or {}),
        fidelity_chart(rows),
    ]


def render_page(
    rows: list[Row],
    run_id: str,
    charts: list[Chart],
    environment: dict[str, Any],
    baseline: str | None = None,
    host: str | None = None,
) -> str:
    """The whole document as a string."""
    name = labeller(rows)
    drawn = [chart for chart in charts if chart.figure is not None]
    sections = [
        ("summary", "Summary", summary_table(rows, baseline)),
        ("charts", "Charts", "".join(_chart(chart) for chart in charts)),
        ("warnings", "Warnings", warnings_section(rows, name)),
        ("settings", "Settings of each cell", settings_section(rows, name)),
        ("environment", "Environment", environment_section(environment, rows)),
    ]
    nav = "".join(f'<a href="#{key}">{title}</a>' for key, title, _ in sections)
    body = "".join(f'<section id="{key}"><h2>{title}</h2>{html}</section>' for key, title, html in sections)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>Benchmark run {escape(run_id)}</title><style>{_STYLE}</style>"
        f"{_plotly_script() if drawn else ''}</head><body>"
        f"<h1>Benchmark run <code>{escape(run_id)}</code></h1>{_preamble(rows, host, environment)}"
        f"<nav>{nav}</nav>{body}"
        f"<script>{SORT_SCRIPT}</script></body></html>"
    )


def _preamble(rows: list[Row], host: str | None, environment: dict[str, Any]) -> str:
    """What every cell shares, the machine and its roofs (as summary.md says them), and how many
    cells were ok."""
    parts = settings_parts(rows, varying_keys(rows))
    ok = sum(row.get("status") == "ok" for row in rows)
    lines = [f"<b>Settings:</b> {escape('; '.join(parts))}." if parts else ""]
    lines.append(f"<b>Host:</b> {escape(host)}" if host else "")
    roofs = describe_roofs(environment.get("roofs"))
    lines.append(f"<b>Roofs:</b> {escape(roofs)}" if roofs else "")
    lines.append(f"<b>Cells:</b> {ok} of {len(rows)} ok.")
    return "".join(f"<p>{line}</p>" for line in lines if line)


def _chart(chart: Chart) -> str:
    """A drawn chart's figure (a div and its plotting script), or its one-line reason."""
    if chart.figure is None:
        why = f"{chart.title}: not drawn, {chart.omitted}."
        return f'<p class="omitted" id="omitted-{chart.key}">{escape(why)}</p>'
    figure = chart.figure.to_html(
        full_html=False, include_plotlyjs=False, div_id=f"chart-{chart.key}", config={"displaylogo": False}
    )
    notes = "".join(f"<li>{escape(note)}</li>" for note in chart.notes)
    notes = f'<p class="left-out">Not in this chart:</p><ul class="left-out">{notes}</ul>' if notes else ""
    return f'<div class="chart">{figure}{notes}</div>'


def _plotly_script() -> str:
    """plotly.js itself, inlined: the page needs no network to draw its charts."""
    from plotly.offline import get_plotlyjs

    return f'<script type="text/javascript">{get_plotlyjs()}</script>'


def _read_json(path: Path) -> dict[str, Any]:
    try:
        found = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}

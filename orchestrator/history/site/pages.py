"""The site's HTML pages: the index of configurations, one page per configuration, the list of
regressions. Plain HTML (every value escaped) around the plotly fragments of ``site.charts``;
each page loads the one ``plotly.min.js`` beside it, so the site opens from ``file://`` with no
network and no server."""

from __future__ import annotations

import re
from html import escape
from typing import Any

from orchestrator.figures.stats import format_p_value
from orchestrator.history.site.findings import Findings, Regression
from orchestrator.history.site.series import Series, columns_of, run_time
from orchestrator.report.labels import format_ms
from schemas.configuration import display_value, framework_label, header

Row = dict[str, Any]

PLOTLY_FILE = "plotly.min.js"

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em auto; padding: 0 1em; max-width: 1200px; }
nav a { margin-right: 1em; } h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
table { border-collapse: collapse; font-size: 0.85em; }
td, th { padding: 3px 8px; border-bottom: 1px solid #ddd; white-space: nowrap; vertical-align: top; }
th { text-align: left; background: #f4f4f4; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.bad { color: #c0392b; font-weight: bold; } .muted { color: #777; }
"""


def layout(title: str, body: str) -> str:
    """A whole page: ``body`` under the site's navigation, with plotly.js loaded from beside it."""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>
<link rel="icon" href="data:,"><style>{_STYLE}</style>
<script src="{PLOTLY_FILE}" charset="utf-8"></script></head>
<body><nav><a href="index.html">configurations</a><a href="regressions.html">regressions</a>\
<a href="feed.xml">feed (Atom)</a></nav>
<h1>{escape(title)}</h1>
{body}
</body></html>
"""


def _table(table_id: str, headers: list[str], rows: list[list[str]]) -> str:
    """A table whose cells are already HTML; numeric-looking cells are right-aligned."""
    head = "".join(f"<th>{escape(text)}</th>" for text in headers)
    lines = []
    for cells in rows:
        shown = "".join(f'<td class="{_align(cell)}">{cell}</td>' for cell in cells)
        lines.append(f"<tr>{shown}</tr>")
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{"".join(lines)}</tbody></table>'


_NUMBER = re.compile(r"^[+-]?[\d.,]+( %| \[.*\])?$")  # 12, +4.1 %, 0.896 [0.88, 0.91]


def _align(cell: str) -> str:
    return "num" if _NUMBER.match(re.sub(r"<[^>]+>", "", cell)) else ""


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:+.1f} %"


def _p50(row: Row | None) -> str:
    if row is None or row.get("latency_ms_p50") is None:
        return "-"
    low, high = row.get("latency_ms_p50_ci_low"), row.get("latency_ms_p50_ci_high")
    interval = f" [{format_ms(low)}, {format_ms(high)}]" if low is not None and high is not None else ""
    return f"{format_ms(row['latency_ms_p50'])}{interval}"


def _mb(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _when(run_id: str) -> str:
    return run_time(run_id).strftime("%Y-%m-%d %H:%M")


def _link(series: Series) -> str:
    return f'<a href="{escape(series.page)}">{escape(series.title)}</a>'


def _run_cell(row: Row | None, run_id: str) -> str:
    """A run on one side of a regression: its id, p50 [interval], framework version, commit."""
    if row is None:
        return f"{escape(run_id)} <span class='muted'>(no longer in the history)</span>"
    details = [_p50(row) + " ms", f"{row.get('framework')} {row.get('framework_version') or '?'}"]
    details.append(f"commit {(row.get('git_commit') or '?')[:12]}")
    return escape(run_id) + "".join(f"<br><span class='muted'>{escape(line)}</span>" for line in details)


def regression_rows(regressions: list[Regression], series_by_key: dict[Any, Series]) -> list[list[str]]:
    """One table line per regression: when, what, by how much, on what evidence, both runs."""
    lines = []
    for found in regressions:
        verdict = found.verdict
        series = series_by_key[found.series]
        how = "judged here" if found.replayed else "gate"
        lines.append(
            [
                escape(_when(str(verdict["run_id"]))),
                _link(series),
                f"<span class='bad'>{escape(_pct(verdict.get('p50_change_pct')))}</span>",
                escape(_pct(verdict.get("peak_rss_change_pct"))),
                escape(format_p_value(float(verdict["p_value"]))),
                escape(f"{verdict.get('base_processes')} vs {verdict.get('new_processes')}"),
                escape(f"{found.threshold_pct:g} % ({how})"),
                _run_cell(found.base, str(verdict["base_run_id"])),
                _run_cell(found.new, str(verdict["run_id"])),
            ]
        )
    return lines


REGRESSION_HEADERS = [
    "when",
    "configuration",
    "p50",
    "peak RSS",
    "p-value",
    "processes",
    "gate at",
    "base run",
    "new run",
]


def regressions_page(findings: Findings, series_by_key: dict[Any, Series]) -> str:
    """Every regression the gate found, newest first, with the runs on each side."""
    intro = (
        f"<p>{len(findings.regressions)} regression(s). The gate recorded its verdicts on "
        f"{findings.gated_runs} run(s); {findings.replayed_runs} run(s) appended without them were "
        "judged here the same way (each cell against each of the last comparable runs, every "
        "process beyond every earlier one, Mann-Whitney p &lt; 0.01).</p>"
    )
    not_judged = "".join(f"<li>{escape(line)}</li>" for line in findings.not_judged)
    body = intro + (f"<p>Not judged:</p><ul id='not-judged'>{not_judged}</ul>" if not_judged else "")
    body += _table("regressions", REGRESSION_HEADERS, regression_rows(findings.regressions, series_by_key))
    return layout("Regressions found by the gate", body)


def index_page(all_series: list[Series], findings: Findings, overview: str, runs: list[str]) -> str:
    """Every configuration (model x framework x scenario x precision x machine) with its
    newest figures; the overview chart; the newest regressions."""
    counts: dict[Any, int] = {}
    for found in findings.regressions:
        counts[found.series] = counts.get(found.series, 0) + 1
    lines = [_index_row(series, counts.get(series.key, 0)) for series in all_series]
    headers = ["model", "framework (its page)", "scenario", "precision", "settings", "machine"]
    headers += ["runs", "latest run", "latest p50 ms [95 %]", "vs previous", "changes", "regressions"]
    hosts = sorted({series.host for series in all_series})
    newest = regression_rows(findings.regressions[:10], {series.key: series for series in all_series})
    span = f"{_when(runs[0])} to {_when(runs[-1])}" if runs else "no run"
    body = (
        f"<p>{len(runs)} runs, {span}, on {len(hosts)} machine(s) ({escape(', '.join(hosts))}); "
        f"{len(all_series)} configurations; <a href='regressions.html'>{len(findings.regressions)} "
        "regression(s)</a>.</p>"
        f"<h2>Every configuration's p50 over time</h2>{overview}"
        f"<h2>Configurations</h2>{_table('configurations', headers, lines)}"
        f"<h2>Newest regressions</h2>{_table('newest-regressions', REGRESSION_HEADERS, newest)}"
    )
    return layout("Benchmark history", body)


def _index_row(series: Series, regressions: int) -> list[str]:
    row = series.latest
    ok = series.ok_rows
    previous_change = None
    if len(ok) >= 2 and ok[-2]["latency_ms_p50"]:
        previous_change = (ok[-1]["latency_ms_p50"] / ok[-2]["latency_ms_p50"] - 1.0) * 100.0
    return [
        escape(display_value(row.get("model"))),
        f'<a href="{escape(series.page)}">{escape(framework_label(row))}</a>',
        escape(display_value(row.get("scenario"))),
        escape(display_value(row.get("precision"))),
        escape(series.settings or "-"),
        escape(series.host),
        str(len(series.rows)),
        escape(_when(str(row["run_id"]))),
        escape(_p50(ok[-1] if ok else None)),
        escape(_pct(previous_change)),
        str(len(series.changes)),
        f"<span class='bad'>{regressions}</span>" if regressions else "0",
    ]


def config_page(
    series: Series, chart: str, regressions: list[Regression], series_by_key: dict[Any, Series]
) -> str:
    """One configuration on one machine: its settings, its trend, what changed, its regressions
    and every run."""
    settings = [
        [escape(header(column)), escape(display_value(value))] for column, value in columns_of(series).items()
    ]
    changes = [
        [escape(_when(change.run_id)), escape(change.run_id), escape(change.kind), escape(change.text)]
        for change in series.changes
    ]
    runs = [
        [
            escape(str(row["run_id"])),
            escape(str(row.get("status"))),
            escape(_p50(row)),
            escape(_mb(row.get("peak_rss_mb"))),
            escape(str(row.get("framework_version") or "-")),
            escape((row.get("git_commit") or "-")[:12]),
        ]
        for row in reversed(series.rows)
    ]
    what_changed = (
        _table("changes", ["when", "run", "what", "change"], changes)
        if changes
        else "<p>Nothing recorded changed: the same framework version, environment and host throughout.</p>"
    )
    body = (
        f"<h2>Trend</h2>{chart}"
        f"<h2>Regressions the gate found</h2>"
        f"{_table('series-regressions', REGRESSION_HEADERS, regression_rows(regressions, series_by_key))}"
        f"<h2>What changed</h2>{what_changed}"
        f"<h2>Configuration</h2>{_table('settings', ['column', 'value'], settings)}"
        f"<h2>Runs (newest first)</h2>"
        f"{_table('runs', ['run', 'status', 'p50 ms [95 %]', 'peak RSS MB', 'version', 'commit'], runs)}"
    )
    return layout(series.title, body)

"""The browsable history, as ``asv publish`` writes one, openable from ``file://``:

- ``index.html``: every configuration (model x framework x scenario x precision x machine, the
  one key of ``schemas.configuration``) with its newest figures, and every p50 over time;
- ``c-<config_id>--<host>.html``: one configuration's trend with its 95 % band, where the
  framework version, environment or host changed, its regressions and runs;
- ``regressions.html``: the regressions the gate found, with the runs on each side;
- ``feed.xml``: those regressions as an Atom feed;
- ``plotly.min.js``: plotly.js, once, loaded by every page (no network).

``series`` groups the rows, ``findings`` gathers the gate's verdicts, ``charts`` draws,
``pages`` and ``feed`` write.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from orchestrator.history.site import charts, pages
from orchestrator.history.site.feed import atom_feed
from orchestrator.history.site.findings import Findings, Regression, find_regressions
from orchestrator.history.site.series import Series, SeriesKey, build_series, run_time
from orchestrator.history.store import HistoryError, read_history, run_ids
from schemas.files import write_bytes


@dataclass(frozen=True)
class Site:
    """What was written: the index page, and what it holds."""

    index: Path
    runs: int
    series: int
    findings: Findings


def write_site(
    history_dir: Path, output_dir: Path, *, threshold_pct: float = 10.0, window: int = 5, base_url: str = ""
) -> Site:
    """Write the site of ``history_dir`` into ``output_dir`` (created; its pages replaced).

    ``threshold_pct`` and ``window`` judge what the gate did not record (see ``findings``).
    Raises :class:`HistoryError` for a directory that is not a history or holds no run.
    """
    history_dir, output_dir = Path(history_dir), Path(output_dir)
    if not (history_dir / "summary").is_dir():
        raise HistoryError(f"{history_dir}: not a history (no summary/ directory: expected --history's DIR)")
    runs = run_ids(history_dir)
    if not runs:
        raise HistoryError(f"{history_dir}: the history holds no run")
    rows = read_history(history_dir).to_pylist()
    all_series = build_series(rows)
    findings = find_regressions(history_dir, rows, threshold_pct, window)
    output_dir.mkdir(parents=True, exist_ok=True)
    write_bytes(charts.plotly_js().encode(), output_dir / pages.PLOTLY_FILE)
    by_key = {series.key: series for series in all_series}
    for series in all_series:
        _write_config_page(series, findings.regressions, by_key, output_dir)
    write_bytes(pages.regressions_page(findings, by_key).encode(), output_dir / "regressions.html")
    newest = max((run_time(run_id) for run_id in runs), default=datetime.now(UTC))
    page_of = {id(found): by_key[found.series].page for found in findings.regressions}
    write_bytes(atom_feed(findings.regressions, page_of, base_url, newest), output_dir / "feed.xml")
    overview = charts.fragment(charts.overview_figure(all_series), "overview")
    index = output_dir / "index.html"
    write_bytes(pages.index_page(all_series, findings, overview, runs).encode(), index)
    return Site(index, len(runs), len(all_series), findings)


def _write_config_page(
    series: Series, regressions: list[Regression], by_key: dict[SeriesKey, Series], output_dir: Path
) -> None:
    mine = [found for found in regressions if found.series == series.key]
    chart = charts.fragment(charts.trend_figure(series, mine), "trend")
    write_bytes(pages.config_page(series, chart, mine, by_key).encode(), output_dir / series.page)

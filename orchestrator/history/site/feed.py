"""``feed.xml``: the gate's regressions as an Atom feed (RFC 4287), for a nightly job to publish.

Each regression is one entry whose id is stable (its run and configuration), so a feed reader
shows a regression once however often the site is rebuilt. Written with the standard library's
ElementTree.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime

from orchestrator.figures.stats import format_p_value
from orchestrator.history.site.findings import Regression
from orchestrator.history.site.series import run_time

ATOM = "http://www.w3.org/2005/Atom"
FEED_ID = "urn:inference-bench:history:regressions"
MAX_ENTRIES = 100  # the newest; a reader keeps what it has seen


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attributes)
    if text is not None:
        element.text = text
    return element


def entry_title(found: Regression) -> str:
    """``mlp onnxruntime single-stream fp32 on vm: p50 +23.4 %`` (or its peak memory)."""
    verdict = found.verdict
    change = verdict.get("p50_change_pct")
    parts = []
    if verdict.get("latency_verdict") == "slower" and change is not None:
        parts.append(f"p50 {change:+.1f} %")
    memory = verdict.get("peak_rss_change_pct")
    if verdict.get("more_memory") and memory is not None:
        parts.append(f"peak RSS {memory:+.1f} %")
    return f"{verdict.get('label')} on {found.series[1]}: {', '.join(parts) or 'regression'}"


def atom_feed(
    regressions: list[Regression], pages: dict[int, str], base_url: str, updated: datetime
) -> bytes:
    """The feed: the newest :data:`MAX_ENTRIES` regressions (newest first). ``pages`` maps
    ``id(regression)`` to its configuration page; ``base_url`` is where the site is published
    (links are relative to it; empty: relative to the feed itself)."""
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed")
    if base_url:
        feed.set("{http://www.w3.org/XML/1998/namespace}base", base_url.rstrip("/") + "/")
    _sub(feed, "title", "inference-bench: regressions found by the nightly gate")
    _sub(feed, "id", FEED_ID)
    _sub(feed, "updated", _iso(updated))
    _sub(feed, "link", rel="alternate", type="text/html", href="regressions.html")
    _sub(feed, "link", rel="self", type="application/atom+xml", href="feed.xml")
    author = _sub(feed, "author")
    _sub(author, "name", "inference-bench history report")
    for found in regressions[:MAX_ENTRIES]:
        verdict = found.verdict
        entry = _sub(feed, "entry")
        _sub(entry, "title", entry_title(found))
        _sub(entry, "id", f"{FEED_ID}:{verdict['run_id']}:{verdict['config_id']}:{found.series[1]}")
        _sub(entry, "updated", _iso(run_time(str(verdict["run_id"]))))
        _sub(entry, "link", rel="alternate", type="text/html", href=pages[id(found)])
        _sub(entry, "summary", _summary(found))
    body: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return body


def _summary(found: Regression) -> str:
    verdict = found.verdict
    base, new = verdict.get("base_p50_ms"), verdict.get("new_p50_ms")
    p50s = f"p50 {base:.4g} ms -> {new:.4g} ms; " if base is not None and new is not None else ""
    return (
        f"run {verdict['run_id']} against {verdict['base_run_id']}: {p50s}"
        f"{verdict.get('latency_verdict')}, p-value {format_p_value(float(verdict['p_value']))}, processes "
        f"{verdict.get('base_processes')} vs {verdict.get('new_processes')}; gate at "
        f"{found.threshold_pct:g} %."
    )

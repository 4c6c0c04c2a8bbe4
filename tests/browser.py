"""Open a page from disk in Debian's headless Chromium and say what rendered.

The suite's one way into a real browser, for the run report (report.html) and the history site:
``chromium`` is a session-wide fixture (one browser for the whole session, a fresh page per
call) whose :meth:`Chromium.open` loads a ``file://`` page, waits until every plotly plot on it
has drawn, and returns a :class:`PageReport`: how many elements each CSS selector matched, every
JavaScript error (console errors and uncaught exceptions), every request that left the disk, and
optionally a screenshot.

Driven by Playwright's Python package, launched on the system's browser (``/usr/bin/chromium``,
Debian's ``chromium`` package, which .ci/run installs): Playwright's own browser download is
neither needed nor used. Where either is missing the tests skip, saying which; under CI=1 they
fail instead, since .ci/run installs both.

Use: ``def test_x(chromium: Chromium) -> None: page = chromium.open(path); assert ...``. The
fixture reaches every test module through tests/conftest.py.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")

# What a page's plots and tables are made of; callers may ask for more selectors.
DEFAULT_SELECTORS: dict[str, str] = {
    "plots": ".js-plotly-plot",  # one per plotly figure
    "plot_svgs": ".js-plotly-plot svg.main-svg",  # plotly draws each figure in 2-3 of these
    "svg": "svg",
    "canvas": "canvas",  # WebGL traces (scattergl) draw here instead of in the svg
    "tables": "table",
    "table_rows": "table tbody tr",
}

# True once every plotly figure on the page has drawn its svg (vacuously true without plots).
_PLOTS_DRAWN = """() => Array.from(document.querySelectorAll('.js-plotly-plot'))
    .every(plot => plot.querySelector('svg.main-svg') !== null)"""

_LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:")


@dataclass
class PageReport:
    """What a page showed once loaded: element counts, JavaScript errors, outside requests."""

    counts: dict[str, int]
    errors: list[str] = field(default_factory=list)  # console errors and uncaught exceptions
    requests: list[str] = field(default_factory=list)  # URLs fetched from anywhere but the disk
    title: str = ""
    screenshot: Path | None = None
    values: dict[str, Any] = field(default_factory=dict)  # what each of ``scripts`` returned


class Chromium:
    """One headless Chromium; :meth:`open` gives each page a fresh tab."""

    def __init__(self, browser: Any) -> None:
        self._browser = browser

    def open(
        self,
        path: Path,
        selectors: Mapping[str, str] | None = None,
        screenshot: Path | None = None,
        scripts: Mapping[str, str] | None = None,
        timeout_s: float = 30.0,
        width: int = 1400,
    ) -> PageReport:
        """Load ``path`` (a file on disk), wait for its plots, and count ``selectors``.

        ``selectors`` adds to (or overrides) :data:`DEFAULT_SELECTORS`. Requests to the network
        are recorded and refused, so a page that needs one shows it in ``requests`` and in its
        errors rather than by hanging. ``screenshot`` writes a full-page PNG there. ``scripts``
        are JavaScript functions run in the page once it is drawn, in order (after the counts
        and the screenshot: they may click); ``values`` holds what each returned.
        """
        page = self._browser.new_page(viewport={"width": width, "height": 900})
        report = PageReport(counts={})
        page.on("console", lambda message: _keep_error(report, message))
        page.on("pageerror", lambda error: report.errors.append(f"uncaught: {error}"))
        page.route("**/*", lambda route: _local_only(report, route))
        try:
            page.goto(Path(path).resolve().as_uri(), wait_until="load", timeout=timeout_s * 1000)
            page.wait_for_function(_PLOTS_DRAWN, timeout=timeout_s * 1000)
            wanted = DEFAULT_SELECTORS | dict(selectors or {})
            report.counts = {name: page.locator(css).count() for name, css in wanted.items()}
            report.title = page.title()
            if screenshot is not None:
                page.screenshot(path=str(screenshot), full_page=True)
                report.screenshot = screenshot
            report.values = {name: page.evaluate(script) for name, script in (scripts or {}).items()}
        finally:
            page.close()
        return report


def _keep_error(report: PageReport, message: Any) -> None:
    if message.type == "error":
        report.errors.append(f"console: {message.text}")


def _local_only(report: PageReport, route: Any) -> None:
    """Let files from the disk load; refuse, and record, anything from the network."""
    url = route.request.url
    if url.startswith(_LOCAL_SCHEMES):
        route.continue_()
    else:
        report.requests.append(url)
        route.abort()


def missing_browser() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -c constraints.txt -e '.[dev]')"
    if not (CHROMIUM.exists() or shutil.which("chromium")):
        return f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium; .ci/run does)"
    return None


def need_browser() -> None:
    """Skip, saying why, where there is no browser to test in; under CI=1 fail instead."""
    reason = missing_browser()
    if reason is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; .ci/run should have installed it")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium() -> Iterator[Chromium]:
    """A headless Chromium for the whole session (or a skip, or under CI=1 a failure, saying why)."""
    need_browser()
    from playwright.sync_api import sync_playwright

    executable = CHROMIUM if CHROMIUM.exists() else Path(shutil.which("chromium") or CHROMIUM)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(executable), headless=True)
        try:
            yield Chromium(browser)
        finally:
            browser.close()

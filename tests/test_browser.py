"""The browser harness itself (tests/browser.py), on a page small enough to read whole."""

from __future__ import annotations

from pathlib import Path

from browser import Chromium

_PAGE = """<!doctype html><html><head><title>harness</title></head><body>
<svg width="10" height="10"><rect width="5" height="5"/></svg>
<table><thead><tr><th>a</th></tr></thead><tbody><tr><td>1</td></tr><tr><td>2</td></tr></tbody></table>
<img src="https://example.invalid/pixel.png">
<script>console.error("said on purpose"); throw new Error("thrown on purpose");</script>
</body></html>"""


def test_counts_elements_and_catches_errors_and_outside_requests(chromium: Chromium, tmp_path: Path) -> None:
    page_path = tmp_path / "page.html"
    page_path.write_text(_PAGE)
    shot = tmp_path / "page.png"

    page = chromium.open(page_path, selectors={"rects": "rect"}, screenshot=shot)

    assert page.title == "harness"
    assert page.counts["svg"] == 1 and page.counts["rects"] == 1
    assert page.counts["table_rows"] == 2  # body rows only, not the header
    assert page.counts["plots"] == 0
    assert any("said on purpose" in error for error in page.errors)
    assert any("thrown on purpose" in error for error in page.errors)
    assert page.requests == ["https://example.invalid/pixel.png"]
    assert shot.read_bytes().startswith(b"\x89PNG")


def test_a_clean_page_has_no_errors(chromium: Chromium, tmp_path: Path) -> None:
    page_path = tmp_path / "clean.html"
    page_path.write_text("<!doctype html><title>clean</title><p>nothing to see</p>")

    page = chromium.open(page_path)

    assert page.errors == [] and page.requests == []

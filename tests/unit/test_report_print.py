"""The report fits an A4 page's width and prints on a few pages, measured in a real headless browser (Chromium)
for tasks unlike the moderation sample: 150 labels, and 120 tool calls the base model answered with a long echo.

Without Chromium these tests skip, saying why; with BFT_REQUIRE_BROWSER=1 (CI, .ci/run) they fail instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bft.report.render import render
from tests.unit.report_browser import (
    A4_WIDTH_PX,
    REQUIRE_VARIABLE,
    browser_required,
    find_browser,
    measure,
    pdf_pages,
    printed_pages,
)
from tests.unit.report_runs import classification_run, tooluse_run

MAX_PAGES = 10


@pytest.fixture(scope="module")
def browser() -> str:
    found = find_browser()
    if found is None:
        reason = "no Chromium on PATH (apt-get install chromium) to measure the report's layout and pages"
        if browser_required():
            pytest.fail(f"{reason}, and {REQUIRE_VARIABLE}=1 requires it")
        pytest.skip(reason)
    return found


def test_the_measurement_sees_an_overflowing_page(browser: str, tmp_path: Path) -> None:
    """The checks below can fail: a table wider than the page is reported, a plain page is not."""
    wide = '<!DOCTYPE html><html><body><table style="width:3000px"><tr><td>wide</td></tr></table></body></html>'
    layout = measure(wide, tmp_path, browser)
    assert not layout.fits
    assert layout.scroll_width > layout.client_width
    assert layout.widest_table == 3000
    narrow = measure("<!DOCTYPE html><html><body><p>narrow</p></body></html>", tmp_path, browser)
    assert narrow.fits
    assert A4_WIDTH_PX - 40 <= narrow.client_width <= A4_WIDTH_PX
    tall = "<!DOCTYPE html><html><body>" + '<div style="height:900px">x</div>' * 6 + "</body></html>"
    assert printed_pages(tall, tmp_path, browser) > 3


def test_pdf_pages_counts_pages_not_the_page_tree() -> None:
    pdf = b"%PDF-1.4\n1 0 obj <</Type /Pages /Kids [2 0 R 3 0 R]>>\n2 0 obj <</Type /Page>>\n3 0 obj <</Type/Page>>\n"
    assert pdf_pages(pdf) == 2


@pytest.mark.parametrize(
    ("name", "build"),
    [("150 labels", lambda: classification_run(labels=150)), ("120 tool calls", lambda: tooluse_run(records=120))],
)
def test_the_report_fits_the_page_width_and_prints_on_a_few_pages(
    browser: str, tmp_path: Path, name: str, build: Any
) -> None:
    report, documents = build()
    page = render(report, documents)["report.html"]
    layout = measure(page, tmp_path, browser)
    assert layout.scroll_width <= layout.client_width, f"{name}: the page scrolls sideways ({layout})"
    assert layout.widest_table <= layout.client_width, f"{name}: a table is wider than the page ({layout})"
    assert layout.overflowing == 0, f"{name}: {layout.overflowing} elements pass the page's right edge"
    pages = printed_pages(page, tmp_path, browser)
    assert 1 < pages <= MAX_PAGES, f"{name}: prints on {pages} A4 pages"

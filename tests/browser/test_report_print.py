"""The report as a person sees it: rendered by Chromium to a screenshot and printed to PDF
(var/screenshots/report-*.png, var/reports/report-*.pdf, for a person to look at)."""

import re

import pytest
from playwright.async_api import Browser

from server.reports.model import Scope, build_report
from server.reports.render import render_html
from tests.browser.conftest import ROOT, SCREENSHOTS
from tests.fixtures.report_session import HIDE_REASON, MUTE_REASON, recorded_session

REPORTS = ROOT / "var" / "reports"
# A4 in CSS pixels at 96 dpi, less the print stylesheet's margins (14 mm a side).
A4_CONTENT_WIDTH_PX = 794 - 2 * 53


@pytest.mark.browser
@pytest.mark.parametrize(("view", "language"), [("public", "en"), ("full", "fr")])
async def test_the_report_renders_in_chromium_and_prints_cleanly_to_pdf(
    browser: Browser, view: str, language: str
) -> None:
    session = recorded_session()
    report = build_report(session.export, Scope.of(), public=view == "public")
    REPORTS.mkdir(parents=True, exist_ok=True)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page_file = REPORTS / f"report-{view}-{language}.html"
    page_file.write_text(render_html(report, language), encoding="utf-8")
    page = await browser.new_page(viewport={"width": 1100, "height": 900})
    try:
        await page.goto(page_file.as_uri())
        text = await page.inner_text("body")
        assert HIDE_REASON in text and MUTE_REASON in text
        # Every chart drew: each SVG has a size on the page.
        sizes = await page.eval_on_selector_all(
            "svg.chart", "charts => charts.map(c => c.getBoundingClientRect().height)"
        )
        assert len(sizes) >= 10 and min(sizes) > 0
        await page.screenshot(
            path=str(SCREENSHOTS / f"report-{view}-{language}.png"), full_page=True
        )

        await page.emulate_media(media="print")
        await page.set_viewport_size({"width": A4_CONTENT_WIDTH_PX, "height": 1000})
        # Nothing wider than the printed page: no chart or table cut at its right edge.
        overflow = await page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0
        breaks = await page.eval_on_selector_all(
            "section.room", "rooms => rooms.map(r => getComputedStyle(r).breakBefore)"
        )
        assert breaks == ["page"] * len(report.rooms)
        pdf = await page.pdf(format="A4", print_background=True)
    finally:
        await page.close()
    (REPORTS / f"report-{view}-{language}.pdf").write_bytes(pdf)
    assert pdf.startswith(b"%PDF")
    pages = len(re.findall(rb"/Type\s*/Page[^s]", pdf))
    # The summary, then each room from a new page.
    assert pages >= 1 + len(report.rooms)

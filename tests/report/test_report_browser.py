"""The report opened from disk in headless Debian Chromium (Playwright): the charts load and show,
nothing is fetched from anywhere, and the screenshot is a page, not a blank."""

from __future__ import annotations

import io
import re
import shutil

import pytest
from PIL import Image, ImageStat

from pipeline.report.render import write_report
from pipeline.storage.db import init_db, make_engine, session_scope

from report_helpers import CHROMIUM, CHROMIUM_ARGS, seed_small

playwright_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(shutil.which(CHROMIUM) is None,
                                reason="Debian's chromium is not installed (scripts/install.sh)")

CHART_BLUE = (0x4C, 0x72, 0xB0)  # charts.COLORS["pages"], the first series of both charts


def _has_colour(image: Image.Image, rgb, tolerance: int = 12) -> bool:
    return any(all(abs(a - b) <= tolerance for a, b in zip(pixel[:3], rgb))
               for _, pixel in image.convert("RGB").getcolors(maxcolors=1 << 20))


def test_report_charts_render_in_chromium(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'hotich.db'}")
    init_db(engine)
    with session_scope(engine) as s:
        seed_small(s)
    out = tmp_path / "bao-cao.html"
    write_report(engine, out)
    engine.dispose()

    requests: list[str] = []
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("request", lambda r: requests.append(r.url))
            page.goto(out.as_uri())
            page.wait_for_load_state("load")
            charts = page.locator("figure img")
            assert charts.count() == 2
            for i in range(2):
                chart = charts.nth(i)
                assert chart.is_visible()
                loaded = chart.evaluate("img => img.complete && img.naturalWidth > 0 && img.naturalHeight > 0")
                assert loaded, f"chart {i} did not load"
                box = chart.bounding_box()
                assert box["width"] > 300 and box["height"] > 120
                shot = Image.open(io.BytesIO(chart.screenshot()))
                assert _has_colour(shot, CHART_BLUE), f"chart {i} shows no data series"
            whole = Image.open(io.BytesIO(page.screenshot(full_page=True)))
            # Every record in exactly one state (issue 19 §9): the record card's parts and each
            # row's five state columns add up to its records.
            card = page.inner_text("#card-records")
            total, *parts = [int(n.replace(".", "")) for n in re.findall(r"\d[\d.]*", card)]
            assert len(parts) == 5 and sum(parts) == total, card
            rows = page.eval_on_selector_all(
                "#progress-table tbody tr", "rows => rows.map(r => [...r.cells].map(c => c.innerText))")
            assert rows
            for cells in rows:
                numbers = [int(c.replace(".", "")) for c in cells[8:14]]
                assert numbers[0] == sum(numbers[1:]), cells
        finally:
            browser.close()

    assert [u for u in requests if not u.startswith(("file:", "data:"))] == []
    grey = whole.convert("L")
    assert whole.height > 900  # the page is longer than one screen
    assert ImageStat.Stat(grey).stddev[0] > 20  # not a blank page
    assert len(grey.getcolors(maxcolors=1 << 16) or []) > 50

"""The supervisor page in Chromium: every record of a book in exactly one column (issue 19 §9).

A book's records read with nothing to doubt (``extracted``, no link to decide) used to be in no
column: "30 records" beside "1 approved + 28 waiting". A book of its own (review_helpers), so
its figures are known: 2 pages × 2 rows, row 1 of each page doubtful, row 2 read for sure.
"""

from __future__ import annotations

import os
import shutil

import pytest

from pipeline.settings import Settings
from pipeline.storage.db import init_db, make_engine, session_scope

from review_helpers import PASSWORDS, make_book, make_users
from livesite import CHROMIUM, CHROMIUM_ARGS, live_server

playwright_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(shutil.which(CHROMIUM) is None,
                                reason="Debian's chromium is not installed (scripts/install.sh)")


def test_supervisor_columns_add_up_to_the_records(tmp_path):
    settings = Settings(home=tmp_path)
    engine = make_engine(settings.database_url)
    init_db(engine)
    with session_scope(engine) as s:
        make_users(s)
        make_book(s, "NT-1978-KS-09")
    with live_server(engine, settings) as base, playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_context(viewport={"width": 1400, "height": 700}).new_page()
        page.goto(base + "/login")
        page.fill("input[name=name]", "minh")
        page.fill("input[name=password]", PASSWORDS["minh"])
        with page.expect_navigation():
            page.click("button[type=submit]")
        page.goto(base + "/supervisor")
        row = page.locator('tr[data-book="NT-1978-KS-09"]')
        cells = {col: int(row.locator(f'td[data-col="{col}"]').inner_text().split()[0])
                 for col in ("records", "waiting", "exceptions", "ready", "reviewed", "approved")}
        if os.environ.get("HOTICH_SCREENSHOTS"):
            page.screenshot(path=os.path.join(os.environ["HOTICH_SCREENSHOTS"], "supervisor.png"))
        browser.close()
    engine.dispose()
    assert cells == {"records": 4, "waiting": 2, "exceptions": 0, "ready": 2, "reviewed": 0, "approved": 0}
    assert sum(v for k, v in cells.items() if k != "records") == cells["records"]

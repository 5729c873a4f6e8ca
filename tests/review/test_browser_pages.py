"""Every page type of the review app, opened in headless Debian Chromium, runs without a single
script error: login, queue, next record, record (editable, with a citizen to choose, approved
and read-only), whole-page viewer, postpone dialog, field history, search, exceptions,
supervision, user administration, and the refusal and not-found pages.

A console error or an uncaught exception on any of them fails the test with the page and the
message: "Cannot read properties of null (reading 'addEventListener')" on the read-only record
went unnoticed because no test looked.
"""

from __future__ import annotations

import re
import shutil

import pytest

from pipeline.review.actions import confirm_record
from pipeline.settings import Settings
from pipeline.storage.db import make_engine, session_scope
from pipeline.storage.models import Record

from review_helpers import PASSWORDS, make_users
from livesite import CHROMIUM, CHROMIUM_ARGS, live_server

playwright_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(shutil.which(CHROMIUM) is None,
                                reason="Debian's chromium is not installed (scripts/install.sh)")


class ScriptErrors:
    """Console errors and uncaught exceptions of every page of a browser context."""

    def __init__(self, context):
        self.seen: list[str] = []
        self.expected_status: set[str] = set()  # documents we ask for knowing they are 4xx
        context.on("page", self.watch)

    def watch(self, page) -> None:
        page.on("pageerror", lambda exc: self.seen.append(f"{page.url}: uncaught {exc}"))
        page.on("console", lambda msg: self._console(page, msg))

    def _console(self, page, msg) -> None:
        if msg.type != "error":
            return
        # Chromium reports a 4xx document as a console error; a refusal we provoke on
        # purpose is not a script error.
        if msg.text.startswith("Failed to load resource") and msg.location.get("url") in self.expected_status:
            return
        self.seen.append(f"{page.url}: console {msg.text} @ {msg.location}")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    from pipeline.review.sample import seed_sample_book
    from pipeline.storage.search_index import reindex

    home = tmp_path_factory.mktemp("review-pages")
    settings = Settings(home=home)
    engine = make_engine(settings.database_url)
    sample = seed_sample_book(engine, settings)
    reindex(engine)
    with session_scope(engine) as s:
        make_users(s)
        # Row 2 reviewed (as the keyboard test does in the browser), for the supervisor to approve.
        rid = sample.record_ids[1]
        confirm_record(s, rid, user="lan", lock_version=s.get(Record, rid).lock_version, fields={})
    with live_server(engine, settings) as base, playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield {"base": base, "engine": engine, "sample": sample, "browser": browser}
        browser.close()
    engine.dispose()


def _session(site, name: str | None):
    context = site["browser"].new_context(viewport={"width": 1400, "height": 900})
    errors = ScriptErrors(context)
    page = context.new_page()
    if name:
        page.goto(site["base"] + "/login")
        page.fill("input[name=name]", name)
        page.fill("input[name=password]", PASSWORDS[name])
        with page.expect_navigation():
            page.click("button[type=submit]")
        page.wait_for_selector("h1:has-text('Hàng chờ duyệt')")
    return context, page, errors


def _visit(site, page, path: str, errors: ScriptErrors, status: int = 200):
    url = site["base"] + path
    if status >= 400:
        errors.expected_status.add(url)
    response = page.goto(url)
    assert response.status == status, (path, response.status)
    page.wait_for_load_state("load")  # deferred scripts have run
    return response


def test_every_page_type_runs_without_script_errors(site):
    base, sample = site["base"], site["sample"]
    editable, reviewed, with_link = sample.record_ids[0], sample.record_ids[1], sample.link_record
    father = sample.truth[1]["father_name"]
    all_errors: list[str] = []

    # Not logged in: the login page, and a wrong password shown on it.
    context, page, errors = _session(site, None)
    _visit(site, page, "/login", errors)
    page.fill("input[name=name]", "lan")
    page.fill("input[name=password]", "not-her-password")
    errors.expected_status.add(base + "/login")  # answered 401, with the form again
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert page.locator(".banner.error").count() == 1
    all_errors += errors.seen
    context.close()

    # A reviewer: queue, next record, record screen with its viewer, dialog and history.
    context, page, errors = _session(site, "lan")
    _visit(site, page, "/queue", errors)
    page.goto(base + "/review/next")
    page.wait_for_url(re.compile(r"/records/\d+$"))
    _visit(site, page, f"/records/{editable}", errors)
    page.wait_for_selector(".frow .fval:focus")
    page.keyboard.press("Alt+A")  # the whole page, as scanned
    page.wait_for_selector("#page-viewer:not([hidden])")
    page.wait_for_selector("#record-mark[style*='display: block']")  # image loaded, laid out
    page.keyboard.press("+")
    page.keyboard.press("Escape")
    page.keyboard.press("Alt+H")  # postpone dialog, then cancelled
    page.wait_for_selector("#postpone-dialog[open]")
    page.keyboard.press("Escape")
    page.focus("#in-full_name")
    page.keyboard.press("Alt+S")  # history of the field, an htmx swap
    page.wait_for_selector("#history table, #history .history-list, #history li", timeout=5000)
    _visit(site, page, f"/records/{with_link}", errors)  # the link screen
    page.wait_for_selector("#links")
    _visit(site, page, f"/search?q=cha+{father.split()[-1].lower()}", errors)
    _visit(site, page, "/search?q=", errors)
    _visit(site, page, "/exceptions", errors)
    _visit(site, page, "/supervisor", errors, status=403)  # the refusal page
    _visit(site, page, "/records/999999", errors, status=404)  # the not-found page
    all_errors += errors.seen
    context.close()

    # A supervisor: supervision page, approving one record, the approved record read-only.
    context, page, errors = _session(site, "minh")
    _visit(site, page, "/supervisor", errors)
    _visit(site, page, f"/records/{reviewed}", errors)
    with page.expect_navigation():
        page.click("button:has-text('Phê duyệt bản ghi')")
    assert page.url.endswith(f"/records/{reviewed}")
    assert "chỉ xem" in page.inner_text(".banner.ok")
    page.wait_for_load_state("load")
    assert errors.seen == []  # the read-only record's script used to die here
    page.keyboard.press("Alt+H")  # nothing to postpone on an approved record: nothing happens
    page.keyboard.press("Alt+A")
    page.wait_for_selector("#page-viewer:not([hidden])")
    page.keyboard.press("Escape")
    all_errors += errors.seen
    context.close()

    # An administrator: user administration.
    context, page, errors = _session(site, "an")
    _visit(site, page, "/admin/users", errors)
    all_errors += errors.seen
    context.close()

    assert all_errors == []

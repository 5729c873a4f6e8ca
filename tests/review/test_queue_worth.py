"""The review queue is ordered by the matcher's ``review_worth`` (issue 15 part 5): records whose
review changes most come first, ties and records without a queued link in the archive's order;
on SQLite and PostgreSQL, and in the browser with the keyboard."""

from __future__ import annotations

import re
import shutil

import pytest
from livesite import CHROMIUM, CHROMIUM_ARGS, live_server
from review_helpers import PASSWORDS, make_book, make_users, principal
from sqlalchemy import select

from pipeline.review import actions
from pipeline.review.queue import Claims, next_record, queued_records
from pipeline.settings import Settings
from pipeline.storage.db import make_engine, session_scope
from pipeline.storage.models import Citizen, Link, Record


def _ids(session, code):
    return [r.id for r in session.scalars(select(Record).where(Record.record_key.like(f"{code}-%"))
                                          .order_by(Record.id))]


def _queue_link(session, record_id: int, worth: float | None, n: int) -> None:
    """A candidate the match stage left for a person, with the worth it stores."""
    citizen = Citizen(citizen_id=f"0400780{n:05d}", full_name="Nguyễn Văn Hùng",
                      name_key="nguyễn văn hùng", name_folded="nguyen van hung", sex="M",
                      birth_date="1978-03-12", birth_year=1978)
    session.add(citizen)
    session.flush()
    session.add(Link(record_id=record_id, citizen_pk=citizen.id, score=12.0, rank=1,
                     status="needs_review", review_worth=worth,
                     explanation={"probability": 0.9, "parts": [],
                                  **({"review_worth": worth} if worth is not None else {})}))
    session.flush()


def test_queue_offers_the_record_worth_most_first(session):
    make_book(session, "A", pages=2, rows=2)  # row 1 of each page has a field in doubt
    make_book(session, "B", pages=1, rows=2)
    a, b = _ids(session, "A"), _ids(session, "B")
    # A p1 r1, A p2 r1, B p1 r1: in doubt, no link. A p1 r2, A p2 r2, B p1 r2: read, link queued.
    _queue_link(session, a[1], 0.20, 1)
    _queue_link(session, a[3], 0.85, 2)
    _queue_link(session, b[1], 0.85, 3)  # a tie with A p2 r2: the older book first
    _queue_link(session, a[0], 0.05, 4)  # a field in doubt and a link worth little
    session.commit()
    lan = principal("lan")
    assert queued_records(session, lan) == [a[3], b[1], a[1], a[0], a[2], b[0]]
    assert next_record(session, lan) == a[3]
    # within one book, the same order
    book_a = session.get(Record, a[0]).book_id
    assert queued_records(session, lan, book_id=book_a) == [a[3], a[1], a[0], a[2]]
    # a record open on someone else's screen is skipped: the next worth most
    claims = Claims()
    claims.claim(a[3], "hoa")
    assert next_record(session, lan, skip=claims.others("lan")) == b[1]


def test_a_decided_link_no_longer_lifts_its_record(session):
    make_book(session, "A", pages=1, rows=2)
    a = _ids(session, "A")
    _queue_link(session, a[0], 0.9, 1)
    session.commit()
    lan = principal("lan")
    assert queued_records(session, lan)[0] == a[0]
    link = session.scalar(select(Link).where(Link.record_id == a[0]))
    link.status = "rejected"
    session.commit()
    assert queued_records(session, lan) == [a[0]]  # still in doubt for its name, worth 0 now
    assert next_record(session, lan) == a[0]


def test_records_assigned_to_the_reviewer_still_come_first(session):
    make_book(session, "A", pages=1, rows=2)
    book_b = make_book(session, "B", pages=1, rows=2)
    a, b = _ids(session, "A"), _ids(session, "B")
    _queue_link(session, a[1], 0.99, 1)
    session.commit()
    actions.assign_book(session, book_b.id, "lan", user="minh", role="supervisor")
    session.commit()
    assert queued_records(session, principal("lan"))[:2] == [b[0], a[1]]
    assert queued_records(session, principal("hoa")) == [a[1], a[0]]  # B is lan's


# --- in the browser, with the keyboard ----------------------------------------------------------

playwright_api = pytest.importorskip("playwright.sync_api")
browser_only = pytest.mark.skipif(shutil.which(CHROMIUM) is None,
                                  reason="Debian's chromium is not installed (scripts/install.sh)")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The sample book, its row 3 link worth 0.9 and a link worth 0.4 added to row 2."""
    from pipeline.review.sample import seed_sample_book

    home = tmp_path_factory.mktemp("review-worth")
    settings = Settings(home=home)
    engine = make_engine(settings.database_url)
    sample = seed_sample_book(engine, settings)
    with session_scope(engine) as s:
        make_users(s)
        s.execute(Link.__table__.update().where(Link.record_id == sample.link_record,
                                                Link.status == "needs_review").values(review_worth=0.9))
        _queue_link(s, sample.record_ids[1], 0.4, 99)
    with live_server(engine, settings) as base, playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield {"base": base, "engine": engine, "sample": sample, "browser": browser}
        browser.close()
    engine.dispose()


@browser_only
def test_keyboard_flow_follows_the_worth_order(site):
    sample = site["sample"]
    first, second = sample.link_record, sample.record_ids[1]
    with session_scope(site["engine"]) as s:
        expected = queued_records(s, principal("lan"))
    assert expected[:2] == [first, second] and first != sample.record_ids[0]
    context = site["browser"].new_context(viewport={"width": 1500, "height": 950})
    page = context.new_page()
    page.goto(site["base"] + "/queue")
    page.wait_for_selector("input[name=name]:focus")
    page.keyboard.type("lan")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORDS["lan"])
    page.keyboard.press("Enter")
    page.wait_for_selector("h1:has-text('Hàng chờ duyệt')")
    page.keyboard.press("Enter")  # queue → the record a click is worth most on
    page.wait_for_url(re.compile(rf"/records/{first}$"))
    assert page.evaluate("document.activeElement.name") == "link"  # only the link waits
    page.keyboard.press("Alt+L")
    page.keyboard.press("Space")  # candidate 1
    with page.expect_navigation():
        page.keyboard.press("Control+Enter")
    page.wait_for_url(re.compile(rf"/records/{second}(\?.*)?$"))  # then the next worth most
    assert page.get_attribute("#record-form", "data-record") == str(second)
    with session_scope(site["engine"]) as s:
        assert s.get(Record, first).status == "reviewed"
        assert queued_records(s, principal("lan"))[0] == second
    context.close()

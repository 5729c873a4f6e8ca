"""Review actions and the queue as plain functions, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from pipeline.errors import BadInput, NotAllowed
from pipeline.review import actions
from pipeline.review.links import decide_link
from pipeline.review.queue import Claims, next_record, postponed_records, queue_counts
from pipeline.storage.db import session_scope
from pipeline.storage.models import AuditEntry, FieldValue, Link, Record
from pipeline.storage.versions import VersionConflict, current_values, field_history

from review_helpers import add_candidates, make_book, principal


def _ids(session, code="NT-1978-KS-01"):
    return [r.id for r in session.scalars(select(Record).join(Record.page).where(
        Record.record_key.like(f"{code}%")).order_by(Record.id))]


def test_queue_is_oldest_book_first_then_page_and_row(session):
    make_book(session, "A")
    make_book(session, "B")
    session.commit()
    lan = principal("lan")
    a = _ids(session, "A")
    assert next_record(session, lan) == a[0]  # A p1 r1 (r2 was read with no doubt)
    counts = queue_counts(session, lan)
    assert [(b.book_code, b.waiting, b.pages) for b in counts] == [("A", 2, [(1, 1), (2, 1)]),
                                                                   ("B", 2, [(1, 1), (2, 1)])]
    # a record open on someone else's screen is skipped
    claims = Claims()
    claims.claim(a[0], "hoa")
    assert next_record(session, lan, skip=claims.others("lan")) == a[2]


def test_uncertain_link_puts_a_read_record_in_the_queue(session):
    make_book(session, pages=1)
    record = session.get(Record, _ids(session)[1])  # row 2: every field read
    add_candidates(session, record)
    session.commit()
    counts = queue_counts(session, principal("lan"))
    assert counts[0].waiting == 2


def test_assigned_records_are_hidden_from_other_reviewers(session):
    book = make_book(session, pages=1)
    session.commit()
    assert actions.assign_book(session, book.id, "hoa", user="minh", role="supervisor") == 1
    session.commit()
    assert next_record(session, principal("lan")) is None
    assert next_record(session, principal("hoa")) is not None
    with pytest.raises(NotAllowed):
        actions.assign_book(session, book.id, None, user="lan", role="reviewer")


def test_correction_is_a_new_version_with_who_and_why(session):
    make_book(session, pages=1)
    rid = _ids(session)[0]
    session.commit()
    new = actions.save_field(session, rid, "birth_date", action="accept", text="6/12/1978",
                             expected_version=1, user="lan")
    session.commit()
    assert (new.version, new.value, new.raw, new.changed_by, new.source) == (
        2, "1978-12-06", "1978-03-12", "lan", "review")
    history = field_history(session, rid, "birth_date")
    assert [(v.version, v.value, v.is_current) for v in history] == [
        (1, "1978-03-12", False), (2, "1978-12-06", True)]
    entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "field.accept"))
    assert entry.detail["field"] == "birth_date" and "1978-12-06" not in str(entry.detail)
    rows = actions.history_rows(session, rid, "birth_date")
    assert (rows[0]["from"], rows[0]["to"], rows[0]["by"]) == ("1978-03-12", "1978-12-06", "lan")


def test_stale_version_is_refused_and_nothing_is_written(session):
    make_book(session, pages=1)
    rid = _ids(session)[0]
    actions.save_field(session, rid, "full_name", action="accept", text="Nguyễn Văn Hùng",
                       expected_version=1, user="lan")
    session.commit()
    with pytest.raises(VersionConflict):
        actions.save_field(session, rid, "full_name", action="accept", text="Nguyễn Văn Hưng",
                           expected_version=1, user="hoa")
    session.rollback()
    assert current_values(session, rid)["full_name"].value == "Nguyễn Văn Hùng"


def test_accept_illegible_blank_and_nothing_to_do(session):
    make_book(session, pages=1)
    rid = _ids(session)[0]
    accepted = actions.save_field(session, rid, "full_name", action="accept", text="Nguyên Văn Hùng",
                                  expected_version=1, user="lan")
    assert (accepted.status, accepted.value, accepted.reason) == ("read", "Nguyên Văn Hùng", "chấp nhận giá trị")
    assert actions.save_field(session, rid, "sex", action="accept", text="Nam", expected_version=1,
                              user="lan") is None  # already read as M
    marked = actions.save_field(session, rid, "mother_name", action="illegible", text="",
                                expected_version=1, user="lan")
    assert (marked.status, marked.value) == ("illegible", None)
    with pytest.raises(BadInput, match="Không đọc được ngày"):
        actions.save_field(session, rid, "birth_date", action="accept", text="abc",
                           expected_version=1, user="lan")


def test_confirm_corrects_accepts_and_leaves_the_queue(engine):
    with session_scope(engine) as s:
        make_book(s, pages=1)
        rid = _ids(s)[0]
    with session_scope(engine) as s:
        fields = {f: (v, 1) for f, v in {"registration_no": "11", "full_name": "Nguyễn Văn Hùng",
                                          "sex": "Nam", "birth_date": "12/03/1978",
                                          "father_name": "Nguyễn Văn Tâm", "mother_name": "Lê Thị Hoa"}.items()}
        record = actions.confirm_record(s, rid, user="lan", lock_version=0, fields=fields)
        assert (record.status, record.reviewed_by, record.lock_version) == ("reviewed", "lan", 1)
    with session_scope(engine) as s:
        values = current_values(s, rid)
        assert values["full_name"].value == "Nguyễn Văn Hùng" and values["full_name"].version == 2
        assert values["birth_date"].version == 1  # unchanged fields get no version
        assert next_record(s, principal("lan")) is None
        # the second reviewer, who opened the record before, is told
        with pytest.raises(actions.RecordConflict, match="vừa được lan xử lý"):
            actions.confirm_record(s, rid, user="hoa", lock_version=0, fields=fields)


def test_confirm_with_a_field_changed_by_someone_else_writes_nothing(engine):
    with session_scope(engine) as s:
        make_book(s, pages=1)
        rid = _ids(s)[0]
    with session_scope(engine) as s:
        actions.save_field(s, rid, "full_name", action="accept", text="Nguyễn Văn Hưng",
                           expected_version=1, user="hoa")
    with pytest.raises(actions.ConfirmConflict) as info:
        with session_scope(engine) as s:
            actions.confirm_record(s, rid, user="lan", lock_version=0, fields={
                "full_name": ("Nguyễn Văn Hùng", 1), "father_name": ("Nguyễn Văn Tám", 1)})
    assert [c.field for c in info.value.conflicts] == ["full_name"]
    assert (info.value.conflicts[0].theirs, info.value.conflicts[0].theirs_by) == ("Nguyễn Văn Hưng", "hoa")
    with session_scope(engine) as s:
        assert current_values(s, rid)["father_name"].version == 1
        assert s.get(Record, rid).status == "needs_review"


def test_an_uncertain_link_must_be_decided_and_stays_decided(engine):
    with session_scope(engine) as s:
        make_book(s, pages=1)
        rid = _ids(s)[1]
        right, twin = add_candidates(s, s.get(Record, rid))
    with pytest.raises(BadInput, match="Liên kết"):
        with session_scope(engine) as s:
            actions.confirm_record(s, rid, user="lan", lock_version=0, fields={})
    with session_scope(engine) as s:
        actions.confirm_record(s, rid, user="lan", lock_version=0, fields={}, link_choice=str(right))
    with session_scope(engine) as s:
        links = {l.citizen_pk: (l.status, l.decided_by) for l in s.scalars(select(Link))}
        assert links == {right: ("confirmed", "lan"), twin: ("rejected", "lan")}
        with pytest.raises(Exception, match="vừa được lan quyết định"):
            decide_link(s, rid, twin, user="hoa")
    from pipeline.match.run import match_books

    summary = match_books(engine)
    assert summary.kept_decisions == 1
    with session_scope(engine) as s:
        assert {l.citizen_pk: l.status for l in s.scalars(select(Link).where(Link.record_id == rid))} == {
            right: "confirmed", twin: "rejected"}


def test_postpone_requeue_and_exceptions(session):
    make_book(session, pages=1)
    rid = _ids(session)[0]
    actions.postpone_record(session, rid, user="lan", lock_version=0, note="trang rách")
    session.commit()
    assert [r.id for r in postponed_records(session, principal("lan"))] == [rid]
    assert next_record(session, principal("lan")) is None
    with pytest.raises(NotAllowed):
        actions.requeue_record(session, rid, user="lan", role="reviewer")
    actions.requeue_record(session, rid, user="minh", role="supervisor")
    assert next_record(session, principal("lan")) == rid


def test_book_approval_needs_an_empty_queue_and_a_supervisor(session):
    make_book(session, pages=1)
    session.commit()
    with pytest.raises(NotAllowed):
        actions.approve_book(session, "NT-1978-KS-01", user="lan", role="reviewer")
    with pytest.raises(BadInput, match="còn 1 bản ghi chờ duyệt"):
        actions.approve_book(session, "NT-1978-KS-01", user="minh", role="supervisor")
    assert actions.approve_book(session, "NT-1978-KS-01", user="minh", role="supervisor",
                                include_pending=True) == 2
    session.commit()
    assert {r.status for r in session.scalars(select(Record))} == {"approved"}
    audited = [a for (a,) in session.execute(select(AuditEntry.action).where(
        AuditEntry.action.in_(("record.approve", "book.approve"))))]
    assert sorted(audited) == ["book.approve", "record.approve", "record.approve"]
    with pytest.raises(actions.RecordConflict, match="phê duyệt"):
        actions.save_field(session, _ids(session)[0], "sex", action="blank", text="",
                           expected_version=1, user="lan")


def test_supervisor_restores_an_earlier_version(session):
    make_book(session, pages=1)
    rid = _ids(session)[0]
    actions.save_field(session, rid, "father_name", action="accept", text="Nguyễn Văn Tám",
                       expected_version=1, user="lan")
    with pytest.raises(NotAllowed):
        actions.restore_version(session, rid, "father_name", 1, user="lan", role="reviewer",
                                expected_version=2)
    restored = actions.restore_version(session, rid, "father_name", 1, user="minh",
                                       role="supervisor", expected_version=2)
    assert (restored.version, restored.value, restored.reason) == (3, "Nguyễn Văn Tâm",
                                                                   "khôi phục phiên bản 1")
    assert session.scalar(select(FieldValue.box_x0).where(FieldValue.id == restored.id)) == 100

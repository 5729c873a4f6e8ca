"""SPEC §7: every change a person makes in review is in the audit log, with who and on what.

The changes tested elsewhere (field corrections, confirm, approvals, logins, lock-outs, offline
review files, exports) are not repeated; these are the ones no test looked at. Each row below
is one change through the same function the web app and the CLI call, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy import select

from pipeline.review import actions
from pipeline.review.auth import get_user, set_active, set_password, set_role
from pipeline.review.links import decide_link
from pipeline.storage.models import AuditEntry, Link, Record

from review_helpers import add_candidates, make_book, make_users


def _log(session) -> list[tuple]:
    return [(e.actor, e.action, e.entity, e.entity_id) for e in
            session.scalars(select(AuditEntry).order_by(AuditEntry.id))]


def _changes(session, step) -> list[tuple]:
    """The audit rows ``step`` wrote."""
    before = len(_log(session))
    step()
    session.flush()
    return _log(session)[before:]


def test_every_review_change_is_audited(session):
    make_users(session)
    book = make_book(session, pages=1, rows=3)
    ids = [r.id for r in session.scalars(select(Record).where(Record.book_id == book.id).order_by(Record.id))]
    first, second, third = ids
    right, twin = add_candidates(session, session.get(Record, second))
    for rank, citizen in enumerate((right, twin), start=1):  # the same two candidates for the third
        session.add(Link(record_id=third, citizen_pk=citizen, score=12.0 - rank, rank=rank,
                         status="needs_review" if rank == 1 else "candidate"))
    lan = get_user(session, "lan")
    session.commit()

    steps = [
        (lambda: actions.postpone_record(session, first, user="lan", lock_version=0, note="trang rách"),
         [("lan", "record.postpone", "record", str(first))]),
        (lambda: actions.requeue_record(session, first, user="minh", role="supervisor"),
         [("minh", "record.requeue", "record", str(first))]),
        (lambda: actions.save_field(session, first, "father_name", action="accept", text="Nguyễn Văn Tám",
                                    expected_version=1, user="lan"),
         [("lan", "field.accept", "record", str(first))]),
        (lambda: actions.restore_version(session, first, "father_name", 1, user="minh", role="supervisor",
                                         expected_version=2),
         [("minh", "field.restore", "record", str(first))]),
        (lambda: actions.assign_book(session, book.id, "lan", user="minh", role="supervisor"),
         [("minh", "book.assign", "book", str(book.id))]),
        (lambda: decide_link(session, second, right, user="hoa"),
         [("hoa", "link.confirm", "record", str(second))]),
        (lambda: decide_link(session, third, None, user="hoa"),
         [("hoa", "link.reject_all", "record", str(third))]),
        (lambda: set_role(session, lan, "supervisor", actor="an"),
         [("an", "user.role", "user", str(lan.id))]),
        (lambda: set_password(session, lan, "mat-khau-moi-0042", actor="an"),
         [("an", "user.password", "user", str(lan.id))]),
        (lambda: set_active(session, lan, False, actor="an"),
         [("an", "user.disable", "user", str(lan.id))]),
        (lambda: set_active(session, lan, True, actor="an"),
         [("an", "user.enable", "user", str(lan.id))]),
    ]
    for step, expected in steps:
        assert _changes(session, step) == expected
    session.commit()
    # Details name ids and fields, never the values typed (the log is read by more people).
    detail = session.scalar(select(AuditEntry.detail).where(AuditEntry.action == "field.accept"))
    assert "Nguyễn Văn Tám" not in str(detail)

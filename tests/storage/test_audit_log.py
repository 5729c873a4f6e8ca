"""Audit entries are written with the change they describe, in the same transaction."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import func, select

from pipeline.storage.audit import audit
from pipeline.storage.models import AuditEntry


def test_audit_rows(session):
    e1 = audit(session, "lan", "approve", "record", 42, previous_status="reviewed", lý_do="đã đối chiếu")
    e2 = audit(session, "system:ingest", "ingest", "book", "NT-1978-KS-01",
               files=[Path("a.tif")], at=dt.date(2024, 5, 1))
    e3 = audit(session, "admin", "login", "user")
    session.commit()
    assert e1.id and e2.id and e3.id
    rows = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    assert [(r.actor, r.action, r.entity, r.entity_id) for r in rows] == [
        ("lan", "approve", "record", "42"),
        ("system:ingest", "ingest", "book", "NT-1978-KS-01"),
        ("admin", "login", "user", None),
    ]
    assert rows[0].detail == {"previous_status": "reviewed", "lý_do": "đã đối chiếu"}
    assert rows[1].detail == {"files": ["a.tif"], "at": "2024-05-01"}
    assert rows[2].detail is None
    assert rows[0].at is not None


def test_audit_rolls_back_with_the_change(session):
    audit(session, "lan", "approve", "record", 1)
    session.rollback()
    assert session.scalar(select(func.count()).select_from(AuditEntry)) == 0

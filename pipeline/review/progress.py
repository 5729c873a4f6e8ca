"""Supervisor figures: each book's progress, and reviewers' throughput in aggregate.

Throughput is counted from the audit log (confirmations and field versions by people), over
all reviewers together: a supervisor plans with it; it is not a ranking of persons.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pipeline.review.queue import record_state
from pipeline.storage.models import AuditEntry, Book, Page, Record


@dataclass
class BookProgress:
    book_id: int
    book_code: str
    label: str
    pages: int
    pages_done: int
    pages_failed: int
    records: int
    approved: int
    reviewed: int  # confirmed by a reviewer, waiting for approval
    waiting: int
    exceptions: int
    ready: int = 0  # extracted with nothing to doubt: waiting for approval only

    @property
    def states_total(self) -> int:
        """waiting + exceptions + ready + reviewed + approved: equals ``records``, every
        record being in exactly one state (pipeline.review.queue.RECORD_STATES)."""
        return self.waiting + self.exceptions + self.ready + self.reviewed + self.approved

    @property
    def approvable(self) -> bool:
        """Its queue and exceptions are empty and something is left to approve."""
        return self.waiting == 0 and self.exceptions == 0 and self.records > self.approved

    @property
    def approved_share(self) -> float:
        return self.approved / self.records if self.records else 0.0


def book_progress(session: Session) -> list[BookProgress]:
    from pipeline.review.queue import _book_label

    pages = defaultdict(lambda: defaultdict(int))
    for book_id, status, n in session.execute(
            select(Page.book_id, Page.status, func.count()).group_by(Page.book_id, Page.status)):
        pages[book_id][status] += n
    records = defaultdict(lambda: defaultdict(int))
    state = record_state().label("state")
    for book_id, kind, n in session.execute(
            select(Record.book_id, state, func.count()).group_by(Record.book_id, state)):
        records[book_id][kind] += n
    out = []
    for book in session.scalars(select(Book).order_by(Book.created_at, Book.id)):
        p, r = pages[book.id], records[book.id]
        out.append(BookProgress(
            book.id, book.book_code, _book_label(book.book_type, book.commune, book.year_from),
            sum(p.values()), p["done"], p["failed"], sum(r.values()),
            r["approved"], r["reviewed"], r["waiting"], r["postponed"], r["ready"]))
    return out


@dataclass
class DayThroughput:
    day: str
    confirmed: int
    fields_changed: int
    reviewers: int
    active_hours: float

    @property
    def per_hour(self) -> float:
        return self.confirmed / self.active_hours if self.active_hours else 0.0


def throughput(session: Session, days: int = 7, now: datetime | None = None) -> list[DayThroughput]:
    """Per day, newest first: records confirmed, field changes, reviewers at work, and
    records per hour of active time (gaps over 15 minutes between one reviewer's actions
    do not count as work)."""
    now = now or datetime.now(timezone.utc)
    since = now - timedelta(days=days)
    rows = session.execute(
        select(AuditEntry.at, AuditEntry.actor, AuditEntry.action)
        .where(AuditEntry.at >= since, (AuditEntry.action == "record.confirm")
               | AuditEntry.action.like("field.%"))
        .order_by(AuditEntry.actor, AuditEntry.at)).all()
    by_day: dict[str, dict] = defaultdict(lambda: {"confirmed": 0, "fields": 0, "who": set(), "secs": 0.0})
    last: dict[str, datetime] = {}
    for at, actor, action in rows:
        day = at.astimezone(timezone(timedelta(hours=7))).strftime("%d/%m/%Y")  # Vietnam time
        entry = by_day[day]
        entry["who"].add(actor)
        if action == "record.confirm":
            entry["confirmed"] += 1
        else:
            entry["fields"] += 1
        gap = (at - last[actor]).total_seconds() if actor in last else None
        if gap is not None and gap < 15 * 60:
            entry["secs"] += gap
        last[actor] = at
    out = [DayThroughput(day, e["confirmed"], e["fields"], len(e["who"]), round(e["secs"] / 3600, 2))
           for day, e in by_day.items()]
    return sorted(out, key=lambda d: datetime.strptime(d.day, "%d/%m/%Y"), reverse=True)

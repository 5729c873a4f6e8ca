"""Which records need a person, in what order, and how many there are per book and page.

A record needs a person when the clean stage sent it to review (``needs_review``) or when
the match stage left an uncertain or ambiguous link (a link still ``needs_review``), until a
reviewer confirms it or postpones it to the exceptions list. Order: the records whose review
changes most first — by the ``review_worth`` the match stage gave their queued link (the
chance that a click gives the record its citizen, pipeline.match.review_band): a commune that
only gets through the first part of a long queue spends it where clicks find citizens. Records
with no queued link (only a field in doubt), and ties, keep the archive's order: oldest book
first, then page and row, so a book is finished page by page as the archive reads it.

A page can need a person too: one the process stage read but could not account for (no entry,
fewer entries than its registration numbers imply, a printing that fits the template badly)
is ``needs_attention``. Its records are in the queue like any other (none of their fields was
accepted without review); the queue page also lists the page itself with its reason, since a
page that lost all its entries has no record to show.

Record statuses (``records.status``), in the order a record moves through them:

    extracted     the clean stage found nothing to doubt
    needs_review  the clean stage doubts a field (or read nothing)
    postponed     a reviewer set it aside: the exceptions list, for a supervisor
    reviewed      a reviewer confirmed every field (and its link, if one was uncertain)
    approved      a supervisor approved it (one by one, a whole book, or `records approve`)
    exported      sent to the national database
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from pipeline.review.auth import Principal

# The statuses live on the ground floor (pipeline.statuses); named here too for the review
# rooms that have always imported them from the queue.
from pipeline.statuses import (  # noqa: F401
    APPROVED, EXPORTED, EXTRACTED, NEEDS_ATTENTION, NEEDS_REVIEW, OPEN_STATUSES, POSTPONED,
    RECORD_STATUSES, REVIEWED, STATUS_LABELS,
)
from pipeline.storage.models import Book, Link, Page, Record
from pipeline.storage.states import (  # noqa: F401 - the queue's own words, counted in storage
    RECORD_STATES, STATE_LABELS, link_undecided, needs_person, record_state,
)
from pipeline.templates import BOOK_TYPE_NAMES


def visible_to(principal: Principal):
    """Reviewers see unassigned work and their own; supervisors see everything."""
    if principal.can("supervisor"):
        return True
    return or_(Record.assigned_to.is_(None), Record.assigned_to == principal.name)


def _ordered(query):
    return (query.join(Book, Book.id == Record.book_id)
            .outerjoin(Page, Page.id == Record.page_id)
            .order_by(Book.created_at, Book.id, Page.page_no.is_(None), Page.page_no,
                      Record.row, Record.id))


class Claims:
    """Records a reviewer has open, kept in the server's memory for a few minutes.

    The next record offered to a reviewer skips those open on someone else's screen, so
    that reviewers working one queue do not all get the same record. Only a hint: the
    versions in the database are what keep two reviewers from overwriting each other.
    """

    def __init__(self, minutes: float = 10.0):
        self.seconds = minutes * 60
        self._lock = threading.Lock()
        self._open: dict[int, tuple[str, float]] = {}

    def claim(self, record_id: int, user: str) -> None:
        with self._lock:
            self._open[record_id] = (user, time.monotonic())

    def take(self, record_id: int, user: str) -> bool:
        """Claim the record unless someone else holds it: check and claim under one lock, so
        two reviewers asking for the next record at the same moment get different ones."""
        now = time.monotonic()
        with self._lock:
            held = self._open.get(record_id)
            if held and held[0] != user and now - held[1] < self.seconds:
                return False
            self._open[record_id] = (user, now)
            return True

    def release(self, record_id: int, user: str) -> None:
        with self._lock:
            if self._open.get(record_id, ("",))[0] == user:
                del self._open[record_id]

    def others(self, user: str) -> set[int]:
        now = time.monotonic()
        with self._lock:
            self._open = {r: v for r, v in self._open.items() if now - v[1] < self.seconds}
            return {r for r, (u, _) in self._open.items() if u != user}

    def holder(self, record_id: int, user: str) -> str | None:
        """Who else has this record open, if anyone."""
        now = time.monotonic()
        with self._lock:
            held = self._open.get(record_id)
        if held and held[0] != user and now - held[1] < self.seconds:
            return held[0]
        return None


def review_worth():
    """SQL expression on ``Record``: what a click on it is worth, 0 without a queued link.

    The highest ``review_worth`` of its links still ``needs_review`` (the match stage gives
    all of a record's queued candidates the same worth; a link a reviewer decided no longer
    counts). Worth is in (0, 1), so records with one come before those without.
    """
    worth = (select(func.max(Link.review_worth))
             .where(Link.record_id == Record.id, Link.status == "needs_review")
             .correlate(Record).scalar_subquery())
    return func.coalesce(worth, 0.0)


def queue_order(principal: Principal) -> list:
    """ORDER BY of the queue: the reviewer's own records, then worth, then the archive's order."""
    return [case((Record.assigned_to == principal.name, 0), else_=1), review_worth().desc(),
            Book.created_at, Book.id, Page.page_no.is_(None), Page.page_no, Record.row, Record.id]


def queued_records(session: Session, principal: Principal, *, book_id: int | None = None,
                   limit: int | None = None) -> list[int]:
    """Ids of the records in this user's queue, in the order they are offered."""
    query = select(Record.id).where(needs_person(), visible_to(principal))
    if book_id is not None:
        query = query.where(Record.book_id == book_id)
    query = (query.join(Book, Book.id == Record.book_id)
             .outerjoin(Page, Page.id == Record.page_id)
             .order_by(*queue_order(principal)))
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


def next_record(session: Session, principal: Principal, *, book_id: int | None = None,
                skip: set[int] | frozenset[int] = frozenset()) -> int | None:
    """Id of the first record in the queue for this user, or None when it is empty.

        >>> next_record(session, principal)          # the record a click is worth most on
        17
    """
    first_free = None
    for record_id in queued_records(session, principal, book_id=book_id, limit=len(skip) + 50):
        if record_id not in skip:
            return record_id
        first_free = first_free or record_id
    # Everything left is open elsewhere: offer it anyway (the versions protect the data).
    return first_free


def queue_position(session: Session, principal: Principal) -> int:
    """How many records are in this user's queue."""
    return session.scalar(select(func.count()).select_from(Record)
                          .where(needs_person(), visible_to(principal))) or 0


@dataclass
class BookQueue:
    book_id: int
    book_code: str
    label: str
    waiting: int = 0
    postponed: int = 0
    pages: list[tuple[int | None, int]] = field(default_factory=list)  # (page_no, waiting)
    oldest_record: int | None = None
    #: pages needing attention, in page order: (page_no, reason)
    attention: list[tuple[int, str]] = field(default_factory=list)


def queue_counts(session: Session, principal: Principal) -> list[BookQueue]:
    """Per book: records waiting and postponed, waiting per page, pages needing attention;
    books without work left out."""
    out: dict[int, BookQueue] = {}
    rows = session.execute(
        select(Book.id, Book.book_code, Book.book_type, Book.commune, Book.year_from,
               Page.page_no, func.count(Record.id), func.min(Record.id))
        .select_from(Record).join(Book, Book.id == Record.book_id)
        .outerjoin(Page, Page.id == Record.page_id)
        .where(needs_person(), visible_to(principal))
        .group_by(Book.id, Book.book_code, Book.book_type, Book.commune, Book.year_from,
                  Page.page_no, Book.created_at)
        .order_by(Book.created_at, Book.id, Page.page_no)
    )
    for book_id, code, book_type, commune, year, page_no, n, _ in rows:
        entry = out.setdefault(book_id, BookQueue(book_id, code, _book_label(book_type, commune, year)))
        entry.waiting += n
        entry.pages.append((page_no, n))
    for book_id, code, book_type, commune, year, n in session.execute(
        select(Book.id, Book.book_code, Book.book_type, Book.commune, Book.year_from, func.count())
        .select_from(Record).join(Book, Book.id == Record.book_id)
        .where(Record.status == POSTPONED, visible_to(principal))
        .group_by(Book.id, Book.book_code, Book.book_type, Book.commune, Book.year_from)
    ):
        entry = out.setdefault(book_id, BookQueue(book_id, code, _book_label(book_type, commune, year)))
        entry.postponed = n
    for book_id, code, book_type, commune, year, page_no, reason in session.execute(
        select(Book.id, Book.book_code, Book.book_type, Book.commune, Book.year_from,
               Page.page_no, Page.attention)
        .select_from(Page).join(Book, Book.id == Page.book_id)
        .where(Page.status == NEEDS_ATTENTION)
        .order_by(Book.created_at, Book.id, Page.page_no)
    ):
        entry = out.setdefault(book_id, BookQueue(book_id, code, _book_label(book_type, commune, year)))
        entry.attention.append((page_no, reason or "không rõ lý do"))
    return list(out.values())




def _book_label(book_type: str, commune: str, year: int | None) -> str:
    return f"{BOOK_TYPE_NAMES.get(book_type, book_type).capitalize()} · {commune} · {year or '?'}"


def postponed_records(session: Session, principal: Principal, limit: int = 500) -> list[Record]:
    """The exceptions list: postponed records, oldest first."""
    query = _ordered(select(Record).where(Record.status == POSTPONED, visible_to(principal)))
    return list(session.scalars(query.limit(limit)))


def book_queue_empty(session: Session, book_id: int) -> tuple[int, int]:
    """(records waiting, records postponed) of a book, whoever they are assigned to."""
    waiting = session.scalar(select(func.count()).select_from(Record)
                             .where(Record.book_id == book_id, needs_person())) or 0
    postponed = session.scalar(select(func.count()).select_from(Record)
                               .where(Record.book_id == book_id, Record.status == POSTPONED)) or 0
    return waiting, postponed

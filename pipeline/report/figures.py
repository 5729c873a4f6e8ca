"""Progress figures per book, rolled up per commune, district and province; one module for
`hotich status`, `hotich report` and anything else that counts progress.

Every figure is aggregated in SQL (GROUP BY book) so that a province's worth of records is
never loaded into Python; the only per-record query, the registration numbers of rule R07,
is streamed one book at a time. No figure carries personal data: counts and book codes only.

Definitions (the report's footnote says the same in Vietnamese):

* pages: scanned (every page ingested), processed (``done``), needing attention (read and
  stored, but its entries not accounted for: ``needs_attention``, with the reason), failed,
  pending;
* records by state (``pipeline.storage.states.record_state``), each in exactly one: *waiting*
  is the review queue (``needs_person``, as the supervisor view counts it), *postponed*,
  *ready* (extracted, nothing to doubt, waiting for approval only), *reviewed* (confirmed,
  waiting for approval), *approved* (including records already exported); *exported* is the
  number of distinct records in any export batch (``export_items``), a part of *approved*;
* registration-number gaps (rule R07) count only where every page in between was processed;
  a gap around a pending or failed page is listed apart, as it closes once the page is done;
* match rate: birth records with an ``auto`` or ``confirmed`` link / birth records;
* fields, by their current version: *auto-accepted* was made by a stage (``changed_by`` NULL)
  with status ``read``; *doubtful* was made by a stage and is still uncertain or illegible;
  *confirmed* and *corrected* were decided by a reviewer (``changed_by`` set), corrected when
  the value differs from the stage's first reading.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timezone

from sqlalchemy import and_, case, cast, func, select, Integer
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, aliased

from pipeline.clean.numbering import NumberGap, NumberRepeat, NumberSuspect, review_book_numbering
from pipeline.statuses import APPROVED, EXPORTED, EXTRACTED, NEEDS_REVIEW
from pipeline.storage.db import session_scope
from pipeline.storage.models import (
    Book, ExportBatch, ExportItem, FieldValue, Link, Page, Record, SourceFile,
)
from pipeline.storage.states import record_state
from pipeline.templates import BOOK_TYPE_NAMES

LAYOUTS = {"form": "mẫu in", "ledger": "bảng kẻ"}
LEVELS = {"province": "Tỉnh", "district": "Huyện", "commune": "Xã"}
VIETNAM_TZ = "Asia/Ho_Chi_Minh"  # UTC+7, no daylight saving time
CONFIDENCE_BINS = 20  # OCR confidence histogram: bins of 0.05


@dataclass
class Counts:
    """Figures that add up from books to communes, districts and provinces."""

    pages: int = 0
    pages_done: int = 0
    pages_failed: int = 0
    pages_attention: int = 0  # read, stored, but not done: entries not accounted for
    files_failed: int = 0
    records: int = 0
    extracted: int = 0  # status (the clean stage found nothing to doubt), whatever its link
    needs_review: int = 0  # status: the clean stage doubts a field
    # The five states (pipeline.storage.states.RECORD_STATES): every record in exactly one, so
    # waiting + postponed + ready + reviewed + approved == records on every screen.
    waiting: int = 0  # in the review queue (doubtful fields or an undecided link)
    postponed: int = 0
    ready: int = 0  # extracted, nothing to doubt, no link to decide: waits for approval only
    reviewed: int = 0  # confirmed by a reviewer, waits for approval
    approved: int = 0  # approved or exported
    exported: int = 0  # distinct records in an export batch
    birth_records: int = 0
    linked: int = 0  # birth records with an auto or confirmed link
    link_review: int = 0  # records with a link the matcher could not decide
    fields_auto: int = 0
    fields_doubtful: int = 0
    fields_confirmed: int = 0
    fields_corrected: int = 0
    fields_blank: int = 0
    numbers_missing: int = 0  # registration numbers in gaps (R07)
    number_repeats: int = 0
    number_suspects: int = 0  # numbers the entries around contradict: to review, not gaps

    @property
    def pages_pending(self) -> int:
        return self.pages - self.pages_done - self.pages_failed - self.pages_attention

    @property
    def match_rate(self) -> float | None:
        """Share of birth records linked to a citizen; None when there is no birth record."""
        return self.linked / self.birth_records if self.birth_records else None

    @property
    def fields_read(self) -> int:
        """Fields with something to decide on (not blank)."""
        return self.fields_auto + self.fields_doubtful + self.fields_confirmed + self.fields_corrected

    @property
    def auto_share(self) -> float | None:
        return self.fields_auto / self.fields_read if self.fields_read else None

    def add(self, other: Counts) -> None:
        for f in fields(Counts):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


@dataclass
class FailureGroup:
    """Failed pages of one book that failed for one reason."""

    reason: str
    pages: list[int] = field(default_factory=list)

    @property
    def pages_text(self) -> str:
        """``1–3, 7``: page numbers as ranges."""
        return page_ranges(self.pages)


@dataclass
class AttentionPage:
    """A page of a book that was read but needs a person before it counts as done."""

    page_no: int
    reason: str
    records: int = 0  # records stored from it (a page with none lost all its entries)

    @property
    def line(self) -> str:
        """One line in Vietnamese for `hotich status`."""
        return f"trang {self.page_no} cần xem lại ({self.records} bản ghi đã lưu): {self.reason}"


@dataclass
class BookFigures(Counts):
    book_id: int = 0
    book_code: str = ""
    book_type: str = ""
    layout: str = ""  # form / ledger ("" when the template is unknown)
    year: str = ""
    volume: str = ""
    commune: str = ""
    district: str = ""
    province: str = ""
    page_failures: list[FailureGroup] = field(default_factory=list)
    file_failures: list[str] = field(default_factory=list)  # one line each: file and reason
    gaps: list[NumberGap] = field(default_factory=list)  # likely lost or torn pages
    #: gaps with a page not processed (pending or failed) in between: they explain themselves
    gaps_unprocessed: list[NumberGap] = field(default_factory=list)
    repeats: list[NumberRepeat] = field(default_factory=list)
    suspects: list[NumberSuspect] = field(default_factory=list)  # likely misread numbers
    attention: list[AttentionPage] = field(default_factory=list)  # in page order

    @property
    def type_label(self) -> str:
        return BOOK_TYPE_NAMES.get(self.book_type, self.book_type).capitalize()

    @property
    def failures(self) -> list[str]:
        """One line per failed file and per reason pages failed for."""
        return self.file_failures + [
            f"{'trang' if len(g.pages) == 1 else f'{len(g.pages)} trang'} {g.pages_text}: {g.reason}"
            for g in self.page_failures]

    @property
    def unprocessed_numbering(self) -> list[str]:
        """Gaps that pages not processed yet (pending or failed) account for, one line each."""
        out = []
        for g in self.gaps_unprocessed:
            span = str(g.first_missing) if g.count == 1 else f"{g.first_missing}–{g.last_missing}"
            out.append(f"R07: số đăng ký {span} ({g.count} bản ghi) chưa có: giữa trang {g.after.page} "
                       f"và trang {g.before.page} có trang chưa xử lý, bị lỗi hoặc cần xem lại")
        return out

    @property
    def numbering(self) -> list[str]:
        """R07 findings, one line each: gaps first, then repeats, then suspect values."""
        return ([g.message() for g in self.gaps] + [r.message() for r in self.repeats]
                + [x.message() for x in self.suspects])


@dataclass
class AreaFigures:
    """A province, district or commune: its books' figures summed."""

    level: str  # province / district / commune
    name: str
    counts: Counts = field(default_factory=Counts)
    children: list[AreaFigures] = field(default_factory=list)
    books: list[BookFigures] = field(default_factory=list)  # communes only

    @property
    def label(self) -> str:
        return f"{LEVELS[self.level]} {self.name}"

    def walk(self, depth: int = 0):
        """(depth, area or book) in display order: the area, then its children, then its books."""
        yield depth, self
        for child in self.children:
            yield from child.walk(depth + 1)
        for book in self.books:
            yield depth + 1, book


@dataclass
class Timeline:
    """Per day (Vietnam time): pages processed, records reviewed, approved, exported."""

    pages_done: dict[date, int] = field(default_factory=dict)
    reviewed: dict[date, int] = field(default_factory=dict)
    approved: dict[date, int] = field(default_factory=dict)
    exported: dict[date, int] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.pages_done or self.reviewed or self.approved or self.exported)


@dataclass
class Figures:
    generated_at: datetime
    books: list[BookFigures]
    provinces: list[AreaFigures]
    totals: Counts
    timeline: Timeline = field(default_factory=Timeline)
    #: layout → OCR confidence histogram (CONFIDENCE_BINS counts over [0, 1])
    confidence: dict[str, list[int]] = field(default_factory=dict)

    def rows(self):
        """(depth, area or book) for every level, provinces in name order."""
        for province in self.provinces:
            yield from province.walk()


def page_ranges(pages: list[int]) -> str:
    """Page numbers as ranges.

        >>> page_ranges([1, 2, 3, 7, 9, 10])
        '1–3, 7, 9–10'
    """
    out = []
    for _, run in itertools.groupby(enumerate(sorted(set(pages))), lambda x: x[1] - x[0]):
        run = [p for _, p in run]
        out.append(str(run[0]) if len(run) == 1 else f"{run[0]}–{run[-1]}")
    return ", ".join(out)


def failure_reason(error: str | None) -> str:
    """The part of a page's one-line error after the file name (the process stage writes
    ``<file>: <reason>``), so that pages are grouped by kind of failure."""
    return (error or "không rõ lý do").split(": ", 1)[-1]


def collect_figures(db: Engine, *, timeline: bool = True, confidence: bool = True) -> Figures:
    """Every book's figures and their roll-ups; the timeline and confidence histogram too
    unless turned off (`hotich status` needs neither).

        >>> figures = collect_figures(engine)
        >>> figures.totals.pages_done, [p.name for p in figures.provinces]
        (12, ['Nghệ Tĩnh'])
    """
    with session_scope(db) as session:
        books = _book_figures(session)
        out = Figures(datetime.now(timezone.utc), books, _roll_up(books), Counts())
        for book in books:
            out.totals.add(book)
        if timeline:
            out.timeline = progress_timeline(session)
        if confidence:
            out.confidence = confidence_histograms(session)
    return out


def _book_figures(session: Session) -> list[BookFigures]:
    books: dict[int, BookFigures] = {}
    layouts: dict[str, str] = {}
    for book in session.scalars(select(Book).order_by(Book.book_code)):
        year = (str(book.year_from) if book.year_from == book.year_to
                else f"{book.year_from}–{book.year_to}") if book.year_from else ""
        if book.template not in layouts:
            layouts[book.template] = _layout(book.template)
        books[book.id] = BookFigures(
            book_id=book.id, book_code=book.book_code, book_type=book.book_type,
            layout=layouts[book.template], year=year, volume=book.volume or "",
            commune=book.commune, district=book.district, province=book.province)

    def grouped(query):
        for row in session.execute(query):
            if row[0] in books:
                yield books[row[0]], row[1:]

    for b, (status, n) in grouped(select(Page.book_id, Page.status, func.count())
                                  .group_by(Page.book_id, Page.status)):
        b.pages += n
        if status == "done":
            b.pages_done = n
        elif status == "failed":
            b.pages_failed = n
        elif status == "needs_attention":
            b.pages_attention = n
    stored = (select(func.count(Record.id)).where(Record.page_id == Page.id)
              .correlate(Page).scalar_subquery())
    for b, (page_no, reason, n) in grouped(
            select(Page.book_id, Page.page_no, Page.attention, stored)
            .where(Page.status == "needs_attention").order_by(Page.book_id, Page.page_no)):
        b.attention.append(AttentionPage(page_no, reason or "không rõ lý do", n or 0))
    reasons: dict[int, dict[str, FailureGroup]] = defaultdict(dict)
    for b, (page_no, error) in grouped(select(Page.book_id, Page.page_no, Page.error)
                                       .where(Page.status == "failed").order_by(Page.book_id, Page.page_no)):
        reason = failure_reason(error)
        reasons[b.book_id].setdefault(reason, FailureGroup(reason)).pages.append(page_no)
    for book_id, groups in reasons.items():
        books[book_id].page_failures = sorted(groups.values(), key=lambda g: (-len(g.pages), g.pages[0]))
    for b, (name, error) in grouped(select(SourceFile.book_id, SourceFile.original_name, SourceFile.error)
                                    .where(SourceFile.status == "failed")
                                    .order_by(SourceFile.book_id, SourceFile.position)):
        b.files_failed += 1
        b.file_failures.append(error or name)

    by_status = {EXTRACTED: "extracted", NEEDS_REVIEW: "needs_review"}
    state = record_state().label("state")
    for b, (status, kind, record_type, n) in grouped(
            select(Record.book_id, Record.status, state, Record.record_type, func.count())
            .group_by(Record.book_id, Record.status, state, Record.record_type)):
        b.records += n
        setattr(b, kind, getattr(b, kind) + n)
        if status in by_status:
            setattr(b, by_status[status], getattr(b, by_status[status]) + n)
        if record_type == "birth":
            b.birth_records += n
    for b, (n,) in grouped(select(Record.book_id, func.count(func.distinct(Link.record_id)))
                           .join(Link, Link.record_id == Record.id)
                           .where(Record.record_type == "birth", Link.status.in_(("auto", "confirmed")))
                           .group_by(Record.book_id)):
        b.linked = n
    for b, (n,) in grouped(select(Record.book_id, func.count(func.distinct(Link.record_id)))
                           .join(Link, Link.record_id == Record.id)
                           .where(Link.status == "needs_review").group_by(Record.book_id)):
        b.link_review = n
    for b, (n,) in grouped(select(ExportItem.book_id, func.count(func.distinct(ExportItem.record_id)))
                           .group_by(ExportItem.book_id)):
        b.exported = n

    first = aliased(FieldValue)
    kind = case(
        (and_(FieldValue.changed_by.is_(None), FieldValue.status == "read"), "auto"),
        (and_(FieldValue.changed_by.is_(None), FieldValue.status == "blank"), "blank"),
        (FieldValue.changed_by.is_(None), "doubtful"),
        (FieldValue.value.is_distinct_from(first.value), "corrected"),
        else_="confirmed",
    )
    for b, (k, n) in grouped(
            select(Record.book_id, kind, func.count())
            .select_from(FieldValue).join(Record, Record.id == FieldValue.record_id)
            .outerjoin(first, and_(first.record_id == FieldValue.record_id,
                                   first.field == FieldValue.field, first.version == 1))
            .where(FieldValue.is_current).group_by(Record.book_id, kind)):
        setattr(b, f"fields_{k}", n)

    unprocessed: dict[int, set[int]] = defaultdict(set)
    for book_id, page_no in session.execute(select(Page.book_id, Page.page_no).where(Page.status != "done")):
        unprocessed[book_id].add(page_no)
    for book_id, found in _numbering(session):
        if book_id in books:
            b = books[book_id]
            skipped = unprocessed.get(book_id, set())
            for gap in found.gaps:
                between = range(gap.after.page + 1, gap.before.page)
                (b.gaps_unprocessed if any(p in skipped for p in between) else b.gaps).append(gap)
            b.repeats, b.suspects = found.repeats, found.suspects
            b.numbers_missing = sum(g.count for g in b.gaps)
            b.number_repeats = len(found.repeats)
            b.number_suspects = len(found.suspects)
    return list(books.values())


def _layout(template: str) -> str:
    from pipeline.templates import load_template

    try:
        return load_template(template).layout
    except Exception:  # noqa: BLE001 - a book whose template file is gone still gets counted
        return ""


def _numbering(session: Session):
    """(book id, R07 findings) of every book with registration numbers, rule R07 over its
    current numbers in page and row order; streamed, one book in memory at a time."""
    query = (select(Record.book_id, Page.page_no, Record.row, FieldValue.value)
             .join(Page, Page.id == Record.page_id)
             .join(FieldValue, FieldValue.record_id == Record.id)
             .where(FieldValue.field == "registration_no", FieldValue.is_current)
             .order_by(Record.book_id, Page.page_no, Record.row)
             .execution_options(yield_per=5000))
    for book_id, rows in itertools.groupby(session.execute(query), key=lambda r: r[0]):
        found = review_book_numbering([(p, r or 0, v) for _, p, r, v in rows])
        if found.gaps or found.repeats or found.suspects:
            yield book_id, found


def _roll_up(books: list[BookFigures]) -> list[AreaFigures]:
    provinces: dict[str, AreaFigures] = {}
    districts: dict[tuple[str, str], AreaFigures] = {}
    communes: dict[tuple[str, str, str], AreaFigures] = {}
    for b in books:
        p = provinces.setdefault(b.province, AreaFigures("province", b.province))
        d_key = (b.province, b.district)
        if d_key not in districts:
            districts[d_key] = AreaFigures("district", b.district)
            p.children.append(districts[d_key])
        c_key = (*d_key, b.commune)
        if c_key not in communes:
            communes[c_key] = AreaFigures("commune", b.commune)
            districts[d_key].children.append(communes[c_key])
        communes[c_key].books.append(b)
        for area in (p, districts[d_key], communes[c_key]):
            area.counts.add(b)
    for area in itertools.chain(provinces.values(), districts.values()):
        area.children.sort(key=lambda a: a.name)
    return sorted(provinces.values(), key=lambda a: a.name)


def _vietnam_day(session: Session, column):
    """SQL: the calendar day in Vietnam of a UTC timestamp column."""
    if session.get_bind().dialect.name == "sqlite":
        return func.date(column, "+7 hours")  # stored as naive UTC text
    return func.date(func.timezone(VIETNAM_TZ, column))


def _per_day(session: Session, query_day, *where, select_from=None) -> dict[date, int]:
    day = _vietnam_day(session, query_day)
    query = select(day, func.count()).where(*where).group_by(day).order_by(day)
    if select_from is not None:
        query = query.select_from(select_from)
    out = {}
    for d, n in session.execute(query):
        out[d if isinstance(d, date) else date.fromisoformat(d)] = n
    return out


def progress_timeline(session: Session) -> Timeline:
    """Pages processed and records reviewed, approved and (first) exported, per day.

    A page's day is when it was last written (``updated_at`` of a ``done`` page); a record
    exported in several batches counts on the day of its first export.
    """
    first_export = (select(ExportItem.record_id, func.min(ExportBatch.created_at).label("at"))
                    .join(ExportBatch, ExportBatch.id == ExportItem.batch_id)
                    .group_by(ExportItem.record_id).subquery())
    return Timeline(
        pages_done=_per_day(session, Page.updated_at, Page.status == "done"),
        reviewed=_per_day(session, Record.reviewed_at, Record.reviewed_at.is_not(None)),
        approved=_per_day(session, Record.approved_at, Record.approved_at.is_not(None),
                          Record.status.in_((APPROVED, EXPORTED))),
        exported=_per_day(session, first_export.c.at, select_from=first_export),
    )


def confidence_histograms(session: Session) -> dict[str, list[int]]:
    """Layout → histogram of the OCR's confidence in every field it read (not blank), taken
    from the reading itself (version 1, made by the OCR stage), so that a reviewer's later
    correction does not move a field out of the picture."""
    scaled = FieldValue.confidence * CONFIDENCE_BINS
    if session.get_bind().dialect.name == "sqlite":
        bucket = cast(scaled, Integer)  # truncates toward zero; confidences are ≥ 0
    else:
        bucket = cast(func.floor(scaled), Integer)  # PostgreSQL's cast would round
    out: dict[str, list[int]] = {}
    layouts: dict[str, str] = {}
    for template, b, n in session.execute(
            select(Book.template, bucket, func.count())
            .select_from(FieldValue).join(Record, Record.id == FieldValue.record_id)
            .join(Book, Book.id == Record.book_id)
            .where(FieldValue.version == 1, FieldValue.source == "ocr",
                   FieldValue.changed_by.is_(None), FieldValue.status != "blank")
            .group_by(Book.template, bucket)):
        if template not in layouts:
            layouts[template] = _layout(template) or template
        bins = out.setdefault(layouts[template], [0] * CONFIDENCE_BINS)
        bins[min(max(int(b or 0), 0), CONFIDENCE_BINS - 1)] += n
    return dict(sorted(out.items()))


def format_count(n: int) -> str:
    """A count as Vietnamese write it: ``format_count(12345) == "12.345"``."""
    return f"{n:,}".replace(",", ".")


def format_share(share: float | None) -> str:
    """A share as a Vietnamese percentage: ``format_share(0.8531) == "85,3 %"``; "—" for None."""
    return "—" if share is None else f"{share * 100:.1f} %".replace(".", ",")

"""What a reviewer or supervisor does to a record, as plain functions over a Session.

Every change of a field is a new version (pipeline.storage.versions) based on the version the
person saw: if someone else wrote in between, ``VersionConflict`` is raised and nothing is
overwritten. Record-level actions carry the record's ``lock_version`` the same way. Each
action writes its audit entry in the caller's transaction; audit details name records,
fields and versions, never the values (personal data).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Mapping

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from pipeline.cells import formula_safe
from pipeline.clean.normalize import normalize_field
from pipeline.errors import BadInput, HotichError, NotFound
from pipeline.review.auth import require_role
from pipeline.review.links import decide_link, link_panel
from pipeline.review.queue import (
    APPROVED, EXPORTED, EXTRACTED, NEEDS_REVIEW, OPEN_STATUSES, POSTPONED, REVIEWED,
    book_queue_empty, needs_person,
)
from pipeline.storage.audit import audit
from pipeline.storage.books import find_book
from pipeline.storage.models import Book, FieldValue, Record
from pipeline.storage.versions import VersionConflict, add_field_version, current_values
from pipeline.templates import load_template
from pipeline.types import FieldValue as FieldReading

FIELD_ACTIONS = ("accept", "suggestion", "illegible", "blank")
REASONS = {"correct": "sửa theo bản gốc", "accept": "chấp nhận giá trị", "illegible": "không đọc được",
           "blank": "để trống", "lexicon": "theo gợi ý từ điển", "population": "theo dữ liệu dân cư"}


class RecordConflict(HotichError):
    """Someone else confirmed, postponed or approved this record since it was opened."""


@dataclass
class FieldConflict:
    """What the reviewer typed and what the other person stored (plain values: the
    transaction is rolled back before anyone reads them)."""

    field: str
    mine: str
    theirs: str | None
    theirs_by: str | None
    theirs_version: int


class ConfirmConflict(RecordConflict):
    """Some fields changed under the reviewer; nothing of the confirmation was written."""

    def __init__(self, conflicts: list[FieldConflict]):
        names = ", ".join(c.field for c in conflicts)
        super().__init__(f"Người khác vừa sửa {names}; chưa xác nhận",
                         hint="xem giá trị mới rồi xác nhận lại")
        self.conflicts = conflicts


def _record(session: Session, record_id: int) -> Record:
    record = session.get(Record, record_id, populate_existing=True)
    if record is None:
        raise NotFound(f"Không có bản ghi {record_id}")
    return record


def _require_open(record: Record) -> None:
    if record.status not in OPEN_STATUSES:
        raise RecordConflict(f"Bản ghi {record.id} đã được phê duyệt, không sửa được nữa")


def _check_lock(record: Record, lock_version: int | None) -> None:
    if lock_version is not None and record.lock_version != lock_version:
        who = record.approved_by or record.reviewed_by or "người khác"
        raise RecordConflict(f"Bản ghi {record.id} vừa được {who} xử lý",
                             hint="tải lại để xem trạng thái mới")


def _kind(record: Record, session: Session, field: str) -> str:
    book = session.get(Book, record.book_id)
    try:
        return load_template(book.template).kind_of(field)
    except KeyError:
        return "text"


def normalize_typed(field: str, kind: str, text: str, book_year: int | None = None) -> str | None:
    """A value as a reviewer typed it, in stored form; BadInput when it cannot be understood.

    A value a spreadsheet would run as a formula (``@SUM(…)``) is stored with a leading quote
    (``pipeline.cells``), as every export writes it and as ``records import`` stores it.

        >>> normalize_typed("birth_date", "date", "12/3/1968"), normalize_typed("notes", "text", "@SUM(1+1)")
        ('1968-03-12', "'@SUM(1+1)")
    """
    text = text.strip()
    if not text:
        return None
    out = normalize_field(FieldReading(field, text, None, "read", 1.0, source="review"), kind, book_year)
    if out.value is None:
        raise BadInput(out.note or f"Không hiểu được giá trị của {field}")
    return formula_safe(out.value)


def save_field(session: Session, record_id: int, field: str, *, action: str, text: str | None,
               expected_version: int, user: str, source: str = "review") -> FieldValue | None:
    """One field decided by a reviewer; returns the new version, or None if nothing changed.

    ``accept`` stores ``text`` (a correction when it differs from the current value, else
    the current value confirmed); ``suggestion`` the same with ``source`` telling where the
    text came from ("lexicon" or "population"); ``illegible`` / ``blank`` mark the field.

        >>> save_field(session, 7, "full_name", action="accept", text="Nguyễn Văn An",
        ...            expected_version=1, user="lan").version
        2
    """
    if action not in FIELD_ACTIONS:
        raise BadInput(f"Thao tác '{action}' không hợp lệ")
    record = _record(session, record_id)
    _require_open(record)
    current = current_values(session, record_id).get(field)
    if current is None and field not in load_template(session.get(Book, record.book_id).template).fields:
        raise NotFound(f"Bản ghi {record_id} không có trường {field}")
    latest = current.version if current is not None else 0
    if expected_version != latest:
        raise VersionConflict(f"Trường {field} của bản ghi {record_id} vừa được sửa ở nơi khác "
                              f"(phiên bản {latest})", hint="xem giá trị mới")
    raw = current.raw if current is not None else ""
    box = _box(current)
    if action in ("illegible", "blank"):
        if current is not None and current.status == action and current.value is None:
            return None
        value, status, reason = None, action, REASONS[action]
        stored_source = "review"
    else:
        kind = _kind(record, session, field)
        book = session.get(Book, record.book_id)
        value = normalize_typed(field, kind, text or "", book.year_from)
        if value is None:
            raise BadInput("Ô trống: nhập giá trị, hoặc Alt+T (để trống) / Alt+K (không đọc được)")
        status = "read"
        if action == "suggestion":
            stored_source = "population" if source == "population" else "review"
            reason = REASONS["population" if source == "population" else "lexicon"]
        elif current is not None and value == current.value:
            if current.status == "read":
                return None  # already accepted: Enter just moves on
            stored_source, reason = "review", REASONS["accept"]
        else:
            stored_source, reason = "review", REASONS["correct"]
    new = add_field_version(
        session, record_id, field, raw=raw, value=value, status=status, confidence=1.0,
        source=stored_source, box=box, changed_by=user, reason=reason,
        note=None, expected_version=latest)
    if current is not None and value == current.value:
        new.unit = current.unit
    audit(session, user, f"field.{action}", "record", record_id, field=field, version=new.version,
          previous_version=latest, status=status)
    return new


def _box(fv: FieldValue | None):
    if fv is None or None in (fv.box_x0, fv.box_y0, fv.box_x1, fv.box_y1):
        return None
    return (fv.box_x0, fv.box_y0, fv.box_x1, fv.box_y1)


def confirm_record(session: Session, record_id: int, *, user: str, lock_version: int,
                   fields: Mapping[str, tuple[str, int]], link_choice: str | None = None
                   ) -> Record:
    """The reviewer confirms the record as on screen: ``fields`` maps field → (text, version).

    Fields whose text differs from the stored value become corrections, uncertain ones that
    were left as they are are accepted. A field changed by someone else since (and now
    different from what this reviewer has) makes the whole confirmation fail with
    ``ConfirmConflict``: the caller rolls back and shows the new values. An uncertain link
    must be decided, here with ``link_choice`` (a citizen's id, or ``"none"``), or before.
    """
    record = _record(session, record_id)
    _require_open(record)
    _check_lock(record, lock_version)
    current = current_values(session, record_id)
    book = session.get(Book, record.book_id)
    template = load_template(book.template)
    conflicts: list[FieldConflict] = []
    plans: list[tuple[str, str, int]] = []
    for name, (text, version) in fields.items():
        fv = current.get(name)
        latest = fv.version if fv is not None else 0
        kind = _kind_of(template, name)
        if fv is not None and fv.status in ("illegible", "blank") and not text.strip():
            if latest != version and fv.value is not None:
                conflicts.append(_conflict(name, text, fv))
            continue
        value = normalize_typed(name, kind, text, book.year_from) if text.strip() else None
        if latest != version:
            if fv is None or fv.value != value:
                conflicts.append(_conflict(name, text, fv))
            continue
        if value is None:
            if fv is not None and fv.status in ("uncertain", "read"):
                raise BadInput(f"Trường {name} chưa có giá trị",
                               hint="nhập giá trị, hoặc đánh dấu để trống (Alt+T) / không đọc được (Alt+K)")
            continue
        if fv is None or value != fv.value or fv.status != "read":
            plans.append((name, text, latest))
    if conflicts:
        raise ConfirmConflict(conflicts)
    for name, text, latest in plans:
        save_field(session, record_id, name, action="accept", text=text, expected_version=latest,
                   user=user)
    if link_choice:
        decide_link(session, record_id, None if link_choice == "none" else int(link_choice), user=user)
    panel = link_panel(session, record_id, {})
    if panel is not None and panel.needs_decision:
        raise BadInput("Liên kết công dân chưa được quyết định",
                       hint="chọn một ứng viên hoặc 'không ai' (Alt+L)")
    record.status = REVIEWED
    record.reviewed_by = user
    record.reviewed_at = datetime.now(timezone.utc)
    record.review_note = None
    record.lock_version += 1
    audit(session, user, "record.confirm", "record", record_id, corrected=len(plans),
          link=link_choice)
    session.flush()
    return record


def _conflict(name: str, text: str, fv: FieldValue | None) -> FieldConflict:
    return FieldConflict(name, text, fv.value if fv else None, fv.changed_by if fv else None,
                         fv.version if fv else 0)


def _kind_of(template, name: str) -> str:
    try:
        return template.kind_of(name)
    except KeyError:
        return "text"


def postpone_record(session: Session, record_id: int, *, user: str, lock_version: int,
                    note: str | None = None) -> Record:
    """Set a record aside for a supervisor (the exceptions list), with an optional reason."""
    record = _record(session, record_id)
    _require_open(record)
    _check_lock(record, lock_version)
    record.status = POSTPONED
    record.review_note = (note or "").strip()[:500] or None
    record.lock_version += 1
    audit(session, user, "record.postpone", "record", record_id)
    session.flush()
    return record


def requeue_record(session: Session, record_id: int, *, user: str, role: str) -> Record:
    """A supervisor sends a postponed (or reviewed) record back to the review queue."""
    require_role(role, "supervisor", "đưa bản ghi về hàng chờ")
    record = _record(session, record_id)
    _require_open(record)
    previous, record.status = record.status, NEEDS_REVIEW
    record.lock_version += 1
    audit(session, user, "record.requeue", "record", record_id, previous_status=previous)
    session.flush()
    return record


def approve_record(session: Session, record_id: int, *, user: str, role: str,
                   lock_version: int | None = None) -> Record:
    """A supervisor approves one record that is out of the queue (reviewed or never doubted)."""
    require_role(role, "supervisor", "phê duyệt bản ghi")
    record = _record(session, record_id)
    _check_lock(record, lock_version)
    if record.status == APPROVED:
        return record
    if record.status not in (REVIEWED, EXTRACTED) or session.scalar(
            select(Record.id).where(Record.id == record_id, needs_person())) is not None:
        raise BadInput(f"Bản ghi {record_id} còn chờ duyệt, chưa phê duyệt được")
    _approve(session, record, user, via="record")
    return record


def _approve(session: Session, record: Record, user: str, via: str) -> None:
    previous = record.status
    record.status = APPROVED
    record.approved_by = user
    record.approved_at = datetime.now(timezone.utc)
    record.lock_version += 1
    audit(session, user, "record.approve", "record", record.id, previous_status=previous, via=via)


@dataclass(frozen=True)
class BookApproval:
    """What approving a whole book would approve, told before it is done (issue 19 §4).

    ``doubtful`` counts fields, by name, still marked uncertain by a stage and never looked at
    by a person: a bulk approval turns them into approved values, so the supervisor is told
    how many, and the national export's notes name each one.
    """

    book_code: str
    records: int
    pending: int  # waiting for review or postponed: approved only with include_pending
    doubtful: dict[str, int]  # field name → fields still uncertain
    labels: dict[str, str]  # field name → its label on the book's pages

    @property
    def doubtful_fields(self) -> int:
        return sum(self.doubtful.values())

    def doubtful_text(self) -> str:
        """``Họ và tên: 1; Ngày, tháng, năm sinh: 1``: by the labels printed in the book."""
        return "; ".join(f"{self.labels.get(name, name)}: {n}" for name, n in self.doubtful.items())


def preview_book_approval(session: Session, book_code: str) -> BookApproval:
    """The records ``approve_book`` would approve, and their doubtful fields.

        >>> preview_book_approval(session, "mau-11").doubtful   # doctest: +SKIP
        {'full_name': 1, 'birth_date': 1, 'mother_name': 1}
    """
    from sqlalchemy import func

    book = find_book(session, book_code)
    waiting, postponed = book_queue_empty(session, book.id)
    open_records = Record.status.in_((EXTRACTED, NEEDS_REVIEW, POSTPONED, REVIEWED))
    records = session.scalar(select(func.count()).select_from(Record)
                             .where(Record.book_id == book.id, open_records)) or 0
    doubtful = dict(session.execute(
        select(FieldValue.field, func.count()).join(Record, Record.id == FieldValue.record_id)
        .where(Record.book_id == book.id, open_records, FieldValue.is_current.is_(True),
               FieldValue.status == "uncertain", FieldValue.changed_by.is_(None))
        .group_by(FieldValue.field).order_by(FieldValue.field)).all())
    from pipeline.review.screen import field_label

    try:
        template = load_template(book.template)
        labels = {name: field_label(template, name) for name in doubtful}
    except HotichError:  # a book whose template file is gone: field names, still counted
        labels = {}
    return BookApproval(book_code, records, waiting + postponed, doubtful, labels)


def approve_book(session: Session, book_code: str, *, user: str, role: str,
                 include_pending: bool = False, via: str = "web") -> int:
    """A supervisor approves every record of a book; returns how many were approved.

    Refused while records of the book wait for review or sit in the exceptions list, unless
    ``include_pending`` (a book typed and checked elsewhere, approved from the command line).
    Each record gets its own audit entry, and the book one more.
    """
    require_role(role, "supervisor", "phê duyệt cả quyển sổ")
    book = find_book(session, book_code)
    waiting, postponed = book_queue_empty(session, book.id)
    if (waiting or postponed) and not include_pending:
        raise BadInput(f"Sổ {book_code} còn {waiting} bản ghi chờ duyệt và {postponed} ngoại lệ",
                       hint="duyệt hết trước khi phê duyệt cả sổ")
    records = list(session.scalars(select(Record).where(
        Record.book_id == book.id, Record.status.in_((EXTRACTED, NEEDS_REVIEW, POSTPONED, REVIEWED)))
        .order_by(Record.id)))
    doubtful = preview_book_approval(session, book_code).doubtful_fields
    for record in records:
        _approve(session, record, user, via=via)
    audit(session, user, "book.approve", "book", book.book_code, records=len(records),
          pending_included=waiting + postponed if include_pending else 0,
          doubtful_fields=doubtful, via=via)
    session.flush()
    return len(records)


def restore_version(session: Session, record_id: int, field: str, version: int, *, user: str,
                    role: str, expected_version: int) -> FieldValue:
    """A supervisor makes an earlier version current again, as a new version (history kept)."""
    require_role(role, "supervisor", "khôi phục phiên bản cũ")
    record = _record(session, record_id)
    _require_open(record)
    old = session.scalar(select(FieldValue).where(
        FieldValue.record_id == record_id, FieldValue.field == field, FieldValue.version == version))
    if old is None:
        raise NotFound(f"Trường {field} của bản ghi {record_id} không có phiên bản {version}")
    new = add_field_version(
        session, record_id, field, raw=old.raw, value=old.value, status=old.status,
        confidence=old.confidence, source=old.source, box=_box(old), note=old.note,
        changed_by=user, reason=f"khôi phục phiên bản {version}", expected_version=expected_version)
    new.unit = old.unit
    if old.status in ("uncertain", "illegible") and record.status in (EXTRACTED, REVIEWED):
        record.status = NEEDS_REVIEW
        record.lock_version += 1
    audit(session, user, "field.restore", "record", record_id, field=field, version=new.version,
          restored=version)
    return new


def assign_book(session: Session, book_id: int, reviewer: str | None, *, user: str, role: str) -> int:
    """A supervisor hands a book's waiting records to one reviewer (None: to anyone)."""
    require_role(role, "supervisor", "giao việc")
    ids = list(session.scalars(select(Record.id).where(
        Record.book_id == book_id, needs_person() | (Record.status == POSTPONED))))
    if ids:
        session.execute(update(Record).where(Record.id.in_(ids))
                        .values(assigned_to=reviewer, lock_version=Record.lock_version + 1)
                        .execution_options(synchronize_session=False))
    audit(session, user, "book.assign", "book", book_id, reviewer=reviewer, records=len(ids))
    return len(ids)


def history_rows(session: Session, record_id: int, field: str) -> list[dict]:
    """A field's versions, newest first, each with what it changed from and to."""
    rows = list(session.scalars(select(FieldValue).where(
        FieldValue.record_id == record_id, FieldValue.field == field).order_by(FieldValue.version)))
    out = []
    previous = None
    for fv in rows:
        out.append({"version": fv.version, "at": fv.created_at, "by": fv.changed_by,
                    "source": fv.source, "from": previous.value if previous else None,
                    "to": fv.value, "status": fv.status, "reason": fv.reason,
                    "current": fv.is_current, "raw": fv.raw})
        previous = fv
    return list(reversed(out))


EXPORTABLE = (APPROVED, EXPORTED)

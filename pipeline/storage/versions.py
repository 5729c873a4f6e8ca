"""Versioned field values: a correction is a new version, never an edit of the old one."""

from __future__ import annotations

import unicodedata
from typing import Sequence

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from pipeline.errors import InvalidValue, StorageError
from pipeline.storage.models import FieldValue, Record
from pipeline.storage.search_index import INDEXED_FIELDS, refresh_index

STATUSES = frozenset({"read", "uncertain", "illegible", "blank"})
SOURCES = frozenset({"ocr", "review", "import", "population"})


class VersionConflict(StorageError):
    """Someone else added a version of this field first; reload and retry."""


def _nfc(text: str | None) -> str | None:
    return None if text is None else unicodedata.normalize("NFC", text)


def _latest_version(session: Session, record_id: int, field: str) -> int:
    return session.scalar(
        select(func.coalesce(func.max(FieldValue.version), 0)).where(
            FieldValue.record_id == record_id, FieldValue.field == field
        )
    )


def add_field_version(
    session: Session,
    record: Record | int,
    field: str,
    *,
    raw: str,
    value: str | None,
    status: str,
    confidence: float,
    source: str,
    box: Sequence[int] | None = None,
    note: str | None = None,
    changed_by: str | None = None,
    reason: str | None = None,
    stage_run_id: int | None = None,
    expected_version: int | None = None,
) -> FieldValue:
    """Add version n+1 of ``field`` and make it the only current one; returns the new row.

    Older rows are only un-marked as current; their raw and value are never touched.
    ``expected_version`` is the version the caller based its change on (e.g. what the
    reviewer saw; 0 for "no version yet"): if someone else has written since,
    ``VersionConflict`` is raised instead of silently overwriting their correction.
    Text is stored in NFC, so that equal-looking Vietnamese strings compare equal.

    Two writers adding a version of one field at once compute the same next number; the
    unique constraint (record_id, field, version) — and one-current-per-field index —
    let exactly one win, the other gets ``VersionConflict`` and must roll back and retry
    on fresh data, so no correction is silently lost. A savepoint keeps the loser's
    transaction usable for its other work.

        >>> add_field_version(session, record, "full_name", raw="Nguyen Van Ann",
        ...                   value="Nguyen Van Ann", status="uncertain", confidence=0.55,
        ...                   source="ocr").version
        1
        >>> add_field_version(session, record, "full_name", raw="Nguyen Van Ann",
        ...                   value="Nguyễn Văn An", status="read", confidence=1.0,
        ...                   source="review", changed_by="lan", reason="sửa theo bản gốc",
        ...                   expected_version=1).version
        2
    """
    if status not in STATUSES:
        raise InvalidValue(f"Trạng thái trường không hợp lệ: {status!r}")
    if source not in SOURCES:
        raise InvalidValue(f"Nguồn giá trị không hợp lệ: {source!r}")
    if not 0.0 <= confidence <= 1.0:
        raise InvalidValue(f"Độ tin cậy {confidence} nằm ngoài [0, 1]")
    if box is not None and len(box) != 4:
        raise InvalidValue("Ô vùng đọc phải có 4 số (x0, y0, x1, y1)")
    record_id = record if isinstance(record, int) else record.id
    if record_id is None:  # a Record not flushed yet
        session.flush()
        record_id = record.id

    latest = _latest_version(session, record_id, field)
    if expected_version is not None and expected_version != latest:
        raise _conflict(record_id, field, latest)

    new = FieldValue(
        record_id=record_id,
        field=field,
        version=latest + 1,
        is_current=True,
        raw=_nfc(raw) or "",
        value=_nfc(value),
        status=status,
        confidence=float(confidence),
        source=source,
        note=note,
        changed_by=changed_by,
        reason=reason,
        stage_run_id=stage_run_id,
    )
    if box is not None:
        new.box_x0, new.box_y0, new.box_x1, new.box_y1 = (int(v) for v in box)

    # A savepoint, so that losing the race leaves the caller's transaction usable
    # (PostgreSQL would otherwise refuse every further statement until rollback).
    try:
        with session.begin_nested():
            # Un-current first: the partial unique index allows one current row per field.
            session.execute(
                update(FieldValue)
                .where(
                    FieldValue.record_id == record_id,
                    FieldValue.field == field,
                    FieldValue.is_current.is_(True),
                )
                .values(is_current=False)
                .execution_options(synchronize_session="fetch")
            )
            session.add(new)
            session.flush()
    except IntegrityError as exc:
        raise _conflict(record_id, field, latest + 1) from exc
    except OperationalError as exc:
        # SQLite's form of the same race: our transaction read before the other writer
        # committed, so SQLite refuses our write (SQLITE_BUSY / SQLITE_BUSY_SNAPSHOT) at
        # once; it can only succeed in a new transaction. (It is also what a writer that
        # held the file past busy_timeout looks like; retrying is right for both.)
        if getattr(exc.orig, "sqlite_errorname", "").startswith("SQLITE_BUSY"):
            raise VersionConflict(
                f"Trường {field} của bản ghi {record_id} đang được ghi đồng thời ở nơi khác",
                hint="tải lại và thử lại",
            ) from exc
        raise
    _refresh_search_index(session, record_id, field)
    return new


def _refresh_search_index(session: Session, record_id: int, field: str) -> None:
    """Every correction goes through here, so the search index follows it in the same
    transaction (the review app needs no call of its own)."""
    if field in INDEXED_FIELDS:
        refresh_index(session, [record_id])


def _conflict(record_id: int, field: str, version: int) -> VersionConflict:
    return VersionConflict(
        f"Trường {field} của bản ghi {record_id} vừa được sửa ở nơi khác (phiên bản {version})",
        hint="tải lại và thử lại",
    )


def current_values(session: Session, record_id: int) -> dict[str, FieldValue]:
    """The current version of every field of a record, by field name."""
    rows = session.scalars(
        select(FieldValue).where(
            FieldValue.record_id == record_id, FieldValue.is_current.is_(True)
        )
    )
    return {fv.field: fv for fv in rows}


def field_history(session: Session, record_id: int, field: str) -> list[FieldValue]:
    """All versions of one field, oldest first: what a reviewer sees as "who changed what".

        >>> [(v.version, v.value, v.changed_by) for v in field_history(session, 7, "full_name")]
        [(1, 'Nguyen Van Ann', None), (2, 'Nguyễn Văn An', 'lan')]
    """
    return list(
        session.scalars(
            select(FieldValue)
            .where(FieldValue.record_id == record_id, FieldValue.field == field)
            .order_by(FieldValue.version)
        )
    )

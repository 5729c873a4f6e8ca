"""`records export`: the canonical record columns of SPEC §4, as CSV or XLSX.

Values are the current normalized ones; `--field-status` adds `<field>_status` so a commune can
see which values a person still has to check. A text a spreadsheet would take for a formula
is written with a leading quote (``pipeline.cells``).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pandas as pd
from sqlalchemy import select
from sqlalchemy.engine import Engine

from pipeline.cells import formula_safe, xlsx_safe
from pipeline.errors import BadInput, NotFound
from pipeline.storage.db import session_scope
from pipeline.storage.models import Book, Citizen, FieldValue, Link, Page, Record

BIRTH_FIELDS = ["registration_no", "registration_date", "full_name", "sex", "birth_date",
                "birth_place", "ethnicity", "nationality", "father_name", "father_age",
                "mother_name", "mother_age", "residence", "declarant", "notes"]
BIRTH_COLUMNS = ["record_id", "book_id", "page", "row", "registration_no", "volume",
                 "registration_date", "full_name", "sex", "birth_date", "birth_place", "ethnicity",
                 "nationality", "father_name", "father_age", "mother_name", "mother_age",
                 "residence", "declarant", "notes", "status", "confidence", "citizen_id",
                 "match_score"]
LINKED = ("auto", "confirmed")


def records_frame(db: Engine, *, book_code: str | None = None, status: str | None = None,
                  field_status: bool = False) -> pd.DataFrame:
    """The export as a DataFrame, ordered by book, page and row."""
    with session_scope(db) as session:
        query = (select(Record, Book, Page.page_no).join(Book, Book.id == Record.book_id)
                 .outerjoin(Page, Page.id == Record.page_id))
        if book_code:
            if session.scalar(select(Book.id).where(Book.book_code == book_code)) is None:
                raise NotFound(f"Không có sổ '{book_code}'")
            query = query.where(Book.book_code == book_code)
        if status:
            from pipeline.review.queue import RECORD_STATUSES, STATUS_LABELS

            if status not in RECORD_STATUSES:  # a typo must not pass for "no such records"
                raise BadInput(f"Trạng thái '{status}' không hợp lệ", hint="dùng một trong " + ", ".join(
                    f"{s} ({STATUS_LABELS[s]})" for s in RECORD_STATUSES))
            query = query.where(Record.status == status)
        rows = list(session.execute(query.order_by(Book.book_code, Page.page_no, Record.row, Record.id)))
        ids = [record.id for record, _, _ in rows]
        values: dict[int, dict[str, FieldValue]] = defaultdict(dict)
        links: dict[int, tuple[str, float]] = {}
        for chunk_start in range(0, len(ids), 5000):
            chunk = ids[chunk_start:chunk_start + 5000]
            for fv in session.scalars(select(FieldValue).where(FieldValue.record_id.in_(chunk),
                                                               FieldValue.is_current.is_(True))):
                values[fv.record_id][fv.field] = fv
            for record_id, citizen_id, score in session.execute(
                select(Link.record_id, Citizen.citizen_id, Link.score)
                .join(Citizen, Citizen.id == Link.citizen_pk)
                .where(Link.record_id.in_(chunk), Link.status.in_(LINKED))
            ):
                links[record_id] = (citizen_id, score)
        out = []
        for record, book, page_no in rows:
            fields = values.get(record.id, {})
            line = {"record_id": record.record_key, "book_id": book.book_code, "page": page_no,
                    "row": record.row, "volume": book.volume, "status": record.status,
                    "confidence": None if record.confidence is None else round(record.confidence, 3)}
            for name in BIRTH_FIELDS:
                fv = fields.get(name)
                line[name] = fv.value if fv else None
                if field_status:
                    line[f"{name}_status"] = fv.status if fv else None
            citizen_id, score = links.get(record.id, (None, None))
            line["citizen_id"], line["match_score"] = citizen_id, score
            out.append(line)
    columns = list(BIRTH_COLUMNS)
    if field_status:
        columns += [f"{name}_status" for name in BIRTH_FIELDS]
    return pd.DataFrame(out, columns=columns)


def export_records(db: Engine, out: Path, **filters) -> int:
    """Write CSV or XLSX by extension; returns the number of records written.

    Text cells go through ``pipeline.cells`` (a value a spreadsheet would run as a formula
    gets a leading quote), so opening the file in Excel never evaluates what a register or a
    commune's file held.
    """
    suffix = out.suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise BadInput(f"{out.name}: chỉ xuất được .csv hoặc .xlsx")
    frame = records_frame(db, **filters)
    fix = formula_safe if suffix == ".csv" else xlsx_safe
    for column in frame.columns:  # text columns only: numbers (scores, confidences) stay numbers
        if not pd.api.types.is_numeric_dtype(frame[column]):
            frame[column] = frame[column].map(fix)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    if suffix == ".csv":
        # CRLF, as RFC 4180 has it: the writer then also quotes a value holding a lone CR,
        # which readers (Excel too) take for the end of a row, the rest for a row of its own.
        frame.to_csv(tmp, index=False, encoding="utf-8", lineterminator="\r\n")
    else:
        frame.to_excel(tmp, index=False, engine="openpyxl")
    tmp.replace(out)
    return len(frame)

"""`records export`: the canonical record columns of SPEC §4, as CSV or XLSX, for each book type.

The columns come from the type's templates (``pipeline.templates.record_columns``): a birth,
marriage or death register exports its own fields, so a commune can check any book as a table
and import the file back (``pipeline.records_import``). One file holds one book type: the
columns differ, so an export of several types at once asks which one.

Values are the current normalized ones (a value read but not understood: its text as read, see
``cell_value``); `--field-status` adds `<field>_status` so a commune can see which values a
person still has to check. A text a spreadsheet would take for a formula is written with a
leading quote (``pipeline.cells``).

Links: a birth's child and a deceased person are the entry's subject, exported in
``citizen_id, match_score``. The spouses' ``husband_citizen_id`` … ``wife_match_score`` are
written empty until links record which person of an entry they are for (matching by role,
issue 18 item 2); a link of a marriage record without a role says nothing about which spouse.

The bytes depend on the records alone: the same records give the same file (the XLSX package
carries no clock time), so an export → import → export round trip is checked byte for byte.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections import defaultdict
from pathlib import Path

import pandas as pd
from sqlalchemy import select
from sqlalchemy.engine import Engine

from pipeline.cells import formula_safe, xlsx_safe
from pipeline.errors import BadInput
from pipeline.statuses import RECORD_STATUSES, STATUS_LABELS
from pipeline.storage.books import find_book
from pipeline.storage.db import session_scope
from pipeline.storage.models import Book, Citizen, FieldValue, Link, Page, Record
from pipeline.templates import BOOK_TYPE_NAMES, BOOK_TYPES, LINKED_ROLES, record_columns, register_fields

BIRTH_COLUMNS = record_columns("birth")
BIRTH_FIELDS = register_fields("birth")  # kept for callers of the births-only export
LINKED = ("auto", "confirmed")
#: Integer columns that may be empty (a typed book has no page): never written as ``1.0``.
WHOLE_NUMBERS = ("page", "row")
#: The XLSX package's clock (file entries and document properties), fixed: see the module doc.
FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
FIXED_W3C_TIME = "1980-01-01T00:00:00Z"


def field_columns(book_type: str) -> list[str]:
    """The register's own fields in column order: what has a value and a `_status`."""
    fields = set(register_fields(book_type))
    return [c for c in record_columns(book_type) if c in fields]


def export_type(session, *, book_code: str | None, book_type: str | None, status: str | None) -> str:
    """The one book type the export is for: the book's, the one asked for, or the only one
    among the records selected (births when there are none)."""
    if book_type is not None and book_type not in BOOK_TYPES:
        raise BadInput(f"--book-type '{book_type}' không hợp lệ",
                       hint="dùng birth (khai sinh), marriage (kết hôn) hoặc death (khai tử)")
    if book_code:
        found = find_book(session, book_code).book_type
        if book_type and book_type != found:
            raise BadInput(f"Sổ {book_code} là sổ {BOOK_TYPE_NAMES[found]}, không phải {BOOK_TYPE_NAMES[book_type]}")
        return found
    if book_type:
        return book_type
    query = select(Book.book_type).join(Record, Record.book_id == Book.id).distinct()
    if status:
        query = query.where(Record.status == status)
    types = sorted(session.scalars(query), key=BOOK_TYPES.index)
    if len(types) > 1:
        raise BadInput("Các bản ghi thuộc nhiều loại sổ (" + ", ".join(BOOK_TYPE_NAMES[t] for t in types)
                       + "), mỗi loại có cột riêng", hint="chọn --book hoặc --book-type")
    return types[0] if types else "birth"


def _check_status(status: str | None) -> None:
    if status:
        if status not in RECORD_STATUSES:  # a typo must not pass for "no such records"
            raise BadInput(f"Trạng thái '{status}' không hợp lệ", hint="dùng một trong " + ", ".join(
                f"{s} ({STATUS_LABELS[s]})" for s in RECORD_STATUSES))


def records_frame(db: Engine, *, book_code: str | None = None, status: str | None = None,
                  field_status: bool = False, book_type: str | None = None) -> pd.DataFrame:
    """The export as a DataFrame, ordered by book, page and row, in the type's columns."""
    _check_status(status)
    with session_scope(db) as session:
        kind = export_type(session, book_code=book_code, book_type=book_type, status=status)
        query = (select(Record, Book, Page.page_no).join(Book, Book.id == Record.book_id)
                 .outerjoin(Page, Page.id == Record.page_id).where(Book.book_type == kind))
        if book_code:
            query = query.where(Book.book_code == book_code)
        if status:
            query = query.where(Record.status == status)
        rows = list(session.execute(query.order_by(Book.book_code, Page.page_no, Record.row, Record.id)))
        ids = [record.id for record, _, _ in rows]
        values, links = _values_and_links(session, ids)
        fields = field_columns(kind)
        out = [_line(record, book, page_no, values.get(record.id, {}), links.get(record.id, {}),
                     kind, fields, field_status) for record, book, page_no in rows]
    columns = record_columns(kind) + ([f"{name}_status" for name in fields] if field_status else [])
    frame = pd.DataFrame(out, columns=columns)
    for name in WHOLE_NUMBERS:
        frame[name] = frame[name].astype("Int64")
    return frame


def _values_and_links(session, ids: list[int]) -> tuple[dict[int, dict[str, FieldValue]],
                                                          dict[int, dict[str, tuple[str, float]]]]:
    """Current field values and citizen links (by role) of the records, read in chunks.

    A link's role is ``Link.role`` once links have one (matching by role), else ``""``: a
    link made for the whole record, i.e. for its subject (``_link_of``).
    """
    values: dict[int, dict[str, FieldValue]] = defaultdict(dict)
    links: dict[int, dict[str, tuple[str, float]]] = defaultdict(dict)
    role = getattr(Link, "role", None)
    for start in range(0, len(ids), 5000):
        chunk = ids[start:start + 5000]
        for fv in session.scalars(select(FieldValue).where(FieldValue.record_id.in_(chunk),
                                                           FieldValue.is_current.is_(True))):
            values[fv.record_id][fv.field] = fv
        columns = [Link.record_id, Citizen.citizen_id, Link.score] + ([role] if role is not None else [])
        for found in session.execute(
            select(*columns).join(Citizen, Citizen.id == Link.citizen_pk)
            .where(Link.record_id.in_(chunk), Link.status.in_(LINKED))
        ):
            who = found[3] if len(found) > 3 else ""
            links[found[0]][who or ""] = (found[1], found[2])
    return values, links


def _line(record: Record, book: Book, page_no: int | None, fields: dict[str, FieldValue],
          links: dict[str, tuple[str, float]], kind: str, names: list[str], field_status: bool) -> dict:
    line = {"record_id": record.record_key, "book_id": book.book_code, "page": page_no,
            "row": record.row, "volume": book.volume, "status": record.status,
            "confidence": None if record.confidence is None else round(record.confidence, 3)}
    for name in names:
        fv = fields.get(name)
        line[name] = cell_value(fv)
        if field_status:  # a field the record never had (no such column) is empty: blank
            line[f"{name}_status"] = fv.status if fv else "blank"
    for role in LINKED_ROLES[kind]:
        prefix = f"{role}_" if role else ""
        citizen_id, score = _link_of(links, role)
        line[f"{prefix}citizen_id"], line[f"{prefix}match_score"] = citizen_id, score
    return line


def _link_of(links: dict[str, tuple[str, float]], role: str) -> tuple[str | None, float | None]:
    """The citizen linked to a role of the entry. A type with one subject (a birth, a death)
    links only that person, whatever name the link gives the role."""
    if role:
        return links.get(role, (None, None))
    return links.get("") or next(iter(links.values()), (None, None))


def cell_value(fv: FieldValue | None) -> str | None:
    """The normalized value; for a value read but not understood (``uncertain``: an age where
    a date was expected, ``khoảng mùa lúa``), the text as read, so the table shows what the
    register says and the file imported back is the same record, not an emptied one."""
    if fv is None:
        return None
    if fv.value is None and fv.status == "uncertain":
        return fv.raw or None
    return fv.value


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
        buffer = io.BytesIO()
        frame.to_excel(buffer, index=False, engine="openpyxl")
        tmp.write_bytes(without_clock(buffer.getvalue()))
    tmp.replace(out)
    return len(frame)


def without_clock(xlsx: bytes) -> bytes:
    """The XLSX package with its clock times fixed: zip entry times and the document's
    created / modified properties. openpyxl stamps both with the time of writing, so two
    exports of the same records would differ in bytes for no reason a user can see."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(xlsx)) as source, \
            zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:)",
                              rb"\g<1>" + FIXED_W3C_TIME.encode() + rb"\g<2>", data)
            entry = zipfile.ZipInfo(item.filename, date_time=FIXED_ZIP_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = item.external_attr
            target.writestr(entry, data)
    return out.getvalue()

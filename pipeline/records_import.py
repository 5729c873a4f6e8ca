"""`records import`: register entries already typed by a commune (CSV / XLSX) stored as records.

A typed book has no scans, so its records hang on the book alone (``Record.page_id`` is NULL,
``Record.source`` is ``import``); from there they are matched, reviewed and exported like
records read by OCR. Every cell goes through the clean stage as an OCR reading does
(``pipeline.clean.normalize_page``, one entry at a time: the page-order rules for registration
numbers and dates undo OCR digit slips, which typing does not make), with ``raw`` the cell's
text verbatim (NFC), ``source`` ``import`` and confidence 1.0; so rule findings and values that
cannot be understood send the record to a reviewer exactly as they would an OCR'd one. Ditto
cells (``nt``, ``như trên``) take the value of the row above in the file.

Columns: for each book type (birth, marriage, death) those `records export` writes, built
from the type's templates (``pipeline.templates.record_columns``); the export's own columns
(book, status, confidence, citizen links, ``<field>_status``) are read back and not stored, so
an export imports back unchanged and exports again to the same bytes.

Record ids (``record_id``, exported back by ``records export``):

* a non-empty ``record_id`` cell is kept verbatim (NFC, trimmed) when no record of another book
  holds it; when one does (two communes both numbering ``1, 2, 3 …``), the record is stored as
  ``<book>-<given id>`` and the import says so, once per row;
* without one, the id is made from the row's position: ``<book>-i-p<page>-r<row>`` when the file
  has ``page`` and ``row``, else ``<book>-i-r<row or position>`` (``position``: the 1-based
  count of data rows in the file). The ``-i-`` keeps them apart from OCR ids
  (``<book>-p0001-r01``). Such ids follow the file's order: give a ``record_id`` column when
  rows may be inserted or re-sorted between imports.

A ``record_id`` that is an OCR'd record of the same book is refused (row error): scanned
entries are corrected in the review app, where the page image is beside the value.

Hostile cells: a value or id a spreadsheet would run as a formula (``=…``, ``@SUM(…)``) is
stored with a leading quote, exactly as every export writes it (``pipeline.cells``), so an
exported file imported again finds its records; ``raw`` keeps the cell verbatim. A cell
longer than ``pipeline.tables.MAX_CELL_CHARS`` makes its row an error (``pipeline.tables``).

Positions: a typed book has no page images, hence no pages; ``page`` is therefore empty in
exports (a page row would need a scan, which the national export and the review app would look
for). ``Record.row`` is the file's ``row`` when the file has a ``row`` but no ``page`` column,
else the row's position among the file's data rows, so exports keep the file's order.

Importing is idempotent: a record is found again by its id, and a field gets a new version
(source ``import``) only when its cleaned value differs from what the last import stored
(a cell retyped in another form, ``12/3/1968`` → ``12-03-1968``, is no change). A field a
reviewer corrected since (current version not from an import) is never overwritten: the
import reports a conflict line and keeps the reviewer's value. A changed record of a closed
status (reviewed, approved, exported) goes back to ``needs_review``: nobody has looked at the
new value yet. Each import is one stage run and one audit entry (file name, hash, counts;
no personal data).
"""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from pipeline.cells import formula_safe, original
from pipeline.clean import CLEAN_VERSION, normalize_page, record_confidence, record_status, resolve_dittos
from pipeline.clean.lexicon import using_name_lexicon
from pipeline.clean.places import BookPlace
from pipeline.errors import BadInput
from pipeline.ingest import BookInfo, made_up_code, parse_years
from pipeline.match.population import load_name_lexicon
from pipeline.paths import check_book_code
from pipeline.storage.search_index import refresh_index
from pipeline.statuses import EXTRACTED, NEEDS_REVIEW, POSTPONED
from pipeline.storage.audit import audit
from pipeline.storage.db import session_scope
from pipeline.storage.models import Book, Record, StageRun
from pipeline.storage.models import FieldValue as FieldValueRow
from pipeline.storage.runs import start_stage_run
from pipeline.storage.versions import add_field_version
from pipeline.tables import cell_text, open_table
from pipeline.templates import BOOK_TYPES, Template, load_template, record_columns, register_fields
from pipeline.types import FieldValue

KEY_COLUMNS = ("record_id", "page", "row")
#: Columns every `records export` adds that are not the register's own: read back silently,
#: unused (each type's link columns too, see ``export_only``).
EXPORT_ONLY = ("book_id", "volume", "status", "confidence", "citizen_id", "match_score")
TYPED_CONFIDENCE = 1.0  # a person typed it; a value the clean stage cannot read is halved
CHUNK_ROWS = 200  # rows per transaction
MAX_REPORTED = 1000
ACTOR = "system:import"


@dataclass
class RecordsImport:
    file: str
    book_code: str = ""
    encoding: str = ""
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[str] = field(default_factory=list)  # "<file> dòng N: reason" — rows skipped
    error_count: int = 0
    conflicts: list[str] = field(default_factory=list)  # reviewer's value kept over the file's
    notices: list[str] = field(default_factory=list)  # rows kept with a remark (a renamed id)
    ignored_columns: list[str] = field(default_factory=list)
    stage_run_id: int | None = None

    def skip(self, line: int, reason: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_REPORTED:
            self.errors.append(f"{self.file} dòng {line}: {reason}")

    def _line(self, target: list[str], line: int, text: str) -> None:
        if len(target) < MAX_REPORTED:
            target.append(f"{self.file} dòng {line}: {text}")


@dataclass
class _Row:
    line: int
    key: str
    position: int  # Record.row
    given_id: str | None
    texts: dict[str, str]  # field → cell text, NFC
    fields: dict[str, FieldValue] = field(default_factory=dict)  # cleaned


def import_fields(book_type: str) -> list[str]:
    """The register's own columns for a book type: the fields of the type's templates (form
    first, then what only the ledger has, e.g. notes), as `records export` writes them.

        >>> import_fields("death")[:3]
        ['registration_no', 'deceased_name', 'sex']
    """
    return register_fields(book_type)


def export_only(book_type: str) -> set[str]:
    """Columns `records export` writes for the type that an import does not store: where the
    book is, the record's status and confidence, the citizen links (``wife_citizen_id`` …)."""
    own = set(import_fields(book_type)) | set(KEY_COLUMNS)
    return {c for c in record_columns(book_type) if c not in own} | set(EXPORT_ONLY)


def cleaning_template(book_type: str) -> Template:
    """The form template of the type: it names every field with its kind and the required ones."""
    return load_template(f"{book_type}_form")


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _check_book_type(book_type: str) -> None:
    if book_type not in BOOK_TYPES:
        raise BadInput(f"--book-type '{book_type}' không hợp lệ",
                       hint="dùng birth (khai sinh), marriage (kết hôn) hoặc death (khai tử)")


def resolve_book(session: Session, book_type: str, info: BookInfo) -> Book:
    """The book to import into: ``info.book_code``'s or the one its commune options name,
    created (with the type's form template) when it does not exist yet."""
    have = {"--commune": info.commune, "--district": info.district, "--province": info.province,
            "--year": info.year, "--volume": info.volume}
    complete = all(v and v.strip() for v in have.values())
    if info.book_code is not None:  # given, even empty: checked below if it is a new book
        code = info.book_code
    else:
        code = made_up_code(session, info, book_type) if complete else None
    if code is None:
        raise BadInput("Chưa rõ nhập vào sổ nào",
                       hint="cho --book-id của sổ đã có, hoặc đủ --commune --district --province --year --volume")
    if "\x00" in code:  # never stored (PostgreSQL cannot hold it, nor be asked for it)
        check_book_code(code)
    book = session.scalar(select(Book).where(Book.book_code == code))
    if book is not None:
        if book.book_type != book_type:
            raise BadInput(f"Sổ {code} là sổ {book.book_type}, không phải {book_type}",
                           hint="sửa --book-type hoặc --book-id")
        return book
    check_book_code(code)  # a new book: its code names folders and files
    if not complete:
        missing = [k for k, v in have.items() if not (v and v.strip())]
        raise BadInput(f"Sổ {code} chưa có; cần {', '.join(missing)} để tạo sổ")
    year_from, year_to = parse_years(info.year)
    template = cleaning_template(book_type)
    book = Book(book_code=code, book_type=book_type, template=template.name, commune=info.commune,
                district=info.district, province=info.province, year_from=year_from, year_to=year_to,
                volume=info.volume)
    session.add(book)
    session.flush()
    audit(session, ACTOR, "book.create", "book", code, via="records.import")
    return book


def _columns(header: list[str], book_type: str, outcome: RecordsImport) -> dict[str, int]:
    """Column index of each known column; refuses a header without the required ones."""
    known = import_fields(book_type)
    read_back = export_only(book_type)
    index: dict[str, int] = {}
    ignored: list[str] = []
    for i, name in enumerate(header):
        canonical = name.strip().lower()
        if canonical in index:
            ignored.append(f"{name} (trùng)")
        elif canonical in known or canonical in KEY_COLUMNS:
            index[canonical] = i
        elif canonical in read_back or (canonical.endswith("_status") and canonical[:-7] in known):
            continue
        elif canonical:
            ignored.append(name)
    missing = [c for c in cleaning_template(book_type).required if c not in index]
    if missing:
        raise BadInput(f"{outcome.file}: thiếu cột {', '.join(missing)} (dòng tiêu đề)",
                       hint="tên cột chuẩn như `hotich records export`; chưa nhập dòng nào")
    outcome.ignored_columns = ignored
    return index


def _position(text: str, name: str) -> tuple[int | None, str | None]:
    text = text.strip()
    if not text:
        return None, None
    if text.isdigit() and int(text) > 0:
        return int(text), None
    return None, f"cột {name} phải là số nguyên dương"


def _read_rows(path: Path, encoding: str | None, book: Book, outcome: RecordsImport) -> list[_Row]:
    """The good rows of the file with their keys; bad ones reported and left out."""
    table = open_table(path, encoding)
    outcome.encoding = table.encoding
    columns = _columns(table.header, book.book_type, outcome)
    field_columns = [(f, i) for f, i in columns.items() if f not in KEY_COLUMNS]
    width = len(table.header)
    has_page, has_row = "page" in columns, "row" in columns
    rows: list[_Row] = []
    seen: dict[str, int] = {}
    position = 0
    for line, cells in table.rows:
        position += 1
        outcome.rows += 1
        if isinstance(cells, str):
            outcome.skip(line, cells)
            continue
        if len(cells) < width or any(cell_text(v).strip() for v in cells[width:]):
            outcome.skip(line, f"có {len(cells)} trường, dòng tiêu đề có {width} cột")
            continue
        texts = {name: _nfc(cell_text(cells[i])) for name, i in field_columns}
        if any("\ufffd" in t for t in texts.values()):
            outcome.skip(line, "có ký tự không đọc được (sai bảng mã?)")
            continue
        if not any(t.strip() for t in texts.values()):
            outcome.skip(line, "không có giá trị nào")
            continue
        page, bad_page = _position(cell_text(cells[columns["page"]]), "page") if has_page else (None, None)
        row, bad_row = _position(cell_text(cells[columns["row"]]), "row") if has_row else (None, None)
        if bad_page or bad_row:
            outcome.skip(line, bad_page or bad_row)
            continue
        given = _nfc(cell_text(cells[columns["record_id"]])).strip() if "record_id" in columns else ""
        if len(given) > 100:
            outcome.skip(line, "record_id dài quá 100 ký tự")
            continue
        given = formula_safe(given)  # stored as every export writes it: '=… (pipeline.cells)
        if given:
            key = given
        elif page is not None and row is not None:
            key = f"{book.book_code}-i-p{page:04d}-r{row:02d}"
        else:
            key = f"{book.book_code}-i-r{(row or position):05d}"
        if key in seen:
            outcome.skip(line, f"record_id {key} trùng với dòng {seen[key]}")
            continue
        seen[key] = line
        at = row if (has_row and not has_page and row is not None) else position
        rows.append(_Row(line, key, at, given or None, texts))
    return rows


def _clean(rows: list[_Row], book: Book) -> None:
    """Each row's fields through the clean stage, as the OCR worker cleans a page's entries."""
    template = cleaning_template(book.book_type)
    place = BookPlace(book.commune, book.district, book.province)
    readings = [{name: FieldValue(name, text, None, "read", TYPED_CONFIDENCE, source="import")
                 for name, text in row.texts.items()} for row in rows]
    for row, fields in zip(rows, resolve_dittos(readings)):
        cleaned = normalize_page([fields], template, book.year_from, place)[0]
        # A value a spreadsheet would run (@SUM(…)) is stored quoted, as the review app stores
        # a typed one; ``raw`` keeps the cell verbatim.
        row.fields = {name: replace(fv, value=formula_safe(fv.value)) if fv.value else fv
                      for name, fv in cleaned.items()}


def _same(new: FieldValue, old: FieldValueRow) -> bool:
    """The file says what the stored version says (the value; the raw text when not understood)."""
    if new.value != old.value:
        return False
    if new.value is not None:
        return True
    return new.status == old.status and (new.status == "blank" or new.raw == old.raw)


def import_records(
    db: Engine, path: Path, *, book_type: str, book: BookInfo, encoding: str | None = None,
    on_start: Callable[[int], None] | None = None, on_row: Callable[[], None] | None = None,
) -> RecordsImport:
    """Import typed records into a book; returns counts and the lines to show the user.

    ``book.template`` is not used (the type's form template is); ``book.book_code`` alone
    names an existing book, the other fields create one.

        >>> info = BookInfo("", "Hưng Dũng", "Hưng Nguyên", "Nghệ Tĩnh", "1978", "2")
        >>> outcome = import_records(engine, Path("khai_sinh.xlsx"), book_type="birth", book=info)
        >>> outcome.inserted, outcome.errors[:1]
        (412, ['khai_sinh.xlsx dòng 57: có 14 trường, dòng tiêu đề có 17 cột'])
    """
    path = Path(path)
    _check_book_type(book_type)
    outcome = RecordsImport(file=path.name)
    with session_scope(db, write_lock=True) as session:
        book_row = resolve_book(session, book_type, book)
        session.expunge(book_row)  # only its columns are read from here on
    outcome.book_code = book_row.book_code
    rows = _read_rows(path, encoding, book_row, outcome)
    # typed names are cleaned with the population's lexicon, as the OCR worker cleans a page's
    with using_name_lexicon(load_name_lexicon(db)):
        _clean(rows, book_row)
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    params = {"file": path.name, "sha256": sha, "book": book_row.book_code, "clean": CLEAN_VERSION}
    with session_scope(db) as session:
        run = start_stage_run(session, "import", CLEAN_VERSION, params, book_id=book_row.id)
        outcome.stage_run_id = run.id
    if on_start:
        on_start(len(rows))
    for start in range(0, len(rows), CHUNK_ROWS):
        chunk = rows[start:start + CHUNK_ROWS]
        with session_scope(db, write_lock=True) as session:  # reviewers may be saving meanwhile
            touched = [_store(session, book_row, row, outcome) for row in chunk]
            refresh_index(session, [rid for rid in touched if rid is not None])
        if on_row:
            for _ in chunk:
                on_row()
    with session_scope(db) as session:
        run = session.get(StageRun, outcome.stage_run_id)
        run.finished_at = datetime.now(timezone.utc)
        run.outcome = "ok" if not outcome.error_count else "partial"
        run.counts = counts = {
            "rows": outcome.rows, "inserted": outcome.inserted, "updated": outcome.updated,
            "unchanged": outcome.unchanged, "errors": outcome.error_count,
            "conflicts": len(outcome.conflicts)}
        audit(session, ACTOR, "records.import", "book", book_row.book_code, file=path.name, sha256=sha,
              encoding=outcome.encoding, stage_run=run.id, **counts)
    return outcome


def _find(session: Session, book: Book, row: _Row, outcome: RecordsImport) -> tuple[Record | None, str | None]:
    """(existing record, None), (None, key for a new record) or (None, None) after a row error."""
    record = session.scalar(select(Record).where(Record.record_key == row.key))
    if record is None and original(row.key) != row.key:  # imported before ids were quoted
        record = session.scalar(select(Record).where(Record.record_key == original(row.key)))
    if record is not None and record.book_id == book.id:
        if record.source != "import":
            outcome.skip(row.line, f"record_id {row.key} là bản ghi đọc từ ảnh quét; sửa trên ứng dụng duyệt")
            return None, None
        return record, None
    if record is None:
        return None, row.key
    # The given id belongs to another book: this book's records take the book's prefix.
    key = f"{book.book_code}-{row.key}"
    renamed = session.scalar(select(Record).where(Record.record_key == key))
    if renamed is not None and (renamed.book_id != book.id or renamed.source != "import"):
        outcome.skip(row.line, f"record_id {row.key} đã thuộc sổ khác, {key} cũng đã dùng")
        return None, None
    if renamed is None:
        outcome._line(outcome.notices, row.line, f"record_id {row.key} đã thuộc sổ khác; lưu là {key}")
    return renamed, None if renamed is not None else key


def _store(session: Session, book: Book, row: _Row, outcome: RecordsImport) -> int | None:
    """Insert or update one row's record; returns its id when its values changed."""
    record, new_key = _find(session, book, row, outcome)
    if record is None and new_key is None:
        return None
    if record is None:
        record = Record(record_key=new_key, book_id=book.id, page_id=None, row=row.position,
                        record_type=book.book_type, source="import", status=record_status(row.fields),
                        confidence=record_confidence(row.fields))
        session.add(record)
        session.flush()
        for name, fv in row.fields.items():
            session.add(FieldValueRow(
                record_id=record.id, field=name, version=1, is_current=True, raw=fv.raw, value=fv.value,
                status=fv.status, confidence=fv.confidence, source="import", note=fv.note, unit=fv.unit,
                stage_run_id=outcome.stage_run_id, reason="import"))
        outcome.inserted += 1
        return record.id
    return _update(session, record, row, outcome)


def _update(session: Session, record: Record, row: _Row, outcome: RecordsImport) -> int | None:
    versions: dict[str, list[FieldValueRow]] = {}
    for fv in session.scalars(select(FieldValueRow).where(FieldValueRow.record_id == record.id)
                              .order_by(FieldValueRow.version)):
        versions.setdefault(fv.field, []).append(fv)
    changed = False
    for name, new in row.fields.items():
        history = versions.get(name, [])
        current = next((v for v in history if v.is_current), None)
        imported = [v for v in history if v.source == "import"]
        baseline = imported[-1] if imported else current
        if baseline is not None and _same(new, baseline):
            continue
        if baseline is None and new.status == "blank":
            continue  # a column this record never had, empty here too (an export read back)
        if current is not None and current.source != "import":
            outcome._line(outcome.conflicts, row.line,
                          f"{record.record_key} · {name}: người duyệt đã sửa trường này, giữ giá trị của người duyệt")
            continue
        added = add_field_version(session, record, name, raw=new.raw, value=new.value, status=new.status,
                                  confidence=new.confidence, source="import", note=new.note,
                                  reason="import", stage_run_id=outcome.stage_run_id)
        added.unit = new.unit
        changed = True
    moved = record.row != row.position
    record.row = row.position
    if not changed:
        if moved:
            outcome.updated += 1
        else:
            outcome.unchanged += 1
        return None
    session.flush()
    current = {fv.field: FieldValue(fv.field, fv.raw, fv.value, fv.status, fv.confidence, fv.source)
               for fv in session.scalars(select(FieldValueRow).where(
                   FieldValueRow.record_id == record.id, FieldValueRow.is_current.is_(True)))}
    before = record.status
    if before in (EXTRACTED, NEEDS_REVIEW):
        record.status = record_status(current)
    elif before != POSTPONED:  # reviewed / approved / exported: nobody has seen the new value
        record.status = NEEDS_REVIEW
    record.confidence = record_confidence(current)
    if record.status != before:
        record.lock_version += 1  # an open review screen of the record finds out
        audit(session, ACTOR, "record.reopen", "record", record.id, previous_status=before,
              status=record.status)
    outcome.updated += 1
    return record.id

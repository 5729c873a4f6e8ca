"""Offline review: the queue as an Excel workbook for a commune without the server, and back.

``export_review`` writes what needs a person — one row per *field* — with the page crops in a
folder beside the workbook; ``import_review`` turns the filled rows into field versions by a
named reviewer, refusing every row whose field changed since the export. No HTTP: the same
plain functions the web app calls (``screen.record_screen``, ``actions.save_field``,
``actions.confirm_record``), so the workbook and the browser can never disagree on what a
value means or who may change it.

Why one row per field rather than one row per record with a column group per field: a clerk
fills a single column ("Giá trị sửa") from top to bottom — type, Enter, next — with the crop
link, the OCR text, the current value and the suggestion of *that* field on the same line.
A record of a birth register has 14 fields of which one or two are in doubt; a row per record
would be 14 × 6 columns wide, mostly empty, and the clerk would scroll sideways hunting for the
cell that matters. Excel's filter on "Trường" (all the birth dates, say) also works only with a
row per field.

The workbook (``FILE.xlsx``) and its pictures (``FILE_anh/``) go together: the links in the
workbook are relative, so copy both to a USB stick and they still open offline.

Sheets:

    Cần duyệt   the rows; only "Giá trị sửa" is editable (the sheet is protected without a
                password — against slips, not people: the import checks everything again);
                the hidden columns ``field`` and ``version`` (and the first suggestion) are
                what the import needs to know which version the clerk saw
    Hướng dẫn   how to fill it, in Vietnamese
    hotich      (hidden) format and export time

What may be typed in "Giá trị sửa" (case and diacritics do not matter for the words):

    the right value         as written in the book (``12/3/1968``, ``Nữ``, a name …); it is
                            normalized by the clean stage's own normalizers, as on the web
    ``đúng`` / ``ok``       the current value is right (the exported one, not a later one)
    ``gợi ý``               take the first suggestion shown
    ``để trống``            the field is empty in the book
    ``không đọc được``      the ink cannot be read
    (nothing)               not decided: the row is skipped and stays in the queue

Import rules, per row: a row whose field has a newer version than the one exported — someone
corrected it meanwhile, on the web or by another file — is rejected, unless that newer version
already holds exactly what the row asks for (then it is "already applied": importing the same
file twice changes nothing). Rows of records approved or exported since are rejected too.
Assignment of books to reviewers is not enforced here: the office that exported the file
decided who fills it. A record whose every exported row was decided, with no uncertain field
left and no citizen link waiting, is confirmed (``reviewed``) by the reviewer, as the web app's
Ctrl+Enter does; link decisions need the web app (the export counts such records).

Each record is imported in its own short transaction (a long import does not hold the SQLite
write lock away from reviewers on the web); a killed import is finished by running it again.
"""

from __future__ import annotations

import csv
import shutil
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from urllib.parse import quote

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Alignment, Font, PatternFill, Protection
from openpyxl.utils import get_column_letter
from sqlalchemy import select
from sqlalchemy.engine import Engine

from pipeline.cells import original, safe_row, xlsx_safe
from pipeline.clean.text import folded_key
from pipeline.errors import BadInput, HotichError, NotFound
from pipeline.paths import book_dir_name, safe_name
from pipeline.review import actions
from pipeline.review.auth import require_role
from pipeline.review.crops import field_crop, page_image
from pipeline.review.queue import NEEDS_REVIEW, OPEN_STATUSES, needs_person
from pipeline.review.screen import record_screen
from pipeline.settings import Settings
from pipeline.storage.audit import audit
from pipeline.storage.books import find_book
from pipeline.storage.db import session_scope
from pipeline.storage.models import Book, Page, Record, User
from pipeline.storage.versions import VersionConflict, current_values
from pipeline.templates import load_template

FORMAT = "hotich-review-offline/1"
SHEET, HELP_SHEET, META_SHEET = "Cần duyệt", "Hướng dẫn", "hotich"
PAGE_WIDTH = 1800  # px of the whole-page pictures, as on the review screen


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    width: float
    hidden: bool = False


#: The sheet's columns in order. Import finds them by header, so keep headers stable
#: (and bump FORMAT if one changes meaning).
COLUMNS = (
    Column("record_key", "Mã bản ghi", 24),
    Column("book", "Sổ", 16),
    Column("page", "Trang", 7),
    Column("row", "Dòng", 6),
    Column("label", "Trường", 22),
    Column("crop", "Ảnh vùng đọc", 13),
    Column("raw", "OCR đọc được", 28),
    Column("current", "Giá trị hiện tại", 28),
    Column("reason", "Lý do cần xem", 30),
    Column("suggestions", "Gợi ý", 30),
    Column("corrected", "Giá trị sửa", 32),
    Column("page_image", "Cả trang", 10),
    Column("field", "field", 14, hidden=True),
    Column("version", "version", 8, hidden=True),
    Column("suggestion", "suggestion_1", 20, hidden=True),
    Column("suggestion_source", "suggestion_source", 10, hidden=True),
)
COL = {c.key: i + 1 for i, c in enumerate(COLUMNS)}
NEEDED_ON_IMPORT = ("record_key", "field", "version", "corrected")

KEEP_WORDS = frozenset({"dung", "ok", "giu nguyen"})
SUGGEST_WORDS = frozenset({"goi y", "theo goi y"})
BLANK_WORDS = frozenset({"de trong", "trong"})
ILLEGIBLE_WORDS = frozenset({"khong doc duoc"})

HELP = [
    "Cách điền bảng duyệt (hotich)",
    "",
    "Mỗi dòng là một trường chương trình chưa chắc. Mở «Xem ảnh» để thấy chữ trong sổ; "
    "«Cả trang» mở ảnh cả trang.",
    "Chỉ điền cột «Giá trị sửa» (nền vàng), từ trên xuống: gõ rồi Enter.",
    "",
    "Có thể gõ:",
    "  • giá trị đúng như trong sổ: ngày 12/3/1968, giới tính Nam / Nữ, họ tên có dấu …",
    "  • đúng (hoặc ok): giá trị hiện tại là đúng",
    "  • gợi ý: lấy gợi ý đầu tiên ở cột «Gợi ý»",
    "  • để trống: trong sổ không ghi gì",
    "  • không đọc được: chữ trong sổ không đọc được",
    "  • bỏ trống ô: chưa quyết định, dòng này được giữ lại để duyệt sau",
    "",
    "Không thêm, xóa hay đổi chỗ dòng; không đổi tên tệp ảnh hay thư mục ảnh.",
    "Gửi lại tệp này; người quản lý chạy: hotich review import TEP.xlsx --as TEN_NGUOI_DUYET",
    "Trường nào đã được người khác sửa sau khi xuất sẽ không bị ghi đè; báo cáo sẽ liệt kê.",
]


# ---- export ----------------------------------------------------------------------------


@dataclass
class ExportSummary:
    file: Path
    image_dir: Path
    records: int = 0  # records with at least one row
    rows: int = 0
    crops: int = 0
    missing_crops: int = 0
    link_only: int = 0  # in the queue only for a citizen link: left to the web app


def image_dir_for(path: Path) -> Path:
    """``so_duyet.xlsx`` → ``so_duyet_anh/`` beside it."""
    return path.with_name(f"{path.stem}_anh")


def _reason(fv) -> str:
    """The clean stage's note when there is one (it says why), else the status and confidence."""
    if fv.note:
        return fv.note
    words = fv.status_words
    if fv.status == "uncertain" and fv.source == "ocr":
        words += f" (độ tin cậy {fv.confidence * 100:.0f} %)"
    return words


def export_review(db: Engine, settings: Settings, path: Path, *, book_code: str | None = None,
                  commune: str | None = None, actor: str = "system:cli") -> ExportSummary:
    """Write the review queue (optionally of one book or commune) to ``path`` and its
    crops to ``path``'s ``_anh`` folder; audited as ``review.export``.

        >>> export_review(engine, settings, Path("xa_hung_dung.xlsx"), book_code="HD-KS-1978-1").rows
        42
    """
    path = Path(path)
    if path.suffix.lower() != ".xlsx":
        raise BadInput(f"{path.name}: tệp xuất phải có đuôi .xlsx")
    images = image_dir_for(path)
    summary = ExportSummary(path, images)
    rows: list[dict] = []
    with session_scope(db) as s:
        query = (select(Record.id).join(Book, Book.id == Record.book_id)
                 .outerjoin(Page, Page.id == Record.page_id).where(needs_person()))
        if book_code:
            find_book(s, book_code)
            query = query.where(Book.book_code == book_code)
        if commune:
            query = query.where(Book.commune == unicodedata.normalize("NFC", commune))
        query = query.order_by(Book.created_at, Book.id, Page.page_no.is_(None), Page.page_no,
                               Record.row, Record.id)
        images.mkdir(parents=True, exist_ok=True)
        page_files: dict[int, str | None] = {}
        for record_id in s.scalars(query):
            screen = record_screen(s, record_id)
            doubtful = [f for f in screen.fields if f.needs_attention]
            if not doubtful:
                summary.link_only += 1
                continue
            summary.records += 1
            record, book, page = screen.record, screen.book, screen.page
            if page is not None and page.id not in page_files:
                page_files[page.id] = _copy_image(
                    lambda: page_image(settings, page, PAGE_WIDTH), images,
                    f"trang_{book_dir_name(book.book_code)}_{page.page_no:04d}.jpg")
            for fv in doubtful:
                crop = None
                if page is not None and fv.box and fv.fv_id:
                    crop = _copy_image(lambda: field_crop(settings, page, fv.box), images,
                                       f"{safe_name(record.record_key)}_{fv.field}.jpg")
                    summary.crops += crop is not None
                    summary.missing_crops += crop is None
                else:
                    summary.missing_crops += 1
                first = fv.suggestions[0] if fv.suggestions else None
                rows.append({
                    "record_key": record.record_key, "book": book.book_code,
                    "page": page.page_no if page else None, "row": record.row,
                    "label": fv.label, "crop": crop, "raw": fv.raw, "current": fv.display,
                    "reason": _reason(fv),
                    "suggestions": "; ".join(f"{g.label}: {g.value}" for g in fv.suggestions),
                    "corrected": None,
                    "page_image": page_files.get(page.id) if page else None,
                    "field": fv.field, "version": fv.version,
                    "suggestion": first.value if first else None,
                    "suggestion_source": first.source if first else None,
                })
        summary.rows = len(rows)
        _write_workbook(path, images.name, rows)
    with session_scope(db, write_lock=True) as s:
        audit(s, actor, "review.export", "review", book_code, file=path.name, commune=commune,
              records=summary.records, rows=summary.rows, crops=summary.crops,
              link_only=summary.link_only)
    return summary


def _copy_image(make, folder: Path, name: str) -> str | None:
    """Copy a picture from the review cache into the export folder; None if it cannot be
    made (scan missing, box outside the page): the row is still exported, without it."""
    try:
        source = make()
    except (HotichError, OSError):
        return None
    shutil.copyfile(source, folder / name)
    return name


def _write_workbook(path: Path, folder: str, rows: list[dict]) -> None:
    wb = Workbook()
    ws = wb.active
    ws.title = SHEET
    header_font, header_fill = Font(bold=True, color="FFFFFF"), PatternFill("solid", fgColor="305496")
    editable_fill = PatternFill("solid", fgColor="FFF2CC")
    wrap = Alignment(wrap_text=True, vertical="top")
    for c in COLUMNS:
        cell = ws.cell(row=1, column=COL[c.key], value=c.header)
        cell.font, cell.fill, cell.alignment = header_font, header_fill, Alignment(wrap_text=True)
        dim = ws.column_dimensions[get_column_letter(COL[c.key])]
        dim.width, dim.hidden = c.width, c.hidden
    for r, values in enumerate(rows, start=2):
        for c in COLUMNS:
            value = values[c.key]
            cell = ws.cell(row=r, column=COL[c.key])
            if c.key in ("crop", "page_image"):
                if value:
                    cell.value = "Xem ảnh" if c.key == "crop" else "Xem trang"
                    cell.hyperlink = f"{quote(folder)}/{quote(value)}"
                    cell.style = "Hyperlink"
                else:
                    cell.value = "(không có ảnh)" if c.key == "crop" else None
            else:
                cell.value = xlsx_safe(value) if value != "" else None
            if c.key in ("raw", "current", "reason", "suggestions", "label"):
                cell.alignment = wrap
            if c.key == "corrected":
                # Text format: Excel would turn a typed 12/3/1968 into a date of its own locale.
                cell.number_format = "@"
                cell.fill = editable_fill
                cell.protection = Protection(locked=False)
    ws.freeze_panes = "B2"
    last_visible = max(COL[c.key] for c in COLUMNS if not c.hidden)
    ws.auto_filter.ref = f"A1:{get_column_letter(last_visible)}{max(1, len(rows) + 1)}"
    ws.protection.sheet = True  # no password: a guard against slips, the import re-checks
    ws.protection.autoFilter = False
    ws.protection.sort = False
    ws.protection.formatColumns = False
    ws.protection.formatRows = False
    ws.protection.selectLockedCells = False
    ws.protection.selectUnlockedCells = False
    if rows:
        # The cursor starts in the first cell to fill.
        ws.sheet_view.selection[0].activeCell = f"{get_column_letter(COL['corrected'])}2"
        ws.sheet_view.selection[0].sqref = f"{get_column_letter(COL['corrected'])}2"

    help_ws = wb.create_sheet(HELP_SHEET)
    help_ws.column_dimensions["A"].width = 110
    for i, line in enumerate(HELP, start=1):
        help_ws.cell(row=i, column=1, value=line).font = Font(bold=i == 1, size=13 if i == 1 else 11)
    meta = wb.create_sheet(META_SHEET)
    meta.append(["format", FORMAT])
    meta.append(["exported_at", datetime.now(timezone.utc).isoformat(timespec="seconds")])
    meta.append(["images", folder])
    meta.sheet_state = "hidden"

    tmp = path.with_name(f".{path.name}.tmp")
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(tmp)
    tmp.replace(path)


# ---- import ----------------------------------------------------------------------------

APPLIED, ALREADY, UNCHANGED, REJECTED, BAD = "applied", "already", "unchanged", "rejected", "bad"
OUTCOME_WORDS = {
    APPLIED: "đã áp dụng",
    ALREADY: "đã có từ trước (không áp dụng lại)",
    UNCHANGED: "không thay đổi (trùng giá trị hiện có)",
    REJECTED: "bị từ chối: đã thay đổi sau khi xuất",
    BAD: "dòng lỗi",
}


@dataclass
class SheetRow:
    excel_row: int
    record_key: str
    field: str
    version: int | None
    text: str
    label: str = ""
    current: str = ""  # the value shown at export time
    suggestion: str | None = None
    suggestion_source: str | None = None


@dataclass
class RowOutcome:
    excel_row: int
    record_key: str
    field: str
    label: str
    kind: str  # one of OUTCOME_WORDS
    detail: str = ""


@dataclass
class ImportReport:
    file: Path
    reviewer: str
    rows: int = 0  # data rows in the sheet
    empty: int = 0  # rows left blank by the clerk
    outcomes: list[RowOutcome] = field(default_factory=list)
    confirmed: int = 0  # records that left the queue
    report_file: Path | None = None

    @property
    def counts(self) -> Counter:
        return Counter(o.kind for o in self.outcomes)

    def of_kind(self, kind: str) -> list[RowOutcome]:
        return [o for o in self.outcomes if o.kind == kind]


def report_path_for(path: Path) -> Path:
    """``so_duyet.xlsx`` → ``so_duyet_ketqua.csv`` beside it."""
    return path.with_name(f"{path.stem}_ketqua.csv")


def _cell_text(value) -> str:
    """A cell as the clerk meant it: Excel may have made a typed date or number a value."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        if value.hour or value.minute:
            return value.strftime("%d/%m/%Y %H:%M")
        return value.strftime("%d/%m/%Y")
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return unicodedata.normalize("NFC", str(value)).strip()


def read_sheet(path: Path) -> list[SheetRow]:
    """The data rows of an exported workbook (filled or not), with their Excel row numbers."""
    path = Path(path)
    if not path.is_file():
        raise NotFound(f"Không có tệp {path}")
    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - zip, XML, … all mean the same to the user
        raise BadInput(f"{path.name}: không đọc được tệp Excel ({type(exc).__name__})") from None
    try:
        if SHEET not in wb.sheetnames:
            raise BadInput(f"{path.name}: không có trang «{SHEET}»",
                           hint="dùng tệp do `hotich review export` tạo ra")
        ws = wb[SHEET]
        rows = ws.iter_rows(values_only=True)
        header = [_cell_text(h) for h in next(rows, ())]
        index = {}
        for c in COLUMNS:
            if c.header in header:
                index[c.key] = header.index(c.header)
        missing = [c.header for c in COLUMNS if c.key in NEEDED_ON_IMPORT and c.key not in index]
        if missing:
            raise BadInput(f"{path.name}: thiếu cột {', '.join(missing)}",
                           hint="dùng tệp do `hotich review export` tạo ra, không đổi cột")

        def get(values, key):
            i = index.get(key)
            return values[i] if i is not None and i < len(values) else None

        out = []
        for n, values in enumerate(rows, start=2):
            if not any(v is not None and str(v).strip() for v in values):
                continue
            version = get(values, "version")
            try:
                version = int(version) if version is not None and str(version).strip() else None
            except (TypeError, ValueError):
                version = None
            out.append(SheetRow(
                excel_row=n, record_key=_cell_text(get(values, "record_key")),
                field=_cell_text(get(values, "field")), version=version,
                text=_cell_text(get(values, "corrected")), label=_cell_text(get(values, "label")),
                current=_cell_text(get(values, "current")),
                suggestion=_cell_text(get(values, "suggestion")) or None,
                suggestion_source=_cell_text(get(values, "suggestion_source")) or None))
        return out
    finally:
        wb.close()


def import_review(db: Engine, path: Path, *, reviewer: str,
                  report_path: Path | None = None) -> ImportReport:
    """Apply the filled rows of an exported workbook as versions by ``reviewer``.

    Returns the report (also written as CSV beside the file, ``*_ketqua.csv``); raises only
    for a file that is not an export or a reviewer who may not review. Audited as
    ``review.import`` (counts), each version as the web app audits it.

        >>> r = import_review(engine, Path("xa_hung_dung.xlsx"), reviewer="lan")
        >>> r.counts["applied"], r.counts["rejected"]
        (40, 2)
    """
    path = Path(path)
    sheet_rows = read_sheet(path)
    with session_scope(db) as s:
        user = s.scalar(select(User).where(User.name == reviewer))
        if user is None:
            raise NotFound(f"Không có người dùng '{reviewer}'")
        if not user.is_active:
            raise BadInput(f"Tài khoản '{reviewer}' đã bị khóa")
        require_role(user.role, "reviewer", "nhập kết quả duyệt")
    report = ImportReport(path, reviewer, rows=len(sheet_rows))
    groups: dict[str, list[SheetRow]] = {}
    for row in sheet_rows:
        if not row.text:
            report.empty += 1
        groups.setdefault(row.record_key, []).append(row)
    for key, rows in groups.items():
        filled = [r for r in rows if r.text]
        if not filled:
            continue
        with session_scope(db, write_lock=True) as s:
            outcomes = _import_record(s, key, rows, reviewer)
            report.outcomes.extend(outcomes)
            decided = len(outcomes) == len(rows) and all(
                o.kind in (APPLIED, ALREADY, UNCHANGED) for o in outcomes)
            if decided and _confirm_if_done(s, key, reviewer):
                report.confirmed += 1
    report.outcomes.sort(key=lambda o: o.excel_row)
    report.report_file = write_report(report, report_path or report_path_for(path))
    with session_scope(db, write_lock=True) as s:
        counts = report.counts
        audit(s, reviewer, "review.import", "review", None, file=path.name, rows=report.rows,
              empty=report.empty, confirmed=report.confirmed,
              **{kind: counts.get(kind, 0) for kind in OUTCOME_WORDS})
    return report


def _find_record(s, key: str) -> Record | None:
    """The record of a workbook row's id; an id the workbook had to quote (``'=…``, see
    ``pipeline.cells``) is found by its stored form too."""
    if not key:
        return None
    record = s.scalar(select(Record).where(Record.record_key == key))
    if record is None and original(key) != key:
        record = s.scalar(select(Record).where(Record.record_key == original(key)))
    return record


def _import_record(s, key: str, rows: list[SheetRow], reviewer: str) -> list[RowOutcome]:
    record = _find_record(s, key)
    out = []
    for row in rows:
        if not row.text:
            continue
        if record is None:
            out.append(_outcome(row, BAD, f"không có bản ghi «{key}»" if key
                                else "thiếu mã bản ghi"))
            continue
        out.append(_import_row(s, record, row, reviewer))
    return out


def _outcome(row: SheetRow, kind: str, detail: str = "") -> RowOutcome:
    return RowOutcome(row.excel_row, row.record_key, row.field, row.label or row.field, kind, detail)


def _intent(row: SheetRow) -> tuple[str, str | None, str]:
    """(action of save_field, text, source) for what the clerk typed."""
    word = folded_key(row.text).strip(" .")
    if word in BLANK_WORDS:
        return "blank", None, "review"
    if word in ILLEGIBLE_WORDS:
        return "illegible", None, "review"
    if word in SUGGEST_WORDS:
        if not row.suggestion:
            raise BadInput("gõ «gợi ý» nhưng dòng này không có gợi ý")
        return "suggestion", row.suggestion, row.suggestion_source or "lexicon"
    if word in KEEP_WORDS:
        if not row.current:
            raise BadInput("gõ «đúng» nhưng trường chưa có giá trị; gõ giá trị, «để trống» "
                           "hoặc «không đọc được»")
        return "accept", row.current, "review"
    return "accept", row.text, "review"


def _import_row(s, record: Record, row: SheetRow, reviewer: str) -> RowOutcome:
    book = s.get(Book, record.book_id)
    template = load_template(book.template)
    current = current_values(s, record.id).get(row.field)
    if current is None and row.field not in template.fields:
        return _outcome(row, BAD, f"bản ghi không có trường «{row.field or '?'}»")
    if row.version is None:
        return _outcome(row, BAD, "thiếu số phiên bản (cột ẩn «version» bị xóa hoặc sửa)")
    try:
        action, text, source = _intent(row)
        if action in ("blank", "illegible"):
            wanted = (None, action)
        else:
            try:
                kind = template.kind_of(row.field)
            except KeyError:
                kind = "text"
            wanted = (actions.normalize_typed(row.field, kind, text, book.year_from), "read")
    except BadInput as exc:
        return _outcome(row, BAD, str(exc))
    latest = current.version if current is not None else 0
    holds_it = current is not None and (current.value, current.status) == wanted
    if record.status not in OPEN_STATUSES:
        if holds_it:
            return _outcome(row, ALREADY)
        return _outcome(row, REJECTED, f"bản ghi đã {_closed_words(record)}")
    if latest != row.version:
        if holds_it:
            return _outcome(row, ALREADY, f"phiên bản {latest}")
        by = current.changed_by if current is not None and current.changed_by else "người khác"
        return _outcome(row, REJECTED, f"{by} đã sửa trường này (phiên bản {latest}, "
                                       f"tệp xuất ở phiên bản {row.version})")
    try:
        new = actions.save_field(s, record.id, row.field, action=action, text=text,
                                 expected_version=row.version, user=reviewer, source=source)
    except (VersionConflict, actions.RecordConflict) as exc:
        return _outcome(row, REJECTED, str(exc))
    except BadInput as exc:
        return _outcome(row, BAD, str(exc))
    if new is None:
        return _outcome(row, UNCHANGED)
    return _outcome(row, APPLIED, f"phiên bản {new.version}")


def _closed_words(record: Record) -> str:
    if record.status == "exported":
        return "được xuất sang cơ sở dữ liệu quốc gia"
    return f"được phê duyệt{f' bởi {record.approved_by}' if record.approved_by else ''}"


def _confirm_if_done(s, key: str, reviewer: str) -> bool:
    """Confirm a record whose exported rows were all decided, as Ctrl+Enter on the web does,
    if nothing else keeps it in the queue (an uncertain field, a citizen link)."""
    record = _find_record(s, key)
    if record is None or record.status != NEEDS_REVIEW:
        return False
    if any(fv.status == "uncertain" for fv in current_values(s, record.id).values()):
        return False
    try:
        with s.begin_nested():
            actions.confirm_record(s, record.id, user=reviewer, lock_version=record.lock_version,
                                   fields={})
    except (BadInput, actions.RecordConflict):
        return False  # a citizen link still waits: the web app decides it
    return True


def write_report(report: ImportReport, target: Path) -> Path:
    """The report as CSV (UTF-8 with BOM, so Excel opens it with the diacritics right)."""
    target = Path(target)
    tmp = target.with_name(f".{target.name}.tmp")
    with tmp.open("w", newline="", encoding="utf-8-sig") as fh:
        writer = csv.writer(fh)
        writer.writerow(["Dòng Excel", "Mã bản ghi", "Trường", "Kết quả", "Chi tiết"])
        for o in report.outcomes:
            writer.writerow(safe_row([o.excel_row, o.record_key, o.label, OUTCOME_WORDS[o.kind], o.detail]))
    tmp.replace(target)
    return target

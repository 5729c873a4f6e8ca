"""`export national` / `export verify`: the package for the national civil-status database.

Per book, in a folder of its own per batch (``OUT_DIR/<batch_key>/``): ``<book>.xlsx`` with one
row per approved entry in the columns of the versioned layout (data/export/), ``<book>.zip``
with one colour PDF per entry, and for the batch ``manifest.json`` (batch id, time, software
and layout versions, counts, SHA-256 and size of every file) and, when signing,
``manifest.json.p7s`` (detached CMS, DER).

Incremental: each exported row has a fingerprint (SHA-256 of its values, its layout and the
identity of its image); a record goes out again only when its fingerprint differs from the
one it last went out with. Records keep their status (``approved``): what went out is in
``export_items``.

Exactly once: files are written under ``OUT_DIR/.<batch_key>.partial/``; when they are
complete the batch and its items are committed as ``pending``, the folder is renamed into
place, and the batch is committed ``complete`` with its audit entry. A pending batch's items
already count as exported, so a run killed at any point can neither lose its records nor let
the next run send them again: the next run into the same folder first settles what was left
(``reconcile_exports``) — a pending batch whose folder is in place and matches its hashes is
adopted, one without is removed with its ``.partial`` folder, and a finished folder the
database has no batch for (a run of an older version killed after its rename) is adopted when
it is exactly what the records would give now, else moved aside. ``export verify`` flags the
same record version sent in two batches.

One run at a time per output folder: a run holds an exclusive lock on it (``flock``; the
kernel drops it when the process dies), which is also how a later run knows that what it
finds there belongs to a dead run and not to a live one.
"""

from __future__ import annotations

import fcntl
import getpass
import hashlib
import json
import os
import re
import secrets
import shutil
import tempfile
import zipfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Callable

from sqlalchemy import delete, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, selectinload

import pipeline
from pipeline.cells import safe_row
from pipeline.errors import HotichError, ImageTooLarge, NotFound, UnreadableFile
from pipeline.export.entry_pdf import entry_image, entry_pdf, render_scan_page
from pipeline.export.layout import EXPORT_LAYOUTS_DIR, Layout, format_value, load_layout
from pipeline.export.records import LINKED
from pipeline.export.signing import Signer, verify_signature
from pipeline.ingest import sha256_of
from pipeline.paths import book_dir_name
from pipeline.roles import require_role
from pipeline.settings import Settings
from pipeline.statuses import EXPORTABLE
from pipeline.storage.audit import audit
from pipeline.storage.db import session_scope
from pipeline.storage.models import (
    Book, Citizen, ExportBatch, ExportItem, FieldValue, Link, Page, Record,
)
from pipeline.storage.users import get_user

MANIFEST = "manifest.json"
SIGNATURE = "manifest.json.p7s"
MANIFEST_FORMAT = "hotich-national-export"
MANIFEST_FORMAT_VERSION = 1
NOTHING_NEW = "không có bản ghi mới hoặc thay đổi"
PENDING, COMPLETE = "pending", "complete"
#: Where a finished folder no batch accounts for is moved (hidden: not part of the package).
SET_ASIDE = ".khong-ghi-nhan"
#: The points a batch passes once its files are written, in order, with what the progress
#: display shows; ``on_step`` is called at each (a run killed between two is settled by the next).
STEPS = {
    "written": "Đã ghi đủ tệp, đang ghi nhận lô",
    "pending": "Đã ghi nhận lô (chờ), đang đưa thư mục vào chỗ",
    "renamed": "Thư mục đã vào chỗ, đang hoàn tất lô",
    "complete": "Đã hoàn tất lô",
}
#: What makes one entry's PDF impossible without stopping the batch: it is reported and
#: left out (not recorded), so the next run tries it again.
ENTRY_FAILURES = (NotFound, UnreadableFile, ImageTooLarge)
_UNSAFE = re.compile(r"[^0-9A-Za-z._-]+")


class ExportConflict(HotichError):
    """Another export committed a batch while this one was writing its files."""


@dataclass
class Entry:
    """One approved record as it will go out."""

    record_id: int
    record_key: str
    page_id: int | None
    page_no: int | None
    row: int | None
    box: tuple[int, int, int, int] | None
    values: dict[str, object]  # header → value (seq and image filled in when written)
    fingerprint: str
    change: str  # new / changed
    pdf_name: str | None
    when: datetime


@dataclass
class BookPlan:
    book_id: int
    book_code: str
    book_type: str
    layout: Layout
    entries: list[Entry]
    unchanged: int
    pages: dict[int, Page]
    #: page id → band of its column headers (ledger books), put above each row in its PDF
    headers: dict[int, tuple[int, int]] = field(default_factory=dict)


@dataclass
class BookOutcome:
    book_code: str
    book_type: str
    layout: str
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    skipped: list[str] = field(default_factory=list)  # "record_key: reason"
    files: list[str] = field(default_factory=list)


@dataclass
class ExportOutcome:
    batch_key: str | None  # None: nothing new or changed, no batch written
    folder: Path | None
    books: list[BookOutcome]
    signed: bool = False
    signer: str | None = None
    manifest_sha256: str | None = None
    reconciled: list[str] = field(default_factory=list)  # one line per leftover of a killed run

    @property
    def exported(self) -> int:
        return sum(b.new + b.changed for b in self.books)

    @property
    def new(self) -> int:
        return sum(b.new for b in self.books)

    @property
    def changed(self) -> int:
        return sum(b.changed for b in self.books)

    @property
    def unchanged(self) -> int:
        return sum(b.unchanged for b in self.books)

    @property
    def skipped(self) -> list[str]:
        return [s for b in self.books for s in b.skipped]


def resolve_exporter(session: Session, as_user: str | None) -> str:
    """Who exports: an existing, active admin named with ``--as``, else ``cli:<OS user>``.

    Without ``--as`` the person at the console of the central server is trusted, as the one
    who can read the database file anyway; the audit log names their OS account.

        >>> resolve_exporter(session, "an")
        'an'
    """
    if as_user is None:
        try:
            who = getpass.getuser()
        except (KeyError, OSError):
            who = "unknown"
        return f"cli:{who}"[:64]
    user = get_user(session, as_user)
    require_role(user.role, "admin", "xuất dữ liệu lên CSDL hộ tịch")
    if not user.is_active:
        raise NotFound(f"Người dùng '{as_user}' đã bị khóa")
    return user.name


def _safe(text: str) -> str:
    return _UNSAFE.sub("-", text).strip("-") or "x"


def _fingerprint(layout: Layout, values: dict[str, object], image: list) -> str:
    payload = {"layout": [layout.name, layout.version], "values": values, "image": image}
    return hashlib.sha256(json.dumps(payload, ensure_ascii=False, sort_keys=True,
                                     default=str).encode("utf-8")).hexdigest()


def _last_fingerprints(session: Session, record_ids: list[int]) -> dict[int, str]:
    """Each record's fingerprint in the newest batch it went out in."""
    out: dict[int, tuple[int, str]] = {}
    for start in range(0, len(record_ids), 5000):
        chunk = record_ids[start:start + 5000]
        for record_id, batch_id, fp in session.execute(
                select(ExportItem.record_id, ExportItem.batch_id, ExportItem.fingerprint)
                .where(ExportItem.record_id.in_(chunk))):
            if record_id not in out or batch_id > out[record_id][0]:
                out[record_id] = (batch_id, fp)
    return {rid: fp for rid, (_, fp) in out.items()}


def _plan_book(session: Session, book: Book, only: set[str] | None = None) -> BookPlan:
    """The book's entries to export; with ``only`` (record keys), those records whether or not
    they changed (``change`` is then ``unchanged`` for one already out as it is now).

    File names depend on every approved record of the book (a registration number used twice
    names its files by page and row), so ``only`` filters after they are counted.
    """
    layout = load_layout(book.book_type)
    records = list(session.scalars(
        select(Record).where(Record.book_id == book.id, Record.status.in_(EXPORTABLE))
        .options(selectinload(Record.page).selectinload(Page.source_file))
        .outerjoin(Page, Page.id == Record.page_id)
        .order_by(Page.page_no, Record.row, Record.id)))
    ids = [r.id for r in records]
    values: dict[int, dict[str, FieldValue]] = defaultdict(dict)
    citizens: dict[int, str] = {}
    for start in range(0, len(ids), 5000):
        chunk = ids[start:start + 5000]
        for fv in session.scalars(select(FieldValue).where(FieldValue.record_id.in_(chunk),
                                                           FieldValue.is_current.is_(True))):
            values[fv.record_id][fv.field] = fv
        for record_id, citizen_id in session.execute(
                select(Link.record_id, Citizen.citizen_id).join(Citizen, Citizen.id == Link.citizen_pk)
                .where(Link.record_id.in_(chunk), Link.status.in_(LINKED))):
            citizens[record_id] = citizen_id
    last = _last_fingerprints(session, ids)
    numbers = Counter((values[r.id].get("registration_no").value or "").strip()
                      if values[r.id].get("registration_no") else "" for r in records)
    place = ", ".join(p for p in (book.commune, book.district, book.province) if p)
    entries, unchanged, pages = [], 0, {}
    for record in records:
        if only is not None and record.record_key not in only:
            continue
        fields = values.get(record.id, {})
        row_values: dict[str, object] = {}
        notes: list[str] = []
        for column in layout.columns:
            kind, _, name = column.source.partition(":")
            value: object = None
            if kind == "field":
                fv = fields.get(name)
                if fv is not None and fv.status == "illegible":
                    notes.append(f"{column.header}: không đọc được" + (f" ({fv.note})" if fv.note else ""))
                elif fv is not None and fv.status != "blank":
                    value = format_value(fv.value, column.format)
                    if fv.status == "uncertain" and fv.changed_by is None:
                        # approved in bulk while still doubtful: the receiving office is told
                        notes.append(f"{column.header}: còn nghi ngờ khi phê duyệt, chưa ai đối chiếu bản gốc")
            elif kind == "book":
                value = (book.volume or None) if name == "volume" else place
            elif kind == "record":
                value = record.record_key
            elif kind == "link":
                value = citizens.get(record.id)
            if kind != "export":
                row_values[column.header] = value
        remark = fields.get("notes")
        own = [remark.value] if remark is not None and remark.status not in ("blank", "illegible") and remark.value else []
        for column in layout.columns:
            if column.source == "export:notes":
                row_values[column.header] = "; ".join(own + notes) or None
        page = record.page
        box = None
        if None not in (record.box_x0, record.box_y0, record.box_x1, record.box_y1):
            box = (record.box_x0, record.box_y0, record.box_x1, record.box_y1)
        image = ([page.source_file.sha256, page.index_in_file, page.dpi, box] if page is not None else None)
        fp = _fingerprint(layout, row_values, image)
        previous = last.get(record.id)
        if previous == fp and only is None:
            unchanged += 1
            continue
        pdf_name = None
        if page is not None:
            regno = (fields["registration_no"].value or "").strip() if fields.get("registration_no") else ""
            where = f"p{page.page_no:04d}-r{record.row or 0:02d}"
            if not regno:
                stem = f"{book_dir_name(book.book_code)}_{where}"
            elif numbers[regno] > 1:
                stem = f"{book_dir_name(book.book_code)}_{_safe(regno)}_{where}"
            else:
                stem = f"{book_dir_name(book.book_code)}_{_safe(regno)}"
            pdf_name = f"{stem}.pdf"
            pages[page.id] = page
        entries.append(Entry(record.id, record.record_key, record.page_id, page.page_no if page else None,
                             record.row, box, row_values, fp,
                             "new" if previous is None else "unchanged" if previous == fp else "changed",
                             pdf_name, record.approved_at or record.updated_at or record.created_at))
    return BookPlan(book.id, book.book_code, book.book_type, layout, entries, unchanged, pages,
                    _ledger_headers(session, book, pages))


def plan_export(db: Engine, *, book_code: str | None = None) -> tuple[list[BookPlan], int]:
    """What a run would export, per book, and the newest batch id it is based on."""
    with session_scope(db) as session:
        query = select(Book).order_by(Book.book_code)
        if book_code:
            query = query.where(Book.book_code == book_code)
        books = list(session.scalars(query))
        if book_code and not books:
            raise NotFound(f"Không có sổ '{book_code}'")
        plans = [_plan_book(session, book) for book in books]
        based_on = session.scalar(select(func.max(ExportBatch.id))) or 0
    return plans, based_on


def _zip_time(when: datetime) -> tuple[int, int, int, int, int, int]:
    when = when.astimezone(timezone.utc)
    return (max(1980, when.year), when.month, when.day, when.hour, when.minute, when.second)


def _ledger_headers(session: Session, book: Book, pages: dict[int, Page]) -> dict[int, tuple[int, int]]:
    """Page id → band of column headers above the page's first entry, for a ledger book's
    pages with stored OCR words (empty for a form book)."""
    from pipeline.export.ledger_header import header_band
    from pipeline.ocr.tesseract import words_from_tsv
    from pipeline.templates import load_template

    try:
        template = load_template(book.template)
    except HotichError:  # a template file gone: the rows go out alone, as before
        return {}
    if template.layout != "ledger" or not pages:
        return {}
    tops = dict(session.execute(
        select(Record.page_id, func.min(Record.box_y0))
        .where(Record.page_id.in_(list(pages)), Record.box_y0.is_not(None))
        .group_by(Record.page_id)).all())
    out = {}
    for page_id, top in tops.items():
        page = pages[page_id]
        if page.ocr_words and page.height:
            band = header_band(words_from_tsv(page.ocr_words), template, top, page.height)
            if band is not None:
                out[page_id] = band
    return out


def write_book_zip(settings: Settings, plan: BookPlan, target: Path, outcome: BookOutcome,
                   on_entry: Callable[[], None] | None = None) -> list[Entry]:
    """``<book>.zip``: one PDF per entry, pages rendered once each; returns the entries written.

    Entries whose scan cannot be read are left out and listed in ``outcome.skipped``.
    Deterministic: stored (JPEG does not deflate), in row order, dated by approval.
    """
    written: list[Entry] = []
    tmp = target.with_name(f".{target.name}.tmp")
    rendered: tuple[int, object] | None = None
    headers = plan.headers
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as archive:
        for entry in plan.entries:
            if entry.pdf_name is not None:
                page = plan.pages[entry.page_id]
                try:
                    if rendered is None or rendered[0] != page.id:
                        rendered = (page.id, render_scan_page(settings, page))
                    image = entry_image(rendered[1], page, entry.box, headers.get(page.id))
                    pdf = entry_pdf(image, title=entry.pdf_name[:-4], when=entry.when)
                except ENTRY_FAILURES as exc:
                    outcome.skipped.append(f"{entry.record_key}: {exc}")
                    rendered = None
                    if on_entry:
                        on_entry()
                    continue
                info = zipfile.ZipInfo(entry.pdf_name, date_time=_zip_time(entry.when))
                info.external_attr = 0o644 << 16
                archive.writestr(info, pdf)
            written.append(entry)
            if on_entry:
                on_entry()
    tmp.replace(target)
    return written


def _sheet_lines(plan: BookPlan, entries: list[Entry]) -> list[list[object]]:
    """The sheet's rows below the header; also what an unrecorded folder is compared with."""
    lines = []
    for seq, entry in enumerate(entries, start=1):
        line: list[object] = []
        for column in plan.layout.columns:
            if column.source == "export:seq":
                line.append(seq)
            elif column.source == "export:image":
                line.append(entry.pdf_name)
            else:
                line.append(entry.values.get(column.header))
        lines.append(line)
    return lines


def write_book_xlsx(plan: BookPlan, entries: list[Entry], target: Path, when: datetime) -> None:
    """``<book>.xlsx``: the layout's headers, then one row per entry in page and row order."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = plan.layout.sheet
    sheet.append(plan.layout.headers)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="center")
    for i, column in enumerate(plan.layout.columns, start=1):
        sheet.column_dimensions[get_column_letter(i)].width = column.width
    sheet.freeze_panes = "A2"
    for line in _sheet_lines(plan, entries):
        sheet.append(safe_row(line, xlsx=True))  # no cell may run as a formula (pipeline.cells)
    naive = when.astimezone(timezone.utc).replace(tzinfo=None)
    workbook.properties.creator = "hotich"
    workbook.properties.created = workbook.properties.modified = naive
    tmp = target.with_name(f".{target.name}.tmp")
    workbook.save(tmp)
    tmp.replace(target)


# --- one run per output folder, and what a killed run left ------------------------------------


def _try_lock(folder: Path) -> int | None:
    """An exclusive lock on ``folder`` (a descriptor to close), or None while a live run holds it.

    ``flock`` on the directory itself, so no lock file lands in the package; the kernel drops
    the lock when its process dies, however it dies, so a folder that can be locked has no live
    writer and anything unfinished in it was left by a dead run.
    """
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    except BaseException:
        os.close(fd)
        raise
    return fd


def _audit_batch(session: Session, batch: ExportBatch, **extra: object) -> None:
    """The batch's ``export.national`` entry, written when it becomes complete (by its run or
    by the run that adopts it), so every batch that went out has one."""
    changes = Counter(session.scalars(select(ExportItem.change).where(ExportItem.batch_id == batch.id)))
    audit(session, batch.created_by, "export.national", "export_batch", batch.id, batch_key=batch.batch_key,
          records=batch.record_count, new=changes["new"], changed=changes["changed"],
          books=[b.get("book_id") for b in batch.detail or []], signed=batch.signed,
          manifest_sha256=batch.manifest_sha256, **extra)


def _audit_adopted(session: Session, actor: str, batch: ExportBatch, folder: Path, line: str) -> None:
    """A batch a killed run left, adopted: its ``export.national`` entry and the decision."""
    _audit_batch(session, batch, adopted_by=actor)
    audit(session, actor, "export.reconcile", "export_batch", batch.id, outcome="adopted",
          batch_key=batch.batch_key, folder=str(folder), message=line)


def _drop_batch(session: Session, batch: ExportBatch) -> None:
    session.execute(delete(ExportItem).where(ExportItem.batch_id == batch.id))
    session.delete(batch)


def _set_aside(folder: Path) -> Path:
    """Move a finished-looking folder no batch accounts for out of the package, never delete it."""
    root = folder.parent / SET_ASIDE
    root.mkdir(exist_ok=True)
    target, n = root / folder.name, 1
    while target.exists():
        target, n = root / f"{folder.name}-{n}", n + 1
    folder.rename(target)
    return target


def _batch_manifest(folder: Path) -> dict | None:
    """The manifest of a finished hotich batch folder; None for anything else (left alone)."""
    if folder.name.startswith(".") or not folder.is_dir() or not (folder / MANIFEST).is_file():
        return None
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        return None
    return manifest if isinstance(manifest.get("batch_id"), str) else None


def _settle_pending(db: Engine, actor: str, batch_id: int, batch_key: str, folder: Path,
                    manifest_sha: str | None) -> str | None:
    """Adopt a pending batch whose folder is in place and intact, else remove it."""
    intact = False
    if (folder / MANIFEST).is_file():
        check = _check_batch(folder, None)
        intact = check.ok and check.batch_id == batch_key and sha256_of(folder / MANIFEST) == manifest_sha
    if intact:
        with session_scope(db, write_lock=True) as session:
            batch = session.get(ExportBatch, batch_id)
            if batch is None or batch.state != PENDING:
                return None
            batch.state = COMPLETE
            line = (f"Lô {batch_key}: thư mục đã đủ và khớp mã băm nhưng lô chưa được ghi nhận xong (lần xuất "
                    f"trước bị dừng): đã ghi nhận lô, {batch.record_count} bản ghi của lô tính là đã xuất.")
            _audit_adopted(session, actor, batch, folder, line)
        return line
    # Disk first: killed in between, the next run finds the row without a folder and removes it.
    partial = folder.with_name(f".{batch_key}.partial")
    if folder.exists():
        target = _set_aside(folder)
        line = (f"Lô {batch_key}: lần xuất trước bị dừng, thư mục {folder.name} không khớp mã băm đã ghi: đã xóa "
                f"lô dang dở, chuyển thư mục sang {target}; các bản ghi của lô sẽ được xuất lại.")
    elif partial.is_dir():
        line = (f"Lô {batch_key}: lần xuất trước bị dừng trước khi thư mục vào chỗ: đã xóa lô dang dở và thư mục "
                f"tạm {partial.name}; các bản ghi của lô sẽ được xuất lại.")
    else:
        line = (f"Lô {batch_key}: lần xuất trước bị dừng, không thấy thư mục {folder}: đã xóa lô dang dở; "
                f"các bản ghi của lô sẽ được xuất lại.")
    shutil.rmtree(partial, ignore_errors=True)
    with session_scope(db, write_lock=True) as session:
        batch = session.get(ExportBatch, batch_id)
        if batch is None or batch.state != PENDING:
            return None
        _drop_batch(session, batch)
        audit(session, actor, "export.reconcile", "export_batch", batch_id, outcome="removed",
              batch_key=batch_key, folder=str(folder), message=line)
    return line


def _read_sheet(path: Path) -> tuple[list, list[list]]:
    from openpyxl import load_workbook

    workbook = load_workbook(path, read_only=True)
    try:
        rows = [[None if v == "" else v for v in row] for row in workbook.active.iter_rows(values_only=True)]
    finally:
        workbook.close()
    return (rows[0] if rows else []), rows[1:]


def _match_unrecorded(db: Engine, settings: Settings, folder: Path,
                      manifest: dict) -> tuple[str | None, list[tuple[int, Entry]], int]:
    """Why an unrecorded folder cannot be adopted (None: it can), its items, the newest batch id.

    It can when its records have not gone out as they are now and it is exactly what they give
    now: its sheets are compared cell by cell with the sheets the records give, and its ZIPs
    are made again and compared by hash (a ZIP is deterministic; an xlsx is not, byte for byte).
    """
    items: list[tuple[int, Entry]] = []
    to_render: list[tuple[BookPlan, Path]] = []
    with session_scope(db) as session:
        based_on = session.scalar(select(func.max(ExportBatch.id))) or 0
        try:
            books = list(manifest["books"])
            datetime.strptime(manifest["created_at"], "%Y-%m-%dT%H:%M:%SZ")
            names = [(str(b["book_id"]), str(b["layout"]), str(b["xlsx"]), str(b["zip"])) for b in books]
        except (KeyError, TypeError, ValueError):
            return "manifest không đủ thông tin", [], based_on
        if not books or len(manifest["batch_id"]) > 64 or any(
                Path(name).name != name for _, _, xlsx, zip_name in names for name in (xlsx, zip_name)):
            return "manifest không đủ thông tin", [], based_on
        for book_code, layout_file, xlsx, zip_name in names:
            book = session.scalar(select(Book).where(Book.book_code == book_code))
            if book is None:
                return f"không còn sổ {book_code}", [], based_on
            layout = load_layout(book.book_type)
            header, rows = _read_sheet(folder / xlsx)
            if layout.file != layout_file or header != layout.headers:
                return "mẫu xuất đã đổi từ lần xuất đó", [], based_on
            key_at = [c.source for c in layout.columns].index("record:record_key")
            plan = _plan_book(session, book, only={str(row[key_at]) for row in rows})
            expected = [[None if v == "" else v for v in safe_row(line, xlsx=True)]
                        for line in _sheet_lines(plan, plan.entries)]  # as write_book_xlsx writes them
            if expected != rows:
                return "nội dung khác bản ghi hiện tại", [], based_on
            if any(e.change == "unchanged" for e in plan.entries):
                return "bản ghi của nó đã được xuất y như vậy trong lô khác", [], based_on
            to_render.append((plan, folder / zip_name))
    for plan, zip_path in to_render:
        with tempfile.TemporaryDirectory(dir=folder.parent, prefix=".kiem-tra-") as tmp:
            again = Path(tmp) / zip_path.name
            written = write_book_zip(settings, plan, again, BookOutcome(plan.book_code, plan.book_type,
                                                                        plan.layout.file))
            if len(written) != len(plan.entries) or sha256_of(again) != sha256_of(zip_path):
                return "ảnh trong tệp ZIP khác ảnh bản ghi hiện tại", [], based_on
        items += [(plan.book_id, e) for e in plan.entries]
    return None, items, based_on


def _settle_unrecorded(db: Engine, settings: Settings, actor: str, folder: Path, manifest: dict) -> str:
    """Adopt a finished folder the database has no batch for, or move it aside."""
    reason, items, based_on = "không khớp mã băm trong manifest", [], 0
    if _check_batch(folder, None).ok:
        reason, items, based_on = _match_unrecorded(db, settings, folder, manifest)
    if reason is not None:
        target = _set_aside(folder)
        line = (f"Thư mục {folder.name}: không có lô nào trong cơ sở dữ liệu và {reason}: đã chuyển sang "
                f"{target}; bản ghi chưa xuất của nó sẽ được xuất lại.")
        with session_scope(db) as session:
            audit(session, actor, "export.reconcile", "export_batch", None, outcome="set_aside",
                  batch_key=manifest["batch_id"][:64], folder=str(target), message=line)
        return line
    batch_key = manifest["batch_id"]
    created = datetime.strptime(manifest["created_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    with session_scope(db, write_lock=True) as session:
        if (session.scalar(select(func.max(ExportBatch.id))) or 0) != based_on:
            raise ExportConflict("Một lần xuất khác vừa ghi lô mới trong lúc đối soát thư mục xuất",
                                 hint="chạy lại cùng lệnh")
        batch = ExportBatch(batch_key=batch_key, kind="national", created_at=created,
                            created_by=str(manifest.get("created_by") or actor)[:64],
                            out_dir=str(folder.resolve()), record_count=len(items),
                            signed=bool(manifest.get("signed")), manifest_sha256=sha256_of(folder / MANIFEST),
                            detail=manifest["books"], state=COMPLETE)
        session.add(batch)
        session.flush()
        session.add_all(ExportItem(batch_id=batch.id, record_id=e.record_id, book_id=book_id,
                                   fingerprint=e.fingerprint, change=e.change) for book_id, e in items)
        session.flush()
        line = (f"Thư mục {folder.name}: không có lô nào trong cơ sở dữ liệu nhưng khớp mã băm và đúng là "
                f"{len(items)} bản ghi hiện tại chưa xuất: đã ghi nhận thành lô {batch_key}, không xuất lại.")
        _audit_adopted(session, actor, batch, folder, line)
    return line


def reconcile_exports(db: Engine, settings: Settings, out_dir: Path, *, actor: str,
                      on_line: Callable[[str], None] | None = None) -> list[str]:
    """Settle what killed runs left, before anything is planned; one Vietnamese line for each.

    The caller holds ``out_dir``'s lock. Pending batches are settled wherever their folder is
    (in another output folder only if its lock can be taken: a live run there is left alone,
    and its records stay counted as exported); ``.partial`` folders and finished folders the
    database does not know only in ``out_dir``. Every line also goes to the audit log
    (``export.reconcile``), with ``outcome`` adopted / removed / set_aside.

        >>> reconcile_exports(engine, settings, Path("nop"), actor="an")
        ['Lô 20270301T101500Z-3fa9c1: thư mục đã đủ và khớp mã băm ... 36 bản ghi của lô tính là đã xuất.']
    """
    lines: list[str] = []

    def said(line: str | None) -> None:
        if line:
            lines.append(line)
            if on_line:
                on_line(line)

    here = out_dir.resolve()
    with session_scope(db) as session:
        pending = session.execute(
            select(ExportBatch.id, ExportBatch.batch_key, ExportBatch.out_dir, ExportBatch.manifest_sha256)
            .where(ExportBatch.state == PENDING).order_by(ExportBatch.id)).all()
    for batch_id, batch_key, where, manifest_sha in pending:
        folder = Path(where)
        lock = None
        if folder.parent != here and folder.parent.is_dir():
            lock = _try_lock(folder.parent)
            if lock is None:
                continue
        try:
            said(_settle_pending(db, actor, batch_id, batch_key, folder, manifest_sha))
        finally:
            if lock is not None:
                os.close(lock)
    for partial in sorted(here.glob(".*.partial")):
        if partial.is_dir():
            shutil.rmtree(partial, ignore_errors=True)
            line = f"Thư mục tạm {partial.name} do một lần xuất bị dừng để lại: đã xóa."
            with session_scope(db) as session:
                audit(session, actor, "export.reconcile", "export_batch", None, outcome="removed",
                      folder=str(partial), message=line)
            said(line)
    found = {folder: manifest for folder in sorted(here.iterdir())
             if (manifest := _batch_manifest(folder)) is not None}
    if found:
        with session_scope(db) as session:
            keys = [m["batch_id"] for m in found.values()]
            known = set(session.scalars(select(ExportBatch.batch_key).where(ExportBatch.batch_key.in_(keys))))
        for folder, manifest in found.items():
            if manifest["batch_id"] not in known:
                said(_settle_unrecorded(db, settings, actor, folder, manifest))
    return lines


def _abandon(db: Engine, batch_id: int | None, partial: Path, final: Path) -> None:
    """Undo a batch this run could not finish, as far as it can.

    What it cannot undo (the database out of reach) stays pending and is settled by the next
    run from what is on disk; a batch that did become complete keeps its folder.
    """
    if batch_id is not None:
        try:
            with session_scope(db, write_lock=True) as session:
                batch = session.get(ExportBatch, batch_id)
                if batch is not None and batch.state == COMPLETE:
                    return
                if batch is not None:
                    _drop_batch(session, batch)
        except Exception:  # noqa: BLE001 - whatever the reason, the next run settles it
            return
    shutil.rmtree(partial, ignore_errors=True)
    shutil.rmtree(final, ignore_errors=True)


# --- export ----------------------------------------------------------------------------------


def export_national(db: Engine, settings: Settings, out_dir: Path, *, actor: str,
                    book_code: str | None = None, signer: Signer | None = None,
                    on_start: Callable[[int], None] | None = None,
                    on_entry: Callable[[], None] | None = None,
                    on_step: Callable[[str], None] | None = None,
                    on_reconcile: Callable[[str], None] | None = None,
                    now: datetime | None = None) -> ExportOutcome:
    """Settle what a killed run left, then export what is new or changed since the last batch.

    ``on_step`` is called with each key of ``STEPS`` as the batch reaches it;
    ``on_reconcile`` with each line of ``reconcile_exports`` as it is settled.

        >>> outcome = export_national(engine, settings, Path("nop"), actor="an")
        >>> outcome.folder, outcome.new
        (PosixPath('nop/20270301T101500Z-3fa9c1'), 36)
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    lock = _try_lock(out_dir)
    if lock is None:
        raise ExportConflict(f"Một lần xuất khác đang ghi vào thư mục {out_dir}",
                             hint="chờ lần đó xong rồi chạy lại cùng lệnh")
    try:
        reconciled = reconcile_exports(db, settings, out_dir, actor=actor, on_line=on_reconcile)
        outcome = _export_batch(db, settings, out_dir, actor=actor, book_code=book_code, signer=signer,
                                on_start=on_start, on_entry=on_entry, on_step=on_step, now=now)
    finally:
        os.close(lock)
    outcome.reconciled = reconciled
    return outcome


def _export_batch(db: Engine, settings: Settings, out_dir: Path, *, actor: str, book_code: str | None,
                  signer: Signer | None, on_start: Callable[[int], None] | None,
                  on_entry: Callable[[], None] | None, on_step: Callable[[str], None] | None,
                  now: datetime | None) -> ExportOutcome:
    plans, based_on = plan_export(db, book_code=book_code)
    books = [BookOutcome(p.book_code, p.book_type, p.layout.file, unchanged=p.unchanged) for p in plans]
    todo = [(plan, outcome) for plan, outcome in zip(plans, books) if plan.entries]
    if not todo:
        return ExportOutcome(None, None, books)
    if on_start:
        on_start(sum(len(plan.entries) for plan, _ in todo))
    step = on_step or (lambda _: None)
    now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc).replace(microsecond=0)
    batch_key = f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"
    partial = out_dir / f".{batch_key}.partial"
    final = out_dir / batch_key
    partial.mkdir()
    batch_id: int | None = None
    try:
        items: list[tuple[BookPlan, Entry]] = []
        for plan, outcome in todo:
            stem = book_dir_name(plan.book_code)
            written = write_book_zip(settings, plan, partial / f"{stem}.zip", outcome, on_entry)
            if not written:
                (partial / f"{stem}.zip").unlink()
                continue
            write_book_xlsx(plan, written, partial / f"{stem}.xlsx", now)
            outcome.files = [f"{stem}.xlsx", f"{stem}.zip"]
            outcome.new = sum(e.change == "new" for e in written)
            outcome.changed = sum(e.change == "changed" for e in written)
            items += [(plan, e) for e in written]
        if not items:
            shutil.rmtree(partial, ignore_errors=True)
            return ExportOutcome(None, None, books)
        manifest = build_manifest(batch_key, now, actor, [o for _, o in todo if o.files], plans, partial,
                                  signer=signer)
        manifest_bytes = json.dumps(manifest, ensure_ascii=False, indent=2).encode("utf-8") + b"\n"
        (partial / MANIFEST).write_bytes(manifest_bytes)
        if signer is not None:
            (partial / SIGNATURE).write_bytes(signer.sign(manifest_bytes))
        manifest_sha = hashlib.sha256(manifest_bytes).hexdigest()
        step("written")
        with session_scope(db, write_lock=True) as session:
            newest = session.scalar(select(func.max(ExportBatch.id))) or 0
            if newest != based_on:
                raise ExportConflict("Một lần xuất khác vừa ghi lô mới trong lúc xuất",
                                     hint="chạy lại cùng lệnh để xuất phần còn lại")
            batch = ExportBatch(batch_key=batch_key, kind="national", created_at=now, created_by=actor,
                                out_dir=str(final.resolve()), record_count=len(items),
                                signed=signer is not None, manifest_sha256=manifest_sha,
                                detail=manifest["books"], state=PENDING)
            session.add(batch)
            session.flush()
            batch_id = batch.id
            session.add_all(ExportItem(batch_id=batch.id, record_id=e.record_id, book_id=plan.book_id,
                                       fingerprint=e.fingerprint, change=e.change) for plan, e in items)
        step("pending")
        partial.rename(final)
        step("renamed")
        with session_scope(db, write_lock=True) as session:
            batch = session.get(ExportBatch, batch_id)
            if batch is None:  # removed by a run elsewhere that could not see this folder
                raise ExportConflict("Lô vừa xuất đã bị một lần xuất khác gỡ khỏi cơ sở dữ liệu",
                                     hint="chạy lại cùng lệnh")
            if batch.state == PENDING:
                batch.state = COMPLETE
                _audit_batch(session, batch)
    except BaseException:
        _abandon(db, batch_id, partial, final)
        raise
    step("complete")
    return ExportOutcome(batch_key, final, books, signed=signer is not None,
                         signer=signer.subject if signer else None, manifest_sha256=manifest_sha)


def build_manifest(batch_key: str, now: datetime, actor: str, books: list[BookOutcome],
                   plans: list[BookPlan], folder: Path, *, signer: Signer | None) -> dict:
    layouts = {p.book_type: {"file": p.layout.file, "name": p.layout.name, "version": p.layout.version}
               for p in plans if any(p.book_code == b.book_code for b in books)}
    files = []
    for book in books:
        for name in book.files:
            path = folder / name
            files.append({"name": name, "sha256": sha256_of(path), "size": path.stat().st_size})
    return {
        "format": MANIFEST_FORMAT,
        "format_version": MANIFEST_FORMAT_VERSION,
        "batch_id": batch_key,
        "created_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "created_by": actor,
        "software": {"name": "hotich", "version": pipeline.__version__},
        "layouts": layouts,
        "signed": signer is not None,
        "signer": signer.subject if signer else None,
        "totals": {"records": sum(b.new + b.changed for b in books), "new": sum(b.new for b in books),
                   "changed": sum(b.changed for b in books), "books": len(books)},
        "books": [{"book_id": b.book_code, "book_type": b.book_type, "layout": b.layout,
                   "records": b.new + b.changed, "new": b.new, "changed": b.changed,
                   "xlsx": b.files[0], "zip": b.files[1]} for b in books],
        "files": files,
    }


# --- verify -------------------------------------------------------------------------------


@dataclass
class BatchCheck:
    folder: Path
    batch_id: str | None
    files_ok: int = 0
    problems: list[str] = field(default_factory=list)
    signature: str = "absent"  # absent / valid / invalid
    signature_detail: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems


def _check_batch(folder: Path, ca_file: Path | None) -> BatchCheck:
    manifest_path = folder / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        files = manifest["files"]
        batch_id = manifest.get("batch_id")
    except (OSError, ValueError, KeyError, TypeError):
        return BatchCheck(folder, None, problems=[f"{folder.name}/{MANIFEST}: hỏng, không đọc được"])
    check = BatchCheck(folder, batch_id)
    listed = {MANIFEST, SIGNATURE}
    for item in files:
        name = str(item.get("name", ""))
        listed.add(name)
        path = folder / name
        if not name or Path(name).name != name:
            check.problems.append(f"{name or '(trống)'}: tên tệp không hợp lệ trong manifest")
        elif not path.is_file():
            check.problems.append(f"{name}: thiếu tệp")
        elif path.stat().st_size != item.get("size") or sha256_of(path) != item.get("sha256"):
            check.problems.append(f"{name}: mã SHA-256 không khớp (tệp đã bị sửa)")
        else:
            check.files_ok += 1
    for path in sorted(folder.iterdir()):
        if path.name not in listed and not path.name.startswith("."):
            check.problems.append(f"{path.name}: tệp không có trong manifest")
    signature = folder / SIGNATURE
    if signature.is_file():
        valid, detail = verify_signature(manifest_path, signature, ca_file=ca_file)
        check.signature, check.signature_detail = ("valid" if valid else "invalid"), detail
        if not valid:
            check.problems.append(f"{SIGNATURE}: chữ ký không hợp lệ với {MANIFEST} ({detail})")
    elif manifest.get("signed"):
        check.problems.append(f"{SIGNATURE}: thiếu tệp chữ ký (manifest ghi là đã ký)")
    return check


@lru_cache(maxsize=16)
def _layout_named(name: str) -> Layout | None:
    """A layout by its file name: a batch is read with the layout it was written with."""
    path = EXPORT_LAYOUTS_DIR / name
    if Path(name).name != name or not path.is_file():
        return None
    try:
        return Layout.model_validate({**json.loads(path.read_text(encoding="utf-8")), "file": name})
    except (OSError, ValueError):
        return None


def _record_versions(folder: Path) -> dict[tuple[str, str], str]:
    """(book, record key) → digest of its row as it went out, but for its STT, and of its PDF.

    "The same record version" in two batches: the same cells and the same image, whatever the
    row number. The PDF is compared by the CRC-32 and size the ZIP's directory already holds,
    so nothing is decompressed; the files' integrity is the hashes' business.
    """
    versions: dict[tuple[str, str], str] = {}
    try:
        books = list(json.loads((folder / MANIFEST).read_text(encoding="utf-8"))["books"])
    except (OSError, ValueError, KeyError, TypeError):
        return versions
    for book in books:
        try:
            xlsx, zip_name = str(book["xlsx"]), str(book["zip"])
            layout = _layout_named(str(book["layout"]))
            if layout is None or Path(xlsx).name != xlsx or Path(zip_name).name != zip_name:
                continue
            sources = [c.source for c in layout.columns]
            key_at = sources.index("record:record_key")
            seq_at = sources.index("export:seq") if "export:seq" in sources else None
            image_at = sources.index("export:image") if "export:image" in sources else None
            header, rows = _read_sheet(folder / xlsx)
            if header != layout.headers:
                continue
            with zipfile.ZipFile(folder / zip_name) as archive:
                images = {i.filename: (i.CRC, i.file_size) for i in archive.infolist()}
        except Exception:  # noqa: BLE001, S112 - a damaged file is reported by its hash already
            continue
        for row in rows:
            cells = [v for i, v in enumerate(row) if i != seq_at]
            image = images.get(row[image_at]) if image_at is not None else None
            digest = hashlib.sha256(json.dumps([cells, image], ensure_ascii=False, default=str)
                                    .encode("utf-8")).hexdigest()
            versions[(str(book.get("book_id")), str(row[key_at]))] = digest
    return versions


def _flag_duplicates(checks: list[BatchCheck]) -> None:
    """Flag on the later batch each record version an earlier batch already carried.

    Checks come in folder-name order, and a batch's name begins with its time.
    """
    first: dict[tuple[str, str, str], str] = {}
    for check in checks:
        name = check.batch_id or check.folder.name
        repeated: dict[str, list[str]] = defaultdict(list)
        for (book, key), digest in _record_versions(check.folder).items():
            earlier = first.setdefault((book, key, digest), name)
            if earlier != name:
                repeated[earlier].append(key)
        for earlier, keys in repeated.items():
            shown = ", ".join(keys[:3]) + (f" và {len(keys) - 3} bản ghi khác" if len(keys) > 3 else "")
            check.problems.append(f"{len(keys)} bản ghi đã có y hệt trong lô {earlier} (xuất hai lần): {shown}")


def verify_export(out_dir: Path, *, ca_file: Path | None = None) -> list[BatchCheck]:
    """Check one batch folder (holding manifest.json) or every batch folder under ``out_dir``;
    across the folders of ``out_dir``, also that no record version went out twice.

        >>> [c.ok for c in verify_export(Path("nop"))]
        [True, True]
    """
    if not out_dir.is_dir():
        raise NotFound(f"Không có thư mục {out_dir}")
    if (out_dir / MANIFEST).is_file():
        folders = [out_dir]
    else:
        folders = sorted(p for p in out_dir.iterdir()
                         if p.is_dir() and not p.name.startswith(".") and (p / MANIFEST).is_file())
    if not folders:
        raise NotFound(f"{out_dir}: không có {MANIFEST} (không phải thư mục xuất của hotich)")
    checks = [_check_batch(folder, ca_file) for folder in folders]
    if len(checks) > 1:
        _flag_duplicates(checks)
    return checks

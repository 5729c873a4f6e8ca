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

Atomic: files are written under ``OUT_DIR/.<batch_key>.partial/``, the folder is renamed when
complete, and only then are the batch, its items and the audit entry committed, in one
transaction. A run killed before that leaves no batch, so the next run exports the same
records again; an unfinished folder is hidden and removed by a later run.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import re
import secrets
import shutil
import time
import zipfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, selectinload

import pipeline
from pipeline.errors import HotichError, ImageTooLarge, NotFound, UnreadableFile
from pipeline.export.entry_pdf import entry_image, entry_pdf, render_scan_page
from pipeline.export.layout import Layout, format_value, load_layout
from pipeline.export.records import LINKED
from pipeline.export.signing import Signer, verify_signature
from pipeline.ingest import sha256_of
from pipeline.review.auth import get_user, require_role
from pipeline.settings import Settings
from pipeline.storage.audit import audit
from pipeline.storage.db import session_scope
from pipeline.storage.models import (
    Book, Citizen, ExportBatch, ExportItem, FieldValue, Link, Page, Record,
)

EXPORTABLE = ("approved", "exported")
MANIFEST = "manifest.json"
SIGNATURE = "manifest.json.p7s"
MANIFEST_FORMAT = "hotich-national-export"
MANIFEST_FORMAT_VERSION = 1
NOTHING_NEW = "không có bản ghi mới hoặc thay đổi"
#: Unfinished batch folders older than this are left by a killed run and are removed.
STALE_PARTIAL_SECONDS = 3600
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


def _plan_book(session: Session, book: Book) -> BookPlan:
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
        if previous == fp:
            unchanged += 1
            continue
        pdf_name = None
        if page is not None:
            regno = (fields["registration_no"].value or "").strip() if fields.get("registration_no") else ""
            where = f"p{page.page_no:04d}-r{record.row or 0:02d}"
            if not regno:
                stem = f"{_safe(book.book_code)}_{where}"
            elif numbers[regno] > 1:
                stem = f"{_safe(book.book_code)}_{_safe(regno)}_{where}"
            else:
                stem = f"{_safe(book.book_code)}_{_safe(regno)}"
            pdf_name = f"{stem}.pdf"
            pages[page.id] = page
        entries.append(Entry(record.id, record.record_key, record.page_id, page.page_no if page else None,
                             record.row, box, row_values, fp, "new" if previous is None else "changed",
                             pdf_name, record.approved_at or record.updated_at or record.created_at))
    return BookPlan(book.id, book.book_code, book.book_type, layout, entries, unchanged, pages)


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


def write_book_zip(settings: Settings, plan: BookPlan, target: Path, outcome: BookOutcome,
                   on_entry: Callable[[], None] | None = None) -> list[Entry]:
    """``<book>.zip``: one PDF per entry, pages rendered once each; returns the entries written.

    Entries whose scan cannot be read are left out and listed in ``outcome.skipped``.
    Deterministic: stored (JPEG does not deflate), in row order, dated by approval.
    """
    written: list[Entry] = []
    tmp = target.with_name(f".{target.name}.tmp")
    rendered: tuple[int, object] | None = None
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as archive:
        for entry in plan.entries:
            if entry.pdf_name is not None:
                page = plan.pages[entry.page_id]
                try:
                    if rendered is None or rendered[0] != page.id:
                        rendered = (page.id, render_scan_page(settings, page))
                    image = entry_image(rendered[1], page, entry.box)
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
    for seq, entry in enumerate(entries, start=1):
        line = []
        for column in plan.layout.columns:
            if column.source == "export:seq":
                line.append(seq)
            elif column.source == "export:image":
                line.append(entry.pdf_name)
            else:
                line.append(entry.values.get(column.header))
        sheet.append(line)
    naive = when.astimezone(timezone.utc).replace(tzinfo=None)
    workbook.properties.creator = "hotich"
    workbook.properties.created = workbook.properties.modified = naive
    tmp = target.with_name(f".{target.name}.tmp")
    workbook.save(tmp)
    tmp.replace(target)


def _clean_stale(out_dir: Path) -> None:
    now = time.time()
    for path in out_dir.glob(".*.partial"):
        try:
            if path.is_dir() and now - path.stat().st_mtime > STALE_PARTIAL_SECONDS:
                shutil.rmtree(path, ignore_errors=True)
        except OSError:
            pass


def export_national(db: Engine, settings: Settings, out_dir: Path, *, actor: str,
                    book_code: str | None = None, signer: Signer | None = None,
                    on_start: Callable[[int], None] | None = None,
                    on_entry: Callable[[], None] | None = None,
                    now: datetime | None = None) -> ExportOutcome:
    """Export what is new or changed since the last batch; returns what went out.

        >>> outcome = export_national(engine, settings, Path("nop"), actor="an")
        >>> outcome.folder, outcome.new
        (PosixPath('nop/20270301T101500Z-3fa9c1'), 36)
    """
    plans, based_on = plan_export(db, book_code=book_code)
    books = [BookOutcome(p.book_code, p.book_type, p.layout.file, unchanged=p.unchanged) for p in plans]
    todo = [(plan, outcome) for plan, outcome in zip(plans, books) if plan.entries]
    if not todo:
        return ExportOutcome(None, None, books)
    if on_start:
        on_start(sum(len(plan.entries) for plan, _ in todo))
    now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc).replace(microsecond=0)
    batch_key = f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"
    out_dir.mkdir(parents=True, exist_ok=True)
    _clean_stale(out_dir)
    partial = out_dir / f".{batch_key}.partial"
    final = out_dir / batch_key
    partial.mkdir()
    try:
        items: list[tuple[BookPlan, Entry]] = []
        for plan, outcome in todo:
            stem = _safe(plan.book_code)
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
        partial.rename(final)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    manifest_sha = hashlib.sha256(manifest_bytes).hexdigest()
    try:
        with session_scope(db, write_lock=True) as session:
            newest = session.scalar(select(func.max(ExportBatch.id))) or 0
            if newest != based_on:
                raise ExportConflict("Một lần xuất khác vừa ghi lô mới trong lúc xuất",
                                     hint="chạy lại cùng lệnh để xuất phần còn lại")
            batch = ExportBatch(batch_key=batch_key, kind="national", created_at=now, created_by=actor,
                                out_dir=str(final.resolve()), record_count=len(items),
                                signed=signer is not None, manifest_sha256=manifest_sha,
                                detail=manifest["books"])
            session.add(batch)
            session.flush()
            session.add_all(ExportItem(batch_id=batch.id, record_id=e.record_id, book_id=plan.book_id,
                                       fingerprint=e.fingerprint, change=e.change) for plan, e in items)
            audit(session, actor, "export.national", "export_batch", batch.id, batch_key=batch_key,
                  records=len(items), new=sum(o.new for o in books), changed=sum(o.changed for o in books),
                  books=[o.book_code for o in books if o.files], signed=signer is not None,
                  manifest_sha256=manifest_sha)
    except BaseException:
        shutil.rmtree(final, ignore_errors=True)  # no batch recorded: the files must not stay
        raise
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


def verify_export(out_dir: Path, *, ca_file: Path | None = None) -> list[BatchCheck]:
    """Check one batch folder (holding manifest.json) or every batch folder under ``out_dir``.

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
    return [_check_batch(folder, ca_file) for folder in folders]

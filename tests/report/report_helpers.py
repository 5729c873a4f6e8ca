"""Seeded progress data for the report tests: rows written directly, no scan, no Tesseract.

``seed_small`` writes three books whose every figure is known (the tests assert them);
``seed_province`` writes a province's worth of varied books over several weeks, for the
browser test and for looking at the report (``python tests/report/report_helpers.py OUT``).
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

from sqlalchemy.orm import Session

from pipeline.storage.models import (
    Book, ExportBatch, ExportItem, FieldValue, Link, Record, SourceFile, Citizen,
)
from pipeline.storage.seed import page_without_scan

# Debian's browser, as tests/review/livesite.py drives it; never a downloaded one.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update"]

UTC = timezone.utc


def _book(session, code, template, commune, district, province, year=1978, book_type="birth"):
    book = Book(book_code=code, book_type=book_type, template=template, commune=commune,
                district=district, province=province, year_from=year, year_to=year, volume="1")
    session.add(book)
    session.flush()
    return book


def _record(session, book, page, row, status, *, record_type="birth", **times):
    record = Record(record_key=f"{book.book_code}-p{page.page_no:04d}-r{row:02d}", book_id=book.id,
                    page_id=page.id, row=row, record_type=record_type, status=status, **times)
    session.add(record)
    session.flush()
    return record


def _field(session, record, name, value, status, confidence, *, version=1, current=True,
           changed_by=None, source="ocr", at=None):
    fv = FieldValue(record_id=record.id, field=name, version=version, is_current=current,
                    raw=value or "", value=value if status != "blank" else None, status=status,
                    confidence=confidence, source=source, changed_by=changed_by,
                    created_at=at or datetime(2026, 3, 1, tzinfo=UTC))
    session.add(fv)
    session.flush()
    return fv


def _citizen(session, n: int) -> int:
    c = Citizen(citizen_id=f"0400730{n:05d}", full_name="X", name_key="x", name_folded="x")
    session.add(c)
    session.flush()
    return c.id


def _export(session, batch_key, at, records):
    batch = ExportBatch(batch_key=batch_key, created_at=at, created_by="tp", out_dir="/tmp/x",
                        record_count=len(records))
    session.add(batch)
    session.flush()
    for r in records:
        session.add(ExportItem(batch_id=batch.id, record_id=r.id, book_id=r.book_id, fingerprint="f" * 64))
    session.flush()


def seed_small(session: Session) -> None:
    """Three books in two districts of Nghệ Tĩnh; see tests/report/test_figures.py for what
    each figure must be."""
    a = _book(session, "HL-KS-1978", "birth_form", "Hưng Lộc", "Hưng Nguyên", "Nghệ Tĩnh")
    b = _book(session, "NP-KS-1979", "birth_ledger", "Nghi Phong", "Nghi Lộc", "Nghệ Tĩnh", 1979)
    c = _book(session, "HL-KT-1980", "death_form", "Hưng Lộc", "Hưng Nguyên", "Nghệ Tĩnh", 1980, "death")
    # Book A: 2 pages done (the second at 20:00 UTC, already the next day in Vietnam),
    # one failed, one pending.
    a1 = page_without_scan(session, a, 1, status="done", updated_at=datetime(2026, 3, 2, 10, tzinfo=UTC))
    a2 = page_without_scan(session, a, 2, status="done", updated_at=datetime(2026, 3, 2, 20, tzinfo=UTC))
    page_without_scan(session, a, 3, status="failed", error="p3.png: ảnh không đọc được")
    page_without_scan(session, a, 4)
    r1 = _record(session, a, a1, 1, "approved", reviewed_at=datetime(2026, 3, 5, 3, tzinfo=UTC),
                 approved_at=datetime(2026, 3, 6, 3, tzinfo=UTC))
    r2 = _record(session, a, a1, 2, "reviewed", reviewed_at=datetime(2026, 3, 5, 4, tzinfo=UTC))
    r3 = _record(session, a, a1, 3, "needs_review")
    r4 = _record(session, a, a2, 1, "extracted")
    r5 = _record(session, a, a2, 2, "postponed")
    for record, number in ((r1, "1"), (r2, "2"), (r3, "3"), (r4, "8"), (r5, "8")):
        _field(session, record, "registration_no", number, "read", 0.96)
    # r1: corrected by a reviewer; r2: confirmed unchanged; r3 still doubtful; r4 auto; r5 blank
    _field(session, r1, "full_name", "Nguyen Van An", "uncertain", 0.52, current=False)
    _field(session, r1, "full_name", "Nguyễn Văn An", "read", 1.0, version=2, changed_by="lan",
           source="review")
    _field(session, r2, "full_name", "Lê Thị Bình", "uncertain", 0.63, current=False)
    _field(session, r2, "full_name", "Lê Thị Bình", "read", 1.0, version=2, changed_by="lan",
           source="review")
    _field(session, r3, "full_name", "Trần Văn Cư", "uncertain", 0.41)
    _field(session, r4, "full_name", "Hồ Thị Dung", "read", 0.91)
    _field(session, r5, "full_name", None, "blank", 0.0)
    session.add_all([
        Link(record_id=r1.id, citizen_pk=_citizen(session, 1), score=30, status="auto"),
        Link(record_id=r2.id, citizen_pk=_citizen(session, 2), score=20, status="confirmed"),
        Link(record_id=r3.id, citizen_pk=_citizen(session, 3), score=12, status="needs_review"),
        Link(record_id=r4.id, citizen_pk=_citizen(session, 4), score=9, status="rejected"),
    ])
    session.flush()
    # r1 exported twice (changed in between): one exported record, first on 7 March.
    _export(session, "batch-1", datetime(2026, 3, 7, 2, tzinfo=UTC), [r1])
    _export(session, "batch-2", datetime(2026, 3, 9, 2, tzinfo=UTC), [r1])
    # Book B: one page done, two failed for two reasons (one reason twice).
    b1 = page_without_scan(session, b, 1, status="done", updated_at=datetime(2026, 3, 4, 1, tzinfo=UTC))
    for no, error in ((2, "b2.png: ảnh không đọc được"), (3, "b3.png: ảnh quá lớn"),
                      (4, "b4.png: ảnh không đọc được")):
        page_without_scan(session, b, no, status="failed", error=error)
    for row, number in ((1, "10"), (2, "11")):
        record = _record(session, b, b1, row, "extracted")
        _field(session, record, "registration_no", number, "read", 0.87)
        _field(session, record, "full_name", "Phan Văn Em", "read", 0.88)
    # Book C: its only scan could not be ingested.
    session.add(SourceFile(book_id=c.id, position=1, sha256="c" * 64, original_name="scan.tif",
                           stored_path="scans/c.tif", media_type="image/tiff", size_bytes=9,
                           status="failed", error="scan.tif: tệp TIFF hỏng"))
    session.flush()


PLACES = [
    ("Nghệ Tĩnh", "Hưng Nguyên", ["Hưng Lộc", "Hưng Tây", "Hưng Đạo"]),
    ("Nghệ Tĩnh", "Nghi Lộc", ["Nghi Phong", "Nghi Xuân"]),
    ("Nghệ Tĩnh", "Thạch Hà", ["Thạch Kênh"]),
]
REASONS = ["ảnh không đọc được", "ảnh quá lớn (vượt giới hạn điểm ảnh)",
           "không tìm thấy khối mẫu in trên trang"]
FIELDS = ["registration_no", "full_name", "sex", "birth_date", "birth_place", "father_name",
          "mother_name", "registration_date"]


def seed_province(session: Session, *, seed: int = 7, start: datetime = datetime(2026, 2, 2, tzinfo=UTC)) -> None:
    """About ten books over six weeks: pages processed day by day, some failed, records
    reviewed, approved and exported later, a few lost pages (gaps in the numbers)."""
    rng = random.Random(seed)
    citizen = 0
    batch = 0
    for province, district, communes in PLACES:
        for commune in communes:
            for year in rng.sample(range(1975, 1989), rng.randint(1, 2)):
                template = rng.choice(["birth_form", "birth_ledger"])
                per_page = 3 if template == "birth_form" else 10
                code = f"{commune[:1]}{commune.split()[-1][:1]}-KS-{year}".upper()
                code = f"{code}-{rng.randint(1, 9)}"
                book = _book(session, code, template, commune, district, province, year)
                pages = rng.randint(12, 40)
                number = 0
                exported = []
                for no in range(1, pages + 1):
                    fate = rng.random()
                    day = start + timedelta(days=rng.randint(0, 30), hours=rng.randint(0, 10))
                    if fate < 0.06:
                        page_without_scan(session, book, no, status="failed",
                                          error=f"p{no}.png: {rng.choice(REASONS)}")
                        number += per_page
                        continue
                    if fate < 0.15:
                        page_without_scan(session, book, no)
                        number += per_page
                        continue
                    page = page_without_scan(session, book, no, status="done", updated_at=day)
                    if rng.random() < 0.04:
                        number += per_page  # a torn page: its entries' numbers are missing
                    for row in range(1, per_page + 1):
                        number += 1
                        state = rng.random()
                        reviewed = day + timedelta(days=rng.randint(1, 6))
                        approved = reviewed + timedelta(days=rng.randint(1, 4))
                        if state < 0.35:
                            status, times = "approved", {"reviewed_at": reviewed, "approved_at": approved}
                        elif state < 0.5:
                            status, times = "reviewed", {"reviewed_at": reviewed}
                        elif state < 0.65:
                            status, times = "needs_review", {}
                        elif state < 0.68:
                            status, times = "postponed", {}
                        else:
                            status, times = "extracted", {}
                        record = _record(session, book, page, row, status, **times)
                        for name in FIELDS:
                            conf = min(0.99, max(0.05, rng.betavariate(8, 1.6)))
                            value = str(number) if name == "registration_no" else "x"
                            if name != "registration_no" and rng.random() < 0.05:
                                _field(session, record, name, None, "blank", 0.0)
                                continue
                            read = conf >= 0.8
                            if status in ("approved", "reviewed") and not read:
                                _field(session, record, name, value, "uncertain", conf, current=False)
                                fixed = value if name == "registration_no" or rng.random() < 0.6 \
                                    else value + "y"
                                _field(session, record, name, fixed, "read", 1.0, version=2,
                                       changed_by="lan", source="review")
                            else:
                                _field(session, record, name, value, "read" if read else "uncertain", conf)
                        if rng.random() < 0.8:
                            citizen += 1
                            link = rng.choices(["auto", "confirmed", "needs_review"], [6, 2, 1])[0]
                            session.add(Link(record_id=record.id, citizen_pk=_citizen(session, citizen),
                                             score=20, status=link))
                        if status == "approved" and rng.random() < 0.6:
                            exported.append((approved, record))
                if exported:
                    batch += 1
                    last = max(at for at, _ in exported) + timedelta(days=1)
                    _export(session, f"batch-{batch}", last, [r for _, r in exported])
    session.flush()


if __name__ == "__main__":  # write a report of a seeded province, to look at
    import sys
    from pathlib import Path

    from pipeline.report.render import write_report
    from pipeline.storage.db import init_db, make_engine, session_scope

    out = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/report.html")
    db_file = out.with_suffix(".db")
    db_file.unlink(missing_ok=True)
    engine = make_engine(f"sqlite:///{db_file}")
    init_db(engine)
    with session_scope(engine) as s:
        seed_province(s)
    print(write_report(engine, out).totals)

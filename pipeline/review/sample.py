"""A small seeded book to review, made with the project's own stages, for tests and bench/review.py.

One generated birth-register page (three entries) is ingested like any scan; its entries are
written as the extract stage writes them, but with known OCR slips, so what a reviewer must
fix is exact; citizens and links are written as `hotich match` writes them, one of them left
uncertain between a child and a twin. No Tesseract and no model fitting: a few seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import Engine

from pipeline.clean.normalize import low_confidence_note
from pipeline.ingest import BookInfo, ingest_files
from pipeline.settings import Settings
from pipeline.storage.db import init_db, session_scope
from pipeline.storage.models import FieldValue, Page, Record

#: The OCR slips written into the sample, by row: field → (value read, note).
#: Row 1 has two wrong fields, the case bench/review.py measures.
SLIPS = {
    1: {"full_name": "name", "birth_date": "date"},
    2: {"mother_name": "name"},
}


@dataclass
class SampleBook:
    book_code: str
    record_ids: list[int]  # by row
    truth: dict[int, dict[str, str | None]]  # row → field → right value
    wrong: dict[int, dict[str, str | None]] = field(default_factory=dict)  # row → field → value stored
    link_record: int | None = None  # the record whose link waits for a person


def _misread_name(name: str) -> str:
    """A tone mark lost on the surname or, failing that, on the first word that has one."""
    swaps = {"Nguyễn": "Nguyên", "Trần": "Tran", "Lê": "Le", "Phạm": "Pham", "Hoàng": "Hoang",
             "Đặng": "Đăng", "Võ": "Vo", "Bùi": "Bui", "Đỗ": "Đô", "Hồ": "Hô", "Ngô": "Ngo",
             "Dương": "Duong", "Lý": "Ly", "Phan": "Phau", "Vũ": "Vu", "Huỳnh": "Huynh"}
    words = name.split()
    if words and words[0] in swaps:
        words[0] = swaps[words[0]]
    else:
        words[-1] = words[-1] + "h"
    return " ".join(words)


def _misread_date(iso: str) -> str:
    """One digit of the month or day slipped, as OCR does (3 → 8, 1 → 7)."""
    y, m, d = (iso.split("-") + ["01", "01"])[:3]
    day = int(d)
    bad_day = day + 10 if day <= 18 else day - 10
    return f"{y}-{m}-{bad_day:02d}"


def seed_sample_book(engine: Engine, settings: Settings, *, seed: int = 11,
                     with_population: bool = True) -> SampleBook:
    """Generate, ingest and write the sample book into ``engine``; returns what it holds.

        >>> sample = seed_sample_book(make_engine(url), Settings(home=tmp))
        >>> sample.wrong[1]      # the two fields a reviewer must fix in row 1
        {'full_name': 'Nguyên Văn Hùng', 'birth_date': '1968-03-22'}
    """
    from pipeline.samplegen import BookSpec, generate_book

    init_db(engine)
    out = settings.home / "sample" / f"book-{seed}"
    truth = generate_book(BookSpec(seed=seed, template="birth_form", pages=1, degradation="clean",
                                   stamps=False), out)
    book = truth.book
    code = f"mau-{seed}"
    info = BookInfo(template="birth_form", commune=book["commune"], district=book["district"],
                    province=book["province"], year=str(book["year"]), volume=str(book["volume"]),
                    book_code=code)
    ingest_files(engine, settings, info, [out / truth.pages[0]["image"]])
    sample = SampleBook(code, [], {})
    with session_scope(engine) as s:
        page = s.scalar(select(Page).join(Page.book).where(Page.book.has(book_code=code)))
        page.width, page.height = truth.pages[0]["width"], truth.pages[0]["height"]
        page.status, page.stage, page.dpi = "done", "clean", None
        for rec in truth.records:
            slips = SLIPS.get(rec.row, {})
            boxes = [f.box for f in rec.fields.values() if f.box]
            record = Record(
                record_key=f"{code}-p0001-r{rec.row:02d}", book_id=page.book_id, page_id=page.id,
                row=rec.row, record_type="birth", source="ocr",
                status="needs_review" if slips else "extracted", confidence=0.97,
                box_x0=min(b[0] for b in boxes), box_y0=min(b[1] for b in boxes),
                box_x1=max(b[2] for b in boxes), box_y1=max(b[3] for b in boxes))
            s.add(record)
            s.flush()
            sample.record_ids.append(record.id)
            sample.truth[rec.row] = {name: f.value for name, f in rec.fields.items()}
            for name, f in rec.fields.items():
                value, raw, status, note, conf = f.value, f.text, "read" if f.text else "blank", None, 0.97
                kind = slips.get(name)
                if kind == "name" and value:
                    value = raw = _misread_name(value)
                    status, note, conf = "uncertain", "Họ ít gặp: " + value.split()[0], 0.58
                elif kind == "date" and value and len(value) == 10:
                    value = _misread_date(value)
                    y, m, d = value.split("-")
                    raw = f"{int(d)}/{int(m)}/{y}"
                    note = low_confidence_note(0.61, 0.9, ["máy đọc chữ không chắc (61 %)"])
                    status, conf = "uncertain", 0.61
                if kind:
                    sample.wrong.setdefault(rec.row, {})[name] = value
                box = f.box or [None] * 4
                s.add(FieldValue(record_id=record.id, field=name, version=1, is_current=True,
                                 raw=raw or "", value=value if status != "blank" else None,
                                 status=status, confidence=conf if status != "blank" else 0.0,
                                 source="ocr", box_x0=box[0], box_y0=box[1], box_x1=box[2],
                                 box_y1=box[3], note=note, reason="ocr"))
    if with_population:
        sample.link_record = _population(engine, settings, truth, out, sample)
    return sample


def _citizen(s, citizen_id: str, hint: dict, full_name: str, place: str) -> int:
    from pipeline.clean.text import folded_key, name_key
    from pipeline.storage.models import Citizen

    c = Citizen(citizen_id=citizen_id, full_name=full_name, name_key=name_key(full_name),
                name_folded=folded_key(full_name), sex=hint["sex"], birth_date=hint["birth_date"],
                birth_year=int(hint["birth_date"][:4]), birth_place=place,
                father_name=hint.get("father_name"), mother_name=hint.get("mother_name"),
                source_file="sample")
    s.add(c)
    s.flush()
    return c.id


def _parts(given: tuple[int, float]) -> dict:
    """An explanation as `hotich match` stores it, with the real comparison labels."""
    from pipeline.match.compare import COMPARISONS

    levels = {"given_name": given, "surname": (0, 3.1), "middle_name": (0, 1.4),
              "birth_date": (0, 8.6), "sex": (0, 0.9), "father_name": (0, 5.2),
              "mother_name": (0, 5.6), "birth_place": (0, 1.8)}
    parts = []
    for c in COMPARISONS:
        level, bits = levels.get(c.name, (0, 0.0))
        parts.append({"comparison": c.name, "level": level, "label": c.levels[level], "bits": bits})
    return {"probability": 0.0, "parts": parts}


def _population(engine: Engine, settings: Settings, truth, out: Path, sample: SampleBook) -> int | None:
    """Citizens for rows 1 and 3, and links as the match stage writes them: row 1 linked
    automatically (its citizen's values become suggestions), row 3 uncertain between the child
    and a twin with another given name (the sibling case the matcher never decides alone)."""
    from pipeline.storage.models import Link

    place = f"Xã {truth.book['commune']}, Huyện {truth.book['district']}"
    with session_scope(engine) as s:
        first = truth.records[0].citizen_hint
        c1 = _citizen(s, "040073000101", first, first["full_name"], place)
        explanation = _parts((0, 6.3))
        explanation["probability"] = 0.99995
        s.add(Link(record_id=sample.record_ids[0], citizen_pk=c1, score=31.4, status="auto", rank=1,
                   explanation=explanation))
        child = truth.records[2].citizen_hint
        words = child["full_name"].split()
        twin_name = " ".join(words[:-1] + ["Hòa" if words[-1] != "Hòa" else "Bình"])
        real = _citizen(s, "040073000303", child, child["full_name"], place)
        twin = _citizen(s, "040073000304", child, twin_name, place)
        good, bad = _parts((0, 6.1)), _parts((4, -5.4))
        good["probability"], bad["probability"] = 0.9962, 0.412
        s.add(Link(record_id=sample.record_ids[2], citizen_pk=real, score=25.8, status="needs_review",
                   rank=1, explanation=good))
        s.add(Link(record_id=sample.record_ids[2], citizen_pk=twin, score=14.3, status="candidate",
                   rank=2, explanation=bad))
    return sample.record_ids[2]

"""The sample-book generator makes repeatable, legible books whose truth matches the pixels."""

from __future__ import annotations

import csv
import re
import unicodedata
from pathlib import Path

import pytest
from PIL import Image
from rapidfuzz import fuzz

from pipeline.errors import BadInput, MissingDependency
from pipeline.samplegen import (BookSpec, BookTruth, generate_book, generate_demo_set,
                                generate_population)
from pipeline.samplegen import fonts as sg_fonts
from pipeline.templates import load_template

LEVEL_DPI = {"clean": 300, "moderate": 300, "heavy": 200}
PAGE_PX = {("form", 300): (2480, 3508), ("ledger", 300): (3508, 2480),
           ("form", 200): (1654, 2339), ("ledger", 200): (2339, 1654)}
ISO = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")


@pytest.fixture(scope="module")
def books(tmp_path_factory) -> dict[tuple[str, str], tuple[BookTruth, Path]]:
    root = tmp_path_factory.mktemp("books")
    out = {}
    for template in ("birth_form", "birth_ledger"):
        for level in LEVEL_DPI:
            face = "hand" if level == "moderate" else "typewriter"
            d = root / f"{template}-{level}"
            out[template, level] = (generate_book(
                BookSpec(seed=11, template=template, pages=2, degradation=level, face=face), d), d)
    return out


def _pdf_pages(path: Path) -> tuple[int, str]:
    from pdf2image import pdfinfo_from_path

    info = pdfinfo_from_path(str(path))
    return info["Pages"], info["Page size"]


@pytest.mark.parametrize("template", ["birth_form", "birth_ledger"])
@pytest.mark.parametrize("level", ["clean", "moderate", "heavy"])
def test_pages_have_stated_size_dpi_and_pdf_page_count(books, template, level):
    truth, d = books[template, level]
    dpi = LEVEL_DPI[level]
    layout = load_template(template).layout
    assert truth.book["layout"] == layout and truth.book["template"] == template
    assert len(truth.pages) == 2
    for page in truth.pages:
        img = Image.open(d / page["image"])
        assert img.size == PAGE_PX[layout, dpi] == (page["width"], page["height"])
        assert page["dpi"] == dpi and round(img.info["dpi"][0]) == dpi
    pages, size = _pdf_pages(d / "book.pdf")
    assert pages == 2
    w, h = (float(v) for v in re.findall(r"[\d.]+", size)[:2])
    a4 = (595.3, 841.9) if layout == "form" else (841.9, 595.3)
    assert abs(w - a4[0]) < 2 and abs(h - a4[1]) < 2
    assert BookTruth.from_json(d / "truth.json") == truth


@pytest.mark.parametrize("template", ["birth_form", "birth_ledger"])
@pytest.mark.parametrize("level", ["clean", "moderate", "heavy"])
def test_truth_has_every_field_with_boxes_inside_the_page(books, template, level):
    truth, _ = books[template, level]
    tpl = load_template(template)
    assert len(truth.records) == tpl.entries_per_page * 2
    for rec in truth.records:
        assert rec.record_key == f"p{rec.page:03d}-r{rec.row:02d}"
        assert set(rec.fields) == set(tpl.fields)
        page = truth.pages[rec.page - 1]
        for name, f in rec.fields.items():
            assert f.text == unicodedata.normalize("NFC", f.text)
            if f.text == "":
                assert f.value is None and f.box is None
                continue
            assert f.value is not None, (rec.record_key, name)
            x0, y0, x1, y1 = f.box
            assert 0 <= x0 < x1 <= page["width"] and 0 <= y0 < y1 <= page["height"]
            kind = tpl.kind_of(name)
            if kind == "sex":
                assert (f.text, f.value) in {("Nam", "M"), ("Nữ", "F")}
            elif kind == "date":
                assert ISO.match(f.value) and f.value[:4] in f.text
            elif kind == "name" and f.text not in ("nt", "như trên"):
                assert f.value == " ".join(w.capitalize() for w in f.text.split())


def test_same_seed_gives_same_bytes(tmp_path):
    for spec in (BookSpec(seed=5, template="birth_form", pages=1, face="hand"),
                 BookSpec(seed=5, template="birth_ledger", pages=2, degradation="heavy")):
        a, b = tmp_path / f"a-{spec.template}", tmp_path / f"b-{spec.template}"
        generate_book(spec, a)
        generate_book(spec, b)
        files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
        assert len(files) >= 3
        for rel in files:
            assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
    other = generate_book(BookSpec(seed=6, template="birth_form", pages=1, face="hand"),
                          tmp_path / "c")
    assert other.to_json() != BookTruth.from_json(tmp_path / "a-birth_form/truth.json").to_json()


def test_ledger_dittos_resolve_to_the_row_above(tmp_path):
    truth = generate_book(BookSpec(seed=3, template="birth_ledger", pages=4), tmp_path)
    dittos = 0
    by_key = {r.record_key: r for r in truth.records}
    for rec in truth.records:
        for name, f in rec.fields.items():
            if f.text in ("nt", "như trên"):
                dittos += 1
                above = by_key[f"p{rec.page:03d}-r{rec.row - 1:02d}"]
                assert rec.row > 1 and f.value == above.fields[name].value is not None
    assert dittos >= 1
    notes = [r.fields["notes"].text for r in truth.records]
    assert notes.count("") > len(notes) / 2


@pytest.mark.parametrize("font", sorted(sg_fonts.FONTS))
def test_every_font_has_every_vietnamese_letter(font):
    assert sg_fonts.missing_glyphs(font) == ""
    assert sg_fonts.missing_glyphs(font, "Nguyễn Thị Hường Đặng ữ ỗ ặ") == ""
    assert len(sg_fonts.vietnamese_letters()) >= 134 + 2


def test_missing_font_names_the_debian_package(monkeypatch, tmp_path):
    monkeypatch.setitem(sg_fonts.FONTS, "FreeMono",
                        (Path("/nonexistent/FreeMono.ttf"), "fonts-freefont-ttf"))
    sg_fonts.load_font.cache_clear()
    with pytest.raises(MissingDependency, match="fonts-freefont-ttf"):
        sg_fonts.load_font("FreeMono", 40)
    sg_fonts.load_font.cache_clear()


def test_bad_spec_is_a_bad_input(tmp_path):
    with pytest.raises(BadInput):
        generate_book(BookSpec(seed=1, degradation="soggy"), tmp_path)
    with pytest.raises(BadInput):
        generate_book(BookSpec(seed=1, template="no_such_book"), tmp_path)


def test_given_place_and_year_are_used(tmp_path):
    truth = generate_book(BookSpec(seed=2, pages=1, commune="Hưng Dũng", year=1968, volume=4),
                          tmp_path)
    assert truth.book | {} == {**truth.book, "commune": "Hưng Dũng", "district": "Hưng Nguyên",
                               "province": "Nghệ An", "year": 1968, "volume": 4}
    births = {r.citizen_hint["birth_date"][:4] for r in truth.records}
    assert births <= {"1967", "1968"}


def test_clean_typewriter_name_is_legible_to_tesseract(books):
    import pytesseract

    truth, d = books["birth_form", "clean"]
    img = Image.open(d / truth.pages[0]["image"])
    f = truth.records[0].fields["full_name"]
    x0, y0, x1, y1 = f.box
    crop = img.crop((x0 - 12, y0 - 12, x1 + 12, y1 + 12))
    read = pytesseract.image_to_string(crop, lang="vie", config="--psm 7").strip()
    assert fuzz.ratio(read, f.text) >= 80, (read, f.text)


def test_population_links_book_children_to_citizens(tmp_path):
    truths = generate_demo_set(tmp_path, seed=4)
    assert [t.book["layout"] for t in truths] == ["form", "ledger"]
    pop_dir = tmp_path / "population"
    with (pop_dir / "population.csv").open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        assert reader.fieldnames == ["citizen_id", "full_name", "sex", "birth_date",
                                     "birth_place", "father_name", "mother_name"]
        citizens = {row["citizen_id"]: row for row in reader}
    n_records = sum(len(t.records) for t in truths)
    assert len(citizens) >= 200 + n_records * 0.6
    for cid, row in citizens.items():
        assert re.fullmatch(r"040[01]\d{8}", cid)
        assert cid[3] == ("0" if row["sex"] == "Nam" else "1")
        assert cid[4:6] == row["birth_date"][2:4]
    with (pop_dir / "population_truth.csv").open(encoding="utf-8", newline="") as fh:
        links = list(csv.DictReader(fh))
    assert 0.6 * n_records <= len(links) < n_records
    for link in links:
        rec = truths[int(link["book"])].record(link["record_key"])
        citizen = citizens[link["citizen_id"]]
        hint = rec.citizen_hint
        fold = lambda s: unicodedata.normalize("NFD", s).casefold()  # noqa: E731
        assert fuzz.ratio(fold(citizen["full_name"]), fold(hint["full_name"])) >= 70
        assert citizen["birth_date"][:4] == hint["birth_date"][:4]
    # Near misses: a book child's name carried by a citizen who is not that child.
    linked = {link["citizen_id"] for link in links}
    child_names = {r.citizen_hint["full_name"] for t in truths for r in t.records}
    strangers = [c for cid, c in citizens.items() if cid not in linked]
    assert any(c["full_name"].split()[-1] in {n.split()[-1] for n in child_names} for c in strangers)


def test_population_is_deterministic(tmp_path):
    truth = generate_book(BookSpec(seed=8, pages=1), tmp_path / "b")
    a = generate_population([truth], tmp_path / "p1", seed=1, extra_citizens=20)
    b = generate_population([truth], tmp_path / "p2", seed=1, extra_citizens=20)
    assert a.read_bytes() == b.read_bytes()
    assert len(a.read_text(encoding="utf-8").splitlines()) >= 1 + 20

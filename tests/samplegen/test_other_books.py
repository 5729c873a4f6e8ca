"""Marriage and death registers: their templates, and generated books of both layouts."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import re
import unicodedata
from pathlib import Path

import pytest
from PIL import Image
from rapidfuzz import fuzz

from pipeline.samplegen import BookSpec, BookTruth, generate_book, generate_population
from pipeline.samplegen.content import capitalise_name, given_names, lexicon
from pipeline.samplegen.printing import classic_printing
from pipeline.templates import available_templates, load_template

NEW = ["marriage_form", "marriage_ledger", "death_form", "death_ledger"]
MARRIAGE_FORM = ["registration_no", "husband_name", "husband_birth", "husband_ethnicity",
                 "husband_nationality", "husband_residence", "wife_name", "wife_birth",
                 "wife_ethnicity", "wife_nationality", "wife_residence", "registration_date"]
MARRIAGE_LEDGER = ["registration_no", "husband_name", "husband_birth", "husband_ethnicity",
                   "husband_residence", "wife_name", "wife_birth", "wife_ethnicity",
                   "wife_residence", "registration_date", "notes"]
DEATH_FORM = ["registration_no", "deceased_name", "sex", "birth_date", "death_date", "death_place",
              "cause", "residence", "declarant", "registration_date"]
DEATH_LEDGER = ["registration_no", "deceased_name", "sex", "birth_date", "death_date",
                "death_place", "cause", "residence", "registration_date", "notes"]
EXPECTED = {
    "marriage_form": ("marriage", "form", 3, "SỔ ĐĂNG KÝ KẾT HÔN", MARRIAGE_FORM),
    "marriage_ledger": ("marriage", "ledger", 10, "SỔ ĐĂNG KÝ KẾT HÔN", MARRIAGE_LEDGER),
    "death_form": ("death", "form", 3, "SỔ ĐĂNG KÝ KHAI TỬ", DEATH_FORM),
    "death_ledger": ("death", "ledger", 10, "SỔ ĐĂNG KÝ KHAI TỬ", DEATH_LEDGER),
}
ISO = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
#: Fingerprint of the words (text and value of every field) of a hand-written 2-page birth_form
#: book, seed 3, recorded before marriage and death books existed. Independent of fonts,
#: FreeType and degradation, so it only moves if what a birth book says changes.
BIRTH_SEED3_WORDS = "8f6add8b234c8a088c61f82cb9350a87441b0c0923d646b44ae00543147a0425"


@pytest.mark.parametrize("name", NEW)
def test_template_loads_with_its_fields_in_order(name):
    book_type, layout, per_page, title, fields = EXPECTED[name]
    t = load_template(name)
    assert name in available_templates()
    assert (t.name, t.book_type, t.layout, t.entries_per_page, t.title) == (
        name, book_type, layout, per_page, title)
    assert t.fields == fields
    printing = classic_printing(name)
    if layout == "ledger":
        headers = [c.header for c in printing.columns]
        assert len(set(headers)) == len(headers), headers
        assert sum(c.width for c in printing.columns) == pytest.approx(1.0, abs=0.02)
        assert headers[0] == "Số" and headers[-1] == "Ghi chú"
        # the first header variant of each field is the classic printing's
        assert headers == [t.spec(f).labels[0] for f in t.fields]
    else:
        # Repeated labels (Dân tộc:, Nơi thường trú: ...) sit on separate lines per person.
        for line in printing.lines:
            assert len({lab.label for lab in line}) == len(line)
        assert printing.lines[0][0].label == "Số:"
        # a label printed for two people says whose it is
        for spec in t.specs:
            shared = [o for o in t.specs if set(o.labels) & set(spec.labels)]
            if len(shared) > 1:
                assert spec.of in t.fields, spec.field
    for f in fields:
        kind = t.kind_of(f)
        if f.endswith("birth") or f.endswith("_date"):
            assert kind == "date"
        if f.endswith("_name"):
            assert kind == "name"


@pytest.fixture(scope="module")
def books(tmp_path_factory) -> dict[str, tuple[BookTruth, Path]]:
    root = tmp_path_factory.mktemp("other_books")
    return {name: (generate_book(BookSpec(seed=21, template=name, pages=1), root / name),
                   root / name) for name in NEW}


def _neighbourhood(book: dict) -> set[str]:
    info = lexicon("places")["districts"][book["district"]]
    return set(info["communes"]) | {book["commune"]}


@pytest.mark.parametrize("name", NEW)
def test_truth_has_every_field_normalized(books, name):
    truth, d = books[name]
    t = load_template(name)
    assert truth.book["book_type"] == t.book_type and truth.book["template"] == name
    assert len(truth.records) == t.entries_per_page
    year = truth.book["year"]
    for rec in truth.records:
        assert list(rec.fields) == t.fields
        for f, tf in rec.fields.items():
            assert unicodedata.is_normalized("NFC", tf.text)
            if tf.value is None:
                continue
            kind = t.kind_of(f)
            if kind == "name":
                assert tf.value == capitalise_name(tf.value)
                assert unicodedata.is_normalized("NFC", tf.value)
            elif kind == "sex":
                assert tf.value in ("M", "F")
            elif kind == "date":
                assert ISO.match(tf.value), (f, tf.value)
            if tf.text and tf.text not in ("nt", "như trên"):
                assert tf.box is not None
        assert rec.fields["registration_date"].value.startswith(str(year))
        for f in ("registration_no", "registration_date"):
            assert rec.fields[f].value


@pytest.mark.parametrize("name", ["marriage_form", "marriage_ledger"])
def test_marriages_are_young_couples_living_nearby(books, name):
    truth, _ = books[name]
    year = truth.book["year"]
    nearby = _neighbourhood(truth.book)
    for rec in truth.records:
        h = rec.citizen_hint
        for who, sex in (("husband", "M"), ("wife", "F")):
            age = year - int(h[f"{who}_birth_date"][:4])
            assert 18 <= age <= 35
            assert h[f"{who}_name"].split()[-1] in given_names(sex)
            assert rec.fields[f"{who}_birth"].value[:4] == h[f"{who}_birth_date"][:4]
            commune = re.search(r"(?:xã|HTX) (.+)$", h[f"{who}_residence"]).group(1)
            assert commune in nearby
    if name == "marriage_ledger":  # the "Năm sinh" columns mostly hold the year alone
        years = [r.fields["husband_birth"].value for r in truth.records]
        assert sum(len(v) == 4 for v in years) >= len(years) // 2


@pytest.mark.parametrize("name", ["death_form", "death_ledger"])
def test_deaths_fall_in_the_book_year(books, name):
    truth, _ = books[name]
    year = truth.book["year"]
    causes = set()
    for band in lexicon("registers")["death"]["causes"].values():
        causes |= set(band)
    for rec in truth.records:
        death = dt.date.fromisoformat(rec.fields["death_date"].value)
        registration = dt.date.fromisoformat(rec.fields["registration_date"].value)
        assert death.year == year and death <= registration
        assert rec.fields["birth_date"].value <= rec.fields["death_date"].value
        assert rec.citizen_hint["cause"] in causes
        assert rec.fields["sex"].text in ("Nam", "Nữ")
        if "declarant" in rec.fields:
            relation = r"\((cha|mẹ|vợ|chồng|con|cháu|anh|em)\)$"
            assert re.search(relation, rec.fields["declarant"].value)


@pytest.mark.parametrize("name", NEW)
def test_page_header_prints_the_template_title(books, name):
    import pytesseract

    truth, d = books[name]
    img = Image.open(d / truth.pages[0]["image"]).convert("L")
    w, h = img.size
    top = img.crop((int(w * 0.25), 0, int(w * 0.75), int(h * (0.09 if "form" in name else 0.12))))
    read = unicodedata.normalize("NFC", pytesseract.image_to_string(top, lang="vie")).upper()
    want = "KẾT HÔN" if name.startswith("marriage") else "KHAI TỬ"
    assert fuzz.partial_ratio(want, read) >= 80, read
    assert fuzz.partial_ratio("KHAI SINH", read) < 80, read


def _digests(d: Path) -> dict[str, str]:
    return {str(p.relative_to(d)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(d.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("name", ["marriage_form", "death_ledger", "birth_form"])
def test_same_seed_same_bytes(books, tmp_path, name):
    spec = BookSpec(seed=21, template=name, pages=1)
    if name in books:
        first = books[name][1]
    else:
        first = tmp_path / "a"
        generate_book(spec, first)
    generate_book(spec, tmp_path / "b")
    assert _digests(first) == _digests(tmp_path / "b")


def test_birth_content_unchanged_by_other_registers(tmp_path):
    """The birth path draws exactly what it drew before marriage and death books existed."""
    truth = generate_book(BookSpec(seed=3, template="birth_form", pages=2, face="hand"), tmp_path)
    words = [[(f, tf.text, tf.value) for f, tf in rec.fields.items()] for rec in truth.records]
    blob = json.dumps(words, ensure_ascii=False).encode("utf-8")
    assert hashlib.sha256(blob).hexdigest() == BIRTH_SEED3_WORDS


def test_population_skips_marriage_and_death_books(books, tmp_path):
    death, _ = books["death_form"]
    birth = generate_book(BookSpec(seed=21, template="birth_form", pages=1), tmp_path / "birth")
    generate_population([death, birth], tmp_path / "pop", seed=2, extra_citizens=5)
    with (tmp_path / "pop" / "population_truth.csv").open(encoding="utf-8") as fh:
        links = list(csv.DictReader(fh))
    assert links and {row["book"] for row in links} == {"1"}

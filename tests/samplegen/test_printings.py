"""Random printings put every value where truth.json says, vary the arrangement, and repeat."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from rapidfuzz import fuzz

from pipeline.errors import BadInput
from pipeline.samplegen import BookSpec, BookTruth, generate_book
from pipeline.samplegen.printing import RULINGS, parse_printing, random_printing
from pipeline.templates import load_template

BIRTH_FORM = load_template("birth_form")
BIRTH_LEDGER = load_template("birth_ledger")
LABEL_WORDS = {lab.rstrip(":").lower() for spec in BIRTH_FORM.specs for lab in spec.labels
               if len(lab) > 5}


def _first_printing(template, want) -> str:
    """The first ``random:<n>`` of ``template`` whose printing satisfies ``want``."""
    for n in range(200):
        if want(parse_printing(template, f"random:{n}")):
            return f"random:{n}"
    raise AssertionError("no such printing among the first 200")


def _arrangement(p) -> tuple:
    return (tuple(tuple((lab.field, lab.label) for lab in line) for line in p.lines),
            tuple((c.field, c.header) for c in p.columns), p.label_above)


@pytest.fixture(scope="module")
def random_forms(tmp_path_factory) -> dict[str, tuple[BookTruth, Path]]:
    root = tmp_path_factory.mktemp("printings")
    out = {}
    for key, want in (("above", lambda p: p.label_above),
                      ("beside", lambda p: not p.label_above and p.label_pt >= 10)):
        printing = _first_printing(BIRTH_FORM, want)
        d = root / key
        out[key] = (generate_book(BookSpec(seed=4, template="birth_form", pages=1,
                                           printing=printing), d), d)
    return out


@pytest.mark.parametrize("key", ["above", "beside"])
def test_random_form_values_are_where_truth_says(random_forms, key):
    import pytesseract

    truth, d = random_forms[key]
    img = Image.open(d / truth.pages[0]["image"]).convert("L")
    read_ok, tried = 0, 0
    for rec in truth.records[:2]:
        for name in ("full_name", "birth_date", "father_name"):
            f = rec.fields[name]
            x0, y0, x1, y1 = f.box
            crop = img.crop((x0 - 10, y0 - 10, x1 + 10, y1 + 10))
            read = pytesseract.image_to_string(crop, lang="vie", config="--psm 7").strip()
            tried += 1
            read_ok += fuzz.ratio(read, f.text) >= 80
            for label in LABEL_WORDS:  # the crop holds the value, not a label
                assert label not in read.lower(), (name, read)
    assert read_ok >= tried - 1, (read_ok, tried)


def test_random_printing_honours_its_entry_count_and_is_recorded(random_forms):
    for truth, _ in random_forms.values():
        recorded = truth.generator["printing"]
        assert recorded["name"].startswith("random:")
        assert len(truth.records) == recorded["entries_per_page"]
        assert 2 <= recorded["entries_per_page"] <= 4
        fields = [lab["field"] for line in recorded["lines"] for lab in line]
        assert sorted(fields) == sorted(BIRTH_FORM.fields)


def test_two_random_printings_differ_in_arrangement():
    forms = {_arrangement(parse_printing(BIRTH_FORM, f"random:{n}")) for n in range(6)}
    ledgers = {_arrangement(parse_printing(BIRTH_LEDGER, f"random:{n}")) for n in range(6)}
    assert len(forms) == 6 and len(ledgers) == 6
    a, b = (parse_printing(BIRTH_FORM, f"random:{n}") for n in (0, 1))
    assert [[lab.field for lab in line] for line in a.lines] != \
        [[lab.field for lab in line] for line in b.lines]


def test_random_printings_stay_plausible():
    """The number near the top, the registration date near the bottom, ages after their
    parent, one to three labels a line, every field once, wording from the template."""
    for template in (BIRTH_FORM, load_template("marriage_form"), load_template("death_form")):
        for n in range(25):
            p = parse_printing(template, f"random:{n}")
            order = [lab.field for line in p.lines for lab in line]
            assert sorted(order) == sorted(template.fields)
            assert all(1 <= len(line) <= 3 for line in p.lines)
            assert order.index("registration_no") <= 1
            assert order.index("registration_date") >= len(order) - 2
            for lab in (lab for line in p.lines for lab in line):
                assert lab.label in template.spec(lab.field).labels
                of = template.spec(lab.field).of
                if of:
                    assert order.index(of) < order.index(lab.field)
            assert p.label_font and 9 <= p.label_pt <= 13
    for n in range(25):
        p = random_printing(BIRTH_LEDGER, np.random.default_rng(n))
        assert sorted(c.field for c in p.columns) == sorted(BIRTH_LEDGER.fields)
        assert p.ruled in RULINGS and 8 <= p.entries_per_page <= 15
        assert sum(c.width for c in p.columns) == pytest.approx(1.0, abs=0.01)


def test_nth_printing_is_the_same_whatever_the_seed(tmp_path):
    assert parse_printing(BIRTH_FORM, "random:7") == parse_printing(BIRTH_FORM, "random:7")
    a = generate_book(BookSpec(seed=1, template="birth_ledger", pages=1, printing="random:7",
                               capture="flatbed:200"), tmp_path / "a")
    b = generate_book(BookSpec(seed=2, template="birth_ledger", pages=1, printing="random:7",
                               capture="flatbed:200"), tmp_path / "b")
    assert a.generator["printing"] == b.generator["printing"]
    with pytest.raises(BadInput):
        generate_book(BookSpec(seed=1, printing="fancy"), tmp_path / "c")


def test_same_spec_gives_same_bytes(tmp_path):
    spec = BookSpec(seed=9, template="birth_form", pages=1, printing="random:2", face="hand",
                    degradation="moderate", capture="flatbed:200")
    generate_book(spec, tmp_path / "a")
    generate_book(spec, tmp_path / "b")
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert len(files) == 3
    for rel in files:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel


def _longest_runs(dark: np.ndarray) -> tuple[int, int]:
    """Longest horizontal and vertical run of dark pixels anywhere on the page."""
    def longest(rows: np.ndarray) -> int:
        best = 0
        for row in rows:
            padded = np.concatenate([[0], row.astype(np.int8), [0]])
            edges = np.flatnonzero(np.diff(padded))
            if len(edges):
                best = max(best, int((edges[1::2] - edges[::2]).max()))
        return best
    return longest(dark), longest(dark.T)


@pytest.mark.parametrize("ruled", ["none", "full"])
def test_unruled_ledgers_have_no_long_rules(tmp_path, ruled):
    printing = _first_printing(BIRTH_LEDGER, lambda p: p.ruled == ruled)
    truth = generate_book(BookSpec(seed=5, template="birth_ledger", pages=1, printing=printing,
                                   capture="flatbed:200"), tmp_path)
    img = np.asarray(Image.open(tmp_path / truth.pages[0]["image"]).convert("L"))
    h, w = img.shape
    horizontal, vertical = _longest_runs(img < 128)
    if ruled == "none":
        assert horizontal < 0.15 * w and vertical < 0.1 * h, (horizontal, vertical)
    else:  # the detector does see a grid when there is one
        assert horizontal > 0.8 * w and vertical > 0.5 * h
    assert len(truth.records) == truth.generator["printing"]["entries_per_page"]
    for rec in truth.records:
        assert rec.fields["full_name"].box is not None


def test_margin_note_is_furniture_not_an_entry(tmp_path):
    printing = _first_printing(BIRTH_FORM, lambda p: p.margin_note_p > 0)
    for seed in range(1, 30):
        truth = generate_book(BookSpec(seed=seed, template="birth_form", pages=1,
                                       printing=printing, capture="flatbed:200"),
                              tmp_path / str(seed))
        note = truth.generator["margin_notes"][0]
        if note:
            break
    else:
        raise AssertionError("no margin note in 30 books")
    img = np.asarray(Image.open(tmp_path / str(seed) / truth.pages[0]["image"]).convert("L"))
    x0, y0, x1, y1 = note["box"]
    assert (img[y0:y1, x0:x1] < 160).mean() > 0.02  # ink is there
    assert len(truth.records) == truth.generator["printing"]["entries_per_page"]
    for rec in truth.records:
        for f in rec.fields.values():
            if f.box:
                assert f.box[2] <= x0 or f.box[0] >= x1 or f.box[3] <= y0 or f.box[1] >= y1

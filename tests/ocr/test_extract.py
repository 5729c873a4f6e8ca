"""Field extraction on generated pages: the values a reviewer would see, against exact truth."""

from __future__ import annotations

import numpy as np
import pytest
from rapidfuzz import fuzz

from pipeline.ocr import OCR_VERSION, read_page
from pipeline.templates import load_template

from .conftest import nfc


def _score(read, truth):
    got = {r.row: r for r in read.records}
    pairs = []
    for rec in truth.records:
        record = got.get(rec.row)
        for name, tf in rec.fields.items():
            fv = record.fields.get(name) if record else None
            pairs.append((name, nfc(tf.text), fv))
    return pairs


@pytest.fixture(scope="module")
def form_read(form_page, tesseract):
    image, truth = form_page
    return read_page(image, load_template("birth_form"), tesseract), truth


@pytest.fixture(scope="module")
def ledger_read(ledger_page, tesseract):
    image, truth = ledger_page
    return read_page(image, load_template("birth_ledger"), tesseract), truth


def test_form_finds_every_entry_in_order(form_read):
    read, truth = form_read
    assert [r.row for r in read.records] == [r.row for r in truth.records]
    fields = load_template("birth_form").fields
    for record in read.records:
        assert set(record.fields) == set(fields)
    assert read.ocr_version.startswith(OCR_VERSION + "/tesseract-5")
    assert abs(read.angle) < 0.5


def test_form_reads_names_and_most_fields(form_read):
    # measured on seed 1 clean typewriter (Tesseract 5.3.0, Debian vie): 3/3 full names and
    # 100 % of written fields exact; the bars leave room for other Tesseract builds
    read, truth = form_read
    pairs = _score(read, truth)
    names = [(want, fv) for name, want, fv in pairs if name == "full_name"]
    exact_names = sum(fv is not None and fv.raw == want for want, fv in names)
    assert exact_names >= 2 / 3 * len(names)
    written = [(want, fv) for _, want, fv in pairs if want]
    exact = sum(fv is not None and fv.raw == want for want, fv in written)
    close = sum(fv is not None and fuzz.ratio(fv.raw, want) >= 90 for want, fv in written)
    assert exact >= 0.85 * len(written)
    assert close >= 0.9 * len(written)


def test_form_values_are_nfc_with_confidence_and_box_on_the_ink(form_read):
    read, truth = form_read
    truth_by_row = {r.row: r for r in truth.records}
    for record in read.records:
        for name, fv in record.fields.items():
            assert fv.raw == nfc(fv.raw)
            assert fv.value is None and fv.source == "ocr"
            assert 0.0 <= fv.confidence <= 1.0
            assert fv.status in ("read", "blank", "illegible")
            tbox = truth_by_row[record.row].fields[name].box
            if fv.status == "read" and tbox:
                # the value region (input pixels) contains the centre of the written ink
                cx, cy = (tbox[0] + tbox[2]) / 2, (tbox[1] + tbox[3]) / 2
                x0, y0, x1, y1 = fv.box
                assert x0 <= cx <= x1 and y0 <= cy <= y1, (record.row, name)


def test_confidence_is_lower_on_misread_fields(form_read, ledger_read):
    pairs = _score(*form_read) + _score(*ledger_read)
    right = [fv.confidence for _, want, fv in pairs if want and fv and fv.raw == want]
    wrong = [fv.confidence for _, want, fv in pairs if want and fv and fv.raw != want]
    assert right and wrong
    assert np.mean(wrong) < np.mean(right) - 0.1


def test_ledger_finds_all_rows_and_most_cells(ledger_read):
    # measured on seed 1 clean typewriter: 10/10 rows, 96 % of written cells exact
    read, truth = ledger_read
    assert len(read.records) == len(truth.records)
    assert read.fit.labels_found == read.fit.labels_expected == 9 and not read.fit.problems
    pairs = _score(read, truth)
    written = [(want, fv) for _, want, fv in pairs if want]
    exact = sum(fv is not None and fv.raw == want for want, fv in written)
    assert exact >= 0.85 * len(written)
    blanks = [fv for _, want, fv in pairs if not want]
    assert all(fv is not None and fv.status == "blank" and fv.raw == "" for fv in blanks)



def test_skewed_page_boxes_are_in_input_pixels(moderate_form_page, tesseract):
    image, truth = moderate_form_page
    read = read_page(image, load_template("birth_form"), tesseract)
    assert read.angle != 0.0  # seed 2 moderate is skewed by ~0.7°
    assert len(read.records) == len(truth.records)
    truth_by_row = {r.row: r for r in truth.records}
    hits = total = 0
    for record in read.records:
        for name, fv in record.fields.items():
            tbox = truth_by_row[record.row].fields[name].box
            if fv.box is None or not tbox:
                continue
            total += 1
            cx, cy = (tbox[0] + tbox[2]) / 2, (tbox[1] + tbox[3]) / 2
            hits += fv.box[0] <= cx <= fv.box[2] and fv.box[1] <= cy <= fv.box[3]
    assert total and hits == total
    words = [w for w in read.words if w.text.startswith("Họ")]
    assert words and all(0 <= w.box[0] < w.box[2] <= image.shape[1] for w in words)


def test_damaged_header_still_maps_to_its_field():
    from pipeline.ocr.ledger import map_headers

    template = load_template("birth_ledger")
    texts = ["Sổ", "Ho và tên", "Nam/Nu", "Ngảy sinh", "", "Họ tèn cha", "Họ tên mẹ", "Ngày đăng ký", "Ghi chú"]
    mapping = map_headers(texts, template)
    assert mapping == {c: spec.field for c, spec in enumerate(template.specs)}
    # a column the book does not have is simply absent; the others still map
    shorter = map_headers(["Số", "Họ và tên", "Ngày sinh", "Ghi chú"], template)
    assert shorter == {0: "registration_no", 1: "full_name", 2: "birth_date", 3: "notes"}


def test_word_boxes_are_fitted_to_their_ink():
    """Tesseract may give the words of a two-line bold header the height of both lines
    (77 px round 31 px letters on a photographed ledger), which made every height test take
    them for stains and the header was lost. Boxes shrink to the ink inside them."""
    from pipeline.ocr.regions import fit_to_ink
    from pipeline.types import OcrWord

    binary = np.full((200, 300), 255, np.uint8)
    binary[60:91, 40:80] = 0
    tall = OcrWord("Số", 0.9, (35, 30, 85, 107), (1, 1, 1))
    blank = OcrWord("?", 0.2, (150, 30, 200, 107), (1, 1, 2))
    fitted, untouched = fit_to_ink([tall, blank], binary)
    assert fitted.box == (40, 60, 80, 91) and fitted.text == "Số"
    assert untouched.box == blank.box

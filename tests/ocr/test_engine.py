"""The engine layer: real Tesseract words, the recorded fake, the missing-install message."""

from __future__ import annotations

import numpy as np
import pytesseract
import pytest
from PIL import Image, ImageDraw, ImageFont

from pipeline.errors import MissingDependency
from pipeline.ocr import OCR_VERSION, read_page
from pipeline.ocr.engine import RecordedEngine, RecordingEngine
from pipeline.ocr.tesseract import TesseractEngine, check_tesseract, words_from_tsv, words_to_tsv
from pipeline.templates import load_template

from .conftest import DATA, SERIF, draw_form_page


def _line_image(text: str) -> np.ndarray:
    img = Image.new("L", (900, 90), 255)
    ImageDraw.Draw(img).text((20, 20), text, font=ImageFont.truetype(SERIF, 44), fill=0)
    return np.array(img)


def test_tesseract_returns_words_with_confidence_and_box(tesseract):
    words = tesseract.recognize(_line_image("Họ và tên: Trần Thị Thủy"), psm=7)
    assert [w.text for w in words] == ["Họ", "và", "tên:", "Trần", "Thị", "Thủy"]
    for w in words:
        assert 0.5 < w.confidence <= 1.0
        x0, y0, x1, y1 = w.box
        assert 20 <= x0 < x1 <= 900 and 10 <= y0 < y1 <= 90
    assert words[0].box[0] < words[-1].box[0]
    assert tesseract.version.startswith("tesseract-5")


def test_words_tsv_round_trip(tesseract):
    words = tesseract.recognize(_line_image("Số: 27"), psm=7)
    assert words_from_tsv(words_to_tsv(words)) == [
        type(w)(w.text, round(w.confidence, 3), w.box, w.line) for w in words
    ]


def test_missing_tesseract_binary_says_how_to_install(monkeypatch):
    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", "/nonexistent/tesseract")
    with pytest.raises(MissingDependency) as info:
        check_tesseract()
    assert "apt-get install tesseract-ocr tesseract-ocr-vie" in str(info.value)
    assert info.value.exit_code == 3
    with pytest.raises(MissingDependency):
        TesseractEngine()


def test_missing_language_model_says_how_to_install(tesseract):
    with pytest.raises(MissingDependency) as info:
        check_tesseract("xyz")
    assert "tesseract-ocr-vie" in str(info.value)


RECORDING = DATA / "small_form_recording.json"


def test_recorded_engine_replays_a_page_without_tesseract(monkeypatch):
    """A recording of a real run replays read_page with no Tesseract at all."""
    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", "/nonexistent/tesseract")
    engine = RecordedEngine(RECORDING)
    read = read_page(draw_form_page(), load_template("birth_form"), engine=engine, dpi=300)
    assert len(read.records) == 1
    fields = read.records[0].fields
    assert fields["full_name"].raw == "Nguyễn Văn Hùng"
    assert fields["registration_no"].raw == "27"
    assert fields["father_age"].raw == "34" and fields["mother_age"].raw == "30"
    assert read.ocr_version.startswith(f"{OCR_VERSION}/tesseract-5")


def test_recorded_engine_answers_in_call_order_and_then_nothing():
    engine = RecordedEngine({"calls": [
        {"key": "", "words": [{"text": "Số:", "confidence": 0.9, "box": [0, 0, 40, 20]}]},
    ]})
    blank = np.full((20, 40), 255, np.uint8)
    assert engine.recognize(blank)[0].text == "Số:"
    assert engine.recognize(blank) == []
    assert engine.misses == 2


def record_small_form() -> None:  # pragma: no cover - run by hand to refresh the recording
    """python -c 'from tests.ocr.test_engine import record_small_form; record_small_form()'"""
    engine = RecordingEngine(TesseractEngine())
    read_page(draw_form_page(), load_template("birth_form"), engine=engine, dpi=300)
    engine.save(RECORDING)


def test_not_an_image_is_a_bad_input_not_a_crash():
    from pipeline.errors import UnreadableFile

    with pytest.raises(UnreadableFile):
        read_page(np.zeros((10, 10), np.uint8), load_template("birth_form"),
                  engine=RecordedEngine({"calls": []}))
    with pytest.raises(UnreadableFile):
        read_page(np.zeros((100, 100), np.float32), load_template("birth_form"),
                  engine=RecordedEngine({"calls": []}))


def test_blank_page_gives_no_records():
    read = read_page(np.full((3508, 2480), 250, np.uint8), load_template("birth_ledger"),
                     engine=RecordedEngine({"calls": []}))
    assert read.records == [] and read.words == []


def test_best_model_installed_by_the_setup_reads_a_field(tesseract):
    """scripts/install.sh puts tessdata_best beside the venv; HOTICH_OCR_MODEL=best uses it."""
    engine = TesseractEngine(model="best")
    assert "-best-" in engine.version and "-best-" in engine.for_numbers().version
    read = read_page(draw_form_page(), load_template("birth_form"), engine=engine, dpi=300)
    assert read.records[0].fields["full_name"].raw == "Nguyễn Văn Hùng"


def test_a_missing_best_model_says_how_to_get_it(tesseract, monkeypatch, tmp_path):
    monkeypatch.setenv("HOTICH_TESSDATA_BEST_DIR", str(tmp_path))
    with pytest.raises(MissingDependency) as info:
        TesseractEngine(model="best")
    assert "install.sh" in str(info.value) and str(tmp_path) in str(info.value)

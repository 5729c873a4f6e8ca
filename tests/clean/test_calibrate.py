"""Calibrated field confidence: a probability of being right, and the routing it drives."""

import json

from pipeline.clean import normalize_record
from pipeline.clean.calibrate import (
    CALIBRATION_FILE,
    FEATURES,
    Calibration,
    field_features,
    load_calibration,
)
from pipeline.clean.normalize import normalize_field
from pipeline.templates import load_template
from pipeline.types import FieldValue

MODEL = Calibration(weights={"ocr": 6.0, "known": 5.0, "agree": 1.0}, bias=-8.0, accept=0.9)


def fv(field, raw, confidence, note=None):
    return FieldValue(field, raw, None, "read", confidence, note=note)


def test_the_shipped_model_is_complete_and_says_where_it_came_from():
    data = json.loads(CALIBRATION_FILE.read_text(encoding="utf-8"))
    assert set(data["weights"]) == set(FEATURES)
    assert 0.5 < data["accept"] < 1.0
    assert data["fitted"]["tune_precision"] >= 0.99 and data["fitted"]["fields"] > 500
    assert load_calibration() is not None


def test_features_see_the_lexicon_and_the_two_reads():
    feats = field_features(fv("full_name", "Nguyễn Văn An", 0.7), "Nguyễn Văn An", None, "name")
    assert feats["known"] == 1.0 and feats["agree"] == 1.0 and feats["ocr"] == 0.7
    odd = field_features(fv("full_name", "Xyz Văn An", 0.7, note="Hai lần đọc khác nhau"),
                         "Xyz Văn An", None, "name")
    assert odd["known"] == 0.0 and odd["agree"] == 0.0


def test_a_known_name_read_at_a_middling_score_is_accepted(monkeypatch):
    monkeypatch.setattr("pipeline.clean.normalize.calibration_for", lambda two_readers: MODEL)
    # z = -8 + 6*0.62 + 5 + 1 = 1.72 → P 0.85 < 0.9: review; at 0.75, P 0.94: accepted
    low = normalize_field(fv("full_name", "Nguyễn Văn An", 0.62), "name")
    high = normalize_field(fv("full_name", "Nguyễn Văn An", 0.75), "name")
    assert low.status == "uncertain" and low.note.startswith("Độ tin cậy thấp")
    # Issue 19 §2: why, in words and Vietnamese numbers, not "Độ tin cậy thấp (0.85)"
    assert "khả năng đúng 84,8 %" in low.note and "máy đọc chữ không chắc (62 %)" in low.note
    assert "0." not in low.note
    assert high.status == "read" and high.note is None and high.confidence > 0.9
    assert high.raw == "Nguyễn Văn An"


def test_an_unknown_name_needs_a_reviewer_even_when_ocr_is_sure(monkeypatch):
    monkeypatch.setattr("pipeline.clean.normalize.calibration_for", lambda two_readers: MODEL)
    out = normalize_field(fv("full_name", "Xyzt Văn An", 0.97), "name")
    assert out.status == "uncertain"


def test_a_note_always_means_review(monkeypatch):
    monkeypatch.setattr("pipeline.clean.normalize.calibration_for", lambda two_readers: MODEL)
    out = normalize_record({"birth_date": fv("birth_date", "31/2/1968", 0.99)},
                           load_template("birth_form"), 1968)["birth_date"]
    assert out.status == "uncertain" and out.value is None


def test_the_accept_threshold_is_a_setting(monkeypatch):
    from pipeline.clean.normalize import normalize_record
    from pipeline.templates import load_template

    from pipeline.types import FieldValue

    fields = {"full_name": FieldValue("full_name", "Nguyễn Văn An", None, "read", 0.9)}
    tpl = load_template("birth_form")
    monkeypatch.setenv("HOTICH_ACCEPT_PROBABILITY", "0.999")
    assert normalize_record(fields, tpl)["full_name"].status == "uncertain"
    monkeypatch.setenv("HOTICH_ACCEPT_PROBABILITY", "0.9")
    relaxed = normalize_record(fields, tpl)["full_name"]
    assert relaxed.status == "read" and relaxed.note is None


def test_the_two_reader_model_is_complete_and_used_only_for_two_readings():
    from pipeline.clean.calibrate import READER_FEATURES, TWO_READER_FILE, calibration_for

    data = json.loads(TWO_READER_FILE.read_text(encoding="utf-8"))
    assert set(data["weights"]) == set(FEATURES) | set(READER_FEATURES)
    assert data["fitted"]["tune_precision"] >= 0.99
    assert calibration_for(True).weights == data["weights"]
    assert calibration_for(False) == load_calibration()

"""Two readers, one field: the clean stage keeps the reading it understands, says why when the
readers disagree, and keeps both texts."""

from __future__ import annotations

from pipeline.clean.normalize import READERS_DIFFER, normalize_field, reading_used
from pipeline.types import FieldValue


def _two(field: str, tesseract: str, neural: str, conf: float = 0.9) -> FieldValue:
    return FieldValue(field, tesseract, None, "read", conf,
                      readings={"tesseract": (tesseract, conf), "asterocr": (neural, conf)})


def test_the_reading_that_parses_wins_a_date():
    out = normalize_field(_two("birth_date", "4/12/1183", "7/12/1983"), "date", 1984,
                          (1900, 1984))
    assert out.value == "1983-12-07"
    assert out.raw == "7/12/1983"
    assert out.readings == {"tesseract": ("4/12/1183", 0.9), "asterocr": ("7/12/1983", 0.9)}


def test_a_name_the_lexicon_knows_beats_one_with_a_broken_syllable():
    out = normalize_field(_two("full_name", "Nguyễu Thị Hoa", "Nguyễn Thị Hoa"), "name")
    assert out.value == "Nguyễn Thị Hoa"
    assert out.raw == "Nguyễn Thị Hoa"


def test_disagreeing_valid_readings_go_to_a_reviewer_with_both_texts():
    out = normalize_field(_two("full_name", "Hoàng Đức Hoa", "Hoàng Đức Hòa", 0.6),
                          "name")
    assert out.status == "uncertain"
    assert out.note.startswith(READERS_DIFFER)
    assert "«Hoàng Đức Hoa»" in out.note and "«Hoàng Đức Hòa»" in out.note


def test_agreement_after_cleaning_counts_as_agreement():
    fv = _two("full_name", "NGUYỄN THỊ HOA", "Nguyễn Thị Hoa")
    used, readers = reading_used(fv, "name")
    assert readers == "agree"
    assert used.raw == "NGUYỄN THỊ HOA"  # the primary reading, when both mean the same
    same = FieldValue("full_name", "Nguyễn Thị Hoa", None, "read", 0.9,
                      readings={"tesseract": ("Nguyễn Thị Hoa", 0.9),
                                "asterocr": ("Nguyễn Thị Hoa", 0.8)})
    assert reading_used(same, "name")[1] == "agree"


def test_disagreement_lowers_the_calibrated_confidence():
    agreed = _two("full_name", "Nguyễn Thị Hoa", "Nguyễn Thị Hoa", 0.7)
    differ = _two("full_name", "Nguyễn Thị Hoa", "Nguyễn Thị Hòa", 0.7)
    assert normalize_field(agreed, "name").confidence > normalize_field(differ, "name").confidence


def test_a_field_one_reader_read_is_cleaned_as_before():
    fv = FieldValue("sex", "Nừ", None, "read", 0.9)
    assert normalize_field(fv, "sex").value == "F"
    assert reading_used(fv, "sex") == (fv, None)


def _three(tesseract: str, neural: str, lexicon: str) -> FieldValue:
    return FieldValue("full_name", tesseract, None, "read", 0.7, readings={
        "tesseract": (tesseract, 0.7), "asterocr": (neural, 0.6), "lexicon": (lexicon, 0.99)})


def test_a_name_only_the_lexicon_reading_gives_goes_to_a_reviewer():
    out = normalize_field(_three("Lê Văn Tha", "Lê Văn Thah", "Lê Văn Thanh"), "name")
    assert out.value == "Lê Văn Thanh"
    assert out.status == "uncertain"
    assert out.note == "Đọc theo từ điển tên: «Lê Văn Thanh»; hai bộ đọc: «Lê Văn Tha» / «Lê Văn Thah»"
    assert set(out.readings) == {"tesseract", "asterocr", "lexicon"}


def test_the_lexicon_reading_backs_the_free_reading_it_agrees_with():
    out = normalize_field(_three("Lê Văn Thanh", "Lê Văn Thành", "Lê Văn Thanh"), "name")
    assert out.value == "Lê Văn Thanh"
    assert out.note.startswith("Hai bộ đọc khác nhau: «Lê Văn Thanh» / «Lê Văn Thành»")

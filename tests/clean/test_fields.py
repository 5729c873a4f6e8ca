import pytest

from pipeline.clean.fields import (
    normalize_age,
    normalize_registration_no,
    normalize_sex,
    normalize_text,
)


@pytest.mark.parametrize(
    "raw, value",
    [("Nam", "M"), ("nam", "M"), ("NAM", "M"), ("Trai", "M"), ("con trai", "M"),
     ("Nữ", "F"), ("NỮ", "F"), ("nữ.", "F"), ("Gái", "F"), ("Nu", "F"), ("Nừ", "F"),
     ("Nứ", "F"), ("...Nữ....", "F")],
)
def test_sex(raw, value):
    assert normalize_sex(raw) == (value, None)


def test_sex_ocr_repair_is_flagged_and_nonsense_is_refused():
    assert normalize_sex("Narn")[0] == "M" and normalize_sex("Narn")[1]
    assert normalize_sex("xyz")[0] is None and normalize_sex("xyz")[1]
    assert normalize_sex("") == (None, None)


@pytest.mark.parametrize(
    "raw, value",
    [("37", "37"), ("37 tuổi", "37"), ("37 tuoi.", "37"), ("ba mươi bảy", "37"),
     ("Ba mươi bảy tuổi", "37"), ("hai mươi lăm", "25"), ("mười chín", "19"),
     ("3O", "30"), ("..42..", "42")],
)
def test_age(raw, value):
    assert normalize_age(raw) == (value, None)


def test_age_out_of_range_is_kept_with_a_warning():
    assert normalize_age("7") == ("7", "Tuổi bất thường: 7")
    assert normalize_age("105") == ("105", "Tuổi bất thường: 105")
    value, note = normalize_age("không rõ")
    assert value is None and note.startswith("Không đọc được tuổi")


@pytest.mark.parametrize(
    "raw, value",
    [("12", "12"), ("Số: 12", "12"), ("số 012.", "012"), ("0123....", "0123"), ("l2", "12"),
     ("SỐ:  45", "45")],
)
def test_registration_no(raw, value):
    assert normalize_registration_no(raw) == (value, None)


def test_registration_no_with_letters_is_kept_and_flagged():
    value, note = normalize_registration_no("12/KS")
    assert value == "12/KS" and note


def test_text():
    assert normalize_text("  Xã  Hưng Lộc,   huyện Hưng Nguyên ....... ") == (
        "Xã Hưng Lộc,   huyện Hưng Nguyên".replace("   ", " "), None)
    assert normalize_text("Kinh") == ("Kinh", None)
    assert normalize_text("......") == (None, None)
    assert normalize_text("Việt Nam €")[1] == "Có ký tự lạ: €"

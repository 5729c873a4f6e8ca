"""Page-level rules: dittos, then records, then the registration-number sequence."""

import pytest

from pipeline.clean import normalize_page
from pipeline.templates import load_template
from pipeline.types import FieldValue


def numbers(*read, conf=0.95):
    return [{"registration_no": FieldValue("registration_no", n, None, "read", conf)} for n in read]


@pytest.mark.parametrize("read, want", [
    (("40", "47", "42"), ["40", "41", "42"]),      # 1 read as 7, neighbours agree
    (("7", "2", "3"), ["1", "2", "3"]),            # first row: the next two tell
    (("8", "9", "70"), ["8", "9", "10"]),          # last row
    (("18", "79", "20"), ["18", "19", "20"]),
])
def test_a_number_out_of_sequence_by_a_digit_slip_is_fixed(read, want):
    out = normalize_page(numbers(*read), load_template("birth_ledger"), 1973)
    assert [r["registration_no"].value for r in out] == want
    fixed = [r["registration_no"] for r in out if r["registration_no"].raw not in want]
    assert all(f.status == "uncertain" and "theo thứ tự các dòng" in f.note for f in fixed)


def test_a_gap_that_no_slip_explains_is_kept_and_flagged():
    out = normalize_page(numbers("40", "58", "42"), load_template("birth_form"), 1973)
    middle = out[1]["registration_no"]
    assert middle.value == "58" and middle.status == "uncertain" and "liền mạch" in middle.note
    assert out[0]["registration_no"].status == "read"


def test_numbers_in_sequence_and_lone_rows_are_untouched():
    tpl = load_template("birth_ledger")
    assert [r["registration_no"].status for r in normalize_page(numbers("5", "6", "7"), tpl)] \
        == ["read"] * 3
    assert normalize_page(numbers("41"), tpl)[0]["registration_no"].value == "41"
    # Two rows cannot tell which one is wrong.
    assert [r["registration_no"].value for r in normalize_page(numbers("41", "47"), tpl)] \
        == ["41", "47"]


def test_dittos_resolve_before_records_are_cleaned():
    rows = [{"birth_place": FieldValue("birth_place", "Xã Hưng Lộc", None, "read", 0.95)},
            {"birth_place": FieldValue("birth_place", "nt", None, "read", 0.95)}]
    out = normalize_page(rows, load_template("birth_ledger"), 1973)
    assert out[1]["birth_place"].value == "Xã Hưng Lộc" and out[1]["birth_place"].raw == "nt"


def test_an_unusual_birth_year_goes_to_review_unchanged():
    rows = [{"birth_date": FieldValue("birth_date", "05-12-1922", None, "read", 0.88)}]
    out = normalize_page(rows, load_template("birth_form"), 1973)[0]["birth_date"]
    assert out.value == "1922-12-05" and out.status == "uncertain"


def test_an_ethnicity_not_on_the_list_goes_to_review():
    rows = [{"ethnicity": FieldValue("ethnicity", "Quốc", None, "read", 0.96)}]
    out = normalize_page(rows, load_template("birth_form"), 1973)[0]["ethnicity"]
    assert out.status == "uncertain" and "danh sách" in out.note

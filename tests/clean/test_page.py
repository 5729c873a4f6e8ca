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
    # (two digits: a lone digit is, by the calibration, too often what is left of a number)
    assert [r["registration_no"].status for r in normalize_page(numbers("15", "16", "17"), tpl)] \
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


def dated(*reads, field="registration_date", conf=0.9):
    return [{field: FieldValue(field, r, None, "read", conf)} for r in reads]


def test_a_registration_date_out_of_order_by_a_digit_slip_is_fixed():
    rows = dated("30/6/1969", "2/4/1969", "13/7/1969", "20/7/1969")  # a 7 read as 4
    out = normalize_page(rows, load_template("birth_ledger"), 1969)
    got = [r["registration_date"] for r in out]
    assert [f.value for f in got] == ["1969-06-30", "1969-07-02", "1969-07-13", "1969-07-20"]
    assert got[1].raw == "2/4/1969" and got[1].status == "uncertain"
    assert "theo thứ tự các dòng" in got[1].note


def test_dates_in_order_are_untouched_and_two_that_disagree_both_go_to_review():
    tpl = load_template("birth_form")
    fine = normalize_page(dated("3/2/1969", "3/2/1969", "9/2/1969"), tpl, 1969)
    assert all("thứ tự" not in (r["registration_date"].note or "") for r in fine)
    clash = normalize_page(dated("20/2/1969", "25/2/1969", "24/2/1969", "3/3/1969"), tpl, 1969)
    notes = [r["registration_date"].note or "" for r in clash]
    assert [r["registration_date"].value for r in clash][1:3] == ["1969-02-25", "1969-02-24"]
    assert all("không theo thứ tự" in n for n in notes[1:3]) and "thứ tự" not in notes[0]


def test_an_unsure_birth_date_years_before_its_registration_is_moved_by_a_slip():
    def row(born, conf):
        return {"birth_date": FieldValue("birth_date", born, None, "read", conf),
                "registration_date": FieldValue("registration_date", "12/6/1969", None,
                                                "read", 0.95)}
    tpl = load_template("birth_ledger")
    unsure = normalize_page([row("01/06/1964", 0.3)], tpl, 1969)[0]["birth_date"]
    assert unsure.value == "1969-06-01" and unsure.raw == "01/06/1964"
    assert unsure.status == "uncertain" and "sửa thành 1969-06-01" in unsure.note
    # a sure reading is a late registration, for the rules to flag, not a misreading
    sure = normalize_page([row("01/06/1964", 0.99)], tpl, 1969)[0]["birth_date"]
    assert sure.value == "1964-06-01"

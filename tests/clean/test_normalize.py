from dataclasses import replace

import pytest

from pipeline.clean import (
    CLEAN_VERSION,
    normalize_record,
    record_confidence,
    record_status,
    resolve_dittos,
)
from pipeline.clean.normalize import is_ditto
from pipeline.templates import load_template
from pipeline.types import FieldValue


@pytest.fixture(autouse=True)
def raw_confidence_rule(monkeypatch):
    """These cases pin the rule used when no calibration is shipped (OCR score < 0.80 goes to
    review); the calibrated rule has its own tests in test_calibrate.py."""
    monkeypatch.setattr("pipeline.clean.normalize.calibration_for", lambda two_readers: None)


@pytest.fixture(scope="module")
def form():
    return load_template("birth_form")


@pytest.fixture(scope="module")
def ledger():
    return load_template("birth_ledger")


def fv(field, raw, confidence=0.95, status="read", value=None):
    return FieldValue(field=field, raw=raw, value=value, status=status, confidence=confidence,
                      box=(1, 2, 3, 4))


def test_a_clean_form_entry(form):
    fields = {
        "registration_no": fv("registration_no", "Số: 12"),
        "full_name": fv("full_name", "NGUYỄN văn an......"),
        "sex": fv("sex", "Nam"),
        "birth_date": fv("birth_date", "ngày 12 tháng 3 năm 1968"),
        "birth_place": fv("birth_place", "Xã Hưng Lộc ......"),
        "father_age": fv("father_age", "37 tuổi"),
        "mother_name": fv("mother_name", "......"),
        "registration_date": fv("registration_date", "20-3-68"),
    }
    out = normalize_record(fields, form, 1968)
    assert {k: v.value for k, v in out.items()} == {
        "registration_no": "12", "full_name": "Nguyễn Văn An", "sex": "M",
        "birth_date": "1968-03-12", "birth_place": "Xã Hưng Lộc", "father_age": "37",
        "mother_name": None, "registration_date": "1968-03-20",
    }
    assert out["mother_name"].status == "blank"
    assert all(v.status == "read" for k, v in out.items() if k != "mother_name")
    assert all(v.note is None for v in out.values())
    assert out["full_name"].raw == "NGUYỄN văn an......"  # raw is never rewritten
    assert out["full_name"].box == (1, 2, 3, 4) and out["full_name"].confidence == 0.95
    assert record_status(out) == "extracted"
    assert record_confidence(out) == 0.95


def test_inputs_are_not_mutated(form):
    original = fv("birth_date", "31/2/1968")
    fields = {"birth_date": original}
    out = normalize_record(fields, form, 1968)
    assert out["birth_date"] is not original
    assert original == fv("birth_date", "31/2/1968")


def test_failed_parse_is_uncertain_with_reason_and_lower_confidence(form):
    out = normalize_record({"birth_date": fv("birth_date", "31/2/1968", 0.9)}, form, 1970)
    got = out["birth_date"]
    assert (got.value, got.status, got.note) == (None, "uncertain", "Ngày không hợp lệ: 31/2/1968")
    assert got.confidence < 0.9
    assert record_status(out) == "needs_review"


def test_low_ocr_confidence_is_uncertain_but_keeps_value_and_confidence(form):
    got = normalize_record({"full_name": fv("full_name", "Lê Thị Hoa", 0.52)}, form)["full_name"]
    assert (got.value, got.status, got.confidence) == ("Lê Thị Hoa", "uncertain", 0.52)
    assert got.note == "Độ tin cậy OCR thấp (52 %): nét chữ mờ hoặc khó đọc"  # why, in words


def test_both_reasons_are_given(form):
    got = normalize_record({"sex": fv("sex", "xx", 0.4)}, form)["sex"]
    assert got.status == "uncertain"
    assert "giới tính" in got.note and "Độ tin cậy OCR thấp (40 %)" in got.note


def test_reviewed_values_are_not_judged_by_ocr_confidence(form):
    reviewed = replace(fv("sex", "Nữ", 0.3), source="review")
    assert normalize_record({"sex": reviewed}, form)["sex"].status == "read"


def test_illegible_stays_illegible(form):
    got = normalize_record({"full_name": fv("full_name", "", 0.1, "illegible")}, form)["full_name"]
    assert got.status == "illegible" and got.value is None and got.note
    assert record_status({"full_name": got}) == "needs_review"


def test_a_column_the_page_lacks_stays_unknown_not_blank(ledger):
    """A ledger column the reader did not find has nothing read and says so; taken for a
    blank cell it was accepted unseen (held-out pages: notes and ethnicity 'blank' where
    the book has them)."""
    lost = replace(fv("notes", "", 0.0, "uncertain"), note="Không tìm thấy cột này trên trang")
    got = normalize_record({"notes": lost}, ledger)["notes"]
    assert got.status == "uncertain" and got.value is None and got.note == lost.note
    assert record_status({"notes": got}) == "needs_review"


def test_suspicious_value_needs_review(form):
    got = normalize_record({"father_age": fv("father_age", "7")}, form)["father_age"]
    assert (got.value, got.status, got.note) == ("7", "uncertain", "Tuổi bất thường: 7")


def test_unknown_field_is_treated_as_text(form):
    got = normalize_record({"stamp": fv("stamp", "  Đã  ký ")}, form)["stamp"]
    assert got.value == "Đã ký" and got.status == "read"


def test_record_confidence_is_the_weakest_non_blank_field():
    fields = {"a": fv("a", "x", 0.9), "b": fv("b", "y", 0.6), "c": fv("c", "", 0.0, "blank")}
    assert record_confidence(fields) == 0.6
    assert record_confidence({"c": fv("c", "", 0.0, "blank")}) == 0.0
    assert record_status({"c": fv("c", "", 0.0, "blank")}) == "needs_review"


@pytest.mark.parametrize("mark", ["nt", "NT", "n.t", "-nt-", "- nt -", "như trên", "Như trên.",
                                  '"', "〃", "-\"-", "nhu tren", "-do-"])
def test_ditto_marks(mark):
    assert is_ditto(mark)


@pytest.mark.parametrize("text", ["Đỗ", "Nam", "", "nt nt x", "Như"])
def test_not_ditto(text):
    assert not is_ditto(text)


def test_resolve_dittos_then_normalize(ledger):
    rows = [
        {"birth_place": fv("birth_place", "Xã Hưng Lộc....."), "sex": fv("sex", "Nam")},
        {"birth_place": fv("birth_place", "nt"), "sex": fv("sex", '"')},
        {"birth_place": fv("birth_place", "như trên"), "sex": fv("sex", "Nữ")},
    ]
    resolved = resolve_dittos(rows)
    assert rows[1]["birth_place"].value is None  # input untouched
    cleaned = [normalize_record(r, ledger, 1968) for r in resolved]
    assert [r["birth_place"].value for r in cleaned] == ["Xã Hưng Lộc"] * 3
    assert [r["birth_place"].raw for r in cleaned] == ["Xã Hưng Lộc.....", "nt", "như trên"]
    assert [r["sex"].value for r in cleaned] == ["M", "M", "F"]
    assert all(f.status == "read" for r in cleaned for f in r.values())


def test_normalize_then_resolve_dittos_agrees(ledger):
    rows = [{"birth_date": fv("birth_date", "12/3/1968")}, {"birth_date": fv("birth_date", "nt")}]
    first = [normalize_record(r, ledger) for r in resolve_dittos(rows)]
    second = [normalize_record(r, ledger) for r in
              resolve_dittos([normalize_record(r, ledger) for r in rows])]
    assert [r["birth_date"].value for r in first] == [r["birth_date"].value for r in second] \
        == ["1968-03-12", "1968-03-12"]


def test_ditto_without_a_row_above_needs_review(ledger):
    rows = [{"birth_place": fv("birth_place", "nt")},
            {"birth_place": fv("birth_place", "")},
            {"birth_place": fv("birth_place", "nt")}]
    cleaned = [normalize_record(r, ledger) for r in resolve_dittos(rows)]
    assert [r["birth_place"].status for r in cleaned] == ["uncertain", "blank", "uncertain"]
    assert cleaned[0]["birth_place"].note


def test_stage_version_is_a_string():
    assert isinstance(CLEAN_VERSION, str) and CLEAN_VERSION

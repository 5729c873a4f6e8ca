"""Validation rules: ids, severities, Vietnamese messages, and the review they cause."""

import pytest

from pipeline.clean import normalize_page
from pipeline.clean.rules import apply_findings, check_record
from pipeline.templates import load_template
from pipeline.types import FieldValue


def rec(**values):
    return {k: FieldValue(k, v or "", v, "read" if v else "blank", 0.99) for k, v in values.items()}


BASE = dict(registration_no="12", full_name="Nguyễn Văn An", sex="M", birth_date="1968-03-02",
            birth_place="Xã Kim Liên", registration_date="1968-03-20", father_age="34",
            mother_age="30")


@pytest.mark.parametrize("change, rule, severity", [
    (dict(birth_date="1968-04-02"), "R01", "error"),
    (dict(registration_date="1971-03-20", birth_date="1971-03-01"), "R02", "warning"),
    (dict(birth_date="1960-01-01"), "R03", "warning"),
    (dict(father_age="9"), "R04", "warning"),
    (dict(mother_age="85"), "R04", "warning"),
    (dict(full_name="Nguyễn Thị An"), "R05", "warning"),
    (dict(full_name="Nguuễn Văn An"), "R06", "warning"),
    (dict(full_name=None), "R08", "warning"),
    (dict(birth_place=None), "R08", "warning"),  # a birth entry always says where
    (dict(full_name="Văn An"), "R09", "warning"),  # the surname lost to a crop or a stain
])
def test_each_rule(change, rule, severity):
    findings = check_record(rec(**{**BASE, **change}), load_template("birth_form"), 1968)
    hit = [f for f in findings if f.rule == rule]
    assert hit and hit[0].severity == severity and hit[0].message


def test_a_consistent_record_breaks_no_rule():
    assert check_record(rec(**BASE), load_template("birth_form"), 1968) == []


def test_a_minority_name_with_an_apostrophe_is_not_an_invalid_syllable():
    record = rec(**{**BASE, "full_name": "Vừ Thị H'Mai", "sex": "F"})
    assert check_record(record, load_template("birth_form"), 1968) == []


def test_findings_make_their_fields_uncertain_with_the_rule_in_the_note():
    record = rec(**{**BASE, "birth_date": "1968-04-02"})
    out = apply_findings(record, check_record(record, load_template("birth_form"), 1968))
    assert out["birth_date"].status == "uncertain" and out["birth_date"].note.startswith("[R01]")
    assert out["full_name"].status == "read"


def test_normalize_page_applies_the_rules():
    row = {k: FieldValue(k, v, None, "read", 0.99) for k, v in
           {"full_name": "Nguyễn Văn An", "sex": "Nam", "birth_date": "2/4/1968",
            "registration_date": "20/3/1968", "registration_no": "5"}.items()}
    out = normalize_page([row], load_template("birth_form"), 1968)[0]
    assert "[R01]" in out["birth_date"].note

"""Lunar dates: converted with the calendar the North used that year, and sent to review."""

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lunar_vn import solar_to_lunar

from pipeline.clean.dates import parse_date
from pipeline.clean.lunar import lunar_time_zone, year_of_stem_branch


@pytest.mark.parametrize("raw, book_year, solar", [
    ("mồng 1 tháng Giêng năm 1985 âm lịch", 1985, "1985-01-21"),  # Vietnam's Tết, a month
    # before China's (20/2/1985): the calendars drifted apart after the 1967 reform
    ("ngày 1 tháng 1 năm 1968 (AL)", 1968, "1968-01-29"),  # Tết Mậu Thân in the North
    ("1/1/1967 AL", 1967, "1967-02-09"),  # before the reform: China's meridian
    ("ngày 15 tháng 8 năm Mậu Thân", 1970, "1968-10-06"),  # year by name, before the book
    ("ngày 3 tháng Chạp năm Kỷ Dậu âm lịch", 1970, "1970-01-10"),
])
def test_lunar_dates_become_the_solar_day_with_a_note_for_review(raw, book_year, solar):
    value, note = parse_date(raw, book_year)
    assert value == solar
    assert note.startswith("Ngày âm lịch") and "quy đổi" in note


def test_a_leap_month_is_its_own_month():
    plain, _ = parse_date("ngày 23 tháng 7 năm 1987 âm lịch", 1987)
    leap, note = parse_date("ngày 23 tháng 7 nhuận năm 1987 âm lịch", 1987)
    assert plain == "1987-08-17" and leap == "1987-09-15" and "nhuận" in note
    assert parse_date("ngày 10 tháng 4 nhuận năm 1987 âm lịch", 1987)[0] is None  # no leap 4th


def test_sexagenary_years_resolve_before_the_book():
    assert year_of_stem_branch("Canh Thân", 1985) == 1980
    assert year_of_stem_branch("canh than", 1985) == 1980  # OCR lost the marks
    assert (year_of_stem_branch("Nhâm Tý", 1975), year_of_stem_branch("Đinh Tỵ", 1980)) \
        == (1972, 1977)  # Tý and Tỵ fold alike but are different branches
    assert year_of_stem_branch("Giáp Sửu", 1985) is None  # a stem and branch that never pair
    assert year_of_stem_branch("Mậu Thân", None) is None
    # an ordinary name after "năm" is no year
    assert parse_date("ngày 5 tháng 3 năm Nguyễn Văn", 1970)[0] is None


@settings(max_examples=200, deadline=None)
@given(st.dates(min_value=date(1901, 3, 1), max_value=date(2029, 12, 1)))
def test_every_solar_day_written_as_its_lunar_date_comes_back(day):
    lunar = solar_to_lunar(day, 7.0)
    lunar = solar_to_lunar(day, lunar_time_zone(lunar.year))
    leap = " nhuận" if lunar.leap else ""
    raw = f"ngày {lunar.day} tháng {lunar.month}{leap} năm {lunar.year} âm lịch"
    assert parse_date(raw, lunar.year + 1)[0] == day.isoformat()

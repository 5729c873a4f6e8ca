import pytest

from pipeline.clean.dates import parse_date


@pytest.mark.parametrize(
    "raw, iso",
    [("12/3/1968", "1968-03-12"),
     ("12-03-1968", "1968-03-12"),
     ("12.3.1968", "1968-03-12"),
     ("12 / 3 / 1968", "1968-03-12"),
     ("ngày 12 tháng 3 năm 1968", "1968-03-12"),
     ("Ngày 05 tháng 03 năm 1968", "1968-03-05"),
     ("mồng 5 tháng 3 năm 1968", "1968-03-05"),
     ("mùng 5 tháng 3 năm 1968", "1968-03-05"),
     ("12 tháng 3 năm 1968", "1968-03-12"),
     ("ngày 12/3/1968", "1968-03-12"),
     ("Ngay 12 thang 3 nam 1968", "1968-03-12"),  # OCR lost the diacritics
     ("ngày 12, tháng 3, năm 1968.", "1968-03-12"),
     ("tháng tư năm 1970", "1970-04"),
     ("tháng 3 năm 1968", "1968-03"),
     ("tháng 3/1968", "1968-03"),
     ("3/1968", "1968-03"),
     ("03-1968", "1968-03"),
     ("1968", "1968"),
     ("năm 1968", "1968"),
     ("29/2/1968", "1968-02-29"),
     ("ngày mười lăm tháng năm năm một nghìn chín trăm sáu mươi tám", "1968-05-15"),
     ("ngày năm tháng mười năm 1968", "1968-10-05"),
     ("ngày hai mươi mốt tháng mười hai năm 1975", "1975-12-21"),
     ("mười hai tháng ba năm một nghìn chín trăm sáu mươi tám", "1968-03-12"),  # no "ngày"
     ("hai mươi tháng mười năm 1970", "1970-10-20")],
)
def test_written_styles(raw, iso):
    assert parse_date(raw) == (iso, None)


@pytest.mark.parametrize(
    "raw, iso, note",
    [("tháng Giêng năm 1970", "1970-01",
      "Tháng Giêng thường là tháng âm lịch; không rõ ngày nên không quy đổi được"),
     ("ngày 2 tháng Chạp năm 1970", "1970-12-02",
      "Tháng Chạp thường là tháng âm lịch: nếu 2/12/1970 là âm lịch thì ngày dương lịch là 29/12/1970"),
     ("mồng 5 tháng Giêng năm 1968", "1968-01-05",
      "Tháng Giêng thường là tháng âm lịch: nếu 5/1/1968 là âm lịch thì ngày dương lịch là 02/02/1968")],
)
def test_lunar_month_names_keep_the_solar_reading_for_a_person_to_check(raw, iso, note):
    """Giêng and Chạp name lunar months, yet people say them of January and December too:
    the value is the page's literal reading, the note (which sends it to review) the other."""
    assert parse_date(raw) == (iso, note)


def test_lunar_month_name_with_a_lunar_mark_is_converted_without_doubt():
    assert parse_date("mồng 5 tháng Giêng năm 1968 âm lịch") == (
        "1968-02-02", "Ngày âm lịch 5/1/1968, đã quy đổi sang dương lịch")


@pytest.mark.parametrize(
    "raw, iso",
    [("12/3/1968.....", "1968-03-12"),
     ("l2/O3/l968", "1968-03-12"),
     ("12/O3/1968", "1968-03-12"),
     ("I2-3-1968", "1968-03-12"),
     ("ngày l2 tháng 3 năm 1968", "1968-03-12"),
     ("1O/1968", "1968-10")],
)
def test_ocr_junk_in_digits(raw, iso):
    assert parse_date(raw) == (iso, None)


@pytest.mark.parametrize(
    "raw, book_year, iso",
    [("12-03-68", 1970, "1968-03-12"),
     ("12-03-68", 1968, "1968-03-12"),
     ("12-03-69", 1968, "1869-03-12"),  # after the book: previous century
     ("12-03-05", 2010, "2005-03-12"),
     ("12-03-68", None, "1968-03-12"),
     ("ngày 1 tháng 2 năm 68", 1975, "1968-02-01")],
)
def test_two_digit_years_follow_the_book(raw, book_year, iso):
    assert parse_date(raw, book_year)[0] == iso


@pytest.mark.parametrize(
    "raw, note",
    [("31/2/1968", "Ngày không hợp lệ: 31/2/1968"),
     ("29/2/1900", "Ngày không hợp lệ: 29/2/1900"),
     ("31/4/1968", "Ngày không hợp lệ: 31/4/1968"),
     ("12/13/1968", "Ngày không hợp lệ: 12/13/1968"),
     ("13/1968", "Ngày không hợp lệ: 13/1968"),
     ("0/3/1968", "Ngày không hợp lệ: 0/3/1968"),
     ("mồng 5 tháng 3", "Thiếu năm"),
     ("không rõ", "Không đọc được ngày"),
     ("12/3/1968 và 14/3/1968", "Không đọc được ngày"),
     ("tháng 3 năm 1968 âm lịch", "Ngày âm lịch thiếu ngày"),
     ("ngày 30 tháng 2 năm 1985 âm lịch", "Ngày âm lịch không có thật")],
)
def test_impossible_or_unreadable_dates_give_a_vietnamese_reason(raw, note):
    value, reason = parse_date(raw)
    assert value is None
    assert reason.startswith(note)


def test_blank_gives_nothing():
    assert parse_date("") == (None, None)
    assert parse_date(" ..... ") == (None, None)


def test_odd_year_is_kept_with_a_warning():
    assert parse_date("12/3/1768") == ("1768-03-12", "Năm bất thường: 1768")

"""Lexicon post-correction: the readings Tesseract really produced on generated pages."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.clean.correct import correct_closed, correct_name, correct_text
from pipeline.clean.distance import ocr_distance
from pipeline.clean.fields import normalize_sex
from pipeline.clean.lexicon import LEXICON_DIR, name_lexicon
from pipeline.clean.normalize import normalize_field
from pipeline.clean.syllables import all_syllables, is_valid_syllable, split_tone
from pipeline.clean.text import canonical_tones
from pipeline.types import FieldValue


@pytest.mark.parametrize("token", ["Nguyễn", "NGUYỄN", "quốc", "giữa", "khuya", "nghiêng",
                                   "Thủy", "Thuỷ", "yến", "gì", "Hoạt", "Quảng", "Kỷ"])
def test_real_syllables_are_valid(token):
    assert is_valid_syllable(token)


@pytest.mark.parametrize("token", ["Nguuễn", "Tuụên", "7rần", "8ài", "Mgô", "Qưang", "kan",
                                   "ngè", "tiềp", "Wam", "T!/", "ghà"])
def test_impossible_syllables_are_invalid(token):
    assert not is_valid_syllable(token)


def test_every_lexicon_name_is_a_valid_syllable():
    data = json.loads((LEXICON_DIR / "names.json").read_text(encoding="utf-8"))
    parts = set(data["surnames"])
    for group in ("middle_names", "given_names"):
        for names in data[group].values():
            parts.update(names)
    bad = [p for p in parts for t in p.split() if not is_valid_syllable(t)]
    assert bad == []
    syllables = set(all_syllables())
    assert {canonical_tones(t.lower()) for p in parts for t in p.split()} <= syllables


def test_split_tone():
    assert split_tone("Nguyễn") == ("Nguyên", "ngã")
    assert split_tone("Văn") == ("Văn", "")


def test_distance_prices_ocr_slips_below_other_edits():
    assert ocr_distance("Nguyên", "Nguyễn") < ocr_distance("Nguyên", "Nguyện") + 0.01
    assert ocr_distance("8ùi", "Bùi") < ocr_distance("Xùi", "Bùi")
    assert ocr_distance("narn", "nam") < 0.5
    assert ocr_distance("Ng/uyễn", "Nguyễn") < 0.5  # stray punctuation inside a word


@pytest.mark.parametrize("read, confidence, want", [
    ("Nguuễn Đình Quang Khánh", 0.51, "Nguyễn Đình Quang Khánh"),
    ("7rần Thị Diệp", 0.54, "Trần Thị Diệp"),
    ("Đổ Thị Hiệp", 0.50, "Đỗ Thị Hiệp"),
    ("Nguyên Văn Quẳng", 0.35, "Nguyễn Văn Quảng"),
    ("Mgô Văn Sỹ", 0.27, "Ngô Văn Sỹ"),
    ("Ms Nguuẫn Qưang Vượng", 0.08, "Nguyễn Quang Vượng"),
])
def test_misread_names_are_corrected(read, confidence, want):
    fix = correct_name(read, confidence)
    assert fix is not None and fix.value == want
    assert "Sửa theo từ điển" in fix.note


@pytest.mark.parametrize("read, confidence", [
    ("Nguyên Thị Lộc", 0.95),   # a rare surname read with confidence stays
    ("Trần Văn Nhân", 0.40),    # every part is a known name part
    ("Mai Văn Tuụên", 0.32),    # Tuyên / Tuyến / Tuyền: too close to call, left to a reviewer
    ("Lò Văn Pằn", 0.30),       # a minority given name we do not list, and a valid syllable
])
def test_names_left_alone(read, confidence):
    assert correct_name(read, confidence) is None


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(sorted(name_lexicon().given.words.values())), min_size=1,
                max_size=3), st.sampled_from(sorted(name_lexicon().surnames.words.values())),
       st.floats(0, 1))
def test_a_name_made_of_known_parts_is_never_changed(given_parts, surname, confidence):
    assert correct_name(" ".join([surname, *given_parts]), confidence) is None


@pytest.mark.parametrize("read, want", [
    ("Xóm 1o, xã Khánh Sơn", "Xóm 10, xã Khánh Sơn"),
    ("Xóm ó, xã Diễn Trường", "Xóm 6, xã Diễn Trường"),
    ("Trạm xá xã Khánh sơn", "Trạm xá xã Khánh Sơn"),
    ("Tram xá xã Võ Liệt", "Trạm xá xã Võ Liệt"),
    ("Bệnh viên huyện Nam Đân", "Bệnh viện huyện Nam Đàn"),
    ("Xóm 7, xã Võ tiệt", "Xóm 7, xã Võ Liệt"),
])
def test_places(read, want):
    fix = correct_text(read, 0.4, place=True)
    assert fix is not None and fix.value == want


def test_confident_plain_text_is_not_touched():
    assert correct_text("Tai nha", 0.95, place=True) is None
    assert correct_text("Xóm 4, xã Hưng Lộc", 0.4, place=True) is None


def test_closed_lists():
    assert correct_closed("nationality", "Việt. Nai").value == "Việt Nam"
    assert correct_closed("nationality", "Việt Na").value == "Việt Nam"
    assert correct_closed("ethnicity", "Kinh") is None
    assert correct_closed("ethnicity", "Tảy").value == "Tày"


def test_sex_read_through_lookalikes():
    assert normalize_sex("Wứ")[0] == "F"
    assert normalize_sex("Wam")[0] == "M"
    assert normalize_sex("Na")[0] is None  # Nam or Nữ: cannot tell


def test_normalize_field_keeps_raw_and_explains():
    fv = FieldValue("father_name", "MA Nguuẫn Văn Thịnh", None, "read", 0.06)
    out = normalize_field(fv, "name")
    assert out.raw == "MA Nguuẫn Văn Thịnh"
    assert out.value == "Nguyễn Văn Thịnh"
    assert out.status == "uncertain" and "Sửa theo từ điển" in out.note


def test_declarant_name_and_relation():
    fv = FieldValue("declarant", "Mgô Văn Sỹ (cha)", None, "read", 0.29)
    assert normalize_field(fv, "text").value == "Ngô Văn Sỹ (cha)"


def test_reviewed_values_are_not_corrected():
    fv = FieldValue("full_name", "Nguyên Văn An", None, "read", 0.2, source="review")
    assert normalize_field(fv, "name").value == "Nguyên Văn An"


@pytest.mark.parametrize("raw, confidence, want", [
    ("24/12/1412", 0.46, "1972-12-24"),  # impossible year: 4 for 9, 1 for 7
    ("04/12/1942", 0.34, "1972-12-04"),  # unsure and thirty years before its register
    ("28/12/12", 0.56, "1972-12-28"),    # two-digit year resolved to 1912, a 1 for a 7
    ("5/2/4974", 0.45, "1974-02-05"),    # registration date, after the book: impossible
])
def test_years_moved_into_the_books_range(raw, confidence, want):
    from pipeline.templates import load_template
    from pipeline.clean.normalize import normalize_record

    tpl = load_template("birth_ledger")
    field = "registration_date" if "4974" in raw else "birth_date"
    out = normalize_record({field: FieldValue(field, raw, None, "read", confidence)}, tpl, 1973)
    assert out[field].value == want
    assert out[field].status == "uncertain" and "theo năm của sổ" in out[field].note


def test_a_confident_late_registration_keeps_its_year():
    from pipeline.templates import load_template
    from pipeline.clean.normalize import normalize_record

    out = normalize_record({"birth_date": FieldValue("birth_date", "1/5/1950", None, "read", 0.95)},
                           load_template("birth_form"), 1973)
    assert out["birth_date"].value == "1950-05-01"


def test_sure_but_doubtful_readings_go_to_a_reviewer_with_the_near_word():
    fv = FieldValue("mother_name", "Đỉnh Thị Nhạn", None, "read", 0.87)
    out = normalize_field(fv, "name")
    assert out.value == "Đỉnh Thị Nhạn"  # not changed: OCR was sure
    assert out.status == "uncertain" and "Đinh" in out.note
    place = normalize_field(FieldValue("birth_place", "Xớm 8, xã Hợp Thành", None, "read", 0.85),
                            "place")
    assert place.status == "uncertain" and "Xóm" in place.note
    plain = normalize_field(FieldValue("full_name", "Nguyễn Văn An", None, "read", 0.95), "name")
    assert plain.status == "read" and plain.note is None


@pytest.mark.parametrize("raw, want", [
    ("ngày 5 tháng 2ndm 1960", "1960-02-05"),   # "năm" misread and glued to the month
    ("ngày 26 thúng 1 năm 1960", "1960-01-26"),
    ("ngàu 17 thắng 1 năm 1988", "1988-01-17"),
    ("ngày mười tám tháng tám năm một nghìn chín trăm sáu mươi tám", "1968-08-18"),  # tám ≠ năm
])
def test_date_words_read_through_ocr_slips(raw, want):
    from pipeline.clean.dates import parse_date

    assert parse_date(raw, 1960)[0] == want


@pytest.mark.parametrize("raw, want", [("Wain", "M"), ("Wam", "M"), ("Wứ", "F"), ("W4", None)])
def test_sex_words_through_lookalikes(raw, want):
    assert normalize_sex(raw)[0] == want


@pytest.mark.parametrize("read, official, reviewed", [
    ("Hmông", "H'Mông", False),     # spellings of one name: accepted as such
    ("HMông", "H'Mông", False),
    ("Khơ-mú", "Khơ Mú", False),
    ("Ê-đê", "Ê Đê", False),
    ("Mèo", "H'Mông", True),        # names in use before the 1979 list: mapped, for review
    ("Mán", "Dao", True),
    ("Xá Cẩu", "Khơ Mú", True),
    ("Đan Lai", "Thổ", True),       # a Nghệ An subgroup counted with the Thổ
])
def test_ethnicities_other_spellings_and_older_names_map_to_the_official_group(
        read, official, reviewed):
    out = normalize_field(FieldValue("ethnicity", read, None, "read", 0.97), "text")
    assert out.value == official and out.raw == read
    assert (out.note is not None and "Tên gọi khác" in out.note) == reviewed


def test_every_other_ethnicity_name_points_at_one_of_the_54_groups():
    from pipeline.clean.lexicon import closed_values, ethnicity_names

    groups = set(closed_values()["ethnicity"])
    assert len(groups) == 54
    assert set(ethnicity_names().values()) == groups

import unicodedata

import pytest

from pipeline.clean.text import (
    canonical_tones,
    collapse_spaces,
    folded_key,
    name_key,
    nfc,
    non_vietnamese_chars,
)


def nfd(s: str) -> str:
    return unicodedata.normalize("NFD", s)


def test_nfc_composes_decomposed_input():
    assert nfc(nfd("Nguyễn Thị Hường")) == "Nguyễn Thị Hường"


def test_collapse_spaces_handles_nbsp_tabs_newlines():
    assert collapse_spaces(" Nguyễn\u00a0\tVăn\n An  ") == "Nguyễn Văn An"


@pytest.mark.parametrize(
    "old, new",
    [("hoà", "hòa"), ("thuỷ", "thủy"), ("khoẻ", "khỏe"), ("hoá", "hóa"), ("Hoà", "Hòa"),
     ("THUỶ", "THỦY"), ("loã", "lõa"), ("xoè", "xòe"), ("tuỵ", "tụy")],
)
def test_canonical_tones_old_and_new_style_agree(old, new):
    assert canonical_tones(old) == canonical_tones(new) == new


@pytest.mark.parametrize(
    "word",
    ["quý", "quà", "quỳnh", "giá", "già", "giường", "gìn", "thuở", "nguyễn", "tuyết",
     "khuỷu", "xoáy", "rượu", "hoặc", "tuần", "hoàn", "toán", "huỳnh", "mái", "cứu",
     "khoái", "Quốc", "giếng", "mía", "múa"],
)
def test_canonical_tones_keeps_correct_words(word):
    assert canonical_tones(word) == word


@pytest.mark.parametrize(
    "misplaced, right",
    [("qúy", "quý"), ("gía", "giá"), ("thủơ", "thuở"), ("nguỹên", "nguyễn"),
     ("túyêt", "tuyết"), ("hòan", "hoàn"), ("gìa", "già")],
)
def test_canonical_tones_moves_tone_to_the_right_vowel(misplaced, right):
    assert canonical_tones(misplaced) == right


def test_canonical_tones_leaves_non_syllables_and_double_tones_alone():
    assert canonical_tones("Hà-Nội 1968, ok") == "Hà-Nội 1968, ok"
    assert canonical_tones("hóà") == "hóà"  # two tones: OCR noise for a human


def test_name_key_unifies_case_spaces_tone_style_and_i_y():
    assert name_key("  NGUYỄN   Thị Hoà ") == name_key("nguyễn thị hòa")
    assert name_key("Trần Thuỷ") == name_key("trần thủy")
    assert name_key("Lý Văn Mỹ") == name_key("Lí Văn Mĩ")
    assert name_key(nfd("Hường")) == "hường"


def test_name_key_keeps_distinct_names_distinct():
    assert name_key("Hoà") != name_key("Hòe")
    assert name_key("Yến") == "yến"  # i/y only unified after a consonant


def test_folded_key():
    assert folded_key("Đặng Thị Hường") == "dang thi huong"
    assert folded_key("NGUYỄN-VĂN  ĐỨC.") == "nguyen van duc"
    assert folded_key("Hoà") == folded_key("Hòa") == "hoa"


def test_non_vietnamese_chars_flags_foreign_letters_and_stray_marks():
    assert non_vietnamese_chars("Nguyễn Văn An") == []
    assert non_vietnamese_chars("Nguyễn Văn Anö, Lå €") == ["ö", "å", "€"]
    assert non_vietnamese_chars("x\u0301") == ["\u0301"]  # no precomposed x́
    assert non_vietnamese_chars("Y Wang, H'Hen Niê 12/3") == []

"""Legacy Vietnamese encodings: the tables, the round trip and the detection."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.clean.syllables import all_syllables
from pipeline import encodings
from pipeline.encodings import LEGACY, UnknownEncoding, decode, detect, encode, text_fixer

NAMES = [
    "Nguyễn Văn An", "Trần Thị Bé", "Lê Hoàng Phúc", "Phạm Thị Thu Hương", "Đặng Quốc Việt",
    "Hồ Thị Hoà", "Vũ Đức Thắng", "Bùi Thị Ngọc Ánh", "Ngô Quang Huy", "Dương Thị Kiều Oanh",
    "Xã Hưng Dũng, Huyện Hưng Nguyên, Tỉnh Nghệ An", "Phường Trường Thi, Thành phố Vinh",
]

_word = st.sampled_from(all_syllables()).flatmap(
    lambda w: st.sampled_from([w, w.capitalize(), w.upper()]))
vietnamese_text = st.lists(_word, min_size=1, max_size=12).flatmap(
    lambda ws: st.sampled_from([" ".join(ws), ", ".join(ws)]))


@pytest.mark.parametrize("name", LEGACY)
@settings(max_examples=300, deadline=None)
@given(text=vietnamese_text)
def test_decode_inverts_encode(name, text):
    assert decode(encode(text, name), name) == text


@pytest.mark.parametrize("name, expected", [
    # One word with a shaped letter, a tone and đ, spelled from each standard's code chart.
    ("viscii", b"\xd0\xa3ng Th\xd7a"),  # RFC 1456: 0xD0 Đ, 0xA3 ặ, 0xD7 ừ
    ("tcvn3", b"\xa7\xc6ng Th\xf5a"),  # TCVN 5712 VN3: 0xA7 Đ, 0xC6 ặ, 0xF5 ừ
    ("vni", "Ñaëng Thöøa".encode("latin-1")),  # VNI: Ñ = Đ, a+ë = ặ, ö+ø = ừ
    ("cp1258", b"\xd0\xe3\xf2ng Th\xfd\xcca"),  # CP1258: ă then combining dot below (0xF2)
])
def test_code_charts(name, expected):
    assert encode("Đặng Thừa", name) == expected
    assert decode(expected, name) == "Đặng Thừa"


def test_vni_accepts_capital_base_with_small_mark():
    assert decode("AÙnh Nguyeãn".encode("latin-1"), "vni") == "Ánh Nguyễn"
    assert decode("Aùnh".encode("latin-1"), "vni") == "Ánh"


def test_tcvn3_combining_tone_bytes_become_nfc():
    assert decode(b"Vi\xaa\xb3t", "tcvn3") == "Viết"  # ê, then the combining acute at 0xB3


@pytest.mark.parametrize("name", LEGACY)
def test_detection_picks_the_encoding_the_file_was_written_in(name):
    sample = "\n".join(f"0400780012{i:02d},{n}" for i, n in enumerate(NAMES * 3))
    found = detect(encode(sample, name), final=True)
    assert found.name == name and found.score > 0.9


def test_detection_of_utf8_and_bom():
    text = "\n".join(NAMES)
    assert detect(text.encode("utf-8"), final=True).name == "utf-8"
    assert detect(b"\xef\xbb\xbf" + text.encode("utf-8"), final=True).name == "utf-8-sig"
    assert detect(b"citizen_id,full_name\n040078001234,Nguyen Van An\n").name == "utf-8"


def test_detection_tolerates_a_character_cut_by_the_sample():
    data = ("\n".join(NAMES) * 20).encode("utf-8")
    cut = data[: data.index("ễ".encode()) + 1]
    assert detect(cut).name == "utf-8"


@pytest.mark.parametrize("font", ["tcvn3", "vni"])
def test_font_encoded_text_inside_utf8_is_repaired(font):
    # What Excel wrote for text typed in a .VnTime / VNI-Times font: the bytes read as CP1252.
    shown = encode("\n".join(NAMES), font).decode("latin-1").translate(
        {b: bytes([b]).decode("cp1252") for b in range(0x80, 0xA0) if b not in (0x81, 0x8D, 0x8F, 0x90, 0x9D)})
    found = detect(shown.encode("utf-8"), final=True)
    assert found.name == f"utf-8:{font}"
    assert text_fixer(found.name)(shown) == "\n".join(NAMES)


def test_mojibake_is_repaired():
    text = "\n".join(NAMES)
    # Windows keeps the five bytes CP1252 does not define as C1 controls.
    garbled = "".join(chr(b) if bytes([b]).decode("cp1252", "replace") == "\ufffd" else bytes([b]).decode("cp1252")
                      for b in text.encode("utf-8"))
    found = detect(garbled.encode("utf-8"), final=True)
    assert found.name == "utf-8:mojibake"
    assert text_fixer(found.name)(garbled) == text


def test_good_unicode_is_never_repaired():
    assert encodings.detect_repair("\n".join(NAMES), "xlsx").name == "xlsx"


def test_no_convincing_reading_is_refused():
    noise = bytes(range(0x80, 0x100)) * 50
    with pytest.raises(UnknownEncoding):
        detect(noise, final=True)


def test_describe_is_vietnamese():
    assert encodings.describe("tcvn3") == "TCVN3 (ABC)"
    assert "VNI-Windows" in encodings.describe("xlsx:vni")

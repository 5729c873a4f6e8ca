"""Property tests for the parsers: they never crash and their normal forms are stable."""

import datetime as dt
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.clean.dates import parse_date
from pipeline.clean.names import normalize_name
from pipeline.clean.text import canonical_tones, folded_key, name_key, nfc

# Vietnamese letters with every tone, in both compositions, plus some noise.
_BASES = "aăâeêioôơuưy"
_TONE_MARKS = ["", "\u0300", "\u0301", "\u0303", "\u0309", "\u0323"]
vietnamese_letters = st.builds(
    lambda b, t, upper: unicodedata.normalize("NFC", (b.upper() if upper else b) + t),
    st.sampled_from(_BASES), st.sampled_from(_TONE_MARKS), st.booleans(),
)
consonants = st.sampled_from(["", "b", "c", "ch", "d", "đ", "g", "gi", "h", "kh", "l", "m", "n",
                              "ng", "nh", "ph", "qu", "s", "t", "th", "tr", "v", "x", "Đ", "Ng"])
finals = st.sampled_from(["", "c", "ch", "m", "n", "ng", "nh", "p", "t"])
syllables = st.builds(lambda o, v, f: o + "".join(v) + f, consonants,
                      st.lists(vietnamese_letters, min_size=1, max_size=3), finals)
vietnamese_text = st.lists(syllables, max_size=5).map(" ".join)
any_text = st.one_of(st.text(max_size=40), vietnamese_text)

# Open oa/oe/uy syllables in the two tone styles.
_PAIRS = [("o", "a"), ("o", "e"), ("u", "y")]
tone_marks = st.sampled_from(_TONE_MARKS[1:])


@given(any_text)
def test_nfc_is_idempotent(s):
    assert nfc(nfc(s)) == nfc(s)
    assert nfc(unicodedata.normalize("NFD", s)) == nfc(s)


@given(any_text)
def test_canonical_tones_is_idempotent(s):
    once = canonical_tones(s)
    assert canonical_tones(once) == once


@given(any_text)
def test_canonical_tones_ignores_composition(s):
    assert canonical_tones(unicodedata.normalize("NFD", s)) == canonical_tones(nfc(s))


@given(consonants.filter(lambda c: c.lower() not in ("qu", "gi")), st.sampled_from(_PAIRS),
       tone_marks)
def test_canonical_tones_old_and_new_style_give_the_same_key(onset, pair, tone):
    first, second = pair
    old = nfc(onset + first + second + tone)  # hoà
    new = nfc(onset + first + tone + second)  # hòa
    assert canonical_tones(old) == canonical_tones(new) == new
    assert name_key(old) == name_key(new)


@given(any_text)
def test_folded_key_is_ascii_letters_digits_single_spaces(s):
    key = folded_key(s)
    assert all(c.isascii() and (c.islower() or c.isdigit() or c == " ") for c in key)
    assert "  " not in key and key == key.strip()
    assert folded_key(key) == key


@given(any_text)
def test_name_key_is_idempotent(s):
    assert name_key(name_key(s)) == name_key(s)


@given(any_text)
def test_name_normalization_is_idempotent(s):
    value, _ = normalize_name(s)
    if value is not None:
        assert normalize_name(value)[0] == value
        assert name_key(value) == name_key(normalize_name(value)[0])


@given(st.text(max_size=60))
def test_parse_date_never_raises_on_arbitrary_text(s):
    value, note = parse_date(s)
    assert value is None or isinstance(value, str)
    assert note is None or isinstance(note, str)


_DATE_WORDS = st.lists(st.sampled_from(["ngày", "tháng", "năm", "mồng", "12", "3", "1968", "/",
                                        "-", ".", "O", "l", "mười", "lăm", "Giêng", "68", "31"]),
                       max_size=8).map(" ".join)


@given(_DATE_WORDS, st.one_of(st.none(), st.integers(1900, 2000)))
def test_parse_date_never_raises_on_date_like_noise(s, book_year):
    value, note = parse_date(s, book_year)
    assert value is not None or note is not None or not s.strip(" .-/")


def _styles(d: dt.date) -> list[str]:
    day, month, year = d.day, d.month, d.year
    styles = [f"{day}/{month}/{year}", f"{day:02d}-{month:02d}-{year}", f"{day}.{month}.{year}",
              f"ngày {day} tháng {month} năm {year}", f"Ngày {day:02d} tháng {month:02d} năm {year}",
              f"{day:02d}/{month:02d}/{year}....."]
    if day <= 10:
        styles.append(f"mồng {day} tháng {month} năm {year}")
    return styles


@settings(max_examples=200)
@given(st.dates(dt.date(1850, 1, 1), dt.date(2030, 12, 31)))
def test_parse_date_round_trips_every_written_style(d):
    for written in _styles(d):
        assert parse_date(written) == (d.isoformat(), None), written
    assert parse_date(f"{d.month}/{d.year}") == (d.isoformat()[:7], None)
    assert parse_date(f"tháng {d.month} năm {d.year}") == (d.isoformat()[:7], None)
    assert parse_date(f"năm {d.year}") == (str(d.year), None)
    assert parse_date(str(d.year)) == (str(d.year), None)
    if d.month in (1, 12):  # lunar month names: the solar reading, and a note for a person
        value, note = parse_date(f"ngày {d.day} tháng {'Giêng' if d.month == 1 else 'Chạp'} năm {d.year}")
        assert value == d.isoformat() and note.startswith("Tháng Giêng" if d.month == 1 else "Tháng Chạp")


@given(st.dates(dt.date(1880, 1, 1), dt.date(1990, 12, 31)), st.integers(0, 98))
def test_two_digit_years_resolve_within_a_century_before_the_book(d, gap):
    book_year = d.year + gap
    written = f"{d.day:02d}-{d.month:02d}-{d.year % 100:02d}"
    assert parse_date(written, book_year) == (d.isoformat(), None)

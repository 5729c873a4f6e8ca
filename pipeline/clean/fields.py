"""Small fields: sex, age, registration number and free text."""

from __future__ import annotations

import re

from pipeline.clean.distance import ocr_distance
from pipeline.clean.names import strip_leaders
from pipeline.clean.numerals import words_to_int
from pipeline.clean.text import folded_key, non_vietnamese_chars

_MALE = {"nam", "trai", "con trai", "m"}
_FEMALE = {"nu", "gai", "con gai", "f"}
# Letters OCR confuses in these short words: "rn" for "m", "l" for "i", "u" lost its hook.
_MALE_OCR = {"narn", "nain", "nan", "tral"}
_FEMALE_OCR = {"gal"}


def normalize_sex(raw: str) -> tuple[str | None, str | None]:
    """``M`` / ``F`` from ``Nam``, ``Nữ``, ``Trai``, ``Gái``, with or without diacritics.

    OCR often drops or swaps the mark on ``Nữ`` (``Nu``, ``Nừ``, ``Nứ``): all fold to ``nu``.
    Readings that only fit after a letter repair come back with a note.

    >>> normalize_sex("NỮ"), normalize_sex("Nừ"), normalize_sex("narn")
    (('F', None), ('F', None), ('M', 'Đọc gần đúng giới tính: narn'))
    """
    key = folded_key(strip_leaders(raw or ""))
    if not key:
        return None, None
    if key in _MALE:
        return "M", None
    if key in _FEMALE:
        return "F", None
    if key in _MALE_OCR:
        return "M", f"Đọc gần đúng giới tính: {key}"
    if key in _FEMALE_OCR:
        return "F", f"Đọc gần đúng giới tính: {key}"
    near = _nearest_sex(strip_leaders(raw).lower())
    if near:
        return near, f"Đọc gần đúng giới tính: {strip_leaders(raw)[:20]}"
    return None, f"Không đọc được giới tính: {strip_leaders(raw)[:20]}"


_SEX_WORDS = {"nam": "M", "trai": "M", "nữ": "F", "gái": "F"}


def _nearest_sex(read: str) -> str | None:
    """``Wứ`` → F, ``Wam`` → M: the sex word OCR distance puts clearly nearest, if close."""
    scored = sorted((ocr_distance(read, word), sex) for word, sex in _SEX_WORDS.items())
    (best, sex), (second, other) = scored[0], scored[1]
    if best <= 1.2 and (sex == other or second - best >= 0.4):
        return sex
    return None


_AGE_WORD = re.compile(r"\b(tuoi|t)\b")
_DIGITS_THEN_LETTER = re.compile(r"(?<=\d)(?=[^\W\d_])")
_OCR_DIGITS = str.maketrans({"O": "0", "o": "0", "I": "1", "l": "1", "|": "1"})
MIN_AGE, MAX_AGE = 10, 99


def normalize_age(raw: str) -> tuple[str | None, str | None]:
    """Age in years as digits: ``37``, ``37 tuổi``, ``ba mươi bảy tuổi`` → ``"37"``.

    Old books record parents' ages rather than birth years. Outside 10..99 the value is kept
    with a warning: a parent of 7 is an OCR error more often than a fact.

    >>> normalize_age("ba mươi bảy tuổi"), normalize_age("45t"), normalize_age("3")
    (('37', None), ('45', None), ('3', 'Tuổi bất thường: 3'))
    """
    text = strip_leaders(raw or "")
    if not text:
        return None, None
    run = re.match(r"[0-9OoIl|]+(?![^\W\d_])", text)
    if run and any(c.isdigit() for c in run.group(0)):
        text = run.group(0).translate(_OCR_DIGITS) + text[run.end():]
    text = _DIGITS_THEN_LETTER.sub(" ", text)  # "45t": the clerk's short "tuổi"
    key = _AGE_WORD.sub(" ", folded_key(text)).strip()
    age = words_to_int(key)
    if age is None:
        return None, f"Không đọc được tuổi: {text[:20]}"
    if not MIN_AGE <= age <= MAX_AGE:
        return str(age), f"Tuổi bất thường: {age}"
    return str(age), None


_NUMBER_PREFIX = re.compile(r"^(số|so|sô|no|n°|nº|#)\s*[:.]?\s*", re.IGNORECASE)


def normalize_registration_no(raw: str) -> tuple[str | None, str | None]:
    """Registration number as written (leading zeros kept), without ``Số:`` or leader dots.

    >>> normalize_registration_no("Số: 0123...."), normalize_registration_no("l2")
    (('0123', None), ('12', None))
    """
    text = strip_leaders(raw or "")
    text = strip_leaders(_NUMBER_PREFIX.sub("", text))
    if not text:
        return None, None
    if re.fullmatch(r"[0-9OoIl|]+", text) and any(c.isdigit() for c in text):
        text = text.translate(_OCR_DIGITS)
    if not text.isdecimal() or not text.isascii():
        return text, "Số đăng ký không chỉ gồm chữ số"
    return text, None


def normalize_text(raw: str) -> tuple[str | None, str | None]:
    """Free text (places, ethnicity, notes): NFC, single spaces, no leader dots; case kept.

    >>> normalize_text("  Xã  Hưng Lộc ....... ")
    ('Xã Hưng Lộc', None)
    """
    text = strip_leaders(raw or "")
    if not text:
        return None, None
    odd = non_vietnamese_chars(text)
    return text, ("Có ký tự lạ: " + " ".join(odd)) if odd else None

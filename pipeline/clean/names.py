"""Personal names: clean what OCR picked up around them and flag names a reviewer should see."""

from __future__ import annotations

import re

from pipeline.clean.text import (
    canonical_tones,
    collapse_spaces,
    nfc,
    non_vietnamese_chars,
)

# Leader lines (dots, underscores) and stray punctuation OCR reads before or after a value.
_EDGE_JUNK = " \t.·•…_,;:|~`'\"“”‘’*-–—=+^°"
_LEADER_RUN = re.compile(r"\s*(?:[.·…_]\s*){2,}")  # "Nguyễn Văn .... An" → inner leader run
_WORD_PARTS = re.compile(r"([-'’])")


def strip_leaders(s: str) -> str:
    """NFC, leader dots/underscores and edge punctuation gone, single spaces.

    >>> strip_leaders("....Nguyễn Văn An.....")
    'Nguyễn Văn An'
    """
    s = _LEADER_RUN.sub(" ", nfc(s))
    return collapse_spaces(s).strip(_EDGE_JUNK).strip()


def _upper_first(part: str) -> str:
    first = part[:1].upper()
    return (first if len(first) == 1 else part[:1]) + part[1:].lower()  # "ß".upper() == "SS"


def _capitalise(word: str) -> str:
    # Minority names keep capitals after a hyphen or apostrophe: "H'Hen", "Y-Moan".
    return "".join(_upper_first(part) for part in _WORD_PARTS.split(word))


def normalize_name(raw: str) -> tuple[str | None, str | None]:
    """Stored form of a name and a note for the reviewer when it looks wrong.

    Tone placement is kept as written (``Hoà`` stays ``Hoà``); only ``name_key`` evens it out.

    >>> normalize_name("NGUYỄN văn an.....")
    ('Nguyễn Văn An', None)
    >>> normalize_name("Ng4yễn Văn An")
    ('Ng4yễn Văn An', 'Tên có chữ số')
    """
    cleaned = strip_leaders(raw or "")
    if not cleaned:
        return None, None
    value = nfc(" ".join(_capitalise(word) for word in cleaned.split(" ")))
    notes = []
    if any(ch.isdigit() for ch in value):
        notes.append("Tên có chữ số")
    if len(value.split()) == 1:
        notes.append("Tên chỉ có một chữ")
    odd = non_vietnamese_chars(value)
    if odd:
        notes.append("Tên có ký tự lạ: " + " ".join(odd))
    return value, "; ".join(notes) or None


def clean_name(raw: str | None) -> str | None:
    """The form names are compared and counted in: ``normalize_name``'s value (NFC, single
    spaces, capitalised words) with one tone-placement style, so ``Hoà`` and ``Hòa`` are one
    name. Unlike ``name_key`` it keeps capitals and i/y as written, so it can be shown;
    the stored name beside it keeps the tone placement as imported.

    >>> clean_name("  NGUYỄN  thị hoà ")
    'Nguyễn Thị Hòa'
    >>> clean_name("....") is None
    True
    """
    value = normalize_name(raw or "")[0]
    return nfc(canonical_tones(value)) if value else None

"""Numbers written in Vietnamese words (``ba mươi bảy``, ``một nghìn chín trăm sáu mươi tám``).

Works on folded tokens (see ``text.folded_key``) because OCR often drops the diacritics, which
makes ``mười`` (ten) and ``mươi`` (tens) the same token ``muoi``: the grammar tells them apart.
"""

from __future__ import annotations

from pipeline.clean.text import folded_key

DIGITS = {
    "khong": 0, "mot": 1, "hai": 2, "ba": 3, "bon": 4, "tu": 4, "nam": 5, "lam": 5,
    "sau": 6, "bay": 7, "tam": 8, "chin": 9, "nham": 5,
}
_ONLY_AFTER_TENS = {"tu", "lam", "nham"}  # "hai mươi tư", "mười lăm"; never on their own
_ZERO_TENS = {"linh", "le"}  # "một trăm linh năm" = 105


def _digit(tokens: list[str], i: int, after_tens: bool = False) -> int | None:
    if i < len(tokens) and tokens[i] in DIGITS:
        if tokens[i] in _ONLY_AFTER_TENS and not after_tens:
            return None
        return DIGITS[tokens[i]]
    return None


def _below_hundred(tokens: list[str], i: int) -> tuple[int, int] | None:
    """(value, tokens used) for 0..99 at ``tokens[i:]``, longest reading first."""
    if i < len(tokens) and tokens[i] == "muoi":  # mười, mười lăm
        unit = _digit(tokens, i + 1, after_tens=True)
        return (10 + unit, 2) if unit is not None and unit != 0 else (10, 1)
    tens = _digit(tokens, i)
    if tens is None:
        return None
    if tens > 0 and i + 1 < len(tokens) and tokens[i + 1] == "muoi":  # ba mươi bảy
        unit = _digit(tokens, i + 2, after_tens=True)
        return (tens * 10 + unit, 3) if unit is not None else (tens * 10, 2)
    return tens, 1


def _below_thousand(tokens: list[str], i: int) -> tuple[int, int] | None:
    d = _digit(tokens, i)
    if d is not None and i + 1 < len(tokens) and tokens[i + 1] == "tram":
        used = 2
        if i + 2 < len(tokens) and tokens[i + 2] in _ZERO_TENS:
            unit = _digit(tokens, i + 3)
            if unit is not None:
                return d * 100 + unit, 4
        rest = _below_hundred(tokens, i + 2)
        if rest is not None:
            return d * 100 + rest[0], used + rest[1]
        return d * 100, used
    return _below_hundred(tokens, i)


def read_number(tokens: list[str], i: int = 0) -> tuple[int, int] | None:
    """Read a number in words from folded ``tokens[i:]``: (value, tokens used) or None.

    Digits are accepted too, so ``["1968"]`` reads as 1968. Up to 9999 (years).

    >>> read_number("mot nghin chin tram sau muoi tam".split())
    (1968, 7)
    """
    if i < len(tokens) and tokens[i].isdigit():
        return int(tokens[i]), 1
    head = _below_thousand(tokens, i)
    if head is None:
        return None
    value, used = head
    if value < 10 and i + used < len(tokens) and tokens[i + used] in ("nghin", "ngan"):
        total, used = value * 1000, used + 1
        if i + used < len(tokens) and tokens[i + used] == "khong" and i + used + 1 < len(tokens) \
                and tokens[i + used + 1] == "tram":
            used += 2  # "hai nghìn không trăm linh năm"
            if i + used < len(tokens) and tokens[i + used] in _ZERO_TENS:
                unit = _digit(tokens, i + used + 1)
                if unit is not None:
                    return total + unit, used + 2
            rest = _below_hundred(tokens, i + used)
            return (total + rest[0], used + rest[1]) if rest else (total, used)
        rest = _below_thousand(tokens, i + used)
        if rest is not None:
            return total + rest[0], used + rest[1]
        return total, used
    return value, used


def words_to_int(s: str) -> int | None:
    """The whole string as one number in words or digits, else None.

    >>> words_to_int("Ba mươi bảy"), words_to_int("37"), words_to_int("ba bảy")
    (37, 37, None)
    """
    tokens = folded_key(s).split()
    if not tokens:
        return None
    got = read_number(tokens)
    if got is None or got[1] != len(tokens):
        return None
    return got[0]

"""Cells a spreadsheet must never take for a formula: one rule for every CSV and XLSX we write.

A cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is a formula to
Excel and LibreOffice (``=cmd|' /C calc'!A0``, ``@SUM(…)``, ``=HYPERLINK(…)`` sending the sheet
away): the CSV-injection rule of OWASP. Such a text gets Excel's own text marker, one single
quote in front (``'@SUM(1+1)``), in every writer and on input alike (a reviewer's correction, an
imported cell), so a value reads the same wherever it went, a file we wrote and read back
gives the same value, and the text as given is recovered by ``original`` (the raw column of
an import keeps it verbatim anyway). Numbers are left alone: ``-12`` and ``+84`` as text, or
as int/float, cannot carry a formula, and a negative number must stay a number.

Stripping was the alternative; it loses the character for good, so it is left to the clean
stage, which already drops ``=``, ``+``, ``-`` and spaces around a name or a place as OCR
noise.
"""

from __future__ import annotations

import re
from typing import Iterable

#: The first characters that make a cell a formula (OWASP, "CSV Injection").
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"
_NUMBER = re.compile(r"[+-]?(?:\d+(?:[.,]\d+)*|[.,]\d+)", re.ASCII)
#: Characters XML 1.0 cannot hold; openpyxl refuses them (IllegalCharacterError).
_NOT_IN_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def is_formula_like(text: str) -> bool:
    """Whether a spreadsheet would read ``text`` as a formula (a plain number does no harm).

        >>> is_formula_like("@SUM(1+1)"), is_formula_like("-12"), is_formula_like("Nguyễn")
        (True, False, False)
    """
    return text.startswith(FORMULA_START) and not _NUMBER.fullmatch(text)


def formula_safe(value: object) -> object:
    """``value`` as a cell to write: a formula-like text gets one leading quote; anything else,
    numbers included, is returned as it is. Applying it twice changes nothing.

        >>> formula_safe("@SUM(1+1)*cmd|' /C calc'!A0"), formula_safe("-3"), formula_safe(-3.5)
        ("'@SUM(1+1)*cmd|' /C calc'!A0", '-3', -3.5)
    """
    if isinstance(value, str) and is_formula_like(value):
        return QUOTE + value
    return value


def original(text: str) -> str:
    """The text ``formula_safe`` was given: its quote removed when it added one.

        >>> original("'=1+1"), original("'Bà Ba'")
        ('=1+1', "'Bà Ba'")
    """
    if text.startswith(QUOTE) and is_formula_like(text[1:]):
        return text[1:]
    return text


def xlsx_safe(value: object) -> object:
    """``formula_safe``, and the control characters an XLSX file cannot hold (they would stop
    the whole export) shown as U+FFFD; the database keeps them."""
    value = formula_safe(value)
    if isinstance(value, str) and _NOT_IN_XML.search(value):
        return _NOT_IN_XML.sub("\ufffd", value)
    return value


def safe_row(values: Iterable[object], *, xlsx: bool = False) -> list[object]:
    """A row of cells through ``formula_safe`` (``xlsx_safe`` for a workbook)."""
    fix = xlsx_safe if xlsx else formula_safe
    return [fix(v) for v in values]

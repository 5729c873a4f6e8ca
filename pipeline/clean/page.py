"""Rules over a whole page of entries: dittos, then each record and its rules, then numbering.

A page says more than its entries one by one: ledger cells copy the row above (``nt``), and
registration numbers run in sequence, so the rows around a misread number tell what it was.
"""

from __future__ import annotations

from dataclasses import replace

from pipeline.clean.dates import digit_slip_cost
from pipeline.clean.normalize import normalize_record, resolve_dittos
from pipeline.clean.rules import apply_findings, check_record
from pipeline.templates import Template
from pipeline.types import FieldValue

NUMBER_FIELD = "registration_no"
MAX_SLIP = 1.0  # at most two easy slips (1/7, 4/9) or one harder one


def normalize_page(rows: list[dict[str, FieldValue]], template: Template,
                   book_year: int | None = None) -> list[dict[str, FieldValue]]:
    """Every entry of one page cleaned, in page order (what the OCR worker stores).

        >>> from pipeline.templates import load_template
        >>> rows = [{"registration_no": FieldValue("registration_no", n, None, "read", 0.95)}
        ...         for n in ("40", "47", "42")]
        >>> [r["registration_no"].value for r in normalize_page(rows, load_template("birth_form"))]
        ['40', '41', '42']
    """
    if template.layout == "ledger":
        rows = resolve_dittos(rows)
    cleaned = []
    for fields in rows:
        record = normalize_record(fields, template, book_year)
        cleaned.append(apply_findings(record, check_record(record, template, book_year)))
    return check_numbering(cleaned)


def _number(row: dict[str, FieldValue]) -> int | None:
    fv = row.get(NUMBER_FIELD)
    return int(fv.value) if fv is not None and fv.value and fv.value.isdigit() else None


def _expected(numbers: list[int | None], i: int) -> int | None:
    """The number row ``i`` should have, when two neighbours agree on it."""
    def at(j: int) -> int | None:
        return numbers[j] if 0 <= j < len(numbers) else None

    before, after = at(i - 1), at(i + 1)
    if before is not None and after is not None:
        return before + 1 if after - before == 2 else None
    if after is not None and at(i + 2) == after + 1:
        return after - 1
    if before is not None and at(i - 2) == before - 1:
        return before + 1
    return None


def check_numbering(rows: list[dict[str, FieldValue]]) -> list[dict[str, FieldValue]]:
    """Registration numbers out of sequence: fixed when a digit slip explains them, else flagged.

    ``47`` between ``40`` and ``42`` was written ``41`` (a hand-written 1 read as 7): replaced,
    with a note. ``58`` there is not a slip of ``41``: kept, and sent to review, since a gap or
    a repeated number is for a person to judge (torn pages, numbering errors in the book).
    """
    numbers = [_number(row) for row in rows]
    out = []
    for i, row in enumerate(rows):
        want = _expected(numbers, i)
        got = numbers[i]
        if want is None or got is None or got == want:
            out.append(row)
            continue
        fv = row[NUMBER_FIELD]
        read = fv.value or ""
        if digit_slip_cost(read, str(want)) <= MAX_SLIP or digit_slip_cost(
                read, str(want).zfill(len(read))) <= MAX_SLIP:
            value = str(want).zfill(len(read)) if read.startswith("0") else str(want)
            note = f"Số đăng ký đọc được {read}, sửa thành {value} theo thứ tự các dòng"
        else:
            value, note = fv.value, f"Số đăng ký {read} không liền mạch với các dòng bên cạnh"
        fixed = replace(fv, value=value, status="uncertain",
                        note="; ".join(n for n in (fv.note, note) if n))
        out.append({**row, NUMBER_FIELD: fixed})
    return out

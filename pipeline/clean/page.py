"""Rules over a whole page of entries: dittos, then each record and its rules, then numbering.

A page says more than its entries one by one: ledger cells copy the row above (``nt``), and
registration numbers run in sequence, so the rows around a misread number tell what it was.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

from pipeline.clean.dates import clear_best, digit_slip_cost
from pipeline.clean.normalize import FROM_SETTINGS, normalize_record, resolve_dittos
from pipeline.clean.places import BookPlace, resolve_places
from pipeline.clean.rules import apply_findings, check_record, full_date
from pipeline.templates import Template
from pipeline.types import FieldValue

NUMBER_FIELD = "registration_no"
DATE_FIELD = "registration_date"
MAX_SLIP = 1.0  # at most two easy slips (1/7, 4/9) or one harder one
SLIP_MARGIN = 0.2  # the best reading must beat the runner-up by this much to replace a value
EDGE_SPAN = timedelta(days=92)  # a page's first or last entry: how far from its neighbour
CLOSE_DAYS = 7  # two dates out of order this close to the page's median: no telling which
BIRTH_SPAN = timedelta(days=366)  # a birth is registered within about a year (late ones flagged)


def normalize_page(rows: list[dict[str, FieldValue]], template: Template,
                   book_year: int | None = None, book_place: BookPlace | None = None,
                   fit: float = 1.0, accept: float | None = FROM_SETTINGS,
                   ) -> list[dict[str, FieldValue]]:
    """Every entry of one page cleaned, in page order (what the OCR worker stores); ``fit``
    is the reader's ``LayoutFit.score`` for the page, which each field's confidence weighs;
    ``accept`` as in ``normalize_record``.

        >>> from pipeline.templates import load_template
        >>> rows = [{"registration_no": FieldValue("registration_no", n, None, "read", 0.95)}
        ...         for n in ("40", "47", "42")]
        >>> [r["registration_no"].value for r in normalize_page(rows, load_template("birth_form"))]
        ['40', '41', '42']
    """
    if template.layout == "ledger":
        rows = resolve_dittos(rows)
    records = [resolve_places(normalize_record(fields, template, book_year, fit, accept),
                              template, book_year, book_place) for fields in rows]
    records = check_registration_order(records)
    if template.book_type == "birth":
        records = [fit_birth_to_registration(record) for record in records]
    cleaned = [apply_findings(record, check_record(record, template, book_year))
               for record in records]
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
        out.append({**row, NUMBER_FIELD: _with_note(fv, value, note)})
    return out


def slip_readings(iso: str, low: date, high: date) -> list[tuple[float, str]]:
    """Dates in [low, high], at the precision of ``iso`` (year, month or day), that its digits
    could be a misreading of, cheapest first.

        >>> slip_readings("1969-04-20", date(1969, 7, 13), date(1969, 7, 26))[0]
        (0.6, '1969-07-20')
    """
    if high < low or (high - low).days > 800:
        return []
    digits = iso.replace("-", "")
    seen: dict[str, float] = {}
    day = low
    while day <= high:
        text = day.isoformat()[:len(iso)]
        if text not in seen:
            seen[text] = digit_slip_cost(digits, text.replace("-", ""))
        day += timedelta(days=1)
    return sorted((cost, text) for text, cost in seen.items())


def _with_note(fv: FieldValue, value: str | None, note: str) -> FieldValue:
    return replace(fv, value=value, status="uncertain",
                   note="; ".join(n for n in (fv.note, note) if n))


def check_registration_order(rows: list[dict[str, FieldValue]]) -> list[dict[str, FieldValue]]:
    """Registration dates out of the book's order: fixed when a digit slip explains them.

    A register is written day by day, so the dates of a page rise and lie close together.
    The date out of order with the most others (the farthest from the page's median on a
    tie) is taken out, again until the rest are in order: those are the misreadings. A
    hand-written 7 read as 4 puts ``2/4/1969`` among ``30/6``, ``13/7``, ``20/7``; the one
    reading of its digits that fits between its neighbours (``2/7``) replaces it, with a note
    and for review. Dates that nothing tells apart (``25/2`` then ``24/2``) all go to review.
    """
    dates = {i: d for i, row in enumerate(rows) if (d := full_date(row.get(DATE_FIELD)))}
    if len(dates) < 3:
        return rows
    active = sorted(dates)
    misread: list[int] = []
    doubtful: list[int] = []
    while len(active) > 1:
        inversions = {i: sum((j < i and dates[j] > dates[i]) or (j > i and dates[j] < dates[i])
                             for j in active) for i in active}
        ordinals = sorted(dates[i].toordinal() for i in active)
        median = ordinals[len(ordinals) // 2]
        far = {i: abs(dates[i].toordinal() - median) for i in active}
        worst = max(active, key=lambda i: (inversions[i], far[i]))
        if inversions[worst] == 0:
            break
        rivals = [i for i in active if inversions[i] == inversions[worst]
                  and far[worst] - far[i] < CLOSE_DAYS]
        if len(rivals) > 1:
            doubtful += rivals
            active = [i for i in active if i not in rivals]
        else:
            misread.append(worst)
            active.remove(worst)
    out = list(rows)
    for i in doubtful:
        fv = rows[i][DATE_FIELD]
        out[i] = {**rows[i], DATE_FIELD: _with_note(
            fv, fv.value, "Ngày đăng ký không theo thứ tự các dòng bên cạnh")}
    for i in misread:
        fv = rows[i][DATE_FIELD]
        before = next((dates[j] for j in reversed(active) if j < i), None)
        after = next((dates[j] for j in active if j > i), None)
        better = None
        if before is not None or after is not None:  # none when every date was doubted
            low, high = _window(before, after)
            if low is not None and high is not None:
                better = clear_best(slip_readings(fv.value, low, high), MAX_SLIP, SLIP_MARGIN)
        if better:
            note = f"Ngày đăng ký đọc được {fv.value}, sửa thành {better} theo thứ tự các dòng"
        else:
            better, note = fv.value, "Ngày đăng ký không theo thứ tự các dòng bên cạnh"
        out[i] = {**rows[i], DATE_FIELD: _with_note(fv, better, note)}
    return out


def _window(before: date | None, after: date | None) -> tuple[date | None, date | None]:
    """The dates a misread registration date may lie between; a side without a neighbour
    reaches ``EDGE_SPAN`` past the other (None past the calendar's ends: a misread year 0001
    or 9999 has no window)."""
    try:
        low = before if before is not None else after - EDGE_SPAN
        high = after if after is not None else before + EDGE_SPAN
    except OverflowError:
        return None, None
    return low, high


def fit_birth_to_registration(row: dict[str, FieldValue]) -> dict[str, FieldValue]:
    """A birth date after its registration, or long before it, moved through digit slips.

    Births are registered within weeks, late ones within a year or two; ``1964`` on an entry
    registered in 1969 is more often a hand-written 9 read as 4 than a five-year-late
    registration. Replaced only when the clean stage is unsure of the birth date (it is
    ``uncertain``: a sure one after its registration rather says the registration is
    misread), the date is after the registration or more than a year before it, and one
    reading within a year before the registration is clearly the cheapest;
    the late-registration rule judges the rest.
    """
    born, registered = row.get("birth_date"), row.get(DATE_FIELD)
    reg = full_date(registered)
    if reg is None or born is None or not born.value or not born.value[:4].isdigit():
        return row
    if born.status != "uncertain":
        return row  # a sure birth date after its registration says the registration is wrong
    precision = len(born.value)
    if reg.year < 2:  # a misread year 0001: no span before it to look in
        return row
    if born.value > reg.isoformat()[:precision]:
        impossible = True
    elif born.value < (reg - BIRTH_SPAN).isoformat()[:precision]:
        impossible = False
    else:
        return row
    better = clear_best(slip_readings(born.value, reg - BIRTH_SPAN, reg), MAX_SLIP, SLIP_MARGIN)
    if better is None:
        return row
    why = "sau ngày đăng ký" if impossible else "cách xa ngày đăng ký"
    return {**row, "birth_date": _with_note(
        born, better, f"Ngày sinh đọc được {born.value} ({why}), sửa thành {better}")}

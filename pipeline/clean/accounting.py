"""Page accounting: whether a read page's entries are all there, and why not (issue 13 part 3).

A page is ``done`` only when what was read accounts for it. The reader may find no entry (a
photographed ledger whose grid it did not see), drop entries (registration numbers 31–40 read
but only eight records), miss a printing's labels, fit the template badly, or turn a title
line into an empty "record". Each of these is a reason, in Vietnamese, for the page to go to
``needs_attention`` instead of ``done``; the records it did read are kept all the same.

Pure: records, template and the reader's ``LayoutFit`` in, a one-line reason out.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from pipeline.clean.dates import digit_slip_cost
from pipeline.templates import Template
from pipeline.types import ExtractedRecord, FieldValue, LayoutFit

NUMBER_FIELD = "registration_no"
#: Below this layout fit score the reader did not understand the page: ``needs_attention``.
#: The score falls by each missing label, guessed entry and stray line (``LayoutFit``); 0.6
#: is roughly "a third of what the template expects is not where it should be". Provisional
#: until bench/ocr.py calibrates it on held-out printings.
MIN_FIT_SCORE = 0.6
#: Below this score the page may still be ``done``, but no field of it is accepted without a
#: person: a printing the reader half-understands is where confident wrong values come from.
TRUSTED_FIT_SCORE = 0.8
#: Share of the template's labels (form) or column headers (ledger) that must be found on
#: the entries read; below it a label the printing words differently was likely missed, and
#: with it a field on every entry. 0.85 lets a form page miss a label here and there (the
#: reader places it from the other entries: 37 of 42 on a clean typed page) and a ledger one
#: column of nine, not two; the fit score judges the rest.
MIN_LABEL_SHARE = 0.85
#: A registration-number slip costs at most this (two easy slips such as 1/7, 4/9, or one
#: harder one), as in ``pipeline.clean.page.MAX_SLIP``.
MAX_SLIP = 1.0
#: How many of a page's reasons one line names before "…": the reason must stay one line.
MAX_ITEMS = 3


@dataclass(frozen=True)
class _Numbered:
    position: int  # 0-based index of the record in page order
    number: int


def account_page(records: list[ExtractedRecord], template: Template,
                 fit: LayoutFit | None = None) -> str | None:
    """The one-line Vietnamese reason a read page cannot be ``done``, or None when its
    entries are accounted for.

        >>> from pipeline.templates import load_template
        >>> account_page([], load_template("birth_form"))
        'không tìm thấy bản ghi nào trên trang'

    Reasons are joined with "; " in this order: no entry, entries missing by the page's own
    numbering, empty (phantom) records, fields whose values do not look like their kind,
    template labels not found, poor layout fit.
    """
    if not records:
        reasons = ["không tìm thấy bản ghi nào trên trang"]
    else:
        reasons = [r for r in (missing_entries(records, template), phantom_rows(records, template),
                               misplaced_fields(records, template),
                               blank_everywhere(records, template)) if r]
    if fit is not None:
        reasons += [r for r in (labels_missing(fit, template), poor_fit(fit)) if r]
    return "; ".join(reasons) or None


def page_trusted(fit: LayoutFit | None, attention: str | None) -> bool:
    """Whether the page's fields may be accepted without review: not flagged, and fitting
    the template at least ``TRUSTED_FIT_SCORE`` (an unknown fit is trusted, as before)."""
    if attention:
        return False
    return fit is None or fit.score >= TRUSTED_FIT_SCORE


def withhold_acceptance(records: list[ExtractedRecord], note: str) -> list[ExtractedRecord]:
    """Every ``read`` field made ``uncertain`` with ``note``, so every record goes to review.

    Blank and illegible fields keep their status (they already need nobody's or somebody's
    look); the note says the page, not the field, is why, on uncertain fields too.

        >>> fv = FieldValue("full_name", "Lê Văn An", "Lê Văn An", "read", 0.97)
        >>> out = withhold_acceptance([ExtractedRecord(1, {"full_name": fv})], "Trang chưa khớp")
        >>> out[0].fields["full_name"].status, out[0].fields["full_name"].note
        ('uncertain', 'Trang chưa khớp')
    """
    return [replace(record, fields={name: _doubt(fv, note) for name, fv in record.fields.items()})
            for record in records]


def attention_note(attention: str | None, fit: LayoutFit | None) -> str:
    """What a reviewer reads on each field of a page not trusted: the page's reason."""
    if attention:
        return f"Trang chưa khớp mẫu sổ: {attention}"
    score = fit.score if fit is not None else 0.0
    return f"Trang khớp mẫu sổ kém (độ khớp {_decimal(score)}): cần người xem mọi trường"


def _doubt(fv: FieldValue, note: str) -> FieldValue:
    """A read field becomes uncertain; one already uncertain (the page's poor fit also lowers
    each field's calibrated confidence) is told the page's reason too, first."""
    if fv.status not in ("read", "uncertain"):
        return fv
    notes = [note] + [n for n in (fv.note or "").split("; ") if n and n != note]
    return replace(fv, status="uncertain", note="; ".join(notes))


# ---- entries missing by the page's numbering ------------------------------------------------


def missing_entries(records: list[ExtractedRecord], template: Template) -> str | None:
    """Entries the page's own registration numbers say were on it but were not read.

        >>> from pipeline.templates import load_template
        >>> rows = [_numbered(n) for n in (31, 32, 33, 34, 37, 38, 39, 40)]
        >>> missing_entries(rows, load_template("birth_ledger"))
        'thiếu 2 bản ghi: số đăng ký 35–36 không có trên trang (số 31–40, đọc được 8 bản ghi)'

    Only the main run of numbers counts: a number out of it (a misreading the clean stage
    could not fix, a repeat) is not taken as a gap, and records without a number that sit
    inside a jump may be the entries it skips. A jump that one digit slip of its end explains
    (``39, 46`` at the foot of a page: a 0 read as 6) is a misreading, not a loss. A page
    holds at most the template's usual entries (unless it visibly holds more), so ``37, 39``
    and a third entry on a three-entry form page lost nothing: 38 was read as 39.
    """
    numbered = [_Numbered(i, n) for i, r in enumerate(records) if (n := _number(r)) is not None]
    run = _main_run(numbered, max(template.entries_per_page, 1))
    run = _explain_slips(run)
    missing, spans = 0, []
    for before, after in zip(run, run[1:]):
        between = after.position - before.position - 1  # records that may hold the numbers
        lost = (after.number - before.number - 1) - between
        if lost > 0:
            missing += lost
            spans.append((before.number + 1, after.number - 1, lost))
    room = template.entries_per_page - len(records)
    exact = all(first + lost - 1 == last for first, last, lost in spans)
    if len(records) <= template.entries_per_page and missing > room:
        missing, exact = room, False  # some of the jumps are misread numbers: which, unknown
    if missing <= 0:
        return None
    numbers = ", ".join(_span(first, last) for first, last, _ in spans[:MAX_ITEMS])
    numbers += ", …" if len(spans) > MAX_ITEMS else ""
    where = (f": số đăng ký {numbers} không có trên trang" if exact
             else f" trong khoảng số đăng ký {numbers}")
    return (f"thiếu {missing} bản ghi{where} (số {run[0].number}–{run[-1].number}, "
            f"đọc được {len(records)} bản ghi)")


def _number(record: ExtractedRecord) -> int | None:
    fv = record.fields.get(NUMBER_FIELD)
    text = (fv.value or "").strip() if fv is not None else ""
    return int(text) if text.isdigit() else None


def _main_run(numbered: list[_Numbered], capacity: int) -> list[_Numbered]:
    """The longest rising run of numbers in page order whose jumps a page could hold.

    Ties go to the run spanning the fewest numbers (the misread number is the one that
    stretches it). A jump that leaves more than ``capacity`` entries (the template's usual
    entries per page) unaccounted is a misreading: no page lost more than it holds.
    """
    best: list[tuple[int, int, int | None]] = []  # per item: (length, -span, previous index)
    for i, item in enumerate(numbered):
        choice = (1, 0, None)
        for j in range(i):
            prev = numbered[j]
            lost = (item.number - prev.number - 1) - (item.position - prev.position - 1)
            if prev.number < item.number and lost <= capacity:
                length, neg_span, _ = best[j]
                candidate = (length + 1, neg_span - (item.number - prev.number), j)
                if candidate[:2] > choice[:2]:
                    choice = candidate
        best.append(choice)
    if not best:
        return []
    end: int | None = max(range(len(best)), key=lambda i: best[i][:2])
    run = []
    while end is not None:
        run.append(numbered[end])
        end = best[end][2]
    return run[::-1]


def _explain_slips(run: list[_Numbered]) -> list[_Numbered]:
    """The run with a number at a jump replaced by the one its neighbours imply, when a digit
    slip explains it and the replacement closes the jump without opening another."""
    run = list(run)
    for k in range(len(run) - 1):
        before, after = run[k], run[k + 1]
        steps = after.position - before.position
        if after.number - before.number == steps:
            continue
        nxt = run[k + 2] if k + 2 < len(run) else None
        prv = run[k - 1] if k > 0 else None
        want_after = before.number + steps
        if _agrees(prv, before, want_after, after, nxt) and _slip(after.number, want_after):
            run[k + 1] = _Numbered(after.position, want_after)
            continue
        want_before = after.number - steps
        if _agrees(nxt, after, want_before, before, prv) and _slip(before.number, want_before):
            run[k] = _Numbered(before.position, want_before)
    return run


def _agrees(far: _Numbered | None, near: _Numbered, want: int, item: _Numbered,
            beyond: _Numbered | None) -> bool:
    """Whether ``item`` read as ``want`` continues the run on both sides, with at least two
    other numbers agreeing: ``7, 9`` alone may as well have lost 8 as misread it, and a
    silent loss costs more than a page looked at twice."""
    def steady(a: _Numbered, a_number: int, b: _Numbered, b_number: int) -> bool:
        return abs(b_number - a_number) == abs(b.position - a.position)

    if beyond is not None:
        return steady(item, want, beyond, beyond.number)
    return far is not None and steady(far, far.number, near, near.number)


def _slip(read: int, written: int) -> bool:
    return written > 0 and digit_slip_cost(str(read), str(written)) <= MAX_SLIP


def _span(first: int, last: int) -> str:
    return str(first) if first == last else f"{first}–{last}"


# ---- phantoms, labels, fit ----------------------------------------------------------------


def phantom_rows(records: list[ExtractedRecord], template: Template) -> str | None:
    """Records in which no required field was read: a title line, a header or an empty row
    the reader took for an entry (every field blank or illegible)."""
    required = template.required or template.fields
    empty = [r.row for r in records
             if all(_unread(r.fields.get(name)) for name in required)]
    if not empty:
        return None
    rows = ", ".join(str(row) for row in empty[:MAX_ITEMS]) + (", …" if len(empty) > MAX_ITEMS else "")
    return (f"{len(empty)} bản ghi không đọc được trường bắt buộc nào (dòng {rows}): "
            "có thể là tiêu đề hoặc dòng trống")


#: A field read on at least this many entries of a page, most of whose values the clean
#: stage cannot understand as their kind (a "date" that is no date, a "sex" that is neither),
#: was most likely taken from the wrong column or label: the layout, not the ink, is wrong.
MISPLACED_MIN_VALUES = 3
MISPLACED_SHARE = 0.5
#: Kinds whose values the clean stage parses, so that "not understood" means "not this kind".
PARSED_KINDS = ("date", "sex", "age")


def misplaced_fields(records: list[ExtractedRecord], template: Template) -> str | None:
    """Fields whose values, across the page, mostly do not parse as their kind.

    A header or label matched to the wrong column reads a neighbour's values under another
    field's name: the layout looks whole (every column found) while every value of two
    fields is wrong. Dates, sexes and ages say so themselves: on a page read right, nearly
    all of them parse.
    """
    odd = []
    for name in template.fields:
        if template.kind_of(name) not in PARSED_KINDS:
            continue
        written = [r.fields[name] for r in records
                   if name in r.fields and (r.fields[name].raw or "").strip()
                   and r.fields[name].status != "blank"]
        if len(written) < MISPLACED_MIN_VALUES:
            continue
        failed = sum(fv.value is None for fv in written)
        if failed > MISPLACED_SHARE * len(written):
            odd.append(f"{template.label_of(name)} ({failed}/{len(written)})")
    if not odd:
        return None
    return "giá trị không đúng loại ở: " + ", ".join(odd[:MAX_ITEMS]) + \
        (", …" if len(odd) > MAX_ITEMS else "") + " (có thể lệch cột hoặc nhãn)"


#: A field blank on every entry of a page with this many entries was most likely looked for
#: in the wrong place (a column or label not found where it is), not left empty by the clerk.
BLANK_PAGE_MIN_ENTRIES = 3
#: Fields a clerk may well leave empty on a whole page.
OFTEN_EMPTY = {"notes"}


def blank_fields(records: list[ExtractedRecord], template: Template) -> list[str]:
    """Fields blank on every entry of the page (``BLANK_PAGE_MIN_ENTRIES`` or more)."""
    if len(records) < BLANK_PAGE_MIN_ENTRIES:
        return []
    return [name for name in template.fields if name not in OFTEN_EMPTY
            and all(r.fields.get(name) is not None and r.fields[name].status == "blank"
                    for r in records)]


def blank_everywhere(records: list[ExtractedRecord], template: Template) -> str | None:
    names = blank_fields(records, template)
    if not names:
        return None
    return "trống trên mọi bản ghi của trang (có thể đọc sai chỗ): " + ", ".join(
        template.label_of(n) for n in names[:MAX_ITEMS]) + (", …" if len(names) > MAX_ITEMS else "")


def doubt_blanks(records: list[ExtractedRecord], names: list[str], note: str
                 ) -> list[ExtractedRecord]:
    """The blanks of ``names`` made uncertain: a blank is only accepted where it was looked
    for in the right place."""
    if not names:
        return records
    return [replace(r, fields={k: (replace(fv, status="uncertain", note=note)
                                   if k in names and fv.status == "blank" else fv)
                               for k, fv in r.fields.items()}) for r in records]


def _unread(fv: FieldValue | None) -> bool:
    return fv is None or fv.status in ("blank", "illegible") or not (fv.value or fv.raw or "").strip()


def labels_missing(fit: LayoutFit, template: Template) -> str | None:
    """The template's labels (form) or column headers (ledger) not found on the entries read."""
    if fit.labels_expected <= 0 or fit.labels_found >= MIN_LABEL_SHARE * fit.labels_expected:
        return None
    what = "tiêu đề cột" if template.layout == "ledger" else "nhãn"
    detail = _problems(fit)
    return (f"chỉ thấy {fit.labels_found}/{fit.labels_expected} {what} của mẫu sổ"
            + (f" ({detail})" if detail else ""))


def poor_fit(fit: LayoutFit) -> str | None:
    """A layout that fits the template badly, whatever the reason the reader gives."""
    if fit.score >= MIN_FIT_SCORE:
        return None
    detail = "" if fit.labels_expected and fit.labels_found < MIN_LABEL_SHARE * fit.labels_expected \
        else _problems(fit)  # the label count already said what is missing
    return (f"bố cục khớp mẫu sổ kém (độ khớp {_decimal(fit.score)}, ngưỡng {_decimal(MIN_FIT_SCORE)})"
            + (f": {detail}" if detail else ""))


def _problems(fit: LayoutFit) -> str:
    items = [p.strip() for p in fit.problems if p and p.strip()]
    return ", ".join(items[:MAX_ITEMS]) + (", …" if len(items) > MAX_ITEMS else "")


def _decimal(value: float) -> str:
    """``0,45``: a decimal as Vietnamese writes it."""
    return f"{value:.2f}".replace(".", ",")


def _numbered(number: int | None, row: int = 0) -> ExtractedRecord:
    """A record with only a registration number (for examples and tests)."""
    text = "" if number is None else str(number)
    fv = FieldValue(NUMBER_FIELD, text, text or None, "read" if text else "blank", 0.95)
    return ExtractedRecord(row=row, fields={NUMBER_FIELD: fv})

"""The clean stage: raw field text → normalized value, status and note, per template kind."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

from pipeline.clean.book_names import AGE_FIELDS, clean_name_text, split_age
from pipeline.clean.calibrate import calibration_for, doubt_reasons, field_features
from pipeline.clean.correct import (
    SPELLING,
    correct_closed,
    correct_name,
    correct_text,
    doubts,
    in_closed_list,
)
from pipeline.clean.dates import fit_year, parse_date, plausible_years
from pipeline.clean.fields import (
    normalize_age,
    normalize_registration_no,
    normalize_sex,
    normalize_text,
)
from pipeline.clean.names import normalize_name, strip_leaders
from pipeline.clean.text import collapse_spaces, folded_key, nfc, strip_marks
from pipeline.settings import get_settings
from pipeline.statuses import EXTRACTED, NEEDS_REVIEW
from pipeline.templates import Template
from pipeline.types import FieldValue

# Without a fitted calibration (data/calibration/fields.json), an OCR reading under this goes to
# a reviewer even if it parses; with one, the calibration's own threshold applies.
MIN_CONFIDENCE = 0.80
FAILED_PARSE_FACTOR = 0.5  # a reading we could not understand is worth half what OCR claimed
LOW_CONFIDENCE = "Độ tin cậy thấp"
READERS_DIFFER = "Hai bộ đọc khác nhau"
LEXICON_READING = "lexicon"  # the OCR stage's name read against the lexicon (constrained.py)

Normalizer = Callable[[str], tuple[str | None, str | None]]

_BLANK = re.compile(r"[\s.·…_\-–—,;:|~`'*=]*")
_DITTO_MARKS = {'"', "''", "“", "”", "„", "〃", "″", "-\"-", "—\"—", "–\"–", "-”-", "-“-"}
_DITTO_WORDS = {"nt", "n t", "nhu tren", "-nt-", "-do-"}


def is_blank(raw: str | None) -> bool:
    """Empty, or only what a blank dotted line leaves behind (dots, dashes, underscores).

    >>> is_blank(" ....... "), is_blank("-"), is_blank("An")
    (True, True, False)
    """
    return _BLANK.fullmatch(raw or "") is not None


def is_ditto(raw: str | None) -> bool:
    """``nt``, ``n.t``, ``-nt-``, ``như trên``, ``"``, ``〃``: same as the row above.

    ``Đỗ`` alone folds to ``do`` and is a surname, so ``do`` counts only inside dashes.

    >>> is_ditto("-nt-"), is_ditto("Như trên."), is_ditto('"'), is_ditto("Đỗ")
    (True, True, True, False)
    """
    text = collapse_spaces(nfc(raw or ""))
    if not text:
        return False
    if text in _DITTO_MARKS:
        return True
    dashed = text.strip(" .").replace("–", "-").replace("—", "-").casefold()
    if dashed in ("-nt-", "-do-", "- nt -", "- do -"):
        return True
    return folded_key(text) in _DITTO_WORDS


def _normalizer(field: str, kind: str, book_year: int | None) -> Normalizer:
    if kind == "name":
        return normalize_name
    if kind == "sex":
        return normalize_sex
    if kind == "age":
        return normalize_age
    if kind == "date":
        return lambda raw: parse_date(raw, book_year)
    if field == "registration_no":
        return normalize_registration_no
    return normalize_text  # text, place (the gazetteer comes later)


def _join(*notes: str | None) -> str | None:
    return "; ".join(n for n in notes if n) or None


_RELATION = re.compile(r"^(.*?)\s*(\([^()]*\)?)?$")


def _corrected(field: str, kind: str, value: str, note: str | None,
               confidence: float) -> tuple[str, str | None]:
    """The normalized value after lexicon correction, with the reason added to the note."""
    if kind == "name":
        fix = correct_name(value, confidence)
        if fix:
            return fix.value, _join(normalize_name(fix.value)[1], fix.note)
        return value, _join(note, doubts(value, name=True))
    elif field in ("ethnicity", "nationality"):
        fix = correct_closed(field, value)
        if fix and fix.reason == SPELLING:
            return fix.value, note  # Hmông is H'Mông: nothing for a person to decide
        if fix:
            return fix.value, _join(fix.note)
        if not in_closed_list(field, value):
            return value, _join(note, f"Không có trong danh sách: {value[:30]}")
    elif field == "declarant":  # "Nguyễn Văn An (cha)": a name, then the relation
        name, relation = _RELATION.match(value).groups()
        fix = correct_name(name, confidence) if name else None
        if fix:
            return " ".join(filter(None, [fix.value, relation])), _join(note, fix.note)
        return value, _join(note, doubts(name, name=True) if name else None)
    elif kind in ("place", "text") and field != "registration_no":
        fix = correct_text(value, confidence, place=kind == "place")
        if fix:
            return fix.value, _join(normalize_text(fix.value)[1], fix.note)
        # Free text (notes, causes) is too open for a vocabulary to doubt; places are not.
        return value, _join(note, doubts(value, name=False)) if kind == "place" else note
    return value, note


def normalize_field(fv: FieldValue, kind: str, book_year: int | None = None,
                    years: tuple[int, int] | None = None,
                    accept: float | None = None, fit: float = 1.0) -> FieldValue:
    """One field cleaned: a new ``FieldValue``; ``raw`` is never changed.

    >>> fv = FieldValue("birth_date", "31/2/1968", None, "read", 0.95)
    >>> out = normalize_field(fv, "date")
    >>> out.status, out.value, out.note, out.confidence
    ('uncertain', None, 'Ngày không hợp lệ: 31/2/1968', 0.475)

    A field two readers read (``fv.readings``) is cleaned once per reading and the better
    one kept (``choose_reading``); ``raw`` is then the chosen reader's text.
    """
    candidates = reading_candidates(fv)
    if candidates:
        return choose_reading(candidates, kind, book_year, years, accept, fit)
    return _normalize_one(fv, kind, book_year, years, accept, fit, _one_text_state(fv))


def reading_candidates(fv: FieldValue) -> list[FieldValue]:
    """The field as each reader read it (the primary reading first), or [] when there is
    nothing to choose: one reader, a ditto mark, or both readers wrote the same text."""
    if not fv.readings or fv.source != "ocr" or fv.status != "read" or is_ditto(fv.raw):
        return []
    texts = [(name, text, conf) for name, (text, conf) in fv.readings.items()
             if text and not is_ditto(text)]
    if len({collapse_spaces(nfc(text)) for _, text, _ in texts}) < 2:
        return []
    out = []
    for name, text, conf in texts:
        primary = text == fv.raw
        out.append(replace(fv, raw=text, readings={name: (text, conf)},
                           confidence=fv.confidence if primary else conf,
                           note=fv.note if primary else None))
    out.sort(key=lambda c: c.raw != fv.raw)
    return out


def _percent(share: float) -> str:
    return f"{share * 100:.0f} %"


def low_confidence_note(confidence: float, threshold: float, reasons: list[str]) -> str:
    """Why a value no rule doubts still goes to a person, in words and Vietnamese numbers.

        >>> low_confidence_note(0.981, 0.99, ["có từ không có trong từ điển họ tên"])
        'Độ tin cậy thấp: khả năng đúng 98,1 %, dưới mức tự nhận 99,0 % — có từ không có trong từ điển họ tên'
    """
    why = "; ".join(reasons) or "loại trường hay bị đọc sai"
    return (f"{LOW_CONFIDENCE}: khả năng đúng {confidence * 100:.1f} %, dưới mức tự nhận "
            f"{threshold * 100:.1f} % — {why}").replace(".", ",")


def choose_reading(candidates: list[FieldValue], kind: str, book_year: int | None,
                   years: tuple[int, int] | None, accept: float | None, fit: float,
                   ) -> FieldValue:
    """Each reading cleaned; where they come to the same value the readers agree (a strong
    sign it is right), else the one the clean stage understands best wins (``pick_reading``).
    Both texts stay in ``readings``; a doubted disagreement says in words what each reader
    saw."""
    best, readers, cleaned = pick_reading(candidates, kind, book_year, years, accept, fit)
    out = cleaned[best]
    readings = {name: reading for c in candidates for name, reading in c.readings.items()}
    free = [c for c, fv in zip(candidates, cleaned) if LEXICON_READING not in c.readings]
    if LEXICON_READING in candidates[best].readings and out.value not in {
            fv.value for c, fv in zip(candidates, cleaned) if c in free}:
        # a name only the lexicon reading gives: never accepted on its word alone
        seen = " / ".join(f"«{c.raw}»" for c in free)
        return replace(out, status="uncertain", readings=readings,
                       note=f"Đọc theo từ điển tên: «{out.raw}»; hai bộ đọc: {seen}")
    if readers == "differ" and out.status != "read" and (
            out.note is None or out.note.startswith(LOW_CONFIDENCE)):
        seen = " / ".join(f"«{c.raw}»" for c in free)
        out = replace(out, note=f"{READERS_DIFFER}: {seen}")
    return replace(out, readings=readings)


def pick_reading(candidates: list[FieldValue], kind: str, book_year: int | None,
                 years: tuple[int, int] | None, accept: float | None = None, fit: float = 1.0,
                 ) -> tuple[int, str, list[FieldValue]]:
    """(index of the reading kept, ``"agree"``/``"differ"``, each reading cleaned).

    Kept: a value that parses, then one with no doubt noted (no lexicon correction, no rule
    broken), then the value more readings give, then the higher calibrated confidence, then
    the primary (Tesseract) reading.
    """
    first = [_normalize_one(c, kind, book_year, years, accept, fit) for c in candidates]
    values = {c.value for c in first}
    readers = "agree" if len(values) == 1 and None not in values else "differ"
    cleaned = [_normalize_one(c, kind, book_year, years, accept, fit, readers)
               for c in candidates]
    def undoubted(fv: FieldValue) -> bool:  # a low score alone is no doubt about the text
        return fv.note is None or fv.note.startswith(LOW_CONFIDENCE)

    support = [sum(c.value == fv.value for c in cleaned) for fv in cleaned]
    best = max(range(len(cleaned)), key=lambda i: (cleaned[i].value is not None,
                                                   undoubted(cleaned[i]), support[i],
                                                   cleaned[i].confidence, -i))
    return best, readers, cleaned


def reading_used(fv: FieldValue, kind: str, book_year: int | None = None,
                 years: tuple[int, int] | None = None, fit: float = 1.0,
                 ) -> tuple[FieldValue, str | None]:
    """The OCR reading ``normalize_field`` keeps for a field and whether the readers agreed:
    what the calibration's features are computed from (bench/calibrate.py)."""
    candidates = reading_candidates(fv)
    if not candidates:
        return fv, _one_text_state(fv)
    best, readers, _ = pick_reading(candidates, kind, book_year, years, None, fit)
    return candidates[best], readers


def _one_text_state(fv: FieldValue) -> str | None:
    """``"agree"`` for a field two readers read to the same text, None for one reader."""
    return "agree" if fv.readings and len(fv.readings) > 1 and fv.status == "read" else None


def _normalize_one(fv: FieldValue, kind: str, book_year: int | None = None,
                   years: tuple[int, int] | None = None,
                   accept: float | None = None, fit: float = 1.0,
                   readers: str | None = None) -> FieldValue:
    raw = fv.raw or ""
    text = raw
    ditto = is_ditto(raw)
    if ditto:
        if fv.value is None or is_ditto(fv.value):
            return replace(fv, value=None, status="uncertain",
                           confidence=round(fv.confidence * FAILED_PARSE_FACTOR, 3),
                           note="Ghi 'như trên' nhưng dòng trên không có giá trị")
        text = fv.value  # resolve_dittos put the row above's text here
    if fv.status == "illegible":
        return replace(fv, value=None, note=fv.note or "Không đọc được chữ")
    if not ditto and is_blank(raw):
        if fv.status == "uncertain":  # nothing read where the reader could not look (a
            return replace(fv, value=None)  # ledger column not found): unknown, not blank
        return replace(fv, value=None, status="blank", note=None)

    age = None
    if kind == "name":  # what books write besides the name: age, relation word, glued words
        text, age = clean_name_text(strip_leaders(text))
        if not text and age:  # "24 tuổi": the mother's age, her name not written
            return replace(fv, value=None, status="blank", note=f"Ô họ tên chỉ ghi tuổi: {age}")
    value, note = _normalizer(fv.field, kind, book_year)(text)
    if age and fv.field not in AGE_FIELDS:  # no age field to take it: a person should see it
        note = _join(note, f"Bỏ tuổi ghi sau tên: {age}")
    if value is not None and (fv.source == "ocr" or fv.source == "import" and kind == "name"
                              and strip_marks(value) != value):
        # A typed name gets its impossible syllables repaired (confidence 1.0: a valid one is
        # left as typed) with the corrector's note, which sends it to a reviewer. One typed
        # without any mark (Nguyen Van Binh) is a keyboard's habit, not a slip: the matcher
        # compares it folded.
        value, note = _corrected(fv.field, kind, value, note, fv.confidence)
        if kind == "date" and years is not None and value[:4].isdigit():
            fitted, why = fit_year(value, years, fv.confidence >= MIN_CONFIDENCE)
            if why:  # the parser's "odd year" warning is stale once the year moved
                stale = fitted != value and note and note.startswith("Năm bất thường")
                value, note = fitted, _join(None if stale else note, why)
    confidence = fv.confidence
    calibration = calibration_for(readers is not None) if fv.source == "ocr" else None
    if value is None:
        status = "uncertain"
        note = note or f"Không hiểu được giá trị: {strip_leaders(text)[:40]}"
        confidence = round(confidence * FAILED_PARSE_FACTOR, 3)
    elif calibration is not None:
        features = field_features(fv, value, note, kind, fit, readers)
        confidence = round(calibration.probability(features), 3)
        threshold = calibration.accept if accept is None else accept
        status = "uncertain" if note or confidence < threshold else "read"
        if not note and status == "uncertain":
            note = low_confidence_note(confidence, threshold, doubt_reasons(features))
        return replace(fv, value=value, status=status, confidence=confidence, note=note)
    elif note:
        status = "uncertain"
    else:
        status = "read"
    if fv.source == "ocr" and fv.confidence < MIN_CONFIDENCE:
        status = "uncertain"
        note = _join(note, f"Độ tin cậy OCR thấp ({_percent(fv.confidence)}): nét chữ mờ hoặc khó đọc")
    return replace(fv, value=value, status=status, confidence=confidence, note=note)


#: ``normalize_record``'s threshold when its caller gives none: this process's settings.
FROM_SETTINGS: float = -1.0


def normalize_record(
    fields: dict[str, FieldValue], template: Template, book_year: int | None = None,
    fit: float = 1.0, accept: float | None = FROM_SETTINGS,
) -> dict[str, FieldValue]:
    """Every field of one entry cleaned by its template kind; inputs are not mutated.

    Fields the template does not know are cleaned as free text rather than dropped. ``fit``
    is how well the page fit its template (the reader's ``LayoutFit.score``), a feature of
    each field's calibrated confidence. ``accept`` is the probability from which a field is
    accepted unseen (None: the calibration's own threshold); the OCR worker passes the one
    its task carries, so a remote worker accepts what the driver would.

    >>> from pipeline.templates import load_template
    >>> out = normalize_record({"sex": FieldValue("sex", "Nừ", None, "read", 0.9)},
    ...                        load_template("birth_form"), 1970)
    >>> out["sex"].value, out["sex"].status
    ('F', 'read')
    """
    out: dict[str, FieldValue] = {}
    if accept == FROM_SETTINGS:
        accept = get_settings().accept_probability  # once a record: reading it is not free
    for name, fv in ages_from_names(fields).items():
        try:
            kind = template.kind_of(name)
        except KeyError:  # a ledger has no age column: an age found in a parent's name is one
            kind = "age" if name in AGE_FIELDS.values() else "text"
        years = plausible_years(name, template.book_type, book_year) if kind == "date" else None
        out[name] = normalize_field(fv, kind, book_year, years, accept, fit)
    return out


def ages_from_names(fields: dict[str, FieldValue]) -> dict[str, FieldValue]:
    """A parent's age written in the name field (``Chu Quang Hưng (45t)``) as the reading of
    ``father_age``/``mother_age``, unless that field holds a reading of its own.

    The new field's ``raw`` is the age as written in the name, with the name's source,
    confidence and box; the name field itself is unchanged here (its normalizer drops the
    age from the value, its raw keeps it).

    >>> out = ages_from_names({"mother_name": FieldValue("mother_name", "Lưu Thị Thanh, 33 tuổi",
    ...                                                  None, "read", 1.0, source="import")})
    >>> out["mother_age"].raw, out["mother_age"].source
    ('33 tuổi', 'import')
    """
    out = dict(fields)
    for name_field, age_field in AGE_FIELDS.items():
        fv = fields.get(name_field)
        if fv is None or fv.status == "illegible" or is_ditto(fv.raw):
            continue
        age = split_age(strip_leaders(fv.raw or ""))[1]
        have = fields.get(age_field)
        if age is None or (have is not None and not is_blank(have.raw)):
            continue
        out[age_field] = FieldValue(age_field, age, None, "read", fv.confidence,
                                    source=fv.source, box=fv.box)
    return out


def record_status(fields: dict[str, FieldValue]) -> str:
    """``needs_review`` when any field is uncertain or illegible, or nothing was read at all.

    >>> record_status({"a": FieldValue("a", "An", "An", "read", 0.9)})
    'extracted'
    """
    statuses = [fv.status for fv in fields.values()]
    if any(s in ("uncertain", "illegible") for s in statuses):
        return NEEDS_REVIEW
    if all(s == "blank" for s in statuses):
        return NEEDS_REVIEW
    return EXTRACTED


def record_confidence(fields: dict[str, FieldValue]) -> float:
    """The weakest non-blank field: one bad field is what makes a record need a look.

    0.0 when every field is blank. An illegible field counts with its own confidence.

    >>> record_confidence({"a": FieldValue("a", "An", "An", "read", 0.9),
    ...                    "b": FieldValue("b", "", None, "blank", 0.1)})
    0.9
    """
    values = [fv.confidence for fv in fields.values() if fv.status != "blank"]
    return round(min(values), 3) if values else 0.0


def resolve_dittos(rows: list[dict[str, FieldValue]]) -> list[dict[str, FieldValue]]:
    """Ledger rows with ditto cells given the text of the cell above; ``raw`` keeps the ditto.

    Chains resolve (``nt`` under ``nt``). Runs before ``normalize_record`` (the worker does
    so), which then normalizes the copied text; run after it, it copies normalized values,
    which are stable under normalization, so both orders agree.

    >>> rows = [{"birth_place": FieldValue("birth_place", "Xã Hưng Lộc", None, "read", 0.9)},
    ...         {"birth_place": FieldValue("birth_place", "nt", None, "read", 0.9)}]
    >>> resolved = resolve_dittos(rows)[1]["birth_place"]
    >>> resolved.raw, resolved.value
    ('nt', 'Xã Hưng Lộc')
    """
    out: list[dict[str, FieldValue]] = []
    above: dict[str, str | None] = {}
    for row in rows:
        new_row: dict[str, FieldValue] = {}
        for name, fv in row.items():
            if is_ditto(fv.raw):
                new_row[name] = replace(fv, value=above.get(name))
            else:
                new_row[name] = replace(fv)
            if is_ditto(fv.raw) or is_blank(fv.raw):
                above[name] = new_row[name].value
            else:
                above[name] = fv.value if fv.value is not None else fv.raw
        out.append(new_row)
    return out

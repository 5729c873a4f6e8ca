"""Dates as written in the registers → ISO 8601, partial allowed (``1968``, ``1968-03``, ``1968-03-12``)."""

from __future__ import annotations

import calendar
import re

from rapidfuzz.distance import Levenshtein

from pipeline.clean.lunar import lunar_to_iso, year_of_stem_branch
from pipeline.clean.numerals import DIGITS, read_number
from pipeline.clean.text import collapse_spaces, folded_key, nfc

_DAY_WORDS = {"ngay", "mong", "mung"}
_MONTH_WORD = "thang"
_YEAR_WORD = "nam"
_MONTH_NAMES = {"gieng": 1, "gieng.": 1, "chap": 12, "tu": 4}
_LUNAR_MONTH_NAMES = {"gieng": "Giêng", "gieng.": "Giêng", "chap": "Chạp"}

# OCR reads 0 as O/o and 1 as l/I/| inside numbers. Only runs that stand alone (not inside a
# word) and hold a real digit or sit against a date separator are repaired.
_NUMERIC_RUN = re.compile(r"(?<![^\W\d_])[0-9OoIl|]+(?![^\W\d_])")
_OCR_DIGITS = str.maketrans({"O": "0", "o": "0", "I": "1", "l": "1", "|": "1"})

_SEP = r"\s*[/.\-]\s*"
_FULL = re.compile(rf"(?<!\d)(\d{{1,2}}){_SEP}(\d{{1,2}}){_SEP}(\d{{4}}|\d{{2}})(?!\d)")
_MONTH_YEAR = re.compile(rf"(?<!\d)(\d{{1,2}}){_SEP}(\d{{4}})(?!\d)")
_YEAR_ONLY = re.compile(r"(?<!\d)(\d{4})(?!\d)")
_DIGITS = re.compile(r"\d+")
_ISO = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")
_LUNAR = ("am lich", "al")

MIN_YEAR, MAX_YEAR = 1850, 2030


def _repair_digits(s: str) -> str:
    def fix(m: re.Match[str]) -> str:
        run = m.group(0)
        if any(c.isdigit() for c in run):
            return run.translate(_OCR_DIGITS)
        before = s[max(0, m.start() - 1):m.start()]
        after = s[m.end():m.end() + 1]
        if before in ("/", "-", ".") or after in ("/", "-"):
            return run.translate(_OCR_DIGITS)
        return run

    return _NUMERIC_RUN.sub(fix, s)


def _full_year(year: int, digits: int, book_year: int | None) -> int:
    """Two-digit years: the latest year ending in those digits that is not after the book."""
    if digits != 2:
        return year
    if book_year is None:
        return 1900 + year
    candidate = (book_year // 100) * 100 + year
    return candidate if candidate <= book_year else candidate - 100


def _iso(day: int | None, month: int | None, year: int,
         lunar: bool = False) -> tuple[str | None, str | None]:
    """The ISO text of a written date, or why it cannot be one. A lunar month has 29 or 30
    days whatever its number: which of the two, the lunar calendar tells when converting."""
    if month is not None and not 1 <= month <= 12:
        written = f"{day}/{month}/{year}" if day is not None else f"{month}/{year}"
        return None, f"Ngày không hợp lệ: {written} (không có tháng {month})"
    if day is not None and month is not None:
        last = 30 if lunar else calendar.monthrange(year, month)[1] if year > 0 else 31
        if not 1 <= day <= last:
            return None, f"Ngày không hợp lệ: {day}/{month}/{year}"
    if year == 0:
        return None, "Ngày không hợp lệ: năm 0"
    note = None
    if not MIN_YEAR <= year <= MAX_YEAR:
        note = f"Năm bất thường: {year}"
    if day is not None and month is not None:
        return f"{year:04d}-{month:02d}-{day:02d}", note
    if month is not None:
        return f"{year:04d}-{month:02d}", note
    return f"{year:04d}", note


def _has_other_digits(s: str, span: tuple[int, int]) -> bool:
    return bool(_DIGITS.search(s[:span[0]]) or _DIGITS.search(s[span[1]:]))


_GLUED = re.compile(r"(?<=\d)(?=[a-z])|(?<=[a-z])(?=\d)")
_KEYWORDS = ("ngay", "thang", "nam", "mong", "mung")
_NUMBER_WORDS = set(DIGITS) | {"muoi", "tram", "nghin", "ngan", "linh", "le", "mot"}


def _date_tokens(folded: str) -> list[str]:
    """Folded tokens with OCR's slips on the date words undone.

    ``2ndm`` (a digit glued to a misread ``năm``) splits into ``2 nam``; ``thung``, ``ngau``,
    ``ndm`` one letter away from a date word become it. Number words are left alone: ``tam``
    (eight) is one letter from ``nam``.

        >>> _date_tokens("ngay 5 thang 2ndm 1960"), _date_tokens("ngay 26 thung 1 nam 1960")
        (['ngay', '5', 'thang', '2', 'nam', '1960'], ['ngay', '26', 'thang', '1', 'nam', '1960'])
    """
    out = []
    for token in _GLUED.sub(" ", folded).split():
        if token.isalpha() and token not in _NUMBER_WORDS and token not in _KEYWORDS \
                and len(token) >= 3:
            near = [k for k in _KEYWORDS if Levenshtein.distance(token, k) <= 1]
            if len(near) == 1:
                token = near[0]
        out.append(token)
    return out


def _read_words(tokens: list[str], book_year: int | None,
                lunar: bool = False) -> tuple[str | None, str | None] | None:
    """``ngày 12 tháng 3 năm 1968`` and its parts, on folded tokens; None if no keyword."""
    day = month = year = None
    year_digits = 4
    i, seen = 0, False
    named = None  # "Giêng" / "Chạp": month names of the lunar calendar

    def number(at: int) -> tuple[int, int] | None:
        # "năm" is both "five" and "year": it is the year keyword when a number follows it.
        got = read_number(tokens, at)
        if got is None:
            return None
        value, used = got
        end = at + used
        if used > 1 and tokens[end - 1] == _YEAR_WORD and end < len(tokens) \
                and read_number(tokens, end) is not None:
            shorter = read_number(tokens[:end - 1], at)
            if shorter is not None:
                return shorter
        if used == 1 and tokens[at] == _YEAR_WORD and end < len(tokens) \
                and read_number(tokens, end) is not None and tokens[end] != _YEAR_WORD:
            return None
        return got

    while i < len(tokens):
        token = tokens[i]
        if token in _DAY_WORDS and day is None and month is None:
            got = number(i + 1)
            if got is None:
                return None, "Không đọc được ngày"
            day, i, seen = got[0], i + 1 + got[1], True
        elif token == _MONTH_WORD and month is None:
            if i + 1 < len(tokens) and tokens[i + 1] in _MONTH_NAMES:
                named = tokens[i + 1] if tokens[i + 1] in _LUNAR_MONTH_NAMES else named
                month, i = _MONTH_NAMES[tokens[i + 1]], i + 2
            else:
                got = number(i + 1)
                if got is None:
                    return None, "Không đọc được tháng"
                month, i = got[0], i + 1 + got[1]
            seen = True
        elif token == _YEAR_WORD and year is None and i + 1 < len(tokens):
            got = read_number(tokens, i + 1)
            if got is None:
                return None, "Không đọc được năm"
            year, i, seen = got[0], i + 1 + got[1], True
            year_digits = len(tokens[i - 1]) if tokens[i - 1].isdigit() else 4
        elif not seen and (lead := read_number(tokens, i)) is not None \
                and i + lead[1] < len(tokens) and tokens[i + lead[1]] == _MONTH_WORD:
            day, i = lead[0], i + lead[1]  # "12 tháng 3", "mười hai tháng ba" without "ngày"
        elif token.isdigit() and month is not None and year is None:
            year, i = int(token), i + 1  # "tháng 3/1968"
            year_digits = len(token)
        elif token.isdigit() and not seen:
            return None  # starts with digits: leave it to the numeric patterns
        else:
            i += 1
    if not seen:
        return None
    if year is None:
        return None, "Thiếu năm"
    year = _full_year(year, year_digits, book_year)
    if day is not None and month is None:
        return None, "Thiếu tháng"
    value, note = _iso(day, month, year, lunar)
    if named and not lunar and value is not None and note is None:
        note = _maybe_lunar(day, month, year, _LUNAR_MONTH_NAMES[named])
    return value, note


def _maybe_lunar(day: int | None, month: int, year: int, name: str) -> str:
    """Why a date with ``tháng Giêng`` / ``tháng Chạp`` and no lunar mark goes to a person.

    Those names belong to the lunar calendar, but people also say them of January and
    December: the solar reading stands (it is what the page literally says) and the note
    gives the lunar one, converted, for the reviewer to choose.
    """
    if day is None:
        return f"Tháng {name} thường là tháng âm lịch; không rõ ngày nên không quy đổi được"
    solar = lunar_to_iso(day, month, year)
    if solar is None:
        return f"Tháng {name} thường là tháng âm lịch, nhưng {day}/{month}/{year} âm lịch không có thật"
    return (f"Tháng {name} thường là tháng âm lịch: nếu {day}/{month}/{year} là âm lịch thì "
            f"ngày dương lịch là {solar[8:10]}/{solar[5:7]}/{solar[:4]}")


_LUNAR_MARK = re.compile(r"[(\[]?\s*(?:âm\s+lịch|\bAL\b|\bÂL\b)\s*[)\]]?", re.IGNORECASE)
_LEAP_MARK = re.compile(r"\s*\bnhuận\b", re.IGNORECASE)
_STEM_BRANCH_YEAR = re.compile(r"(\bnăm\s+)([^\W\d_]+\s+[^\W\d_]+)", re.IGNORECASE)


def _parse_lunar(text: str, book_year: int | None) -> tuple[str | None, str | None]:
    """A date marked lunar (``âm lịch``, ``AL``, a year named ``Mậu Thân``) → its solar date,
    with a note so a person checks the conversion; partial lunar dates cannot be converted."""
    leap = bool(_LEAP_MARK.search(text))
    rest = collapse_spaces(_LEAP_MARK.sub("", _LUNAR_MARK.sub(" ", text))).strip(" .,;:-()")
    value, note = _read_date(rest, book_year, lunar=True)
    if value is None:
        return None, note or f"Ngày âm lịch không đọc được: {text[:40]}"
    if len(value) < 10:
        return None, f"Ngày âm lịch thiếu ngày hoặc tháng, không quy đổi được: {text[:40]}"
    year, month, day = (int(part) for part in value.split("-"))
    solar = lunar_to_iso(day, month, year, leap)
    written = f"{day}/{month}{' nhuận' if leap else ''}/{year}"
    if solar is None:
        return None, f"Ngày âm lịch không có thật: {written}"
    return solar, f"Ngày âm lịch {written}, đã quy đổi sang dương lịch"


def parse_date(raw: str, book_year: int | None = None) -> tuple[str | None, str | None]:
    """A written date → (ISO 8601 partial, None) or (None, Vietnamese reason); never raises.

    Day first, as everywhere in Vietnam. A two-digit year takes the century that puts it at
    or before ``book_year`` (19xx when the book's year is unknown). A note beside a value is
    a warning (odd year), beside None it is why nothing was read.

    >>> parse_date("ngày 12 tháng 3 năm 1968"), parse_date("12-03-68", book_year=1970)
    (('1968-03-12', None), ('1968-03-12', None))
    >>> parse_date("31/2/1968")
    (None, 'Ngày không hợp lệ: 31/2/1968')
    >>> parse_date("ngày 15 tháng 8 năm Mậu Thân", book_year=1970)
    ('1968-10-06', 'Ngày âm lịch 15/8/1968, đã quy đổi sang dương lịch')
    """
    text = collapse_spaces(nfc(raw or "")).strip(" .,;:_-–—…")
    if not text:
        return None, None
    text = _repair_digits(text)
    folded = folded_key(text.replace("/", " / "))
    named = _STEM_BRANCH_YEAR.search(text)
    if named and (year := year_of_stem_branch(named.group(2), book_year)) is not None:
        # "năm Mậu Thân": a lunar year by name, the one nearest before the book's year
        text = f"{text[:named.start(2)]}{year}{text[named.end(2):]}"
        return _parse_lunar(text, book_year)
    if any(f" {mark} " in f" {folded} " for mark in _LUNAR):
        return _parse_lunar(text, book_year)
    return _read_date(text, book_year)


def _read_date(text: str, book_year: int | None,
               lunar: bool = False) -> tuple[str | None, str | None]:
    """``parse_date`` on tidied text with no lunar mark left; ``lunar`` admits day 30 of
    every month, as the lunar calendar has."""
    folded = folded_key(text.replace("/", " / "))
    m = _ISO.fullmatch(text)
    if m:  # our own output: normalizing twice changes nothing
        day = int(m.group(3)) if m.group(3) else None
        return _iso(day, int(m.group(2)) if m.group(2) else None, int(m.group(1)), lunar)

    m = _FULL.search(text)
    if m and not _has_other_digits(text, m.span()):
        year = _full_year(int(m.group(3)), len(m.group(3)), book_year)
        return _iso(int(m.group(1)), int(m.group(2)), year, lunar)

    words = _read_words(_date_tokens(folded), book_year, lunar)
    if words is not None:
        value, note = words
        if value is None and note in ("Thiếu năm", "Thiếu tháng"):
            note = f"{note}: {text[:40]}"
        elif value is None and note and ":" not in note:
            note = f"{note}: {text[:40]}"
        return value, note

    m = _MONTH_YEAR.search(text)
    if m and not _has_other_digits(text, m.span()):
        return _iso(None, int(m.group(1)), int(m.group(2)), lunar)
    m = _YEAR_ONLY.search(text)
    if m and not _has_other_digits(text, m.span()):
        return _iso(None, None, int(m.group(1)), lunar)
    return None, f"Không đọc được ngày: {text[:40]}"


# Hand-written digits Tesseract confuses, with the cost of each slip (see clean.distance).
_DIGIT_SLIPS = {frozenset(p): c for p, c in {
    ("4", "9"): 0.5, ("1", "7"): 0.5, ("1", "9"): 0.6, ("4", "7"): 0.6, ("3", "8"): 0.6, ("5", "6"): 0.6,
    ("0", "6"): 0.6, ("0", "8"): 0.6, ("0", "9"): 0.6, ("1", "4"): 0.7, ("2", "7"): 0.7,
    ("6", "8"): 0.7, ("5", "3"): 0.8, ("9", "8"): 0.8, ("2", "3"): 0.9,
}.items()}
EARLIEST_YEAR = 1850


def plausible_years(field: str, book_type: str, book_year: int | None) -> tuple[int, int] | None:
    """Years a date field of a book of ``book_year`` almost always holds, or None if unknown.

    An entry is registered in the book's year (a January entry may close the previous year's
    book); a birth register records births of the last few years; deaths are registered
    within days. Other dates (a bride's birth) can be any year before the book.
    """
    if book_year is None:
        return None
    if field == "registration_date":
        return book_year - 1, book_year + 1
    if field == "birth_date" and book_type == "birth":
        return book_year - 10, book_year
    if field == "death_date" and book_type == "death":
        return book_year - 5, book_year
    if field.endswith("date"):
        return book_year - 110, book_year
    return None


def digit_slip_cost(read: str, written: str) -> float:
    """Cost of reading digits ``written`` as ``read`` (same length) through hand-writing slips.

        >>> digit_slip_cost("1412", "1972"), digit_slip_cost("12", "15")
        (1.0, 9.0)
    """
    if len(read) != len(written):
        return 9.0
    cost = 0.0
    for a, b in zip(read, written):
        if a != b:
            cost += _DIGIT_SLIPS.get(frozenset((a, b)), 9.0)
    return cost


def clear_best(scored: list[tuple[float, object]], limit: float, margin: float = 0.2):
    """The cheapest reading of ``(cost, reading)`` pairs when it costs at most ``limit`` and
    beats the runner-up by ``margin``; else None: a slip is a replacement only when clear.

        >>> clear_best([(0.5, "1969"), (9.0, "1968")], 1.0), clear_best([(0.5, "a"), (0.6, "b")], 1.0)
        ('1969', None)
    """
    ranked = sorted(scored, key=lambda pair: pair[0])
    if not ranked or ranked[0][0] > limit:
        return None
    if len(ranked) > 1 and ranked[1][0] - ranked[0][0] < margin:
        return None
    return ranked[0][1]


def fit_year(iso: str, window: tuple[int, int], confident: bool) -> tuple[str, str | None]:
    """An ISO date whose year lies outside ``window`` moved into it through digit slips.

    The year is replaced when it is impossible (before 1850 or after the book), or when OCR
    was unsure of the field, and one year inside the window is clearly the nearest reading.
    Otherwise a year outside the window is kept with a note, so a person looks at it.

        >>> fit_year("1412-12-24", (1963, 1973), confident=False)
        ('1972-12-24', 'Năm đọc được 1412, sửa thành 1972 theo năm của sổ')
        >>> fit_year("1950-05-01", (1963, 1973), confident=True)   # perhaps a late registration
        ('1950-05-01', 'Năm 1950 nằm ngoài khoảng thường gặp của sổ (1963–1973)')
    """
    read = iso[:4]
    year = int(read)
    low, high = window
    if low <= year <= high:
        return iso, None
    impossible = year < EARLIEST_YEAR or year > high
    unusual = f"Năm {read} nằm ngoài khoảng thường gặp của sổ ({low}–{high})"
    if confident and not impossible:
        return iso, unusual
    best = clear_best([(digit_slip_cost(read, str(y)), y) for y in range(low, high + 1)], 1.2)
    if best is None:
        return iso, unusual
    return f"{best}{iso[4:]}", f"Năm đọc được {read}, sửa thành {best} theo năm của sổ"

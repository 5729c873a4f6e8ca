"""What the page's own printed header says about its book: the year (``Năm 1972``), the
commune and the volume (``Quyển số``).

A wrong ``--year`` at ingest used to pull correctly read dates toward it (1972 → 1977), since
the clean stage fits misread years to the book's. The header printed on every page is the
better witness: when it names another year, the page says so at ``process`` time and no date
is fitted toward either year.
"""

from __future__ import annotations

import re
from collections import Counter

from rapidfuzz import fuzz

from pipeline.clean.gazetteer import Gazetteer, load_gazetteer
from pipeline.clean.text import folded_key
from pipeline.types import OcrWord

HEADER_SHARE = 0.25  # the header lies in the top quarter of a page
MIN_CONFIDENCE = 0.8  # a year read unsure (1984 → 1904) raises no alarm
_YEAR = re.compile(r"^(1[89]\d\d|20\d\d)[.,;:]?$")


def printed_year(words: list[OcrWord], page_height: int) -> int | None:
    """The year after a ``Năm`` in the page's header, or None when it is not read.

        >>> w = lambda t, x, y: OcrWord(t, 0.9, (x, y, x + 40, y + 20))
        >>> printed_year([w("Năm", 100, 90), w("1972", 150, 90)], 1000)
        1972
        >>> printed_year([w("tháng", 10, 90), w("3", 60, 90), w("năm", 100, 90),
        ...               w("1972", 150, 90)], 1000)   # a date, not the header
        >>> printed_year([w("Năm", 100, 90), w("am", 130, 90), w(":", 160, 90),
        ...               w("1978", 190, 90)], 1000)   # a split word and a colon
        1978

    Words below the top quarter are entries; a ``năm`` after ``tháng`` is part of a date; a
    year read unsure is not taken. Two different years read in the header are no answer
    either.
    """
    top = [w for w in words if w.box[1] < HEADER_SHARE * page_height]
    found: Counter[int] = Counter()
    for word in top:
        if folded_key(word.text).strip(":.") != "nam":
            continue
        left = _neighbours(word, top, before=True)
        if any(folded_key(w.text) == "thang" for w in left[-2:]):
            continue
        year = _year_after(_neighbours(word, top, before=False))
        if year is not None:
            found[year] += 1
    return found.most_common(1)[0][0] if len(found) == 1 else None


def _year_after(right: list[OcrWord]) -> int | None:
    """The year read sure right after ``Năm``, past a colon or a fragment of the word itself
    (Tesseract may read ``Năm`` as ``Năm`` + ``am``): the first word with a digit decides."""
    for word in right[:3]:
        text = word.text.strip()
        if not any(ch.isdigit() for ch in text):
            if folded_key(text).strip() in ("", "am", "m", "nam"):
                continue
            return None
        match = _YEAR.match(text)
        if match and word.confidence >= MIN_CONFIDENCE:
            return int(match.group(1))
        return None
    return None


def _neighbours(word: OcrWord, words: list[OcrWord], *, before: bool) -> list[OcrWord]:
    """The words on ``word``'s line (their middles within its height) to its left or right,
    in reading order."""
    top, bottom = word.box[1], word.box[3]
    line = [w for w in words if w is not word and top <= (w.box[1] + w.box[3]) / 2 <= bottom]
    if before:
        return sorted((w for w in line if w.box[2] <= word.box[0] + 2), key=lambda w: w.box[0])
    return sorted((w for w in line if w.box[0] >= word.box[2] - 2), key=lambda w: w.box[0])


def year_disagreement(printed: int | None, year_from: int | None, year_to: int | None
                      ) -> str | None:
    """The page's reason when its printed year is outside the book's years as ingested.

        >>> year_disagreement(1972, 1977, None)
        'năm in ở đầu trang (1972) khác năm của sổ khi nhập (1977): ngày tháng trên trang không được chỉnh theo năm nào, cần kiểm tra lại năm của sổ'
        >>> year_disagreement(1972, 1970, 1975) is None
        True
    """
    if printed is None or year_from is None:
        return None
    last = year_to or year_from
    if year_from <= printed <= last:
        return None
    books = str(year_from) if last == year_from else f"{year_from}–{last}"
    return (f"năm in ở đầu trang ({printed}) khác năm của sổ khi nhập ({books}): ngày tháng "
            "trên trang không được chỉnh theo năm nào, cần kiểm tra lại năm của sổ")


# The commune and the volume (issue 19 §6): a page ingested into the wrong book prints another
# commune or ``Quyển số`` in its header. Both are checked only on words read sure, and a name is
# called different only when it is far from the book's (one misread letter is not another
# commune) and is itself a commune the gazetteer knows (a stained header read as "Tĩnh Châu" is
# no witness): a false alarm sends a whole good page to review.
PLACE_TYPES = ("xa", "phuong", "thi tran")  # folded unit words that open the commune's line
_AUTHORITY = {"ubnd", "uy", "ban", "nhan", "dan"}  # "UBND xã …", "Ủy ban nhân dân xã …"
SAME_PLACE = 75  # rapidfuzz ratio of the folded names at or above which they are one commune
MAX_NAME_WORDS = 4
_ROMAN = {"i": 1, "ii": 2, "iii": 3, "iv": 4, "v": 5, "vi": 6, "vii": 7, "viii": 8, "ix": 9,
          "x": 10}


def printed_commune(words: list[OcrWord], page_height: int) -> str | None:
    """The commune named at the start of a header line (``Xã Hưng Dũng``), or None.

        >>> w = lambda t, x, y: OcrWord(t, 0.9, (x, y, x + 40, y + 20))
        >>> printed_commune([w("Xã", 20, 40), w("Hưng", 65, 40), w("Dũng", 110, 40)], 1000)
        'Hưng Dũng'
        >>> printed_commune([w("Nơi", 20, 40), w("sinh:", 65, 40), w("xã", 110, 40),
        ...                  w("Hưng", 155, 40)], 1000)   # a value in an entry, not the header

    Only a unit word with nothing but an authority (``UBND``) before it on its line opens the
    header's commune line; an entry's ``xã …`` stands after a label. Every word of the name
    must be read sure, and the name ends at a comma or a wide gap (the title beside it).
    """
    top = [w for w in words if w.box[1] < HEADER_SHARE * page_height]
    found: set[str] = set()
    for word in top:
        unit = folded_key(word.text).strip()
        right = _neighbours(word, top, before=False)
        if unit == "thi" and right and folded_key(right[0].text).strip() == "tran":
            unit, right = "thi tran", right[1:]
        if unit not in PLACE_TYPES:
            continue
        left = _neighbours(word, top, before=True)
        if any(folded_key(w.text).strip(" .") not in _AUTHORITY for w in left):
            continue
        name = _name_after(word, right)
        if name and all(w.confidence >= MIN_CONFIDENCE for w in name):
            found.add(" ".join(w.text.strip(" ,.:;") for w in name))
    return found.pop() if len(found) == 1 else None


def _name_after(word: OcrWord, right: list[OcrWord]) -> list[OcrWord]:
    """The words of a name following ``word`` on its line, up to a comma or a wide gap."""
    height = max(1, word.box[3] - word.box[1])
    name, edge = [], word.box[2]
    for w in right[:MAX_NAME_WORDS]:
        if w.box[0] - edge > 1.5 * height:
            break
        name.append(w)
        edge = w.box[2]
        if w.text.rstrip().endswith((",", ";")):
            break
    return [w for w in name if w.text.strip(" ,.:;")]


def printed_volume(words: list[OcrWord], page_height: int) -> str | None:
    """The volume after ``Quyển số`` in the header (``Quyển số: 2`` → ``"2"``), or None.

        >>> w = lambda t, x, y: OcrWord(t, 0.9, (x, y, x + 40, y + 20))
        >>> printed_volume([w("Quyển", 800, 40), w("số:", 845, 40), w("2", 890, 40)], 1000)
        '2'
    """
    top = [w for w in words if w.box[1] < HEADER_SHARE * page_height]
    found: set[str] = set()
    for word in top:
        if folded_key(word.text).strip() != "quyen":
            continue
        right = _neighbours(word, top, before=False)[:3]
        if not right or not all(w.confidence >= MIN_CONFIDENCE for w in right):
            continue
        match = re.match(r"so\s*:?\s*([0-9]+|[ivx]+)\b", folded_key(" ".join(w.text for w in right)))
        if match:
            found.add(match.group(1))
    return found.pop() if len(found) == 1 else None


def _volume_number(volume: str) -> int | None:
    text = folded_key(volume).strip()
    if text.isdigit():
        return int(text)
    return _ROMAN.get(text)


def commune_disagreement(printed: str | None, book_commune: str | None,
                         gaz: Gazetteer | None = None) -> str | None:
    """The page's reason when its header names a commune far from the book's.

        >>> commune_disagreement("Nghi Hưng", "Hưng Dũng")
        'xã in ở đầu trang (Nghi Hưng) khác xã của sổ khi nhập (Hưng Dũng): trang có thể thuộc sổ khác'
        >>> commune_disagreement("Hưng Dủng", "Xã Hưng Dũng") is None   # a misread accent
        True
        >>> commune_disagreement("Tĩnh Châu", "Diễn Hải") is None   # no commune of that name
        True
    """
    if not printed or not book_commune:
        return None
    book = folded_key(book_commune).strip()
    for unit in PLACE_TYPES:
        if book.startswith(unit + " "):
            book = book[len(unit) + 1:]
            break
    if fuzz.ratio(folded_key(printed).strip(), book) >= SAME_PLACE:
        return None
    if not any(unit.level == "commune" for unit in (gaz or load_gazetteer()).named(printed)):
        return None
    return (f"xã in ở đầu trang ({printed}) khác xã của sổ khi nhập ({book_commune}): trang có "
            "thể thuộc sổ khác")


def volume_disagreement(printed: str | None, book_volume: str | None) -> str | None:
    """The page's reason when its header prints another volume than the book's.

        >>> volume_disagreement("2", "II") is None, volume_disagreement("3", "1")
        (True, 'quyển số in ở đầu trang (3) khác quyển số của sổ khi nhập (1): trang có thể thuộc sổ khác')
    """
    if not printed or not book_volume:
        return None
    ours, theirs = _volume_number(printed), _volume_number(book_volume)
    if ours is None or theirs is None or ours == theirs:
        return None
    return (f"quyển số in ở đầu trang ({printed}) khác quyển số của sổ khi nhập ({book_volume}): "
            "trang có thể thuộc sổ khác")


def book_disagreements(words: list[OcrWord], page_height: int, commune: str | None,
                       volume: str | None) -> str | None:
    """The header's commune and volume against the book's, as one reason (None: nothing
    contradicts the book)."""
    reasons = [commune_disagreement(printed_commune(words, page_height), commune),
               volume_disagreement(printed_volume(words, page_height), volume)]
    return "; ".join(r for r in reasons if r) or None

"""What the page's own printed header says about its book: the year (``Năm 1972``).

A wrong ``--year`` at ingest used to pull correctly read dates toward it (1972 → 1977), since
the clean stage fits misread years to the book's. The header printed on every page is the
better witness: when it names another year, the page says so at ``process`` time and no date
is fitted toward either year.
"""

from __future__ import annotations

import re
from collections import Counter

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
        right = _neighbours(word, top, before=False)
        match = _YEAR.match(right[0].text) if right else None
        if match and right[0].confidence >= MIN_CONFIDENCE:
            found[int(match.group(1))] += 1
    return found.most_common(1)[0][0] if len(found) == 1 else None


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

"""Where a ledger page's column headers are, so an entry's PDF can carry them.

A ledger row alone is a line of values with no names: in the national ZIP, where each entry
is one PDF, nobody could tell the father's name from the mother's (issue 19 §1). The header
band is found from the page's stored OCR words (``Page.ocr_words``): the words of the
template's column headers (``Họ và tên``, ``Ngày sinh`` …) on the lines just above the page's
first entry. No band is found on a page without words, or without at least two header words
there: the PDF is then the row alone, as before.
"""

from __future__ import annotations

from pipeline.clean.text import folded_key
from pipeline.templates import Template
from pipeline.types import OcrWord

#: How far above the first entry a header may start, as a share of the page's height.
HEADER_SPAN = 0.15
MIN_WORDS = 2  # header words on the band: one stray "Số" from "Quyển số" is not a header


def header_words(template: Template) -> set[str]:
    """Folded words of every ledger column header of ``template`` (all printings)."""
    return {word for spec in template.specs for label in spec.labels
            for word in folded_key(label).replace("/", " ").split() if len(word) > 1 or word.isalpha()}


def header_band(words: list[OcrWord], template: Template, first_top: int,
                page_height: int) -> tuple[int, int] | None:
    """(top, bottom) in page pixels of the column headers above ``first_top``, or None.

        >>> from pipeline.templates import load_template
        >>> words = [OcrWord("Họ", 0.9, (300, 400, 340, 430)), OcrWord("tên", 0.9, (350, 400, 400, 430)),
        ...          OcrWord("Ngày", 0.9, (700, 405, 780, 432)), OcrWord("sinh", 0.9, (790, 405, 850, 432))]
        >>> header_band(words, load_template("birth_ledger"), first_top=460, page_height=3500)
        (400, 432)
    """
    known = header_words(template)
    lowest = first_top - HEADER_SPAN * page_height
    found = [w for w in words
             if w.box[3] <= first_top + 4 and w.box[1] >= lowest
             and folded_key(w.text).strip(".:,") in known]
    if len(found) < MIN_WORDS:
        return None
    # Headers may wrap onto two lines; page titles above them are further up: keep the words
    # within one header's height of the lowest header word.
    bottom = max(w.box[3] for w in found)
    tallest = max(w.box[3] - w.box[1] for w in found)
    band = [w for w in found if w.box[1] >= bottom - 3.5 * tallest]
    if len(band) < MIN_WORDS:
        return None
    return min(w.box[1] for w in band), max(w.box[3] for w in band)

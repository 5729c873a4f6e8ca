"""The page-level read that finds a page's labels: from Otsu's letters, or the thinner ones.

On a blurred page (a phone photo, heavy ageing) Otsu fattens a small bold label font into
blobs, and the thinner binarization (``PreparedPage.text_image``) reads them: a phone photo's
form page gave 10 of 28 labels from Otsu, 21 from the thin letters. On hand-written values
the thin letters lose strokes instead, and label-line geometry with them (forms under heavy
ageing read 6–8 points worse from them). Neither is better on every page, so the page is read
from Otsu first and, only when its labels are not all found, again from the thin letters,
which are kept when they show clearly more of the template's labels.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from pipeline.ocr.engine import OcrEngine
from pipeline.ocr.form import find_page_labels
from pipeline.ocr.form_entries import group_entries
from pipeline.ocr.ledger import STRONG_MATCH, find_header
from pipeline.ocr.preprocess import PreparedPage, remove_lines, remove_specks
from pipeline.ocr.regions import fit_to_ink
from pipeline.templates import Template
from pipeline.types import OcrWord

#: Share of the template's labels found (forms: per entry; ledgers: column headers) at which
#: the first read is kept without trying the other binarization.
GOOD_ENOUGH = 0.9
#: ... and how much more of it the thin letters must show to be preferred: a few labels more
#: is no proof (a tuned heavy hand-written form: 71 % of labels from Otsu, 86 % thin, and its
#: values read far worse by the thin read's label lines); a page whose labels Otsu lost is
#: (a phone photo's form: 36 % and 75 %).
THIN_GAIN = 0.2
#: ... and how much more a form's labels a sparse read (psm 11) must show over the better of
#: those (held-out phone forms: 69 % → 81 %, 75 % → 86 %; where psm 6 does well, psm 11 finds
#: far fewer: 96 % → 64 % on a clean hand-written form).
SPARSE_GAIN = 0.1
#: Share of the template's labels under which the page is tried turned by quarter turns:
#: nothing of the printing read most often means it stands on its side (a photographed
#: ledger whose grid keeps the cheap orientation test and OSD unsure) ...
TURN_BELOW = 0.3
#: ... and the share a turn must show to be taken.
TURN_MIN = 0.5


def label_coverage(words: list[OcrWord], template: Template) -> float:
    """How much of the template's printing the words show, 0–1: forms, the labels found in
    entries over the entries' full label sets; ledgers, the headers matched well."""
    if template.layout == "ledger":
        header = find_header(words, template)
        if header is None:
            return 0.0
        return sum(c.score >= STRONG_MATCH for c in header.cells) / len(template.specs)
    page = find_page_labels(words, template)
    entries, _ = group_entries([h for hits in page.hits for h in hits], template)
    if not entries:
        return 0.0
    return sum(len(e.labels) for e in entries) / (len(entries) * len(template.fields))


class PageWords(NamedTuple):
    words: list[OcrWord]
    source: str  # "otsu" or "thin", with "-sparse" when read as sparse text
    coverage: float  # ``label_coverage`` of ``words``


def read_page_words(engine: OcrEngine, clean: np.ndarray, text: np.ndarray,
                    template: Template, block: list[OcrWord] | None = None) -> PageWords:
    """The page's words, boxes fitted to their ink, how they were read and how much of the
    template's printing they show: from ``"otsu"`` (``clean``) or ``"thin"`` (``text``; the
    same array as ``clean`` when the page needs no thinner letters), as one block (psm 6) or,
    ``"-sparse"``, as sparse text. ``block``: ``clean`` read as one block already."""
    words = block if block is not None else fit_to_ink(engine.recognize(clean, psm=6), clean)
    first = label_coverage(words, template)
    best = PageWords(words, "otsu", first)
    if first >= GOOD_ENOUGH:
        return best
    if text is not clean:
        thin = fit_to_ink(engine.recognize(text, psm=6), text)
        if (thin_coverage := label_coverage(thin, template)) >= first + THIN_GAIN:
            best = PageWords(thin, "thin", thin_coverage)
    if template.layout != "form" or best.coverage >= GOOD_ENOUGH:
        return best
    # Read as one block, a form whose values reach into their labels comes out as lines
    # mixing both ("Họ NGUYÊN và mẹ:"); read as sparse text, each label is a word group of
    # its own. Ledger headers have their own sparse read (``ledger.read_header``).
    letters = text if text is not clean else clean
    sparse = fit_to_ink(engine.recognize(letters, psm=11), letters)
    if (sparse_coverage := label_coverage(sparse, template)) >= best.coverage + SPARSE_GAIN:
        source = ("thin" if letters is text else "otsu") + "-sparse"
        return PageWords(sparse, source, sparse_coverage)
    return best


def prepared_letters(page: PreparedPage) -> tuple[np.ndarray, np.ndarray]:
    """The page's letters without rules and specks: ``clean`` (Otsu) for labels and geometry,
    ``text`` (``text_letters``) for values."""
    clean = remove_specks(remove_lines(page.binary))
    return clean, text_letters(page, clean)


def text_letters(page: PreparedPage, clean: np.ndarray) -> np.ndarray:
    """The letters values are read from (``PreparedPage.text_image``, without specks): the
    same array as ``clean`` when no thinner letters are needed."""
    text = page.text_image(clean)
    return text if text is clean else remove_specks(text)


def turned_to_its_labels(engine: OcrEngine, page: PreparedPage, template: Template,
                         coverage: float
                         ) -> tuple[PreparedPage, np.ndarray, list[OcrWord]] | None:
    """The page turned by the quarter turns after which its template's labels read, when
    the page as it stands shows ``coverage`` of them, with its ``clean`` letters and their
    block read (for ``read_page_words``); None when no turn shows clearly more.

    The orientation test before reading decides on how lines and marks lie, and Tesseract
    OSD on letter shapes; a ledger photographed on its side can leave both unsure (its grid
    runs both ways), and the page then stood sideways, with no record. The template's own
    labels are the surest test there is, and cost a read only on a page that read nothing.
    """
    best, best_coverage = None, max(TURN_MIN, coverage + THIN_GAIN)
    for turns in (1, 3, 2):
        candidate = page.turned(turns)
        clean = remove_specks(remove_lines(candidate.binary))
        words = fit_to_ink(engine.recognize(clean, psm=6), clean)
        if (found := label_coverage(words, template)) >= best_coverage:
            best, best_coverage = (candidate, clean, words), found
        if best_coverage >= GOOD_ENOUGH:
            break
    return best

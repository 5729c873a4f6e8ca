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

import numpy as np

from pipeline.ocr.engine import OcrEngine
from pipeline.ocr.form import find_page_labels
from pipeline.ocr.form_entries import group_entries
from pipeline.ocr.ledger import STRONG_MATCH, find_header
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


def read_page_words(engine: OcrEngine, clean: np.ndarray, text: np.ndarray,
                    template: Template) -> tuple[list[OcrWord], str]:
    """The page's words (psm 6), boxes fitted to their ink, and which letters they were read
    from: ``"otsu"`` (``clean``) or ``"thin"`` (``text``; the same array as ``clean`` when
    the page needs no thinner letters)."""
    words = fit_to_ink(engine.recognize(clean, psm=6), clean)
    if text is clean:
        return words, "otsu"
    first = label_coverage(words, template)
    if first >= GOOD_ENOUGH:
        return words, "otsu"
    thin = fit_to_ink(engine.recognize(text, psm=6), text)
    better = label_coverage(thin, template) >= first + THIN_GAIN
    return (thin, "thin") if better else (words, "otsu")

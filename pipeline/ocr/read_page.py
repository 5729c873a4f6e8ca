"""The OCR stage's entry point: one page image and its template → words and extracted records."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from pipeline.errors import UnreadableFile
from pipeline.ocr.aster import AsterReader
from pipeline.ocr.engine import OcrEngine
from pipeline.ocr.form import extract_form
from pipeline.ocr.ledger import extract_ledger
from pipeline.ocr.page_words import (
    TURN_BELOW, prepared_letters, read_page_words, text_letters, turned_to_its_labels,
)
from pipeline.ocr.preprocess import PreparedPage, preprocess_page
from pipeline.templates import Template
from pipeline.types import ExtractedRecord, LayoutFit, OcrWord

# 2: seal ink washed out; 3: deslanted values, eng numbers; 4: one-line isolation of form
# values; 5: labels and columns found wherever the printing put them, photos flattened;
# 6: blurred values read from thinner letters, an edge column with its header unread kept
# 7: labels read from thinner letters when Otsu's miss them, word boxes fitted to their ink,
# deskew blind to the sheet's edge, page furniture (`Quyển số`, the title) never a label
# 8: values under their labels told from the ink, a form's labels read as sparse text when
# block reads miss them, a ledger header looked for sparse, a sideways photo turned
OCR_VERSION = "8"


@dataclass
class PageRead:
    """What the OCR stage found on one page; every box is in the INPUT image's pixels."""

    words: list[OcrWord]
    records: list[ExtractedRecord]
    angle: float  # degrees the page was rotated to deskew it (+ = counter-clockwise, as OpenCV)
    ocr_version: str  # OCR_VERSION + engine version(s), for provenance and re-runs
    scale: float = 1.0  # resampling applied before OCR (200 dpi pages are read at 300)
    params: dict[str, object] = field(default_factory=dict)  # settings used, stored with it
    fit: LayoutFit = field(default_factory=LayoutFit)  # how well the printing was understood


def read_page(
    image: np.ndarray, template: Template, engine: OcrEngine | None = None,
    *, dpi: float | None = None, form_mode: str = "stack", ledger_mode: str = "stack",
    deslant: bool = True, reader: AsterReader | None = None,
) -> PageRead:
    """Read one page: preprocess, OCR the page, extract the template's fields.

        >>> from pipeline.templates import load_template
        >>> read = read_page(page_rgb, load_template("birth_form"))   # doctest: +SKIP
        >>> read.records[0].fields["full_name"].raw                    # doctest: +SKIP
        'Nguyễn Văn Hùng'

    Pure: no files, no database. The page is deskewed and rescaled internally; all boxes
    (words, records, fields) are mapped back to the input image through the inverse transform,
    so a box drawn on the stored scan frames what was read (a slightly larger axis-aligned
    box when the page was skewed). ``dpi`` is estimated from the page size when not given
    (A4); pass it for partial pages. A page without recognisable entries gives no records,
    not an error: the driver decides what that means. ``reader`` is the second (neural)
    reader (``aster.shared_reader()``): with it every value crop is read twice and each
    field keeps both readings for the clean stage to choose from.
    """
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim not in (2, 3) or min(image.shape[:2]) < 32:
        raise UnreadableFile("Ảnh trang không hợp lệ (cần ảnh xám hoặc RGB 8 bit)")
    if engine is None:
        from pipeline.ocr.tesseract import TesseractEngine

        engine = TesseractEngine()
    page = preprocess_page(image, dpi=dpi)
    clean, text = prepared_letters(page)  # values are read from text; geometry from clean
    read = read_page_words(engine, clean, text, template)
    turned = None
    if read.coverage < TURN_BELOW:
        turned = turned_to_its_labels(engine, page, template, read.coverage)
        if turned is not None:
            page, clean, block = turned
            text = text_letters(page, clean)
            read = read_page_words(engine, clean, text, template, block=block)
    words, words_from = read.words, read.source
    if template.layout == "ledger":
        records, fit = extract_ledger(template, engine, clean, page.binary, mode=ledger_mode,
                                      page_words=words, deslant=deslant, reader=reader,
                                      text=text)
    else:
        records, fit = extract_form(words, template, engine, clean, page.binary,
                                    mode=form_mode, deslant=deslant, reader=reader, text=text)
    version = f"{OCR_VERSION}/{engine.version}"
    numbers = engine.for_numbers()
    if numbers is not engine:
        version += f";numbers={numbers.version}"
    if reader is not None:
        version += f";second={reader.version}"
    return PageRead(
        words=[_word_to_input(page, w) for w in words],
        records=[_record_to_input(page, r) for r in records],
        angle=page.angle,
        ocr_version=version,
        scale=page.scale,
        params={"page_psm": 6, "remove_lines": True, "remove_stamps": True,
                "page_words_from": words_from,
                "layout": template.layout,
                "form_mode": form_mode, "ledger_mode": ledger_mode, "dpi": dpi,
                "deslant": deslant, "second_reader": reader.name if reader else None,
                "numbers_lang": getattr(numbers, "lang", None),
                "scale": round(page.scale, 4), "quarter_turns": page.turns,
                "turned_by_labels": turned is not None,
                "page_found": page.corners is not None, "curl_undone": page.curl is not None},
        fit=fit,
    )


def _word_to_input(page: PreparedPage, word: OcrWord) -> OcrWord:
    return replace(word, box=page.to_input(word.box))


def _record_to_input(page: PreparedPage, record: ExtractedRecord) -> ExtractedRecord:
    fields = {
        name: replace(value, box=page.to_input(value.box) if value.box else None)
        for name, value in record.fields.items()
    }
    return ExtractedRecord(row=record.row, fields=fields,
                           box=page.to_input(record.box) if record.box else None)

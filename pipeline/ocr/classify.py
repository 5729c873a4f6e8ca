"""`--template auto`: which template a book needs, from its first page.

The book type comes from the printed title (`SỔ ĐĂNG KÝ KHAI SINH / KẾT HÔN / KHAI TỬ`), read
in the top part of the page and compared on diacritic-free text, because faded titles lose
their marks first. The layout comes from the presence of a ruled grid: registers with a table
are ledgers, the others forms. Both candidates are data (data/templates), so a new template
with a new title is recognised without code.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from rapidfuzz import fuzz

from pipeline.clean import folded_key
from pipeline.errors import BadInput
from pipeline.ocr.engine import OcrEngine
from pipeline.ocr.ledger import find_grid
from pipeline.ocr.preprocess import preprocess_page
from pipeline.templates import Template, available_templates, load_template

HEADER_SHARE = 0.2  # the title sits in the top fifth of every register page we know
MIN_TITLE_SCORE = 80.0
MIN_MARGIN = 4.0  # KHAI SINH and KHAI TỬ differ by a few letters only


@dataclass(frozen=True)
class Detection:
    template: str
    layout: str
    title_score: float
    header_text: str


def detect_template(image: np.ndarray, engine: OcrEngine | None = None, *,
                    dpi: float | None = None, templates: list[Template] | None = None) -> Detection:
    """The template of the page, or ``BadInput`` saying the user must name it.

    >>> detect_template(page_image).template  # doctest: +SKIP
    'death_ledger'
    """
    if engine is None:
        from pipeline.ocr.tesseract import TesseractEngine

        engine = TesseractEngine()
    templates = templates or [load_template(name) for name in available_templates()]
    page = preprocess_page(image, dpi=dpi)
    layout = "ledger" if find_grid(page.binary) is not None else "form"
    header = page.binary[: int(page.binary.shape[0] * HEADER_SHARE)]
    words = engine.recognize(header, psm=6)
    header_text = " ".join(w.text for w in words)
    folded = folded_key(header_text)
    scored = sorted(
        ((fuzz.partial_ratio(folded_key(t.title), folded), t) for t in templates if t.layout == layout),
        key=lambda pair: -pair[0],
    )
    names = ", ".join(available_templates())
    if not scored or scored[0][0] < MIN_TITLE_SCORE:
        raise BadInput("Không nhận ra loại sổ từ tiêu đề trang đầu",
                       hint=f"hãy chỉ rõ --template (một trong: {names})")
    best_score, best = scored[0]
    rival = next((score for score, t in scored[1:] if t.book_type != best.book_type), 0.0)
    if best_score - rival < MIN_MARGIN:
        raise BadInput("Tiêu đề trang đầu không đủ rõ để biết loại sổ",
                       hint=f"hãy chỉ rõ --template (một trong: {names})")
    return Detection(best.name, layout, best_score, header_text)

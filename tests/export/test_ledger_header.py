"""A ledger row's PDF carries the column headers above it (issue 19 §1)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from pipeline.export.entry_pdf import entry_image
from pipeline.export.ledger_header import header_band
from pipeline.templates import load_template
from pipeline.types import OcrWord


def _page():
    """A 300 dpi page: a title, a header band at y 400–432 (dark), a row at 470–530 (grey)."""
    rgb = np.full((3508, 2480, 3), 255, np.uint8)
    rgb[200:240, 900:1500] = 60  # "SỔ ĐĂNG KÝ KHAI SINH", far above
    rgb[400:432, 100:2300] = 0
    rgb[470:530, 100:2300] = 128
    words = [OcrWord("SỔ", 0.9, (900, 200, 960, 240)), OcrWord("Số", 0.9, (110, 400, 160, 432)),
             OcrWord("Họ", 0.9, (300, 400, 340, 432)), OcrWord("và", 0.9, (350, 400, 390, 432)),
             OcrWord("tên", 0.9, (400, 400, 450, 432)), OcrWord("Ngày", 0.9, (700, 402, 780, 432)),
             OcrWord("sinh", 0.9, (790, 402, 850, 432)), OcrWord("Nguyễn", 0.9, (300, 480, 420, 520))]
    return rgb, words, SimpleNamespace(width=2480, height=3508, dpi=300)


def test_the_header_band_is_found_above_the_first_row():
    rgb, words, page = _page()
    assert header_band(words, load_template("birth_ledger"), 470, page.height) == (400, 432)
    assert header_band(words[:2], load_template("birth_ledger"), 470, page.height) is None


def test_a_row_pdf_image_has_the_headers_on_top():
    rgb, words, page = _page()
    box = (100, 470, 2300, 530)
    alone = entry_image(rgb, page, box)
    with_header = entry_image(rgb, page, box, (400, 432))
    assert with_header.width == alone.width and with_header.height > alone.height + 10
    top = np.asarray(with_header.convert("L"))[: with_header.height - alone.height]
    assert (top < 40).any()  # the header's ink, above the row
    rest = np.asarray(with_header.convert("L"))[with_header.height - alone.height:]
    assert np.array_equal(rest, np.asarray(alone.convert("L")))  # the row, unchanged

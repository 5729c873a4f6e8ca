"""Fixtures for the OCR tests: a tiny hand-drawn form page, and generated pages with truth."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from pipeline.ocr.tesseract import check_tesseract

SERIF = "/usr/share/fonts/truetype/liberation2/LiberationSerif-Regular.ttf"
MONO = "/usr/share/fonts/truetype/freefont/FreeMono.ttf"

SMALL_ENTRY = {
    "registration_no": "27", "full_name": "Nguyễn Văn Hùng", "sex": "Nam",
    "birth_date": "12/3/1968", "birth_place": "Xã Nam Hưng, huyện Nam Đàn",
    "ethnicity": "Kinh", "nationality": "Việt Nam", "father_name": "Nguyễn Văn Thành",
    "father_age": "34", "mother_name": "Trần Thị Lan", "mother_age": "30",
    "residence": "Xóm 3, xã Nam Hưng", "declarant": "Nguyễn Văn Thành",
    "registration_date": "20/3/1968",
}


def nfc(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).split())


def draw_form_page(entry: dict[str, str] = SMALL_ENTRY, width: int = 2000, height: int = 1100) -> np.ndarray:
    """One form entry with dotted leaders, typewriter values — a development image, not a book."""
    from pipeline.samplegen.printing import classic_printing

    printing = classic_printing("birth_form")
    img = Image.new("L", (width, height), 245)
    draw = ImageDraw.Draw(img)
    label_font = ImageFont.truetype(SERIF, 40)
    value_font = ImageFont.truetype(MONO, 40)
    y = 80
    for line in printing.lines:
        segment = (width - 200) // len(line)
        for i, label in enumerate(line):
            x = 100 + i * segment
            draw.text((x, y), label.label, font=label_font, fill=20)
            start = x + draw.textlength(label.label, font=label_font) + 12
            for dot in range(int(start), 100 + (i + 1) * segment - 30, 14):
                draw.ellipse((dot, y + 38, dot + 3, y + 41), fill=70)
            draw.text((start + 20, y - 2), entry.get(label.field, ""), font=value_font, fill=10)
        y += 90
    return np.array(img)


@pytest.fixture(scope="session")
def tesseract():
    # No skip: Tesseract with `vie` is installed by scripts/install.sh, so its absence is a
    # broken set-up that must fail the suite (with the install hint in the error).
    check_tesseract()
    from pipeline.ocr.tesseract import TesseractEngine

    return TesseractEngine()


def _generate(tmp_path_factory, template: str, seed: int, degradation: str = "clean"):
    from pipeline import samplegen

    out = tmp_path_factory.mktemp(template)
    spec = samplegen.BookSpec(seed=seed, template=template, pages=1, degradation=degradation,
                              face="typewriter")
    truth = samplegen.generate_book(spec, out)
    image = np.array(Image.open(out / "pages" / "page-001.png").convert("RGB"))
    return image, truth


@pytest.fixture(scope="session")
def form_page(tmp_path_factory):
    """A generated clean typewriter form page and its truth."""
    return _generate(tmp_path_factory, "birth_form", seed=1)


@pytest.fixture(scope="session")
def ledger_page(tmp_path_factory):
    """A generated clean typewriter ledger page and its truth."""
    return _generate(tmp_path_factory, "birth_ledger", seed=1)


@pytest.fixture(scope="session")
def moderate_form_page(tmp_path_factory):
    """A generated moderate (yellowed, slightly skewed, faded) typewriter form page."""
    return _generate(tmp_path_factory, "birth_form", seed=2, degradation="moderate")


DATA = Path(__file__).parent / "data"

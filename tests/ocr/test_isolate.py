"""One-line value crops: the value's own writing kept, neighbours' shards and stains dropped."""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from pipeline.ocr.form import split_missed_labels
from pipeline.ocr.preprocess import isolate_text_line
from pipeline.ocr.regions import read_regions
from pipeline.types import OcrWord

from .conftest import MONO, nfc

VALUE = "Nguyễn Thị Lành"


def _value_crop(noise: bool) -> np.ndarray:
    """A value line as the form extractor cuts it: 40 px typewriter text, and with ``noise``
    the cut-off foot of the line above, the top of the line below and a stain rim."""
    img = Image.new("L", (900, 110), 255)
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype(MONO, 40)
    draw.text((12, 32), VALUE, font=font, fill=0)
    if noise:
        draw.text((20, -34), "Xóm 10, xã Hưng Thịnh", font=font, fill=0)  # line above
        draw.text((30, 94), "Lưu Thị Lành (mẹ)", font=font, fill=0)  # line below
        draw.arc((640, 5, 860, 225), 180, 300, fill=0, width=3)  # a stain's rim
        rng = np.random.default_rng(0)
        for x, y in rng.integers((500, 0), (900, 110), size=(40, 2)):
            draw.ellipse((x, y, x + 3, y + 3), fill=0)  # specks
    return np.array(img)


def test_isolation_keeps_exactly_the_value_writing():
    clean, noisy = _value_crop(False), _value_crop(True)
    isolated = isolate_text_line(noisy)
    # every pixel of the value survives (its accents included) ...
    value_ink = clean < 128
    assert (isolated[value_ink] < 128).mean() > 0.99
    # ... and nearly nothing else does
    extra = (isolated < 128) & ~cv2.dilate(value_ink.astype(np.uint8), np.ones((3, 3))).astype(bool)
    assert extra.sum() < 0.02 * value_ink.sum()


def test_isolated_crop_reads_as_the_value(tesseract):
    noisy = _value_crop(True)
    raw = read_regions(tesseract, noisy, [(0, 0, noisy.shape[1], noisy.shape[0])])[0]
    isolated = read_regions(tesseract, noisy, [(0, 0, noisy.shape[1], noisy.shape[0])],
                            isolate=True)[0]
    text = nfc(" ".join(w.text for w in sorted(isolated, key=lambda w: w.box[0])))
    assert text == VALUE
    assert nfc(" ".join(w.text for w in raw)) != VALUE  # the noise does fool the engine


def test_empty_and_speck_only_crops_come_back_white():
    assert (isolate_text_line(np.full((60, 200), 255, np.uint8)) == 255).all()
    specks = np.full((60, 200), 255, np.uint8)
    specks[10:12, 10:12] = 0
    specks[40:42, 150:152] = 0
    assert (isolate_text_line(specks) == 255).all()


def _words(*texts: str) -> list[OcrWord]:
    return [OcrWord(t, 0.9, (100 * i, 0, 100 * i + 80, 40), 0) for i, t in enumerate(texts)]


def test_a_label_the_page_read_missed_is_found_inside_the_value():
    tuoi = [("mother_age", "Tuổi:")]
    own, found = split_missed_labels(_words("Nguyễn", "Thanh", "Huyền", "Tuổi:", "38"), tuoi)
    assert [w.text for w in own] == ["Nguyễn", "Thanh", "Huyền"]
    assert [(name, [w.text for w in ws]) for name, ws in found] == [("mother_age", ["38"])]
    # no label inside (a given name close to it is no label): the words are the value's own
    own, found = split_missed_labels(_words("Trần", "Thị", "Tươi"), tuoi)
    assert found == [] and [w.text for w in own] == ["Trần", "Thị", "Tươi"]

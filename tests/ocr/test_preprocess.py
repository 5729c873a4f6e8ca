"""Page cleaning: deskew, resolution, leader/rule removal, and the way back to input pixels."""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image

from pipeline.ocr.preprocess import estimate_skew, preprocess_page, remove_lines

from .conftest import draw_form_page


def _a4_page() -> np.ndarray:
    page = np.full((3508, 2480), 245, np.uint8)
    form = draw_form_page(width=2200, height=1100)
    page[300:1400, 140:2340] = form
    page[1700:2800, 140:2340] = form
    return page


def test_deskews_a_page_rotated_by_3_degrees():
    rotated = np.array(Image.fromarray(_a4_page()).rotate(3, resample=Image.BICUBIC, fillcolor=245))
    page = preprocess_page(rotated)
    assert abs(page.angle - (-3.0)) <= 0.5
    assert abs(estimate_skew(page.binary)) <= 0.5


def test_straight_page_is_left_alone():
    page = preprocess_page(_a4_page())
    assert page.angle == 0.0 and page.scale == 1.0
    assert page.gray.shape == (3508, 2480)


def test_200_dpi_page_is_read_at_300_and_boxes_come_back():
    small = cv2.resize(_a4_page(), (1654, 2339), interpolation=cv2.INTER_AREA)
    page = preprocess_page(small)
    assert abs(page.scale - 1.5) < 0.01
    assert abs(page.to_input((300, 600, 900, 1200))[0] - 200) <= 1
    assert abs(page.to_input((300, 600, 900, 1200))[3] - 800) <= 1


def test_boxes_map_back_through_the_deskew():
    rotated = np.array(Image.fromarray(_a4_page()).rotate(2, resample=Image.BICUBIC, fillcolor=245))
    page = preprocess_page(rotated)
    box = (1000, 1500, 1100, 1600)
    corners = np.array([[1000, 1500, 1], [1100, 1600, 1]], float) @ page.matrix.T
    there = (int(corners[0, 0]), int(corners[0, 1]), int(corners[1, 0]), int(corners[1, 1]))
    back = page.to_input(there)
    # an axis-aligned box around the rotated square: contains it, not much larger
    assert back[0] <= box[0] + 1 and back[1] <= box[1] + 1 and back[2] >= box[2] - 1 and back[3] >= box[3] - 1
    assert (back[2] - back[0]) < 120 and (back[3] - back[1]) < 120


def test_remove_lines_erases_leader_dots_but_keeps_text():
    page = preprocess_page(_a4_page())
    clean = remove_lines(page.binary)
    # far right of the 'Họ và tên cha' line on the first entry: leader dots only
    dots = (1500, 300 + 450 + 30, 1700, 300 + 450 + 50)
    ink = lambda img, b: int(np.count_nonzero(img[b[1]:b[3], b[0]:b[2]] < 128))  # noqa: E731
    assert ink(page.binary, dots) > 20
    assert ink(clean, dots) == 0
    label = (240, 300 + 80, 420, 300 + 130)  # 'Số:'
    assert ink(clean, label) > 0.8 * ink(page.binary, label)


def test_crisp_pages_are_read_from_otsu_and_blurred_ones_from_thinner_letters():
    """The thinner binarization is only made where Otsu fattens letters: a crisp scan reads
    from exactly the image it always did; a blurred faint one loses the halo (fewer ink
    pixels), keeps its letters (about as many pieces of ink), and its lines stay removed."""
    crisp = preprocess_page(draw_form_page())
    clean = remove_lines(crisp.binary)
    assert crisp.text_image(clean) is clean

    page = draw_form_page()
    faint = cv2.GaussianBlur(255 - (255 - page) // 2, (0, 0), 3)  # ink at half, 3 px of blur
    blurred = preprocess_page(faint)
    clean = remove_lines(blurred.binary)
    text = blurred.text_image(clean)
    assert text is not clean
    assert np.count_nonzero(text == 0) < 0.85 * np.count_nonzero(clean == 0)
    pieces = cv2.connectedComponents((text == 0).astype(np.uint8))[0]
    before = cv2.connectedComponents((clean == 0).astype(np.uint8))[0]
    assert abs(pieces - before) <= 0.2 * before  # measured +14 %: a few hairlines break
    assert not np.any((text == 0) & (clean == 255) & (blurred.binary == 0))  # lines stay out


def test_the_sheet_edge_does_not_outvote_a_table_printed_crooked():
    """A photographed sheet is flattened so that its edge lies level; the table printed (or
    copied) 2.5° crooked on it must still be straightened. The edge's dark rim touches the
    image border and is the longest straight stroke on the page: left to vote, it kept the
    deskew at 0° and every row of a held-out photographed ledger ran into the next."""
    crooked = np.array(Image.fromarray(_a4_page()).rotate(2.5, resample=Image.BICUBIC,
                                                          fillcolor=245))
    crooked[:14, :] = 20  # the sheet's edge and its shadow along the top of the photo
    crooked[-10:, :] = 30
    binary = cv2.threshold(crooked, 128, 255, cv2.THRESH_BINARY)[1]
    assert abs(estimate_skew(binary) - (-2.5)) <= 0.3


def test_lone_specks_go_and_the_dots_of_letters_stay():
    """Grain of an aged page binarizes into specks that Tesseract reads as '.' and '¬' and
    glues to words; a diacritic's dot (the dot under `ị`) stands close to its letter."""
    from pipeline.ocr.preprocess import remove_specks

    binary = np.full((300, 400), 255, np.uint8)
    binary[100:140, 100:108] = 0  # the stem of an `ị`
    binary[146:149, 102:105] = 0  # its dot, 6 px below
    binary[20:22, 300:302] = 0  # grain far from any letter
    binary[250:253, 50:53] = 0
    out = remove_specks(binary, min_specks=1)
    assert (out[146:149, 102:105] == 0).all() and (out[100:140, 100:108] == 0).all()
    assert (out[20:22, 300:302] == 255).all() and (out[250:253, 50:53] == 255).all()
    clean = np.full((300, 400), 255, np.uint8)
    assert remove_specks(clean) is clean  # nothing to do costs no copy
    # two specks are no grain: a crisp page is left exactly as it was
    assert remove_specks(binary) is binary

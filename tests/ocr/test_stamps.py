"""Red seals over the writing: washed out before OCR, leaving print and pen ink readable."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from rapidfuzz.distance import Levenshtein

from pipeline.ocr import read_page
from pipeline.ocr.preprocess import preprocess_page, remove_stamp_ink
from pipeline.samplegen import BookSpec, generate_book
from pipeline.samplegen.book import HAND_INKS
from pipeline.samplegen.degrade import degrade_page
from pipeline.templates import load_template

from .conftest import draw_form_page, nfc


@pytest.fixture(scope="module")
def unstamped_twin(tmp_path_factory, moderate_form_page):
    """The conftest's moderate page (seed 2) generated again without its seals."""
    _, truth = moderate_form_page
    spec = BookSpec(**{**truth.generator["spec"], "stamps": False})
    out = tmp_path_factory.mktemp("unstamped")
    twin = generate_book(spec, out)
    return np.array(Image.open(out / "pages" / "page-001.png").convert("RGB")), twin


def _stamps(truth) -> list[dict]:
    stamps = truth.generator["degradation"][0].get("stamps", [])
    assert stamps, "seed 2's moderate form page is expected to carry seals"
    return stamps


def _ring(page, stamp) -> np.ndarray:
    """The band of the seal's outer ring and lettering, on the prepared page."""
    x, y, z = page.matrix @ np.array([*stamp["center"], 1.0])  # a 3x3 homography
    cx, cy = x / z, y / z
    r = stamp["radius"] * page.scale
    h, w = page.binary.shape
    yy, xx = np.ogrid[:h, :w]
    dist = np.hypot(xx - cx, yy - cy)
    return (dist > 0.62 * r) & (dist < 1.06 * r)


def test_seal_ring_is_gone_from_the_binary_page(moderate_form_page, unstamped_twin):
    image, truth = moderate_form_page
    twin, _ = unstamped_twin
    washed, kept = preprocess_page(image), preprocess_page(image, stamps=False)
    without = preprocess_page(twin)
    for stamp in _stamps(truth):
        ring = _ring(washed, stamp)
        dark = lambda page: int(np.count_nonzero(page.binary[ring] < 128))  # noqa: E731
        # the band also holds dots and writing: compare with the same page never stamped
        assert dark(kept) > dark(without) + 0.1 * ring.sum(), "the seal should be visible at all"
        assert dark(washed) <= dark(without) * 1.05 + 0.005 * ring.sum(), stamp


def test_fields_under_the_seal_read_as_without_it(moderate_form_page, unstamped_twin, tesseract):
    image, truth = moderate_form_page
    twin, _ = unstamped_twin
    template = load_template("birth_form")
    stamped = {r.row: r for r in read_page(image, template, tesseract).records}
    clean = {r.row: r for r in read_page(twin, template, tesseract).records}
    covered = 0
    for stamp in _stamps(truth):
        (cx, cy), r = stamp["center"], stamp["radius"]
        rec = next(t for t in truth.records if t.row == stamp["row"])
        for name, field in rec.fields.items():
            if field.box is None:
                continue
            x0, y0, x1, y1 = field.box
            nx, ny = min(max(cx, x0), x1), min(max(cy, y0), y1)  # nearest point of the box
            if np.hypot(nx - cx, ny - cy) > r:
                continue
            covered += 1
            got, want = stamped[stamp["row"]].fields[name], clean[stamp["row"]].fields[name]
            # Tesseract is not pixel-stable: a faint trace of the seal may flip a tone mark, so
            # a read that differs must be no further from the truth ("(mẹ)" for "(me)" was).
            errors = Levenshtein.distance(nfc(got.raw), nfc(field.text))
            errors_before = Levenshtein.distance(nfc(want.raw), nfc(field.text))
            assert got.raw == want.raw or errors <= errors_before, (stamp["row"], name)
    assert covered >= 3  # the registration date and declarant lines at least, per the generator


def test_gray_page_is_left_unchanged(moderate_form_page):
    image, _ = moderate_form_page  # it has seals, but a gray scan carries no colour to find them
    gray = np.array(Image.fromarray(image).convert("L"))
    assert remove_stamp_ink(gray) is gray
    rgb_gray = np.repeat(gray[:, :, None], 3, axis=2)
    assert remove_stamp_ink(rgb_gray) is rgb_gray
    np.testing.assert_array_equal(preprocess_page(gray).binary,
                                  preprocess_page(gray, stamps=False).binary)


@pytest.mark.parametrize("ink", HAND_INKS + ((40, 30, 60),), ids=lambda ink: "ink-%d-%d-%d" % ink)
def test_blue_and_purple_ink_without_seal_is_left_unchanged(ink):
    # The generator's pen inks (blue, purple, near-black) and its violet typewriter ribbon, on
    # a moderately aged page.
    gray = draw_form_page()
    alpha = (245 - gray.astype(np.float32)) / 245
    white = np.full(gray.shape + (3,), 255, np.float32)
    page = white - alpha[:, :, None] * (white - np.array(ink, np.float32))
    page = Image.fromarray(np.clip(page + 0.5, 0, 255).astype(np.uint8))
    aged = np.array(degrade_page(page, "moderate", np.random.default_rng(4)).image)
    assert remove_stamp_ink(aged) is aged


def test_stamp_over_ink_stays_dark_and_bare_stamp_becomes_paper():
    page = np.full((600, 800, 3), (236, 226, 196), np.uint8)  # yellowed paper
    page[200:230, 100:700] = (22, 38, 120)  # a blue pen stroke
    page[300:330, 100:700] = (30, 30, 34)  # a black printed rule
    red = np.zeros((600, 800), bool)
    red[150:450, 380:420] = True  # a band of stamp ink across both
    absorb = 1 - np.array((200, 32, 42), np.float32) / 255
    page[red] = (page[red] * (1 - 0.9 * absorb)).astype(np.uint8)
    out = remove_stamp_ink(page)
    bare = out[150:190, 380:420].reshape(-1, 3).astype(int)
    assert np.abs(bare - (236, 226, 196)).max() <= 12  # paper again
    assert out[200:230, 385:415].max() <= 40  # blue under the stamp: still dark
    assert out[300:330, 385:415].max() <= 40  # black under the stamp: still dark
    np.testing.assert_array_equal(out[:, :300], page[:, :300])  # nothing else touched

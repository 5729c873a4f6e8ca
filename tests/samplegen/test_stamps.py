"""Generated seals: on some aged pages only, red, over the last values, changing no truth."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pipeline.samplegen import BookSpec, generate_book
from pipeline.samplegen.stamp import seal_text


def _pages(d: Path) -> list[np.ndarray]:
    return [np.array(Image.open(p).convert("RGB")).astype(int)
            for p in sorted((d / "pages").glob("page-*.png"))]


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """A moderate form book with seals, and the same book without (seed 2: both pages sealed)."""
    root = tmp_path_factory.mktemp("stamps")
    spec = BookSpec(seed=2, template="birth_form", pages=2, degradation="moderate")
    with_ = generate_book(spec, root / "with")
    without = generate_book(BookSpec(**{**spec.__dict__, "stamps": False}), root / "without")
    return (with_, root / "with"), (without, root / "without")


def test_seals_change_no_truth(pair):
    (with_, _), (without, _) = pair
    assert with_.records == without.records
    assert with_.generator["spec"]["stamps"] is True
    assert without.generator["spec"]["stamps"] is False
    assert all("stamps" not in p for p in without.generator["degradation"])


def test_seals_are_red_rings_over_the_last_values_and_nothing_else_moves(pair):
    (with_, dw), (_, dwo) = pair
    template_fields = ("declarant", "registration_date")
    for page_no, (a, b) in enumerate(zip(_pages(dw), _pages(dwo)), start=1):
        stamps = with_.generator["degradation"][page_no - 1].get("stamps", [])
        assert stamps
        h, w = a.shape[:2]
        yy, xx = np.ogrid[:h, :w]
        near = np.zeros((h, w), bool)
        for s in stamps:
            (cx, cy), r = s["center"], s["radius"]
            dist = np.hypot(xx - cx, yy - cy)
            near |= dist < r + 24  # blur and JPEG blocks spread a little
            ring = (dist > 0.95 * r) & (dist < r)
            red = a[ring].mean(axis=0) - b[ring].mean(axis=0)  # what the seal did to the ring
            assert red[1] < -40 and red[0] > red[1] + 30, red  # green absorbed, red passed
            rec = next(t for t in with_.records if t.page == page_no and t.row == s["row"])
            boxes = [rec.fields[f].box for f in template_fields if rec.fields[f].box]
            assert any(x0 - r < cx < x1 + r and y0 - r < cy < y1 + r for x0, y0, x1, y1 in boxes)
        diff = np.abs(a - b).max(axis=2) > 0
        assert diff.any() and not (diff & ~near).any()


def test_clean_pages_never_have_seals(tmp_path):
    spec = BookSpec(seed=2, template="birth_ledger", pages=2)
    a = generate_book(spec, tmp_path / "a")
    generate_book(BookSpec(**{**spec.__dict__, "stamps": False}), tmp_path / "b")
    assert a.generator["degradation"] == [{}, {}]
    for rel in ("pages/page-001.png", "pages/page-002.png", "book.pdf"):
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes()


def test_heavy_ledger_seal_keeps_its_colour(tmp_path):
    truth = generate_book(BookSpec(seed=7, template="birth_ledger", pages=1, degradation="heavy"),
                          tmp_path)
    (s,) = truth.generator["degradation"][0]["stamps"][:1]
    page = _pages(tmp_path)[0]
    (cx, cy), r = s["center"], s["radius"]
    h, w = page.shape[:2]
    yy, xx = np.ogrid[:h, :w]
    ring = (np.hypot(xx - cx, yy - cy) > 0.95 * r) & (np.hypot(xx - cx, yy - cy) < r)
    rgb = page[ring]
    reddest = rgb[np.argsort(rgb[:, 1] - rgb[:, 0])[: len(rgb) // 5]].mean(axis=0)
    assert reddest[0] - reddest[1] > 20  # yellowed and faded, still a red seal


def test_seal_names_the_committee_of_its_time():
    book = {"year": 1968, "commune": "Diễn Hồng", "district": "Diễn Châu"}
    assert seal_text(book) == "UỶ BAN HÀNH CHÍNH XÃ DIỄN HỒNG * HUYỆN DIỄN CHÂU *"
    assert seal_text({**book, "year": 1985}).startswith("UỶ BAN NHÂN DÂN XÃ DIỄN HỒNG")

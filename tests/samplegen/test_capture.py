"""Captured pages: a phone photo turns, tilts and curls the page, and truth boxes follow the ink."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from pipeline.errors import BadInput
from pipeline.samplegen import BookSpec, generate_book
from pipeline.samplegen.capture import capture_page, parse_capture

W, H = 700, 990  # a small A4 page: photos of it take a fraction of a second
#: Solid squares, as fractions of the page: some in the middle, some in either curl band.
SPOTS = [(0.5, 0.5), (0.2, 0.15), (0.8, 0.85), (0.06, 0.5), (0.93, 0.3), (0.93, 0.9),
         (0.06, 0.1)]
SIDE = 24


def _page() -> tuple[Image.Image, list[tuple[int, int, int, int]]]:
    img = Image.new("RGB", (W, H), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    boxes = []
    for fx, fy in SPOTS:
        x, y = int(fx * W), int(fy * H)
        box = (x, y, x + SIDE, y + SIDE)
        draw.rectangle((box[0], box[1], box[2] - 1, box[3] - 1), fill=(0, 0, 0))
        boxes.append(box)
    return img, boxes


def _dark(arr: np.ndarray, box) -> float:
    x0, y0, x1, y1 = box
    return float((arr[y0:y1, x0:x1] < 110).mean())


@pytest.mark.parametrize("seed", range(6))
def test_phone_boxes_frame_their_ink(seed):
    page, boxes = _page()
    img, mapper, params = capture_page(page, "phone", np.random.default_rng(seed), boxes)
    arr = np.asarray(img.convert("L"))
    ch, cw = arr.shape
    assert params["kind"] == "phone" and params["canvas"] == [cw, ch]
    assert abs(params["rotation_deg"]) <= 15 and params["quarter_turns"] in (0, 1, 2, 3)
    assert np.array(params["homography"]).shape == (3, 3)
    for x, y in params["page_corners"]:
        assert 0 <= x <= cw and 0 <= y <= ch
    for box in boxes:
        x0, y0, x1, y1 = mapper.box(box)
        assert _dark(arr, (x0, y0, x1, y1)) > 0.45, (seed, box)
        # Nothing of the square spills outside its box: a ring around it is paper.
        ring = np.concatenate([arr[y0 - 8:y0 - 3, x0:x1].ravel(), arr[y1 + 3:y1 + 8, x0:x1].ravel(),
                               arr[y0:y1, x0 - 8:x0 - 3].ravel(), arr[y0:y1, x1 + 3:x1 + 8].ravel()])
        assert (ring < 110).mean() < 0.05, (seed, box)


def test_curl_is_not_a_homography():
    """Boxes in the curl band move off the flat part's homography: the mapper knows the curl."""
    page, boxes = _page()
    for seed in range(20):
        _, mapper, params = capture_page(page, "phone", np.random.default_rng(seed), boxes)
        hom = np.array(params["homography"])
        moved = []
        for box in boxes:
            cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
            flat = hom @ np.array([cx, cy, 1.0])
            moved.append(np.hypot(*(mapper([[cx, cy]])[0] - flat[:2] / flat[2])))
        assert moved[0] < 0.5  # the middle of the page is flat
        if max(moved) > 3:
            return
    raise AssertionError("no curl moved a box near the gutter")


def test_flatbed_is_the_ageing_alone():
    page, boxes = _page()
    img, mapper, params = capture_page(page, "flatbed", np.random.default_rng(1), boxes,
                                       level="moderate")
    assert img.size == (W, H) and params["kind"] == "flatbed"
    assert "skew_deg" in params["ageing"]
    assert mapper.box(boxes[0]) is not None


def test_capture_spec_is_checked():
    assert parse_capture("flatbed", "heavy") == ("flatbed", 200)
    assert parse_capture("flatbed:400", "clean") == ("flatbed", 400)
    assert parse_capture("phone", "moderate") == ("phone", 300)
    for bad in ("scanner", "flatbed:100", "phone:300"):
        with pytest.raises(BadInput):
            parse_capture(bad, "clean")


def test_photographed_book_keeps_its_truth(tmp_path):
    spec = BookSpec(seed=6, template="birth_ledger", pages=1, printing="random:1",
                    capture="phone", degradation="moderate")
    truth = generate_book(spec, tmp_path)
    page = truth.pages[0]
    arr = np.asarray(Image.open(tmp_path / page["image"]).convert("L"))
    assert arr.shape == (page["height"], page["width"])
    cap = truth.generator["capture"][0]
    assert cap["kind"] == "phone" and "curl" in cap and 100 < page["dpi"] < 300
    inked = 0
    boxes = [f.box for r in truth.records for f in r.fields.values() if f.box]
    assert len(boxes) >= 8 * 6
    for x0, y0, x1, y1 in boxes:
        assert 0 <= x0 < x1 <= page["width"] and 0 <= y0 < y1 <= page["height"]
        cell = arr[y0:y1, x0:x1].astype(float)
        inked += cell.min() < np.median(cell) - 60  # ink darker than the paper around it
    assert inked >= 0.95 * len(boxes)


def test_sideways_and_upside_down_photos_keep_their_boxes():
    """Now and then the phone was held sideways (90°) or upside down: the homography says so."""
    page, boxes = _page()
    turned = set()
    for seed in range(200):
        rng = np.random.default_rng(seed)
        img, mapper, params = capture_page(page, "phone", rng, boxes)
        if params["quarter_turns"] == 0 or params["quarter_turns"] in turned:
            continue
        turned.add(params["quarter_turns"])
        arr = np.asarray(img.convert("L"))
        for box in boxes:
            assert _dark(arr, mapper.box(box)) > 0.45, (seed, params["quarter_turns"], box)
        if len(turned) == 3:
            break
    assert turned == {1, 2, 3}

"""Record-screen crops are cut down to the written value (issue 19 §1): a full-width field's
box runs to the margin while its value may fill a third of it; the leader dots after it are
no reason to make a reviewer scroll."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from pipeline.review.crops import trim_to_writing
from pipeline.samplegen.fonts import HAND_FONTS, LABEL_FONT, load_font

BOX = 60  # the field's box height in the crop's pixels


def _field(value: str, font: str, width: int = 1800, ruled: bool = False) -> tuple[Image.Image, int]:
    """A field crop as the page shows it: the label's end, the value, leader dots to the
    margin (or a ruled line); returns it and the value's right edge."""
    image = Image.new("RGB", (width, BOX + 28), "white")
    draw = ImageDraw.Draw(image)
    draw.text((10, 14 + BOX - 12), "sinh:", font=load_font(LABEL_FONT, 34), fill=(20, 20, 20),
              anchor="ls")
    draw.text((130, 14 + BOX - 12), value, font=load_font(font, 40), fill=(30, 30, 120),
              anchor="ls")
    end = round(130 + draw.textlength(value, font=load_font(font, 40)))
    y = 14 + BOX - 8
    if ruled:
        draw.line((110, y, width - 10, y), fill=(60, 60, 60), width=2)
    else:
        for x in range(110, width - 10, 9):
            draw.ellipse((x, y - 1, x + 3, y + 2), fill=(40, 40, 40))
    return image, end


@pytest.mark.parametrize("font", [LABEL_FONT, HAND_FONTS[0]])
@pytest.mark.parametrize("ruled", [False, True])
def test_the_crop_ends_just_after_the_value_not_at_the_margin(font, ruled):
    image, end = _field("Xóm 3, xã Hưng Dũng", font, ruled=ruled)
    trimmed = trim_to_writing(image, BOX)
    assert end <= trimmed.width <= end + 2 * BOX  # the end of the value and a little paper
    assert trimmed.width < 0.6 * image.width
    # nothing written is lost: the value's ink is all inside the trimmed crop
    ink = np.asarray(image.convert("L"))[:, :end] < 128
    kept = np.asarray(trimmed.convert("L"))[:, :end] < 128
    assert (ink == kept).all()


def test_a_value_that_fills_its_box_is_shown_whole():
    image, end = _field("Bệnh viện huyện Hưng Nguyên, tỉnh Nghệ Tĩnh", LABEL_FONT, width=1100)
    assert end > 0.85 * image.width - BOX
    assert trim_to_writing(image, BOX).size == image.size


def test_a_blank_field_keeps_its_box():
    image = Image.new("RGB", (1200, BOX + 28), "white")
    assert trim_to_writing(image, BOX).size == image.size

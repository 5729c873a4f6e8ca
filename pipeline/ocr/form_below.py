"""Printings that put each label above its value, told from the ink, not from the page's lines.

Where a value is written under its label, a hand reaching up into the small printed label
joins the two in the page's OCR: Tesseract makes one line of "Họ 2/a/ tên: ; Nam ÄMA hay nữ:"
and another of what is left of the value ("Đức 7"). Deciding per label from those lines
whether its value stands beside or below it then fails both ways: a held-out page read the
registration numbers and ages and little else. The ink does not depend on how the page was
cut into lines: under a label whose value stands below it, there is writing right from the
label's left edge; beside a label whose value is on its right, there is paper. A printing is
one arrangement for the whole page, so the labels vote.

Once a page is known to hold its values below the labels, each value is read from the
label's top down to the next label under it, with the labels' own letters erased: a crop
that starts under the label would cut off the top of the writing that overlaps it.
"""

from __future__ import annotations

import cv2
import numpy as np

from pipeline.ocr.form_labels import LabelHit
from pipeline.ocr.preprocess import to_gray
from pipeline.types import Box, OcrWord

#: Ink share, right under a label's left part, of a value written there (a hand-writing-like
#: value under a 28-pixel label fills about a fifth of that box; leader dots and the tops of
#: the next label line, a tenth of that).
UNDER_INK = 0.06
#: Of the labels that show which way they hold their value, the share that must hold it below.
BELOW_SHARE = 0.6
#: How far below its label a value may reach, in label heights: down to the next label
#: under it, at most ``MAX_REACH``; ``REACH`` where none is (a hand 1.7 times the label's
#: size, written a line under it, reaches 3.2 label heights below the label's words).
REACH = 3.6
MAX_REACH = 6.0
ERASE_PAD = 2  # pixels around a label's box within which its letters are erased
DESCENDER = 0.45  # of a label's height: how far its letters reach below its words' median


def _ink_share(ink: np.ndarray, box: Box) -> float:
    x0, y0, x1, y1 = (max(0, int(v)) for v in box)
    part = ink[y0:y1, x0:x1]
    return float(part.mean()) if part.size else 0.0


def letters_box(hit: LabelHit, words: list[OcrWord]) -> Box:
    """The rows of a label's own letters: its box, from the median top to the median bottom
    of its words (``words``, those of its line). A word of the value below that the page's
    OCR took into the label ("Nam ÄMA hay nữ:") stretches the box down over the value."""
    own = words[hit.first_word:hit.first_word + hit.words]
    x0 = hit.box[0]
    height = float(np.median([w.box[3] - w.box[1] for w in own]))
    for word in reversed(words[:hit.first_word]):  # "Họ hai yà | tên cha:": the label's head
        if word.box[2] < x0 - height or word.box[3] - word.box[1] > 3 * height:
            break  # read as junk, or the matched variant ("Tên cha:") shorter than the print
        x0 = min(x0, word.box[0])
    if len(own) < 3:
        return (x0, *hit.box[1:])
    top = int(np.median([w.box[1] for w in own]))
    bottom = int(np.median([w.box[3] for w in own]))
    return (x0, max(hit.box[1], top), hit.box[2], min(hit.box[3], bottom))


def values_below(ink: np.ndarray, hits: list[LabelHit]) -> bool:
    """Whether the page's printing puts values under their labels. ``ink``: the prepared
    page's dark pixels (bool); ``hits``: every label found on the page, boxed by
    ``letters_box``.

    Each label votes when one side of it is inked and the other is not: under its left part
    (from its bottom, one label height down) or beside it (one label height to its right,
    on its own rows). Labels with another label right beside them do not vote.
    """
    below = beside = 0
    boxes = [h.box for h in hits]
    for box in boxes:
        x0, y0, x1, y1 = box
        h = max(1, y1 - y0)
        right = (x1 + h // 2, y0, x1 + h // 2 + 3 * h, y1)
        if any(_overlaps(right, other) for other in boxes if other is not box):
            continue
        under = _ink_share(ink, (x0, y1 + 2, x0 + min(x1 - x0, 3 * h), y1 + 2 + h))
        side = _ink_share(ink, right)
        if under >= UNDER_INK and side < under / 2:
            below += 1
        elif side >= UNDER_INK and under < side / 2:
            beside += 1
    return below + beside >= 3 and below >= BELOW_SHARE * (below + beside)


def region_below(box: Box, x1: int, hits: list[LabelHit], page_bottom: int) -> Box:
    """Where the value under the label at ``box`` is written: from the label's top (its
    letters are erased) to the next label under it (the isolation of the crop's line keeps
    the value's line from what else the region holds); from just left of the label to
    ``x1``, the next label on the label's row."""
    h = max(1, box[3] - box[1])
    under = [o.box[1] - ERASE_PAD for o in hits
             if o.box[1] > box[3] and o.box[0] < x1 and o.box[2] > box[0]]
    reach = min(under) if under else box[3] + int(REACH * h)
    bottom = min(reach, box[3] + int(MAX_REACH * h), page_bottom)
    return (max(0, box[0] - h // 2), box[1], x1, max(bottom, box[3] + h))


def labels_erased(image: np.ndarray, boxes: list[Box]) -> np.ndarray:
    """``image`` (a binarized page, dark ink on white) with the letters of the labels at
    ``boxes`` whited out: the connected pieces of ink lying wholly inside a label's box. A
    value's stroke that reaches into the label is a piece that also leaves the box, and
    stays."""
    ink = (to_gray(image) < 128).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    if n <= 1:
        return image
    x, y = stats[1:, cv2.CC_STAT_LEFT], stats[1:, cv2.CC_STAT_TOP]
    x1, y1 = x + stats[1:, cv2.CC_STAT_WIDTH], y + stats[1:, cv2.CC_STAT_HEIGHT]
    inside = np.zeros(n - 1, bool)
    for bx0, by0, bx1, by1 in boxes:
        # down to the label's descenders ("tháng", "thường"), but only pieces that start
        # above its baseline. A tone mark of the value that reaches into the label goes too
        # (sparing pieces of a mark's size kept the label's own marks, which read as
        # letters: no better on 20 pages of seed 5)
        h = by1 - by0
        inside |= (x >= bx0 - ERASE_PAD) & (y >= by0 - ERASE_PAD) & (x1 <= bx1 + ERASE_PAD) \
            & (y1 <= by1 + ERASE_PAD + DESCENDER * h) & (y < by1 - 0.2 * h)
    if not inside.any():
        return image
    erase = np.zeros(n, bool)  # a lookup by label: np.isin would sort the whole page
    erase[np.flatnonzero(inside) + 1] = True
    out = image.copy()
    out[erase[labels]] = 255
    return out


def _overlaps(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]

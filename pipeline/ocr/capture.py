"""Phone photos and turned scans: find the page, flatten perspective and curl, stand it upright.

``preprocess_page`` calls these; each is cheap on a flatbed scan (it looks at a small copy
first and answers "nothing to do"), so the clean path stays as it was. Geometry is 3x3
homographies (input → output pixels), plus a ``PageCurl`` when the gutter bends the page, so
boxes found later map back to the unchanged input image. ``split_spread`` (two pages in one
image) is separate: it turns one image into several pages.

Orientation asks Tesseract's OSD through ``pipeline.ocr.tesseract.detect_orientation``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import NamedTuple

import cv2
import numpy as np

log = logging.getLogger(__name__)

#: Long side of the copy the page is looked for on: corners came within ~0.2 % of the photo.
FIND_SIZE = 800
#: Share of the image border that must look like paper for the image to be "all page"
#: (a flatbed scan, torn corners and dark scanner edges included).
BORDER_PAPER = 0.9
#: Table (or floor, cloth, hand) is darker than this share of the paper's brightness (its
#: darkest channel): dark wood ~0.2, coloured cloth ~0.2-0.3, a beige desk ~0.5-0.6; a
#: shadow over the page itself (phone, hand, up to ~35 %) stays above it.
TABLE_SHARE = 0.55
#: ... and a light desk (~0.6-0.75) is told from a page's own margin by its median: the border of
#: a flatbed scan, stained, yellowed and shaded at its edges, stays above ~0.84 of the centre.
TABLE_MEDIAN = 0.78
#: Around a page found by its edges, what lies outside must be darker than this share of the
#: paper: a light desk passes, a shade over the page itself (found by brightness) does not.
EDGE_TABLE_SHARE = 0.8
#: Canny thresholds on the blurred small copy (gray levels): a page's edge on the lightest desk
#: differs by ~20 levels, while the paper's grain and a soft shadow's edge stay under 15.
EDGE_LOW, EDGE_HIGH = 15, 45
#: A page found must cover this share of the image (less is a scrap of paper or a hand) and
#: at most the upper one (more is a scan whose border is merely stained or torn).
MIN_PAGE_AREA, MAX_PAGE_AREA = 0.2, 0.92
#: Corner angles of a plausible page photographed at an angle, degrees.
MIN_CORNER, MAX_CORNER = 55.0, 125.0
A4_RATIO = 2 ** 0.5
A4_SNAP = 0.06  # a page within 6 % of A4's aspect is taken as A4 (perspective blurs the ratio)
MIN_SHORT_SIDE = 2480  # pixels: flattened pages are warped to at least 300 dpi on A4
MAX_LARGE_SKEW = 15.0  # degrees: a page turned on a scanner or photographed askew
COARSE_GAIN = 1.5  # a large skew must make the row profile this much sharper than 0° does
SKEW_HANDOFF = 5.0  # below this the fine deskew in preprocess_page handles it alone
#: Orientation: Tesseract OSD is trusted above this confidence (its own scale; upright,
#: turned and upside-down generated pages measured 3.3-17 at 150 dpi), or above the lower one
#: when the cheap evidence below points the same way (upside-down ledgers measured 2.4-3.7).
OSD_MIN_CONFIDENCE = 2.0
OSD_AGREED_CONFIDENCE = 1.0
OSD_MIN_INK = 0.01  # share of ink pixels below which a page has too little text to judge
#: Cheap orientation evidence, measured on generated forms and ledgers (clean to heavy,
#: typewriter and hand): rows-over-columns profile peakiness 1.1-7.6 upright, 0.13-0.88 turned
#: 90°; left-over-right edge alignment 1.47-3.4 upright, 0.28-0.68 upside down.
ROWS_OVER_COLS = 1.0
LEFT_OVER_RIGHT = 1.3
#: ``marks_above_share`` at or over which text stands upright without asking OSD, and at or
#: under which it is taken as upside down (OSD then needs less confidence to turn it).
MARKS_UPRIGHT, MARKS_UPSIDE_DOWN = 1.1, 0.9


def line_sharpness(ink: np.ndarray, angle: float) -> float:
    """How sharply text lines stand out once ``ink`` (white on black) is turned by ``angle``
    degrees: the row profile's squared steps, highest when lines lie level."""
    h, w = ink.shape
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    rotated = cv2.warpAffine(ink, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)
    profile = rotated.sum(axis=1, dtype=np.float64)
    return float(np.sum(np.diff(profile) ** 2))


def _small(image: np.ndarray, size: int = FIND_SIZE) -> tuple[np.ndarray, float]:
    """A copy whose long side is ``size`` (never enlarged) and its factor to the input."""
    factor = min(1.0, size / max(image.shape[:2]))
    if factor == 1.0:
        return image, 1.0
    return cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA), factor


def _glance(image: np.ndarray, size: int) -> np.ndarray:
    """Every k-th pixel, long side about ``size``: free, and enough to tell paper from table."""
    step = max(1, max(image.shape[:2]) // size)
    return image[::step, ::step]


def _paperness(rgb_small: np.ndarray) -> np.ndarray:
    """Darkest channel: white or yellowed paper stays high, a dark or coloured table does not."""
    if rgb_small.ndim == 2:
        return rgb_small
    return np.min(rgb_small[:, :, :3], axis=2)


def _paper_mask(paper: np.ndarray) -> np.ndarray:
    """Paper pixels (255): clearly brighter than the table would be there.

    Light falls off across a photo and shadows are soft, and both multiply table and paper
    alike, so the table's own brightness is modelled (a quadratic surface in log brightness,
    fitted to the image border, which shows the table, and refitted without the paper that
    may reach the border) and the page is what stands above it: Otsu on the log ratio. A beige
    table in a dark corner no longer passes for paper, nor a shaded page corner for table.
    """
    logs = np.log1p(cv2.GaussianBlur(paper, (0, 0), 2).astype(np.float32))
    h, w = logs.shape
    yy, xx = np.mgrid[0:h, 0:w]
    u, v = xx.ravel() / w - 0.5, yy.ravel() / h - 0.5
    design = np.stack([np.ones_like(u), u, v, u * u, u * v, v * v], axis=1)
    b = max(2, min(h, w) // 25)
    border = np.zeros((h, w), bool)
    border[:b], border[-b:], border[:, :b], border[:, -b:] = True, True, True, True
    on_border = border.ravel()
    values = logs.ravel()
    use = on_border.copy()
    for _ in range(3):  # drop paper reaching the border: it sits far above the table
        coef, *_ = np.linalg.lstsq(design[use], values[use], rcond=None)
        residual = values - design @ coef
        spread = max(0.03, float(np.std(residual[use])))
        use = on_border & (residual < 2.5 * spread)
    ratio = (values - design @ coef).reshape(h, w)
    scaled = np.clip(ratio * 255 / max(0.2, float(ratio.max())), 0, 255).astype(np.uint8)
    _, mask = cv2.threshold(scaled, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return mask


def has_background(image: np.ndarray) -> bool:
    """Whether the image shows more than the page: its border is mostly not paper.

        >>> has_background(np.full((300, 200), 240, np.uint8))
        False

    A flatbed scan's border is paper (margins); a photo's is table, cloth or hand. The paper
    level is the page's own (its centre), so a yellowed or faded scan is still "all page".
    """
    paper = _paperness(_glance(image, 400)).astype(np.float32)
    h, w = paper.shape
    centre = paper[h // 4: 3 * h // 4, w // 4: 3 * w // 4]
    level = float(np.percentile(centre, 90))
    if level < 60:
        return False  # a dark image: nothing to tell paper from table
    b = max(2, min(h, w) // 50)
    border = np.concatenate([paper[:b].ravel(), paper[-b:].ravel(),
                             paper[:, :b].ravel(), paper[:, -b:].ravel()])
    if float(np.median(border)) < TABLE_MEDIAN * level:
        return True  # a light desk all round: darker than any scan's margin, if not by much
    return float(np.mean(border >= TABLE_SHARE * level)) < BORDER_PAPER


class FoundPage(NamedTuple):
    """A page found in a photo: its corners and its outline (both in input pixels)."""

    corners: np.ndarray  # 4x2, clockwise from top-left
    outline: np.ndarray  # Nx2, the sheet's traced edge (curl bends it between the corners)


def find_page(image: np.ndarray) -> np.ndarray | None:
    """Corners (top-left, top-right, bottom-right, bottom-left; input pixels) of the page.

        >>> find_page(np.full((400, 300), 230, np.uint8)) is None   # a scan: all page
        True

    None when the image is the page (flatbed) or no plausible page is found: then nothing is
    warped, which is always safe. See ``locate_page`` for how.
    """
    found = locate_page(image)
    return None if found is None else found.corners


def locate_page(image: np.ndarray) -> FoundPage | None:
    """The page in a photo, or None (see ``find_page``).

    The sheet is the largest region clearly brighter than the table (``_paper_mask``); its
    convex hull bridges fingers and shadows biting into an edge, and each side is a robust
    line fit to the outline near it, so a notch or a curled corner pulls the side less than a
    vertex would.
    """
    if not has_background(image):
        return None
    small, factor = _small(image)
    mask = _paper_mask(_paperness(small))
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((5, 5), np.uint8))
    # Brightness first: it traces a curled edge the gutter's shading softens. Where light
    # falls off over the page, or a light desk comes near the paper's brightness, it fails,
    # and the sheet's own edge decides.
    for sheet, share in ((mask, TABLE_SHARE), (None, EDGE_TABLE_SHARE)):
        if sheet is None:
            sheet = _edge_sheet(small, mask)
        outline = _largest_outline(sheet)
        if outline is None:
            continue
        quad = _quad_from_outline(outline)
        if quad is not None and _plausible(quad, small.shape) and _stands_out(small, quad, share):
            return FoundPage(quad / factor, outline.reshape(-1, 2).astype(np.float64) / factor)
    return None


def _largest_outline(sheet: np.ndarray) -> np.ndarray | None:
    """The outer contour enclosing the most area (a ring counts by what it encloses)."""
    contours, _ = cv2.findContours(sheet, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    return max(contours, key=cv2.contourArea) if contours else None


def _edge_sheet(small: np.ndarray, paper: np.ndarray) -> np.ndarray:
    """What the table cannot reach without crossing an edge (255): the sheet by its outline.

    Edges (Canny, slightly thickened to close one-pixel breaks) are walls; the table is what
    is connected to the image border where the border is not paper. Text and rules inside
    the page never matter, since the page's edge encloses them. A break in the page's edge
    lets the table in: the sheet then shrinks to a ring or scraps, the quad comes out
    implausible, and brightness decides instead.
    """
    gray = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY) if small.ndim == 3 else small
    edges = cv2.Canny(cv2.GaussianBlur(gray, (0, 0), 1.5), EDGE_LOW, EDGE_HIGH)
    free = (cv2.dilate(edges, np.ones((5, 5), np.uint8)) == 0).astype(np.uint8)
    _, labels = cv2.connectedComponents(free, connectivity=4)
    border = np.zeros(free.shape, bool)
    border[:2], border[-2:], border[:, :2], border[:, -2:] = True, True, True, True
    seeds = np.unique(labels[border & (paper == 0) & (free > 0)])
    table = np.isin(labels, seeds[seeds > 0])
    sheet = np.where(table, 0, 255).astype(np.uint8)
    return cv2.morphologyEx(sheet, cv2.MORPH_OPEN, np.ones((5, 5), np.uint8))


def _stands_out(small: np.ndarray, quad: np.ndarray, share: float = TABLE_SHARE) -> bool:
    """The found page is paper on a table: what lies outside it is clearly darker.

    Guards against cutting a page out of a page: a flat, shaded sheet whose shadow passed for
    table would otherwise lose the part in shadow.
    """
    paper = _paperness(small)
    inside = np.zeros(paper.shape, np.uint8)
    cv2.fillPoly(inside, [quad.astype(np.int32).reshape(-1, 1, 2)], 1)
    inner = cv2.erode(inside, np.ones((9, 9), np.uint8)) > 0
    outer = cv2.dilate(inside, np.ones((9, 9), np.uint8)) == 0
    if not outer.any() or not inner.any():
        return False
    return float(np.median(paper[outer])) < share * float(np.percentile(paper[inner], 75))


def _quad_from_outline(outline: np.ndarray) -> np.ndarray | None:
    """Four corners from a sheet's outline: a 4-gon of its hull, then sides refitted."""
    hull = cv2.convexHull(outline)
    perimeter = cv2.arcLength(hull, True)
    approx = None
    for share in (0.01, 0.02, 0.03, 0.05, 0.08):
        candidate = cv2.approxPolyDP(hull, share * perimeter, True)
        if len(candidate) == 4:
            approx = candidate.reshape(4, 2).astype(np.float64)
            break
    if approx is None:
        return None
    approx = _order_corners(approx)
    points = outline.reshape(-1, 2).astype(np.float64)
    lines = [_fit_side(points, approx[i], approx[(i + 1) % 4]) for i in range(4)]
    if any(line is None for line in lines):
        return approx
    corners = [_intersect(lines[i - 1], lines[i]) for i in range(4)]
    if any(c is None for c in corners):
        return approx
    return np.array(corners)


def _fit_side(points: np.ndarray, a: np.ndarray, b: np.ndarray):
    """Robust line through the outline points near the middle 80 % of side a-b."""
    d = b - a
    length = float(np.hypot(*d))
    if length < 10:
        return None
    u = d / length
    rel = points - a
    along = rel @ u
    across = np.abs(rel @ np.array([-u[1], u[0]]))
    near = (along > 0.1 * length) & (along < 0.9 * length) & (across < max(3.0, 0.02 * length))
    if near.sum() < 10:
        return None
    vx, vy, x0, y0 = cv2.fitLine(points[near].astype(np.float32), cv2.DIST_HUBER, 0, 0.01, 0.01
                                 ).ravel()
    return np.array([x0, y0]), np.array([vx, vy])


def _intersect(l1, l2) -> np.ndarray | None:
    (p, r), (q, s) = l1, l2
    cross = r[0] * s[1] - r[1] * s[0]
    if abs(cross) < 1e-6:
        return None
    t = ((q - p)[0] * s[1] - (q - p)[1] * s[0]) / cross
    return p + t * r


def _order_corners(quad: np.ndarray) -> np.ndarray:
    """Clockwise from the corner nearest the image's top-left (pages lie within ±45°)."""
    centre = quad.mean(axis=0)
    angles = np.arctan2(quad[:, 1] - centre[1], quad[:, 0] - centre[0])
    quad = quad[np.argsort(angles)]  # clockwise in image coordinates (y down)
    start = int(np.argmin(quad.sum(axis=1)))
    return np.roll(quad, -start, axis=0)


def _plausible(quad: np.ndarray, shape) -> bool:
    """A page photographed at an angle: convex, big enough, not the whole frame, corners
    near square."""
    h, w = shape[:2]
    area = cv2.contourArea(quad.astype(np.float32))
    if not MIN_PAGE_AREA * h * w <= area <= MAX_PAGE_AREA * h * w:
        return False
    if not cv2.isContourConvex(quad.astype(np.float32).reshape(-1, 1, 2)):
        return False
    for i in range(4):
        a, b, c = quad[i - 1], quad[i], quad[(i + 1) % 4]
        v1, v2 = a - b, c - b
        cos = float(v1 @ v2 / (np.linalg.norm(v1) * np.linalg.norm(v2) + 1e-9))
        if not MIN_CORNER <= np.degrees(np.arccos(np.clip(cos, -1, 1))) <= MAX_CORNER:
            return False
    return True


def page_homography(corners: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
    """Homography (input → flat page) and the flat page's size (width, height).

    The size is the mean length of opposite sides; a ratio within ``A4_SNAP`` of A4 is taken as
    A4 (a perspective view shortens one direction, and the archive's books are A4), and small
    pages are enlarged to ~300 dpi here, in the one resampling, rather than again later.
    """
    tl, tr, br, bl = corners
    width = (np.linalg.norm(tr - tl) + np.linalg.norm(br - bl)) / 2
    height = (np.linalg.norm(bl - tl) + np.linalg.norm(br - tr)) / 2
    ratio = height / width
    for target in (A4_RATIO, 1 / A4_RATIO):
        if abs(ratio / target - 1) <= A4_SNAP:
            area = width * height
            width, height = np.sqrt(area / target), np.sqrt(area * target)
    grow = max(1.0, MIN_SHORT_SIDE / min(width, height))
    width, height = int(round(width * grow)), int(round(height * grow))
    target = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float32)
    matrix = cv2.getPerspectiveTransform(corners.astype(np.float32), target)
    return matrix, (width, height)


def coarse_skew(binary: np.ndarray, limit: float = MAX_LARGE_SKEW) -> float:
    """Skew of the text lines within ±``limit``°, to 0.5°, on a small copy (~10 ms).

    Only used to hand a page turned far on the scanner glass (or in a photo whose edges were
    not found) to the fine deskew, which searches ±5°. Same sign as ``estimate_skew``. A best
    angle that does not make the lines clearly sharper than 0° does (sideways or blank pages,
    where every angle is as flat) is no evidence: 0.
    """
    ink, _ = _small(255 - binary, 600)
    if np.count_nonzero(ink > 64) < 0.002 * ink.size:
        return 0.0

    def score(angle: float) -> float:
        return line_sharpness(ink, angle)

    angles = np.arange(-limit, limit + 1e-9, 1.0)
    best = max(angles, key=lambda a: (score(a), -abs(a)))
    fine = np.arange(best - 0.5, best + 0.51, 0.5)
    best = float(max(fine, key=lambda a: (score(a), -abs(a))))
    return best if score(best) >= COARSE_GAIN * score(0.0) else 0.0


def _peakiness(profile: np.ndarray) -> float:
    profile = profile.astype(np.float64)
    mean = profile.mean()
    return float(np.mean(np.diff(profile) ** 2) / (mean * mean + 1e-9))


def _text_only(binary_small: np.ndarray) -> np.ndarray:
    """Ink (255) without ruled lines, which would vote for either direction."""
    ink = (binary_small < 128).astype(np.uint8) * 255
    h, w = ink.shape
    k = max(15, min(h, w) // 12)
    lines = cv2.morphologyEx(ink, cv2.MORPH_OPEN, np.ones((1, k), np.uint8))
    lines |= cv2.morphologyEx(ink, cv2.MORPH_OPEN, np.ones((k, 1), np.uint8))
    return cv2.subtract(ink, cv2.dilate(lines, np.ones((3, 3), np.uint8)))


def orientation_hint(binary: np.ndarray) -> str:
    """Cheap evidence (~10 ms) of how the text stands: upright, upside_down, sideways or unsure.

    Upright text gives rows of lines (row profile much peakier than the column profile), and
    left-to-right writing starts its lines and cells at common left edges while their right
    ends are ragged; upside down, the ragged ends are on the left. Only "upright" is acted on
    alone (Tesseract OSD is skipped); the rest is a hint that OSD must confirm.
    """
    ink, _ = _small(binary, 1000)
    text = _text_only(ink)
    if np.count_nonzero(text) < 0.002 * text.size:
        return "upright"  # blank: nothing to turn
    rows, cols = _peakiness(text.sum(axis=1)), _peakiness(text.sum(axis=0))
    if rows < ROWS_OVER_COLS * cols:
        return "sideways"
    left, right = _edge_alignment(text)
    if left >= LEFT_OVER_RIGHT * right:
        marks = marks_above_share(binary)
        if marks >= MARKS_UPRIGHT:
            return "upright"
        return "upside_down" if marks <= MARKS_UPSIDE_DOWN else "unsure"
    return "upside_down" if right >= LEFT_OVER_RIGHT * left else "unsure"


def marks_above_share(binary: np.ndarray) -> float:
    """Ink above the lines' x-height band over ink below it (~1 when there is no text).

    Vietnamese puts its tone marks and most of its height above the x-height (capitals,
    ascenders, `ế`, `ổ`) and little below (descenders, the dot of `ạ`): upright forms give
    2-18, ledgers 1.2-1.8; turned upside down, the same pages give under 0.85. Ledger cells
    start at their column's left rule either way up, so this is what tells a ledger upside
    down from an upright one.
    """
    ink, _ = _small(binary, 2000)
    text = _text_only(ink)
    w = text.shape[1]
    smear = cv2.morphologyEx(text, cv2.MORPH_CLOSE, np.ones((1, max(5, w // 80)), np.uint8))
    n, _, stats, _ = cv2.connectedComponentsWithStats(smear, connectivity=8)
    above = below = 0.0
    for x, y, bw, bh, _ in stats[1:]:
        if bw < 4 * bh or bh < 6:
            continue  # not a run of words
        profile = np.count_nonzero(text[y:y + bh, x:x + bw], axis=1).astype(np.float64)
        band = np.flatnonzero(profile >= 0.5 * profile.max())
        above += profile[:band[0]].sum()
        below += profile[band[-1] + 1:].sum()
    return (above + 1.0) / (below + 1.0)


def _edge_alignment(text: np.ndarray) -> tuple[float, float]:
    """How concentrated the left and the right ends of words/phrases are (Simpson index)."""
    h, w = text.shape
    smear = cv2.morphologyEx(text, cv2.MORPH_CLOSE, np.ones((1, max(5, w // 60)), np.uint8))
    n, _, stats, _ = cv2.connectedComponentsWithStats(smear, connectivity=8)
    x, bw, bh = stats[1:, 0], stats[1:, 2], stats[1:, 3]
    keep = (bw >= 3 * bh) & (bh >= 3)
    if keep.sum() < 8:
        return 1.0, 1.0
    bins = max(20, w // 6)

    def simpson(v: np.ndarray) -> float:
        counts = np.bincount((v * bins // w).clip(0, bins - 1), minlength=bins)
        # neighbouring bins count together: edges a pixel or two apart are aligned
        counts = counts + np.roll(counts, 1)
        share = counts / counts.sum()
        return float(np.sum(share ** 2))

    return simpson(x[keep]), simpson((x + bw)[keep])


def detect_quarter_turns(binary: np.ndarray, hint: str | None = None) -> int:
    """Counter-clockwise quarter turns (0-3, as ``np.rot90``) that make the page upright.

    Tesseract OSD decides, on a 150 dpi copy (~0.6 s), and only when the cheap hint is not
    "upright" (pass it when already known); its answer is used only with enough confidence
    (less when the hint agrees) and enough ink to judge, so a page of stamps or a blank
    never turns.
    """
    hint = hint or orientation_hint(binary)
    if hint == "upright":
        return 0
    half = cv2.resize(binary, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    if np.count_nonzero(half < 128) < OSD_MIN_INK * half.size:
        return 0
    from pipeline.ocr.tesseract import detect_orientation

    rotate, confidence = detect_orientation(half)
    agrees = (hint, rotate) in {("upside_down", 180), ("sideways", 90), ("sideways", 270)} \
        or (rotate == 180 and marks_above_share(binary) < MARKS_UPRIGHT)
    needed = OSD_AGREED_CONFIDENCE if agrees else OSD_MIN_CONFIDENCE
    if rotate is None or confidence < needed:
        if hint == "sideways":
            return _sideways_turn(binary, rotate, confidence)
        log.debug("OSD unsure (%s, %.2f, hint %s): page left as it is", rotate, confidence, hint)
        return 0
    return (-rotate // 90) % 4


def _sideways_turn(binary: np.ndarray, rotate: int | None, confidence: float) -> int:
    """The quarter turn of a page whose lines run down it, when OSD cannot say which: the one
    turn of the two after which the page reads upright by the hint's own evidence (lines in
    rows, common left edges, marks above the letters). A blurred phone photo of a form
    turned on its side got OSD confidence 0.05, and no record; turned once it reads
    "upright" (marks 1.5), turned the other way "upside_down" (0.7)."""
    upright = [t for t in (1, 3)
               if orientation_hint(np.ascontiguousarray(np.rot90(binary, t))) == "upright"]
    if len(upright) != 1:
        log.debug("OSD unsure (%s, %.2f) on a sideways page, and so are the marks", rotate,
                  confidence)
        return 0
    return upright[0]


def quarter_turn_matrix(turns: int, shape: tuple[int, int]) -> np.ndarray:
    """3x3 matrix of ``np.rot90(image, turns)`` on an image of ``shape`` (h, w): old → new
    pixels."""
    h, w = shape[:2]
    turns %= 4
    if turns == 0:
        return np.eye(3)
    if turns == 1:  # counter-clockwise: (x, y) → (y, w-1-x)
        return np.array([[0, 1, 0], [-1, 0, w - 1], [0, 0, 1]], float)
    if turns == 2:
        return np.array([[-1, 0, w - 1], [0, -1, h - 1], [0, 0, 1]], float)
    return np.array([[0, -1, h - 1], [1, 0, 0], [0, 0, 1]], float)


#: Curl near the gutter, measured on the flattened page's top and bottom edges: the edges are
#: modelled as bending by ``a·t²`` over a band at one side (t: 0 at the band's inner edge, 1
#: at the spine), as a sheet bends down into the binding. Bands tried, as shares of the width.
CURL_BANDS = (0.1, 0.15, 0.2, 0.3)
CURL_MIN = 0.004  # of the page height: a smaller bend at the spine is left alone (~14 px A4)
CURL_MAX = 0.08  # a larger "bend" is a hand or a shadow on the edge, not paper
CURL_FIT = 0.35  # residual of the fit, as a share of the bend: worse is not a curl
CURL_EXPLAINS = 0.85  # the fit must leave at most this share of the edges' deviation


@dataclass(frozen=True)
class PageCurl:
    """How two opposite edges of a flattened page bend near the spine, at one side.

    In the frame (u along the edges, v across them; u = x, v = y when the spine is a vertical
    side, swapped when the phone was held sideways and it is a horizontal one), text lines
    between the edges bend in proportion: a point at ``v`` of the flat page is found at
    ``v + t(u)²·(near·(1 − v/h) + far·v/h)`` on the homography-flattened image, ``t`` being
    the depth into the band at the spine. Foreshortening along u near the spine is not undone
    (letters there stay somewhat narrow).
    """

    side: str  # "left" or "right" (spine a vertical side), "top" or "bottom" (a horizontal one)
    band: float  # pixels of the flat page
    top: float  # bend of the v = 0 edge (top, or left when sideways) at the spine, pixels
    bottom: float  # bend of the v = h edge at the spine, pixels
    width: int  # of the (u, v) frame: the page's width, or its height when sideways
    height: int
    to_flat: np.ndarray | None = None  # 3x3: input → homography-flattened page

    @property
    def sideways(self) -> bool:
        return self.side in ("top", "bottom")

    def _depth(self, u: np.ndarray) -> np.ndarray:
        if self.side in ("right", "bottom"):
            return np.clip((u - (self.width - self.band)) / self.band, 0, 1)
        return np.clip((self.band - u) / self.band, 0, 1)

    def _bend(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        share = v / self.height
        return v + self._depth(u) ** 2 * (self.top * (1 - share) + self.bottom * share)

    def bend(self, points: np.ndarray) -> np.ndarray:
        """Points (Nx2) of the flat page → where they are on the curled (homography-flat) one."""
        u, v = (points[:, 1], points[:, 0]) if self.sideways else (points[:, 0], points[:, 1])
        bent = self._bend(u, v)
        return np.stack([bent, u] if self.sideways else [u, bent], axis=1)

    def to_input(self, points: np.ndarray) -> np.ndarray:
        """Points (Nx2) of the flat page → input pixels: bent, then back through the homography."""
        back = cv2.perspectiveTransform(self.bend(points).reshape(-1, 1, 2).astype(np.float64),
                                        np.linalg.inv(self.to_flat))
        return back.reshape(-1, 2)

    def source_maps(self, step: int = 8) -> tuple[np.ndarray, np.ndarray]:
        """For every pixel of the flat page, the input pixel it comes from (for ``cv2.remap``).

        Computed on a coarse grid and interpolated: the mapping is smooth.
        """
        w, h = (self.height, self.width) if self.sideways else (self.width, self.height)
        nx, ny = max(2, -(-w // step) + 1), max(2, -(-h // step) + 1)
        gx, gy = np.meshgrid(np.linspace(0, w - 1, nx), np.linspace(0, h - 1, ny))
        src = self.to_input(np.stack([gx.ravel(), gy.ravel()], axis=1))
        mx = cv2.resize(src[:, 0].reshape(ny, nx).astype(np.float32), (w, h),
                        interpolation=cv2.INTER_LINEAR)
        my = cv2.resize(src[:, 1].reshape(ny, nx).astype(np.float32), (w, h),
                        interpolation=cv2.INTER_LINEAR)
        return mx, my


def estimate_curl(outline: np.ndarray, to_flat: np.ndarray, size: tuple[int, int]
                  ) -> PageCurl | None:
    """The gutter curl of a found page from its outline, or None when the edges are straight.

    The outline is carried onto the flattened page; its runs along two opposite sides are
    compared with the straight edges. A bend is accepted only when both edges fit the
    ``a·t²`` model at one end well, so a finger or a torn edge is not "flattened". The spine
    may be a vertical side (bands at the left or right) or, in a photo taken sideways, a
    horizontal one.
    """
    w, h = size
    pts = cv2.perspectiveTransform(outline.reshape(-1, 1, 2), to_flat).reshape(-1, 2)
    # The spine is a vertical side, or a horizontal one in a photo taken sideways: the frame
    # whose edge bends the model explains better wins (a curl in one frame also bends the
    # other frame's edges near the corners, but not in the a·t² way).
    fits = [_fit_curl(("left", "right"), pts, (w, h)),
            _fit_curl(("top", "bottom"), pts[:, ::-1], (h, w))]
    fits = [f for f in fits if f is not None]
    if not fits:
        return None
    curl = max(fits, key=lambda f: f[1])[0]
    return replace(curl, to_flat=to_flat)


def _fit_curl(sides: tuple[str, str], frame: np.ndarray, size: tuple[int, int]
              ) -> tuple[PageCurl, float] | None:
    """The best ``a·t²`` bend of the frame's v = 0 and v = h edges at one of ``sides``, and
    how many pixels of edge deviation it explains; None when it explains too little."""
    fw, fh = size
    edges = _edge_profiles(frame, fw, fh)
    if edges is None:
        return None
    u, near, far = edges
    straight = float(np.mean(np.abs(near)) + np.mean(np.abs(far - fh)))
    best = None
    for side in sides:
        for share in CURL_BANDS:
            probe = PageCurl(side, share * fw, 0.0, 0.0, fw, fh)
            t2 = probe._depth(u) ** 2
            fits = [_fit_bend(t2, near), _fit_bend(t2, far - fh)]
            if any(f is None for f in fits):
                continue
            (a_near, r_near), (a_far, r_far) = fits
            if best is None or r_near + r_far < best[0]:
                best = (r_near + r_far, PageCurl(side, share * fw, a_near, a_far, fw, fh),
                        max(r_near, r_far))
    if best is None:
        return None
    residual, curl, worst = best
    bend = max(abs(curl.top), abs(curl.bottom))
    if not CURL_MIN * fh <= bend <= CURL_MAX * fh or worst > CURL_FIT * bend:
        return None
    if residual > CURL_EXPLAINS * straight:
        return None
    return curl, straight - residual


def _edge_profiles(pts: np.ndarray, w: int, h: int, bins: int = 100):
    """The flattened outline's top and bottom edges, as the outermost point per column bin.

    Outermost, so the spine's and the outer vertical edges (which run through the same columns
    near the corners) do not count as top or bottom edge. None when an edge is mostly missing.
    """
    x, y = pts[:, 0], pts[:, 1]
    index = np.floor(x / w * bins).astype(int)
    centres, tops, bottoms = [], [], []
    for i in range(bins):
        column = index == i
        near_top = column & (np.abs(y) < 0.1 * h)
        near_bottom = column & (np.abs(y - h) < 0.1 * h)
        if near_top.any() and near_bottom.any():
            centres.append((i + 0.5) * w / bins)
            tops.append(y[near_top].min())
            bottoms.append(y[near_bottom].max())
    if len(centres) < 0.7 * bins:
        return None
    return np.array(centres), np.array(tops), np.array(bottoms)


def _fit_bend(t2: np.ndarray, deviation: np.ndarray) -> tuple[float, float] | None:
    """Least-squares ``deviation ≈ a·t²`` over the band, and the fit's mean absolute residual.

    Outside the band the edge must be straight: its deviation counts in the residual (a mean,
    not a median, which would call the wrong side with no bend a perfect fit).
    """
    band = t2 > 0
    if band.sum() < 5:
        return None
    a = float(np.sum(t2[band] * deviation[band]) / np.sum(t2[band] ** 2))
    residual = float(np.mean(np.abs(deviation - a * t2)))
    return a, residual


#: Two-page spreads: the gutter is a band of blank columns near the middle (the two pages'
#: inner margins), across nearly the whole height, with ink on both sides.
GUTTER_ZONE = (0.35, 0.65)  # where the gutter may be, as shares of the width
GUTTER_MIN = 0.015  # narrowest gutter band, as a share of the width
GUTTER_INK = 0.002  # a column with less ink than this share of its height is blank
SPREAD_PAGE_RATIO = (1.15, 1.75)  # height / width of each page of a spread (A4: 1.41)


class SpreadPart(NamedTuple):
    """One page of an image: its pixels and the 3x3 matrix from them to the input's pixels."""

    image: np.ndarray
    to_input: np.ndarray


def split_spread(image: np.ndarray) -> list[SpreadPart]:
    """The pages of an image: two for an open book's spread, else the image itself.

        >>> [part.image.shape for part in split_spread(np.full((300, 200), 240, np.uint8))]
        [(300, 200)]

    Separate from ``preprocess_page`` because one image becomes several pages (the caller
    numbers them). A photographed book is found and flattened first (as one sheet); the
    gutter is a band of blank columns near the middle with pages of a portrait shape on both
    sides, so a landscape ledger, whose ruling crosses the middle, stays one page. Each part
    is then a flat page for ``preprocess_page``; map its boxes back with ``to_input`` (a
    homography: ``cv2.perspectiveTransform``). The curl of the pages into the gutter is not
    flattened here.
    """
    whole = [SpreadPart(image, np.eye(3))]
    h, w = image.shape[:2]
    if w <= h:
        return whole
    found = locate_page(image)
    flat, to_flat = image, np.eye(3)
    if found is not None:
        to_flat, size = page_homography(found.corners)
        flat = cv2.warpPerspective(image, to_flat, size, flags=cv2.INTER_CUBIC,
                                   borderMode=cv2.BORDER_REPLICATE)
    gutter = find_gutter(flat)
    if gutter is None:
        return whole
    back = np.linalg.inv(to_flat)
    shift = np.array([[1, 0, gutter], [0, 1, 0], [0, 0, 1]], float)
    return [SpreadPart(np.ascontiguousarray(flat[:, :gutter]), back),
            SpreadPart(np.ascontiguousarray(flat[:, gutter:]), back @ shift)]


def find_gutter(page: np.ndarray) -> int | None:
    """Column of the gutter of a flat two-page spread, or None when it is one page."""
    h, w = page.shape[:2]
    gray = _paperness(_glance(page, 1000))
    edge = max(2, gray.shape[0] // 30)  # a found page's rim may show a sliver of table
    gray = gray[edge:-edge]
    sh, sw = gray.shape
    ink = _ink_mask(gray)
    blank = ink.sum(axis=0) < GUTTER_INK * sh
    lo, hi = int(GUTTER_ZONE[0] * sw), int(GUTTER_ZONE[1] * sw)
    best, start = None, None
    for x in range(lo, hi + 1):
        if x < hi and blank[x]:
            start = x if start is None else start
        elif start is not None:
            if best is None or x - start > best[1] - best[0]:
                best = (start, x)
            start = None
    if best is None or best[1] - best[0] < GUTTER_MIN * sw:
        return None
    middle = (best[0] + best[1]) // 2
    for side in (ink[:, :best[0]], ink[:, best[1]:]):
        if side.sum() < 0.002 * side.size:
            return None  # a blank half is a margin, not a page
    for width in (middle, sw - middle):
        if not SPREAD_PAGE_RATIO[0] <= sh / max(1, width) <= SPREAD_PAGE_RATIO[1]:
            return None
    return int(round(middle * w / sw))


def _ink_mask(gray: np.ndarray) -> np.ndarray:
    """Ink (True) on a small gray page: darker than the local paper by a clear margin."""
    paper = cv2.morphologyEx(gray, cv2.MORPH_CLOSE, np.ones((15, 15), np.uint8))
    paper = cv2.GaussianBlur(paper, (0, 0), 5)
    return gray.astype(np.int16) < paper.astype(np.int16) * 0.75

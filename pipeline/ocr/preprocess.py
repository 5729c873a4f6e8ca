"""The only place that cleans page images: seals, gray, dpi, background, deskew, binarize, lines."""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from pipeline.ocr import capture
from pipeline.types import Box

TARGET_DPI = 300
A4_WIDTH_INCH = 8.27
MAX_SKEW = 5.0


@dataclass
class PreparedPage:
    """A page ready for OCR, and the way back to the input image's pixels.

    ``gray`` and ``binary`` (black text on white, 0/255) are flattened, upright, deskewed and
    scaled to ~300 dpi; ``matrix`` (3x3 homography) maps input pixels to prepared pixels. Boxes
    found on the prepared page go back through ``to_input`` so everything stored refers to the
    unchanged input image; a page flattened from a curl maps back through ``curl`` as well.
    ``corners`` is the page found in a photo (input pixels, clockwise
    from top-left, None when the image was the page) and ``turns`` the quarter turns
    (counter-clockwise, as ``np.rot90``) that stood it upright.
    """

    gray: np.ndarray
    binary: np.ndarray
    angle: float  # degrees the input was rotated by (counter-clockwise positive, as OpenCV)
    scale: float  # prepared pixels per input pixel
    matrix: np.ndarray  # 3x3 homography, input → prepared
    input_shape: tuple[int, int]
    corners: np.ndarray | None = None
    turns: int = 0
    curl: capture.PageCurl | None = None  # gutter curl undone (then ``matrix`` ignores it)

    def text_image(self, clean: np.ndarray) -> np.ndarray:
        """The image to read text from: ``clean`` (``binary`` with lines removed), or, on a
        page whose blurred letters Otsu fattens, their thinner binarization (``thin_strokes``)
        with the lines ``remove_lines`` found on ``binary`` removed all the same."""
        strokes = thin_strokes(self.gray)
        if strokes is None:
            return clean
        strokes[(self.binary < 128) & (clean >= 128)] = 255
        return strokes

    def turned(self, turns: int) -> PreparedPage:
        """The same page turned a further ``turns`` quarter turns (counter-clockwise, as
        ``np.rot90``), still mapping back to the input: for the reader to try when the page
        read as it stands shows nothing of its template."""
        gray = np.ascontiguousarray(np.rot90(self.gray, turns))
        binary = np.ascontiguousarray(np.rot90(self.binary, turns))
        matrix = capture.quarter_turn_matrix(turns, self.gray.shape) @ self.matrix
        angle, scale = _rotation_of(matrix, self.input_shape)
        return replace(self, gray=gray, binary=binary, matrix=matrix, angle=angle, scale=scale,
                       turns=(self.turns + turns) % 4)

    def to_input(self, box: Box) -> Box:
        """Bounding box, in input pixels, of a box on the prepared page.

        Through a perspective the box's image is a quadrilateral, through a curl a bent one;
        its bounding box is kept (sampled along the edges when curled).
        """
        x0, y0, x1, y1 = box
        if self.curl is None:
            outline = np.array([[x0, y0], [x1, y0], [x0, y1], [x1, y1]], np.float64)
            pts = cv2.perspectiveTransform(outline[:, None, :], np.linalg.inv(self.matrix))
            pts = pts.reshape(-1, 2)
        else:
            s = np.linspace(0, 1, 9)
            xs, ys = x0 + (x1 - x0) * s, y0 + (y1 - y0) * s
            outline = np.concatenate([
                np.stack([xs, np.full_like(xs, y0)], 1), np.stack([xs, np.full_like(xs, y1)], 1),
                np.stack([np.full_like(ys, x0), ys], 1), np.stack([np.full_like(ys, x1), ys], 1)])
            after = self.matrix @ np.linalg.inv(self.curl.to_flat)  # flat page → prepared
            flat = cv2.perspectiveTransform(outline[:, None, :], np.linalg.inv(after))
            pts = self.curl.to_input(flat.reshape(-1, 2))
        h, w = self.input_shape
        return (
            int(max(0, np.floor(pts[:, 0].min()))), int(max(0, np.floor(pts[:, 1].min()))),
            int(min(w, np.ceil(pts[:, 0].max()))), int(min(h, np.ceil(pts[:, 1].max()))),
        )


def _rect(w: int, h: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_RECT, (w, h))


def to_gray(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return image.astype(np.uint8, copy=False)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_RGBA2GRAY)
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)


def _paper_colour(rgb: np.ndarray) -> np.ndarray:
    """Local paper colour, at 1/8 size: a closing wider than any stroke, seal star or ring.

    Like ``normalize_background`` but per channel and coarser, so a seal's filled star (about
    5 mm) and thick ring count as ink, not as paper.
    """
    small = cv2.resize(rgb, None, fx=0.125, fy=0.125, interpolation=cv2.INTER_AREA)
    paper = cv2.morphologyEx(small, cv2.MORPH_CLOSE, _rect(9, 9))
    return cv2.medianBlur(paper, 5)


#: Stamp ink, as transmittance relative to the local paper (0-255): red passes, green is
#: absorbed, blue about as much as green or less (red to magenta-red, not the orange-brown of
#: stains and yellowing, never the blue or violet of pen ink). Aged unstamped pages measured
#: up to ~35 red-minus-green on a few pixels (stain rims), a faded seal 25-50 on its ring.
STAMP_SEED = 36  # red minus green of seed pixels
STAMP_EDGE = 12  # red minus green of faint ink joined to seeds
STAMP_GATE = 24  # red minus green at quarter size, where thin strokes are diluted
STAMP_MIN_SHARE = 5e-5  # share of the quarter page that must pass the gate to look further
STAMP_MIN_SEEDS = 200  # seed pixels in one place that make a seal (a seal has thousands)
STAMP_MIN_RED = 64  # raw red: stamp ink passes red; torn-off dark corners are noise here


def remove_stamp_ink(image: np.ndarray) -> np.ndarray:
    """Wash out red and purple-red seal ink, keeping the print and pen ink under it.

        >>> page = np.full((400, 400, 3), (236, 226, 196), np.uint8)   # yellowed paper
        >>> remove_stamp_ink(page) is page          # no seal: the same array back
        True
        >>> page[100:300, 180:220] = (202, 78, 74)   # a red band of seal ink
        >>> page[190:210, 50:350] = (22, 38, 120)    # a blue pen stroke across it
        >>> out = remove_stamp_ink(page)
        >>> out[120, 200].tolist(), out[200, 200].tolist()   # bare seal → paper; pen ink stays
        ([236, 226, 196], [22, 38, 120])

    A pixel is stamp ink when, relative to the paper around it, it lets red light through and
    absorbs green (red to magenta hues), the way a red dropout filter sees it. Such pixels are
    replaced by the paper colour darkened by what their red channel still lacks: stamp ink
    over bare paper becomes paper, while black print or blue and purple ink under the stamp
    absorb red too and so stay dark. Pixels dark in every channel (stamp over dark ink) are not
    stamp-coloured and are left as they are. Gray images, and colour pages without a seal, come
    back unchanged (the same object). Blue and purple pen inks pass less red than blue, so they
    are never taken for stamp ink; a violet seal would not be removed either.
    """
    if image.ndim != 3 or image.shape[2] < 3:
        return image
    rgb = image[:, :, :3]
    h, w = rgb.shape[:2]
    paper = _paper_colour(rgb)
    # A cheap look at quarter size first: most pages have no seal and stop here.
    quarter = cv2.resize(rgb, (max(1, w // 4), max(1, h // 4)), interpolation=cv2.INTER_AREA)
    gate = _stamp_ink(quarter, _transmittance(quarter, paper), STAMP_GATE)
    if np.count_nonzero(gate) < STAMP_MIN_SHARE * gate.size:
        return image
    _, _, stats, _ = cv2.connectedComponentsWithStats(cv2.dilate(gate, _rect(9, 9)))
    out = image.copy()
    changed = False
    for x, y, bw, bh, _ in stats[1:]:
        x0, y0 = max(0, 4 * x - 8), max(0, 4 * y - 8)
        x1, y1 = min(w, 4 * (x + bw) + 8), min(h, 4 * (y + bh) + 8)
        changed |= _wash(out[y0:y1, x0:x1, :3], paper, (x0, y0), (w, h))
    return out if changed else image


def _transmittance(rgb: np.ndarray, paper_small: np.ndarray, origin=(0, 0), full=None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """``rgb`` divided by the paper colour under it (0-255, saturating), and that paper."""
    h, w = rgb.shape[:2]
    if full is None:
        paper = cv2.resize(paper_small, (w, h), interpolation=cv2.INTER_LINEAR)
    else:  # a window of the full page: scale the paper estimate, then cut the window out
        fx, fy = paper_small.shape[1] / full[0], paper_small.shape[0] / full[1]
        m = np.array([[fx, 0, origin[0] * fx], [0, fy, origin[1] * fy]], np.float32)
        paper = cv2.warpAffine(paper_small, m, (w, h),
                               flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                               borderMode=cv2.BORDER_REPLICATE)
    return cv2.divide(rgb, np.maximum(paper, 1), scale=255), paper


def _stamp_ink(rgb: np.ndarray, transmitted: tuple[np.ndarray, np.ndarray], redness: int
               ) -> np.ndarray:
    """Pixels (0/255) whose colour, relative to the paper, is stamp ink at least this red."""
    r, g, b = cv2.split(transmitted[0])
    hue = (r >= b) & (cv2.add(b, 16) >= g) & (rgb[:, :, 0] >= STAMP_MIN_RED)
    return ((cv2.subtract(r, g) >= redness) & hue).astype(np.uint8) * 255


def _wash(window: np.ndarray, paper_small: np.ndarray, origin, full) -> bool:
    """Remove the stamp ink inside one window of the page (in place). True if anything changed."""
    t, paper = transmitted = _transmittance(window, paper_small, origin, full)
    seeds = _stamp_ink(window, transmitted, STAMP_SEED)
    if np.count_nonzero(seeds) < STAMP_MIN_SEEDS:
        return False
    # Hysteresis: faint ink counts where it is joined (across 1-2 px gaps) to seed pixels.
    faint = _stamp_ink(window, transmitted, STAMP_EDGE)
    n, labels = cv2.connectedComponents(cv2.dilate(faint | seeds, _rect(3, 3)), connectivity=8)
    joined = np.zeros(n, bool)
    joined[labels[seeds > 0]] = True
    joined[0] = False
    mask = joined[labels] & (faint > 0)
    # What red light a bare impression lets through: pixels at least that bright are paper.
    r = t[:, :, 0]
    lift = max(0.5, float(np.percentile(r[seeds > 0], 40)) / 255)
    keep = np.minimum(1.0, r[mask].astype(np.float32) / 255 / lift)
    window[mask] = (paper[mask].astype(np.float32) * keep[:, None] + 0.5).astype(np.uint8)
    return True


def estimate_dpi(gray: np.ndarray) -> float:
    """Scans carry no reliable dpi once decoded; the short side of an A4 page tells it."""
    return min(gray.shape[:2]) / A4_WIDTH_INCH


def normalize_background(gray: np.ndarray) -> np.ndarray:
    """Divide by a blurred estimate of the paper so yellowing, stains and fading flatten out.

    The paper estimate is a morphological closing (text removed) at quarter size, which is
    fast and ignores strokes thinner than the kernel.
    """
    small = cv2.resize(gray, None, fx=0.25, fy=0.25, interpolation=cv2.INTER_AREA)
    paper = cv2.morphologyEx(small, cv2.MORPH_CLOSE, _rect(9, 9))
    paper = cv2.medianBlur(paper, 5)
    paper = cv2.resize(paper, (gray.shape[1], gray.shape[0]), interpolation=cv2.INTER_LINEAR)
    norm = cv2.divide(gray, np.maximum(paper, 1), scale=255)
    return norm


def binarize(gray: np.ndarray) -> np.ndarray:
    """Otsu on the background-normalized page: black text (0) on white (255)."""
    _, binary = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return binary


#: ``thin_strokes``: Otsu's level is "too close to the paper" when it lies above the point this
#: share of the way from the local ink level to the paper (0.5 keeps a blurred stroke's width).
STROKE_SHARE = 0.45
#: Only pages whose Otsu level is this light look further: blurred or faded ink on a
#: normalized background (paper 255); crisp dark print measures well under it.
STROKE_MIN_OTSU = 200
STROKE_MIN_CHANGE = 0.1  # share of Otsu's ink pixels the thin version must drop to be used


def thin_strokes(gray: np.ndarray) -> np.ndarray | None:
    """A binary whose letters keep their printed width on a blurred page, or None.

    Otsu picks one level for the page; where ink is faint overall (a phone photo, a heavily
    aged 200 dpi page: blur, fading, JPEG) that level sits in the soft halo around dark
    strokes, so ``ă`` fills into ``â``, ``m`` into a blot and ``e`` into ``o``. Here each place
    is cut at ``STROKE_SHARE`` of the way from its own darkest ink (a minimum filter over a
    few letters) to the paper, never above Otsu's level: faint print (labels, rules) comes
    out as Otsu had it, dark blurred values lose their halo. Gated by Otsu's level, so crisp
    scans never pay for it.
    """
    level, otsu = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    if level < STROKE_MIN_OTSU:
        return None
    # counted, not kept: on a phone photo every page-sized array is another ~12 MB per worker
    before = otsu.size - cv2.countNonZero(otsu)
    del otsu
    small = cv2.resize(gray, None, fx=0.25, fy=0.25, interpolation=cv2.INTER_AREA)
    ink = cv2.blur(cv2.erode(small, _rect(9, 9)), (9, 9))
    cut = cv2.addWeighted(ink, 1 - STROKE_SHARE, np.full_like(ink, 255), STROKE_SHARE, 0)
    cut = np.minimum(cut, np.uint8(level))
    cut = cv2.resize(cut, (gray.shape[1], gray.shape[0]), interpolation=cv2.INTER_LINEAR)
    thin = cv2.compare(gray, cut, cv2.CMP_GE)  # 255 paper, 0 ink
    del cut
    if before == 0 or thin.size - cv2.countNonZero(thin) > (1 - STROKE_MIN_CHANGE) * before:
        return None
    return thin


def estimate_skew(binary: np.ndarray, max_angle: float = MAX_SKEW) -> float:
    """Skew in degrees by projection profile: the angle whose row sums are most peaked.

    Coarse 0.5° search on a small image, then 0.05° refinement; text lines, ruled lines and
    leader dots all vote, which suits forms and ledgers alike. Ink touching the image's
    border does not vote: it is the edge of the sheet or its shadow (a flattened photo's edge
    is level by construction, a scanner's lid shadow is level with the glass), and as the
    longest straight stroke on the page it would outvote a table printed a little crooked.
    """
    ink = 255 - binary
    factor = min(1.0, 1000.0 / max(ink.shape))
    small = _without_border_ink(
        cv2.resize(ink, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA))

    def score(angle: float) -> float:
        return capture.line_sharpness(small, angle)

    if np.count_nonzero(small) < 0.001 * small.size:
        return 0.0  # (nearly) blank page: nothing to align
    coarse = np.arange(-max_angle, max_angle + 1e-9, 0.5)
    # ties (flat profiles) go to the angle nearest 0: do not rotate without evidence
    best = max(coarse, key=lambda a: (score(a), -abs(a)))
    fine = np.arange(max(-max_angle, best - 0.5), min(max_angle, best + 0.5) + 1e-9, 0.05)
    best = max(fine, key=lambda a: (score(a), -abs(a)))
    return float(round(best, 2)) + 0.0  # no -0.0


def _without_border_ink(ink: np.ndarray) -> np.ndarray:
    """``ink`` (white on black) with every blob that touches the image border erased."""
    n, labels = cv2.connectedComponents((ink > 0).astype(np.uint8), connectivity=8)
    if n <= 1:
        return ink
    edge = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    edge = edge[edge > 0]
    if edge.size == 0:
        return ink
    out = ink.copy()
    out[np.isin(labels, edge)] = 0
    return out


def remove_lines(binary: np.ndarray, *, min_length: int = 120, dots: bool = True) -> np.ndarray:
    """Erase long ruled lines and dotted leader lines, which Tesseract reads as ``....`` or ``_``.

    A ruled line is a run of ink at least ``min_length`` long and thin; a leader is a row of small
    dots, found by bridging dots horizontally and keeping long thin runs. Text strokes that
    touch a line lose a few pixels; that costs less than the garbage characters lines produce:
    on generated clean form pages, 95 % of fields were read exactly with removal, 10 % without.
    """
    ink = (binary < 128).astype(np.uint8) * 255
    mask = np.zeros_like(ink)
    horiz = cv2.morphologyEx(ink, cv2.MORPH_OPEN, _rect(min_length, 1))
    vert = cv2.morphologyEx(ink, cv2.MORPH_OPEN, _rect(1, min_length))
    mask |= horiz | vert
    if dots:
        mask |= _leader_mask(ink)
    mask = cv2.dilate(mask, _rect(3, 3))
    out = binary.copy()
    out[(mask > 0) & (ink > 0)] = 255
    return out


SPECK_AREA = 10  # pixels at ~300 dpi: a dot of a diacritic in the smallest type is larger...
SPECK_REACH = 8  # ... or stands this close to its letter
SPECK_PAGE_MIN = 500  # lone specks that make a page grainy: a crisp page has a few dozen


def remove_specks(binary: np.ndarray, *, max_area: int = SPECK_AREA,
                  reach: int = SPECK_REACH, min_specks: int = SPECK_PAGE_MIN) -> np.ndarray:
    """Erase isolated specks (black on white ``binary``): blobs of at most ``max_area``
    pixels with no larger ink within ``reach`` pixels, on a page that has at least
    ``min_specks`` of them (grain); a page with a few is left exactly as it was.

    Grain, dust and noise of an aged or photographed page binarize into thousands of specks
    that Tesseract reads as ``.``, ``'`` and ``¬`` and glues to words: the column headers of
    a held-out heavy ledger page matched a third of its columns with them and 89 % without.
    A diacritic's dot stands within a few pixels of its letter and is kept. A crisp page's
    few specks (what line removal left of a leader) are no grain, and Tesseract segments
    some lines differently without them ("Họ và tên mẹ:" read "Họvàtênme:").
    """
    ink = (binary < 128).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    del ink
    if n <= 1:
        return binary
    small = stats[:, cv2.CC_STAT_AREA] <= max_area
    small[0] = False
    if not small.any():
        return binary
    letters = (~small).astype(np.uint8)
    letters[0] = 0
    near = cv2.dilate(letters[labels], _rect(2 * reach + 1, 2 * reach + 1))
    small[labels[(near > 0) & (labels > 0)]] = False  # any pixel near a letter: it stays
    del near
    if np.count_nonzero(small) < min_specks:
        return binary
    out = binary.copy()
    out[small[labels]] = 255
    return out


def _leader_mask(ink: np.ndarray) -> np.ndarray:
    n, labels, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    if n <= 1:
        return np.zeros_like(ink)
    w, h = stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT]
    area = stats[:, cv2.CC_STAT_AREA]
    small = (w <= 9) & (h <= 9) & (area >= 2)
    small[0] = False
    dots = np.where(small[labels], 255, 0).astype(np.uint8)
    # Bridge dots of one leader (pitch up to ~20 px at 300 dpi) and keep only long, flat runs.
    bridged = cv2.morphologyEx(dots, cv2.MORPH_CLOSE, _rect(22, 1))
    runs = cv2.morphologyEx(bridged, cv2.MORPH_OPEN, _rect(90, 1))
    return cv2.bitwise_and(runs, dots)


def preprocess_page(
    image: np.ndarray, *, dpi: float | None = None, deskew: bool = True, stamps: bool = True
) -> PreparedPage:
    """Prepare a page (RGB or gray uint8) for OCR, from a flatbed scan or a phone photo.

        >>> page = preprocess_page(np.full((3508, 2480), 255, np.uint8))
        >>> page.scale, page.angle
        (1.0, 0.0)

    A photo's page is found on the table and its perspective flattened (``capture``); a page
    scanned or photographed turned by 90°/180°/270° is stood upright, one turned further than
    5° on the glass is turned back, and the remaining skew up to ±5° is corrected by rotating
    about the page centre. Each of these is tested cheaply first, so a straight flatbed scan
    comes out pixel for pixel as it always did. Pages under ~250 dpi are upscaled to 300
    (Tesseract wants ~20 px letters); higher ones are left alone. Red seal ink is washed out
    of colour pages (``stamps=False`` keeps it), see ``remove_stamp_ink``. ``deskew=False``
    leaves the geometry alone (no page finding, turning or deskew).
    """
    image = np.asarray(image)
    input_shape = (image.shape[0], image.shape[1])
    found = capture.locate_page(image) if deskew else None
    corners, curl, to_flat = None, None, np.eye(3)
    if found is not None:
        corners = found.corners
        image, to_flat, curl = _flatten(image, found)
        dpi = None  # the input's dpi says nothing about the flattened page
    gray = to_gray(remove_stamp_ink(image) if stamps else image)
    dpi = dpi or estimate_dpi(gray)
    scale = TARGET_DPI / dpi if dpi < 250 else 1.0
    if scale != 1.0:
        gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    gray = normalize_background(gray)
    binary = binarize(gray)
    matrix = np.diag([scale, scale, 1.0]) @ to_flat
    angle, turns, moved = 0.0, 0, corners is not None
    if deskew:
        gray, binary, angle, step, turns, far = _upright(gray, binary)
        matrix, moved = step @ matrix, moved or far
    if moved:  # report the whole turn, and the scale at the page's centre
        angle, scale = _rotation_of(matrix, input_shape)
    return PreparedPage(gray=gray, binary=binary, angle=angle, scale=scale, matrix=matrix,
                        input_shape=input_shape, corners=corners, turns=turns, curl=curl)


def _upright(gray: np.ndarray, binary: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray, float, np.ndarray, int, bool]:
    """Deskew, and when the text still does not stand in level rows, turn it further: back
    from a large skew (±15°), then by quarter turns (Tesseract OSD decides).

    Returns gray, binary, the last deskew angle, the 3x3 matrix of all of it, the quarter
    turns, and whether more than a ±5° deskew was done. An upright page straight within ±5°
    pays only for ``capture.orientation_hint`` (~10 ms) and comes out as it always did.
    """
    gray, binary, angle, matrix, far = _straighten(gray, binary)
    hint = capture.orientation_hint(binary)
    if hint != "upright":  # text lines not found level: turned far, or by quarters
        gray, binary, turned = _undo_large_skew(gray, binary)
        if turned is not None:
            gray, binary, angle, step, _ = _straighten(gray, binary)
            matrix, far = step @ turned @ matrix, True
            hint = capture.orientation_hint(binary)
    turns = capture.detect_quarter_turns(binary, hint)
    if turns:  # stood upright, then straightened again: the first skew was of columns
        step = capture.quarter_turn_matrix(turns, gray.shape)
        gray = np.ascontiguousarray(np.rot90(gray, turns))
        binary = np.ascontiguousarray(np.rot90(binary, turns))
        gray, binary, angle, again, _ = _straighten(gray, binary)
        matrix, far = again @ step @ matrix, True
    return gray, binary, angle, matrix, turns, far


def _flatten(image: np.ndarray, found: capture.FoundPage
             ) -> tuple[np.ndarray, np.ndarray, capture.PageCurl | None]:
    """The photographed page warped flat, in one resampling: perspective, and gutter curl when
    its edges show one. Returns the page, the homography (input → flat) and the curl."""
    to_flat, size = capture.page_homography(found.corners)
    curl = capture.estimate_curl(found.outline, to_flat, size)
    if curl is None:
        flat = cv2.warpPerspective(image, to_flat, size, flags=cv2.INTER_CUBIC,
                                   borderMode=cv2.BORDER_REPLICATE)
    else:
        mx, my = curl.source_maps()
        flat = cv2.remap(image, mx, my, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    return _clear_rim(flat), to_flat, curl


RIM = 0.03  # share of the short side searched for table left at a flattened page's edge


def _clear_rim(page: np.ndarray) -> np.ndarray:
    """Paint table slivers at the edge of a flattened photo with the paper's colour.

    Corners a few pixels off, a curled or torn edge leave dark table along the rim, which the
    ledger reader would take for ruled lines and Tesseract for letters. Only dark regions
    touching the image border within ``RIM`` of it go: the writing never touches the border.
    """
    gray = to_gray(page)
    h, w = gray.shape
    level = float(np.percentile(gray[h // 4: 3 * h // 4, w // 4: 3 * w // 4], 90))
    rim = max(3, int(RIM * min(h, w)))
    dark = (gray < capture.TABLE_SHARE * level).astype(np.uint8)
    inner = dark[rim:h - rim, rim:w - rim]
    inner[:] = 0
    n, labels = cv2.connectedComponents(dark, connectivity=8)
    if n <= 1:
        return page
    edge = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    table = np.isin(labels, edge[edge > 0])
    if not table.any():
        return page
    out = page.copy()
    paper = np.median(page[h // 4: 3 * h // 4, w // 4: 3 * w // 4].reshape(-1, *page.shape[2:]),
                      axis=0)
    out[table] = paper.astype(page.dtype)
    return out


def _straighten(gray: np.ndarray, binary: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, float, np.ndarray, bool]:
    """Deskew about the page centre: gray, binary, the angle, its 3x3 matrix, and whether the
    page was skewed beyond ±5° (then turned back coarsely first, in the same resampling chain).

    A straight page's deskew is exactly what it always was; only a search that ends at its
    ±5° limit asks ``capture.coarse_skew`` whether the page is turned further.
    """
    angle = estimate_skew(binary)
    before, far = np.eye(3), False
    if abs(angle) >= MAX_SKEW - 0.5:
        gray, binary, turned = _undo_large_skew(gray, binary)
        if turned is not None:
            before, far = turned, True
            angle = estimate_skew(binary)
    h, w = gray.shape
    rotation = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    if angle != 0.0:
        gray = cv2.warpAffine(gray, rotation, (w, h), flags=cv2.INTER_CUBIC, borderValue=255)
        binary = binarize(gray)
    return gray, binary, angle, np.vstack([rotation, [0, 0, 1]]) @ before, far


def _undo_large_skew(gray: np.ndarray, binary: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Turn back a page skewed beyond the ±5° of ``estimate_skew`` (up to ±15°), or None.

    Only asked when the fine search ended at its limit or the text does not stand in level
    rows, so straight pages never pay for it.
    """
    coarse = capture.coarse_skew(binary)
    if abs(coarse) <= capture.SKEW_HANDOFF:
        return gray, binary, None
    h, w = gray.shape
    rotation = cv2.getRotationMatrix2D((w / 2, h / 2), coarse, 1.0)
    gray = cv2.warpAffine(gray, rotation, (w, h), flags=cv2.INTER_CUBIC, borderValue=255)
    return gray, binarize(gray), np.vstack([rotation, [0, 0, 1]])


def _rotation_of(matrix: np.ndarray, shape: tuple[int, int]) -> tuple[float, float]:
    """Degrees (counter-clockwise, as OpenCV) and scale of a homography at the input's centre."""
    h, w = shape
    pts = np.array([[[w / 2, h / 2]], [[w / 2 + 10, h / 2]]], np.float64)
    a, b = cv2.perspectiveTransform(pts, matrix).reshape(2, 2)
    degrees = float(np.degrees(np.arctan2(-(b[1] - a[1]), b[0] - a[0])))
    degrees = round(degrees, 2) + 0.0  # no -0.0
    return (180.0 if degrees == -180.0 else degrees), float(np.hypot(*(b - a)) / 10)


#: ``isolate_text_line``: how far a written line reaches beyond its dense x-height band, in
#: band heights (capitals with stacked Vietnamese marks above, descenders and dot-below under).
LINE_ABOVE, LINE_BELOW = 1.5, 1.0
LINE_GAP = 4.0  # a gap wider than this many band heights ends the value (stain rims, specks)
SPECK_AREA = 12  # pixels: smaller components say nothing about where the line is
MIN_LETTER_HEIGHT = 10  # pixels at 300 dpi: leader dots and specks are shorter
LETTER_AREA_SHARE = 0.2  # of the 90th-percentile component: less ink is no letter


def isolate_text_line(part: np.ndarray) -> np.ndarray:
    """White out everything in a one-line value crop that is not that line's writing.

        >>> crop = np.full((60, 200), 255, np.uint8)
        >>> crop[20:40, 10:30] = 0; crop[0:6, 150:190] = 0  # a letter; a shard of the line above
        >>> cleaned = isolate_text_line(crop)
        >>> int((cleaned[0:6] < 128).sum()), int((cleaned[20:40] < 128).sum())
        (0, 400)

    A value's region is its printed line's box plus a margin, so on aged pages it also holds
    the cut-off bottoms and tops of the neighbouring lines, stain rims, bleed-through and
    specks, which Tesseract turns into letters ("qeasef. mm Ắ Kinh N jy"). The line is the
    densest band of rows (its x-height); kept are the components that reach into that band,
    the marks above and below it within reach of a letter, and the run of writing around the
    heaviest part of the line, which ends at a gap wider than ``LINE_GAP`` band heights.
    Components cut by the crop's top or bottom edge that miss the band belong to other lines.
    Coordinates are unchanged: the result has the crop's shape.
    """
    gray = part if part.ndim == 2 else to_gray(part)
    ink = (gray < 128).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    if n <= 1:
        return part
    x, y = stats[1:, cv2.CC_STAT_LEFT], stats[1:, cv2.CC_STAT_TOP]
    w, h = stats[1:, cv2.CC_STAT_WIDTH], stats[1:, cv2.CC_STAT_HEIGHT]
    area = stats[1:, cv2.CC_STAT_AREA]
    y1 = y + h
    edge = (y == 0) | (y1 >= gray.shape[0])
    solid = area >= SPECK_AREA
    if not solid.any():
        return np.full_like(part, 255)
    # The band is where most letters are: rows counted by the components crossing them
    # (not by pixels, so a row of leftover leader dots does not win), from components whole
    # inside the crop and tall enough to be letters; cut or small ones only when none is.
    voters = solid & ~edge & (h >= MIN_LETTER_HEIGHT)
    if not voters.any():
        voters = solid
    # Strokes of a letter carry ink; rims of stains and seals break up into thin fragments.
    heavy = area >= LETTER_AREA_SHARE * np.percentile(area[voters], 90)
    voters &= heavy
    profile = np.zeros(gray.shape[0] + 1)
    np.add.at(profile, y[voters], 1)
    np.add.at(profile, y1[voters], -1)
    profile = np.cumsum(profile)[:-1]
    peak = int(np.argmax(profile))
    peak_level = profile[peak]
    top = bottom = peak
    while top > 0 and profile[top - 1] >= 0.5 * peak_level:
        top -= 1
    while bottom < len(profile) - 1 and profile[bottom + 1] >= 0.5 * peak_level:
        bottom += 1
    band = max(8, bottom - top + 1)
    lo, hi = top - LINE_ABOVE * band, bottom + LINE_BELOW * band
    core = solid & (y <= bottom) & (y1 > top)  # letters: they reach into the x-height band
    cy = y + h / 2
    near = ~core & (cy >= lo) & (cy <= hi) & ~edge  # marks above and below the letters
    if not core.any():
        return np.full_like(part, 255)
    # Runs of writing along the line: core components chained by gaps up to LINE_GAP bands.
    order = np.argsort(x[core])
    idx = np.flatnonzero(core)[order]
    runs: list[list[int]] = [[idx[0]]]
    reach = x[idx[0]] + w[idx[0]]
    for i in idx[1:]:
        if x[i] - reach > LINE_GAP * band:
            runs.append([])
        runs[-1].append(i)
        reach = max(reach, x[i] + w[i])
    # The value is the run with the most letter-shaped components (the first on a tie: values
    # start at their label); stain rims and specks score low whatever their ink.
    letters = heavy & (h >= 0.6 * band) & (h <= 3.5 * band) & (w <= 3 * band)
    score = [int(letters[r].sum()) for r in runs]
    main = int(np.argmax(score))
    start = end = main
    while start > 0 and score[start - 1] >= max(2, 0.3 * score[main]):
        start -= 1
    while end < len(runs) - 1 and score[end + 1] >= max(2, 0.3 * score[main]):
        end += 1
    kept = [i for r in runs[start:end + 1] for i in r]
    left = min(x[i] for i in kept) - band
    right = max(x[i] + w[i] for i in kept) + band
    marks = np.flatnonzero(near & (x + w >= left) & (x <= right))
    keep = np.zeros(n, bool)
    keep[np.array(kept) + 1] = True
    keep[marks + 1] = True
    out = part.copy()
    out[(ink > 0) & ~keep[labels]] = 255
    return out

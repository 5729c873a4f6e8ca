"""How an aged page becomes an image: laid on a flatbed scanner, or photographed by a phone.

Archives were digitised with whatever the commune had. A flatbed gives the aged page as it is
(``degrade.py``); a phone photo puts that page on a table, turned, in perspective, curled near
the book's gutter, shaded, a little blurred and JPEG-compressed. Every geometric change is
kept as a point mapper, so truth boxes follow the ink through non-linear curl as well.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import cv2
import numpy as np
from PIL import Image

from pipeline.errors import BadInput
from pipeline.samplegen.degrade import DPI, _jpeg, degrade_page, transform_box

KINDS = ("flatbed", "phone")
#: Tables a register is photographed on: dark wood, grey desk, blue and green cloth, red lacquer.
TABLES = ((62, 44, 32), (44, 44, 48), (38, 58, 104), (42, 88, 62), (118, 48, 38), (150, 130, 105))
#: Samples along each edge of a box: curl bends straight edges, so corners are not enough.
OUTLINE_STEPS = 9


@dataclass(frozen=True)
class Curl:
    """The page bending down into the gutter over a band at one vertical edge.

    A point at depth ``t`` in the band (0 at the band's inner edge, 1 at the spine) moves
    toward the page's middle by ``squeeze·band·t²`` (foreshortening) and vertically by
    ``t²·(lift·h + converge·(y − h/2))`` (lines bow and draw together near the spine).
    """

    side: str  # "left" or "right": where the spine is
    band: float  # width of the curled band, pixels
    squeeze: float
    lift: float
    converge: float
    width: int
    height: int

    def _depth(self, x: np.ndarray) -> np.ndarray:
        if self.side == "right":
            return np.clip((x - (self.width - self.band)) / self.band, 0, 1)
        return np.clip((self.band - x) / self.band, 0, 1)

    def displacement(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        t2 = self._depth(x) ** 2
        sign = -1.0 if self.side == "right" else 1.0
        dx = sign * self.squeeze * self.band * t2
        dy = t2 * (self.lift * self.height + self.converge * (y - self.height / 2))
        return dx, dy

    def forward(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        dx, dy = self.displacement(x, y)
        return x + dx, y + dy

    def inverse(self, u: np.ndarray, v: np.ndarray, rounds: int = 8) -> tuple[np.ndarray, np.ndarray]:
        """Flat point of a curled one, by fixed-point iteration: the displacement changes
        slowly (its gradient stays well below 1), so a few rounds are exact to a pixel fraction."""
        x, y = u.copy(), v.copy()
        for _ in range(rounds):
            dx, dy = self.displacement(x, y)
            x, y = u - dx, v - dy
        return x, y

    def as_dict(self) -> dict:
        return {"side": self.side, "band_px": round(self.band, 1), "squeeze": round(self.squeeze, 4),
                "lift": round(self.lift, 4), "converge": round(self.converge, 4)}


class PointMapper:
    """Maps points of the clean page to the captured image: the ageing skew (affine), then,
    for a photo, the curl and the flat homography (page → table canvas, quarter turns included)."""

    def __init__(self, affine: np.ndarray | None, size: tuple[int, int],
                 curl: Curl | None = None, homography: np.ndarray | None = None):
        self.affine = affine
        self.size = size  # (width, height) of the captured image
        self.curl = curl
        self.homography = homography

    def __call__(self, pts) -> np.ndarray:
        pts = np.asarray(pts, dtype=float).reshape(-1, 2)
        if self.affine is not None:
            pts = np.hstack([pts, np.ones((len(pts), 1))]) @ self.affine.T
        if self.curl is not None:
            pts = np.stack(self.curl.forward(pts[:, 0], pts[:, 1]), axis=1)
        if self.homography is not None:
            hom = np.hstack([pts, np.ones((len(pts), 1))]) @ self.homography.T
            pts = hom[:, :2] / hom[:, 2:3]
        return pts

    def box(self, box) -> list[int] | None:
        """Bounding box, in the captured image, of a clean-page box's whole outline."""
        if box is None:
            return None
        w, h = self.size
        if self.curl is None and self.homography is None:  # flatbed: corners are exact
            return transform_box(box, self.affine, w, h)
        x0, y0, x1, y1 = box
        s = np.linspace(0, 1, OUTLINE_STEPS)
        xs = x0 + (x1 - x0) * s
        ys = y0 + (y1 - y0) * s
        outline = np.concatenate([
            np.stack([xs, np.full_like(xs, y0)], 1), np.stack([xs, np.full_like(xs, y1)], 1),
            np.stack([np.full_like(ys, x0), ys], 1), np.stack([np.full_like(ys, x1), ys], 1)])
        out = self(outline)
        bx0, by0 = np.floor(out.min(axis=0))
        bx1, by1 = np.ceil(out.max(axis=0))
        bx0, bx1 = max(0, int(bx0)), min(w, int(bx1))
        by0, by1 = max(0, int(by0)), min(h, int(by1))
        return [bx0, by0, bx1, by1] if bx1 > bx0 and by1 > by0 else None


class Captured(NamedTuple):
    image: Image.Image
    map_points: PointMapper
    params: dict


def parse_capture(spec: str, level: str) -> tuple[str, int]:
    """``"flatbed"`` (the ageing level's usual dpi), ``"flatbed:<dpi>"`` (200–400) or
    ``"phone"``; returns the kind and the dpi the page is drawn at."""
    kind, _, dpi = spec.partition(":")
    if kind not in KINDS or (dpi and (kind != "flatbed" or not dpi.isdigit()
                                      or not 200 <= int(dpi) <= 400)):
        raise BadInput(f"Kiểu chụp không hợp lệ: {spec}", hint="flatbed, flatbed:<200–400> hoặc phone")
    return kind, int(dpi) if dpi else DPI[level]


def capture_page(image: Image.Image, kind: str, rng: np.random.Generator, boxes=None,
                 level: str = "clean", reverse: Image.Image | None = None) -> Captured:
    """Age a clean page (``level``) and capture it: ``"flatbed"`` or ``"phone"``.

    ``boxes`` (clean-page ink boxes) keep a torn corner off the writing. The flatbed path draws
    exactly what ``degrade_page`` always drew, so default books keep their bytes.

    >>> img, mapper, params = capture_page(page, "phone", np.random.default_rng(1), boxes)
    >>> mapper.box(boxes[0])    # where that ink is in the photo
    """
    if kind not in KINDS:
        raise BadInput(f"Kiểu chụp không hợp lệ: {kind}", hint=", ".join(KINDS))
    aged = degrade_page(image, level, rng, reverse, boxes)
    if kind == "flatbed":
        return Captured(aged.image, PointMapper(aged.matrix, aged.image.size),
                        {"kind": "flatbed", "ageing": aged.params})
    photo, curl, hom, params = photograph(np.asarray(aged.image), rng)
    params["ageing"] = aged.params
    mapper = PointMapper(aged.matrix, (photo.shape[1], photo.shape[0]), curl, hom)
    params["page_corners"] = [[round(float(a), 1), round(float(b), 1)]
                              for a, b in mapper(_page_corners(image.size))]
    return Captured(Image.fromarray(photo), mapper, params)


def _page_corners(size: tuple[int, int]) -> np.ndarray:
    w, h = size
    return np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=float)


def _draw_curl(rng: np.random.Generator, w: int, h: int) -> Curl:
    return Curl(side="right" if rng.random() < 0.5 else "left",
                band=float(rng.uniform(0.10, 0.20)) * w, squeeze=float(rng.uniform(0.08, 0.3)),
                lift=float(rng.uniform(0.004, 0.014)) * (1 if rng.random() < 0.5 else -1),
                converge=float(rng.uniform(-0.05, -0.01)), width=w, height=h)


def _draw_homography(rng: np.random.Generator, w: int, h: int) -> tuple[np.ndarray, tuple[int, int], dict]:
    """Page → canvas: scaled, turned up to ±15°, corners pulled by perspective (≤ 6 %), laid
    with a margin of table around it; now and then the phone was held sideways or upside down."""
    scale = float(rng.uniform(0.72, 0.9))
    angle = float(rng.uniform(-15, 15))
    a = np.radians(angle)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    src = _page_corners((w, h))
    centred = (src - [w / 2, h / 2]) * scale
    jitter = rng.uniform(-0.06, 0.06, size=(4, 2)) * [w * scale, h * scale]
    dst = (centred + jitter) @ rot.T
    span = max(w, h) * scale
    margins = rng.uniform(0.03, 0.12, size=4) * span  # left, top, right, bottom
    dst = dst - dst.min(axis=0) + margins[:2]
    cw = int(np.ceil(dst[:, 0].max() + margins[2]))
    ch = int(np.ceil(dst[:, 1].max() + margins[3]))
    hom = cv2.getPerspectiveTransform(src.astype(np.float32), dst.astype(np.float32)).astype(float)
    turns = int(rng.choice(4, p=[0.9, 0.04, 0.04, 0.02]))
    for _ in range(turns):  # 90° counter-clockwise, as np.rot90 turns the array
        hom = np.array([[0, 1, 0], [-1, 0, cw], [0, 0, 1]], float) @ hom
        cw, ch = ch, cw
    params = {"scale": round(scale, 4), "rotation_deg": round(angle, 3), "quarter_turns": turns,
              "corner_shift": [[round(float(v), 1) for v in p] for p in jitter],
              "canvas": [cw, ch]}
    return hom, (cw, ch), params


def _backward_maps(curl: Curl, hom: np.ndarray, size: tuple[int, int], step: int = 8
                   ) -> tuple[np.ndarray, np.ndarray]:
    """For every canvas pixel, the page pixel it shows. Computed on a coarse grid placed
    where ``cv2.resize`` expects its samples, then interpolated: the map is smooth."""
    cw, ch = size
    nx, ny = max(2, -(-cw // step)), max(2, -(-ch // step))
    gx = (np.arange(nx) + 0.5) * cw / nx - 0.5
    gy = (np.arange(ny) + 0.5) * ch / ny - 0.5
    X, Y = np.meshgrid(gx, gy)
    inv = np.linalg.inv(hom)
    pts = np.stack([X.ravel(), Y.ravel(), np.ones(X.size)])
    u = inv @ pts
    u, v = u[0] / u[2], u[1] / u[2]
    x, y = curl.inverse(u, v)
    mx = cv2.resize(x.reshape(ny, nx).astype(np.float32), (cw, ch), interpolation=cv2.INTER_LINEAR)
    my = cv2.resize(y.reshape(ny, nx).astype(np.float32), (cw, ch), interpolation=cv2.INTER_LINEAR)
    return mx, my


def _table(rng: np.random.Generator, size: tuple[int, int]) -> tuple[np.ndarray, list[int]]:
    """The table top: a dark or coloured surface, mottled and grainy."""
    cw, ch = size
    colour = np.array(TABLES[int(rng.integers(len(TABLES)))], np.float32)
    cells = rng.uniform(0.8, 1.15, size=(6, 6)).astype(np.float32)
    mottle = cv2.resize(cells, (cw, ch), interpolation=cv2.INTER_CUBIC)
    table = colour[None, None, :] * mottle[:, :, None]
    return table, [int(c) for c in colour]


def _lighting(rng: np.random.Generator, size: tuple[int, int]) -> tuple[np.ndarray, dict]:
    """Light falling off across the frame, and sometimes the soft shadow of the phone or a hand."""
    cw, ch = size
    sw, sh = max(8, cw // 8), max(8, ch // 8)
    yy, xx = np.mgrid[0:sh, 0:sw].astype(np.float32)
    a = rng.uniform(0, 2 * np.pi)
    ramp = np.cos(a) * xx / sw + np.sin(a) * yy / sh
    ramp = (ramp - ramp.min()) / (ramp.max() - ramp.min() + 1e-6)
    strength = float(rng.uniform(0.1, 0.35))
    light = 1.0 - strength * ramp
    params = {"gradient": round(strength, 3)}
    if rng.random() < 0.4:
        blob = np.zeros((sh, sw), np.float32)
        cx, cy = int(rng.uniform(0, sw)), int(rng.uniform(0, sh))
        cv2.ellipse(blob, (cx, cy), (int(sw * rng.uniform(0.15, 0.4)), int(sh * rng.uniform(0.15, 0.4))),
                    float(rng.uniform(0, 180)), 0, 360, 1.0, -1)
        blob = cv2.GaussianBlur(blob, (0, 0), max(sw, sh) * 0.08)
        dark = float(rng.uniform(0.15, 0.3))
        light *= 1.0 - dark * blob
        params["shadow"] = round(dark, 3)
    return cv2.resize(light, (cw, ch), interpolation=cv2.INTER_LINEAR), params


def _drop_shadow(mask: np.ndarray) -> np.ndarray:
    """The page's soft shadow on the table, down and right of it; blurred at an eighth of the
    size because nothing in it is sharp."""
    h, w = mask.shape
    small = cv2.resize(mask, (max(2, w // 8), max(2, h // 8)), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), max(h, w) * 0.01 / 8)
    off = max(1, int(max(h, w) * 0.006 / 8))
    small = np.roll(small, (off, off), axis=(0, 1))
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def photograph(page: np.ndarray, rng: np.random.Generator
               ) -> tuple[np.ndarray, Curl, np.ndarray, dict]:
    """A phone photo of an (aged) page lying open in its book on a table.

    Returns the photo, the curl (page coordinates), the homography of the flat part (curled
    page → photo) and the parameters drawn, for truth.json.
    """
    h, w = page.shape[:2]
    curl = _draw_curl(rng, w, h)
    hom, size, params = _draw_homography(rng, w, h)
    # The gutter is in the page's own shade before it is photographed.
    depth = curl._depth(np.arange(w, dtype=np.float64))
    gutter = float(rng.uniform(0.12, 0.3))
    shade = (1.0 - gutter * depth ** 2).astype(np.float32)
    shaded = page.astype(np.float32) * shade[None, :, None]
    mx, my = _backward_maps(curl, hom, size)
    flat = cv2.remap(shaded, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    ones = np.full((h, w), 255, np.uint8)
    mask = cv2.remap(ones, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                     borderValue=0).astype(np.float32) / 255
    table, colour = _table(rng, size)
    table *= (1.0 - 0.45 * _drop_shadow(mask))[:, :, None]
    out = table + (flat - table) * mask[:, :, None]
    light, light_params = _lighting(rng, size)
    out *= light[:, :, None]
    noise = rng.standard_normal(out.shape[:2], dtype=np.float32) * float(rng.uniform(1.5, 4))
    out = np.clip(out + noise[:, :, None], 0, 255).astype(np.uint8)
    sigma = float(rng.uniform(0.4, 1.1))
    out = cv2.GaussianBlur(out, (0, 0), sigma)
    quality = int(rng.integers(60, 86))
    out = _jpeg(np.ascontiguousarray(out), quality)
    params = {"kind": "phone", **params, "homography": [[round(float(v), 8) for v in row] for row in hom],
              "curl": curl.as_dict(), "gutter_shade": round(gutter, 3), "table_rgb": colour,
              "lighting": light_params, "blur_sigma": round(sigma, 3), "jpeg_quality": quality}
    return out, curl, hom, params

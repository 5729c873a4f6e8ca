"""Ages a clean page the way archive books are: yellowed, faded, skewed, stained, torn.

Every random choice comes from the ``rng`` passed in, so a seed gives the same bytes. The
geometric change (skew) is returned as a 2×3 matrix so truth boxes follow the ink.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

LEVELS = ("clean", "moderate", "heavy")
DPI = {"clean": 300, "moderate": 300, "heavy": 200}


@dataclass
class Degraded:
    image: Image.Image
    matrix: np.ndarray | None  # 2×3 affine from clean to degraded pixel coordinates
    params: dict


def transform_box(box, matrix: np.ndarray | None, width: int, height: int) -> list[int] | None:
    """Bounding box of the transformed corners, clipped to the page."""
    if box is None:
        return None
    x0, y0, x1, y1 = box
    if matrix is not None:
        pts = np.array([[x0, y0, 1], [x1, y0, 1], [x0, y1, 1], [x1, y1, 1]], dtype=float)
        out = pts @ matrix.T
        x0, y0 = np.floor(out.min(axis=0))
        x1, y1 = np.ceil(out.max(axis=0))
    x0, x1 = max(0, int(x0)), min(width, int(x1))
    y0, y1 = max(0, int(y0)), min(height, int(y1))
    return [x0, y0, x1, y1] if x1 > x0 and y1 > y0 else None


def _low_freq(rng: np.random.Generator, shape: tuple[int, int], cells: int, lo: float, hi: float
              ) -> np.ndarray:
    """A smooth random field in [lo, hi]: fading and mottling vary slowly across a sheet."""
    h, w = shape
    grid = rng.uniform(lo, hi, size=(max(2, cells * h // max(h, w)), max(2, cells * w // max(h, w))))
    return cv2.resize(grid.astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC).clip(lo, hi)


def _jpeg(arr: np.ndarray, quality: int) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(arr, cv2.COLOR_RGB2BGR),
                           [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def _rotate(arr: np.ndarray, angle: float, border) -> tuple[np.ndarray, np.ndarray]:
    h, w = arr.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    out = cv2.warpAffine(arr, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                         borderValue=tuple(float(v) for v in border))
    return out, m


def _stain(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Alpha of a coffee ring: a faint disc with a darker rim, blurred."""
    alpha = np.zeros((h, w), np.float32)
    cx, cy = int(rng.uniform(0.1, 0.9) * w), int(rng.uniform(0.1, 0.9) * h)
    r = int(rng.uniform(0.04, 0.11) * min(h, w))
    axes = (r, int(r * rng.uniform(0.75, 1.0)))
    angle = float(rng.uniform(0, 180))
    cv2.ellipse(alpha, (cx, cy), axes, angle, 0, 360, float(rng.uniform(0.15, 0.3)), -1)
    cv2.ellipse(alpha, (cx, cy), axes, angle, 0, 360, float(rng.uniform(0.45, 0.7)),
                max(2, r // 18))
    k = max(3, (r // 10) | 1)
    return cv2.GaussianBlur(alpha, (k, k), 0)


def _torn_corner(rng: np.random.Generator, h: int, w: int, keep_out: list[list[int]]
                 ) -> np.ndarray | None:
    """A jagged polygon at one corner that does not reach any written value."""
    corner = int(rng.integers(4))
    size = rng.uniform(0.05, 0.09) * min(h, w)
    for _ in range(6):
        n = 9
        t = np.linspace(0, 1, n)
        ax = size * (1 - t) + rng.normal(0, size * 0.06, n)
        ay = size * t + rng.normal(0, size * 0.06, n)
        pts = np.stack([np.clip(ax, 0, None), np.clip(ay, 0, None)], axis=1)
        pts = np.vstack([[0, 0], pts])
        if corner in (1, 2):
            pts[:, 0] = w - 1 - pts[:, 0]
        if corner in (2, 3):
            pts[:, 1] = h - 1 - pts[:, 1]
        x0, y0 = pts.min(axis=0)
        x1, y1 = pts.max(axis=0)
        if not any(b[0] < x1 and b[2] > x0 and b[1] < y1 and b[3] > y0 for b in keep_out):
            return pts.astype(np.int32)
        size *= 0.7
    return None


def _paper(rng: np.random.Generator, h: int, w: int, heavy: bool) -> tuple[np.ndarray, dict]:
    """The bare sheet: colour, mottling, light fall-off and stains, all slowly varying.

    Computed at a quarter of the resolution and scaled up: nothing on bare paper is sharp, and
    it keeps a 300-dpi page well under a second.
    """
    params: dict = {}
    sh, sw = max(8, h // 4), max(8, w // 4)
    base = np.array([240, 230, 200] if not heavy else [228, 210, 170], np.float32)
    base += rng.normal(0, 4, 3).astype(np.float32)
    paper = np.empty((sh, sw, 3), np.float32)
    paper[:] = base
    paper *= _low_freq(rng, (sh, sw), 12, 0.9 if heavy else 0.95, 1.0)[:, :, None]
    if heavy:
        angle = rng.uniform(0, 2 * np.pi)
        yy, xx = np.mgrid[0:sh, 0:sw].astype(np.float32)
        ramp = np.cos(angle) * xx / sw + np.sin(angle) * yy / sh
        ramp = (ramp - ramp.min()) / (ramp.max() - ramp.min() + 1e-6)
        paper *= (1.0 - float(rng.uniform(0.2, 0.35)) * ramp)[:, :, None]
        tint = np.array([0.82, 0.68, 0.5], np.float32)
        stains = int(rng.integers(1, 4))
        for _ in range(stains):
            alpha = _stain(rng, sh, sw)[:, :, None]
            paper *= 1.0 - alpha * (1.0 - tint)
        params["stains"] = stains
    paper = np.clip(paper, 0, 255).astype(np.uint8)
    return cv2.resize(paper, (w, h), interpolation=cv2.INTER_LINEAR), params


def degrade_page(clean: Image.Image, level: str, rng: np.random.Generator,
                 reverse: Image.Image | None = None,
                 boxes: list[tuple[int, int, int, int]] | None = None) -> Degraded:
    """Age one clean page. ``reverse`` is the sheet's other side, for bleed-through."""
    if level == "clean":
        return Degraded(clean, None, {})
    src = np.asarray(clean)
    h, w = src.shape[:2]
    heavy = level == "heavy"
    params: dict = {}

    # Ink darkness per channel keeps the ink's own colour; fading lifts it unevenly.
    fade = float(rng.uniform(0.55, 0.8) if heavy else rng.uniform(0.7, 0.88))
    fade_map = _low_freq(rng, (h // 8, w // 8), 6, 0.75 if heavy else 0.85, 1.0) * fade
    fade_map = cv2.resize((fade_map * 255).astype(np.uint8), (w, h), interpolation=cv2.INTER_LINEAR)
    dark = cv2.multiply(255 - src, cv2.merge([fade_map] * 3), scale=1 / 255)
    sigma = float(rng.uniform(0.8, 1.2) if heavy else rng.uniform(0.5, 0.85))
    dark = cv2.GaussianBlur(dark, (0, 0), sigma)
    transmit = 255 - dark
    if heavy and reverse is not None:
        back = 255 - cv2.cvtColor(np.asarray(reverse), cv2.COLOR_RGB2GRAY)[:, ::-1]
        back = cv2.GaussianBlur(back, (0, 0), 2.0)
        back = cv2.convertScaleAbs(back, alpha=float(rng.uniform(0.1, 0.18)))
        dy, dx = int(rng.integers(-h // 40, h // 40)), int(rng.integers(-w // 40, w // 40))
        back = np.roll(back, (dy, dx), axis=(0, 1))
        transmit = cv2.multiply(transmit, cv2.merge([255 - back] * 3), scale=1 / 255)
        params["bleed_through"] = True

    paper, paper_params = _paper(rng, h, w, heavy)
    params.update(paper_params)
    out = cv2.multiply(paper, transmit, scale=1 / 255)
    if heavy:
        noise = rng.standard_normal((h, w), dtype=np.float32) * float(rng.uniform(5, 9))
        noise = np.clip(noise + 128, 0, 255).astype(np.uint8)
        out = cv2.addWeighted(out, 1.0, cv2.merge([noise] * 3), 1.0, -128.0)  # out + noise

    limit = 4.0 if heavy else 1.5
    angle = float(rng.uniform(-limit, limit))
    border = out[5, w // 2].tolist()
    out, matrix = _rotate(out, angle, border)
    params["skew_deg"] = round(angle, 3)

    if heavy:
        moved = [transform_box(b, matrix, w, h) for b in (boxes or [])]
        poly = _torn_corner(rng, h, w, [b for b in moved if b])
        if poly is not None:
            colour = (32, 30, 28) if rng.random() < 0.6 else (250, 250, 248)
            cv2.fillPoly(out, [poly], colour)
            params["torn_corner"] = True
    quality = int(rng.integers(45, 70) if heavy else rng.integers(60, 82))
    out = _jpeg(np.ascontiguousarray(out), quality)
    params["jpeg_quality"] = quality
    return Degraded(Image.fromarray(out), matrix, params)

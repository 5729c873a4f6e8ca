"""The commune's red round seal, pressed over some entries of aged pages as on real registers.

A seal is a double ring with the commune's name around it and a star in the middle, in red or
purple-red ink that is uneven (more pressure on one side, voids where the rubber missed) and
partly transparent: it is blended by multiplication, so writing under it stays dark, as real
stamp ink over pen ink does. It changes no truth: what was written is still what was written.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageChops, ImageDraw

from pipeline.samplegen.fonts import load_font

#: Stamp-pad inks: vermilion and crimson reds, and the purple-red of an aniline pad.
STAMP_INKS = ((200, 32, 42), (186, 28, 52), (214, 58, 50), (160, 34, 92))
STAMP_FONT = "LiberationSans-Bold"
#: Diameter of a commune seal, millimetres.
DIAMETER_MM = (32.0, 36.0)
#: Chance that an aged page carries seals at all, and that a form entry on such a page has one.
PAGE_P, ENTRY_P = 0.7, 0.5

Box = tuple[int, int, int, int]


@dataclass
class Stamp:
    """One seal as drawn on the clean page (pixels of that page)."""

    row: int  # 1-based entry it was pressed over
    center: tuple[float, float]
    radius: float
    angle: float  # degrees the seal was turned (counter-clockwise positive)
    ink: tuple[int, int, int]
    strength: float


def seal_text(book: dict) -> str:
    """Words around the ring. Communes' committees were "hành chính" until the 1980 constitution."""
    org = "UỶ BAN HÀNH CHÍNH" if int(book["year"]) <= 1980 else "UỶ BAN NHÂN DÂN"
    text = f"{org} XÃ {book['commune']} * HUYỆN {book['district']} *"
    return unicodedata.normalize("NFC", text.upper())


def _star(cx: float, cy: float, outer: float, inner: float) -> list[tuple[float, float]]:
    pts = []
    for k in range(10):
        r = outer if k % 2 == 0 else inner
        a = np.pi * k / 5 - np.pi / 2
        pts.append((cx + r * np.cos(a), cy + r * np.sin(a)))
    return pts


def seal_mask(rng: np.random.Generator, radius: float, text: str, angle: float) -> np.ndarray:
    """Ink coverage in [0, 1] of one seal, a square of side ~2.1 × radius centred on the seal.

    Drawn at twice the size and reduced, so edges are anti-aliased like a scanned impression.
    """
    ss = 2
    R = radius * ss
    side = int(np.ceil(R * 2.2)) | 1
    c = side / 2
    img = Image.new("L", (side, side), 0)
    draw = ImageDraw.Draw(img)
    outer_w = max(2, int(round(R * 0.05)))
    draw.ellipse((c - R, c - R, c + R, c + R), outline=255, width=outer_w)
    ri = R * 0.66
    draw.ellipse((c - ri, c - ri, c + ri, c + ri), outline=255, width=max(1, int(round(R * 0.02))))
    draw.polygon(_star(c, c, R * 0.3, R * 0.12), fill=255)

    # Text upright along the band between the rings, evenly spread over the whole circle.
    baseline_r = R * 0.73
    size = int(R * 0.17)
    font = load_font(STAMP_FONT, size)
    widths = [font.getlength(ch) for ch in text]
    gap = max(0.0, (2 * np.pi * baseline_r - sum(widths)) / len(text))
    if gap < size * 0.02:  # a long name: smaller letters rather than overlapping ones
        size = int(size * 2 * np.pi * baseline_r / (sum(widths) + len(text) * size * 0.05))
        font = load_font(STAMP_FONT, size)
        widths = [font.getlength(ch) for ch in text]
        gap = max(0.0, (2 * np.pi * baseline_r - sum(widths)) / len(text))
    box = int(size * 2.2)
    pos = float(rng.uniform(0, 2 * np.pi * baseline_r))  # where the text starts
    for ch, w in zip(text, widths):
        mid = pos + w / 2
        pos += w + gap
        if ch == " ":
            continue
        theta = mid / baseline_r  # clockwise from the top
        glyph = Image.new("L", (box, box), 0)
        ImageDraw.Draw(glyph).text((box / 2, box / 2), ch, font=font, fill=255, anchor="ms")
        glyph = glyph.rotate(-np.degrees(theta), resample=Image.Resampling.BICUBIC)
        gx = c + baseline_r * np.sin(theta) - box / 2
        gy = c - baseline_r * np.cos(theta) - box / 2
        layer = Image.new("L", (side, side), 0)
        layer.paste(glyph, (int(round(gx)), int(round(gy))))
        img = ImageChops.lighter(img, layer)

    small = int(np.ceil(side / ss))
    img = img.rotate(angle, resample=Image.Resampling.BICUBIC)
    mask = np.asarray(img.resize((small, small), Image.Resampling.BOX), np.float32) / 255

    # Uneven ink: a slow pressure field, one side lighter, and voids where the pad was dry.
    cells = rng.uniform(0.55, 1.0, size=(6, 6)).astype(np.float32)
    pressure = cv2.resize(cells, (small, small), interpolation=cv2.INTER_CUBIC).clip(0.5, 1.0)
    tilt = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:small, 0:small].astype(np.float32) / small - 0.5
    pressure *= 1.0 - float(rng.uniform(0.0, 0.35)) * (0.5 + np.cos(tilt) * xx + np.sin(tilt) * yy)
    grain = rng.uniform(0, 1, size=(small // 3 + 1, small // 3 + 1)).astype(np.float32)
    grain = cv2.resize(grain, (small, small), interpolation=cv2.INTER_LINEAR)
    voids = np.clip((grain - 0.06) / 0.15, 0, 1)
    mask = cv2.GaussianBlur(mask * pressure * voids, (0, 0), 0.6)
    return np.clip(mask, 0, 1)


def press(page: Image.Image, stamp: Stamp, mask: np.ndarray) -> None:
    """Multiply the seal into the page in place: ink filters light, it does not cover."""
    arr = np.asarray(page).astype(np.float32)
    h, w = arr.shape[:2]
    side = mask.shape[0]
    x0 = int(round(stamp.center[0] - side / 2))
    y0 = int(round(stamp.center[1] - side / 2))
    px0, py0 = max(0, x0), max(0, y0)
    px1, py1 = min(w, x0 + side), min(h, y0 + side)
    if px1 <= px0 or py1 <= py0:
        return
    alpha = mask[py0 - y0:py1 - y0, px0 - x0:px1 - x0, None] * stamp.strength
    absorb = 1.0 - np.array(stamp.ink, np.float32) / 255
    region = arr[py0:py1, px0:px1] * (1.0 - alpha * absorb)
    page.paste(Image.fromarray(np.clip(region + 0.5, 0, 255).astype(np.uint8)), (px0, py0))


def _value_box(cell: dict, fields: list[str]) -> Box | None:
    boxes = [cell[f][2] for f in fields if f in cell and cell[f][2]]
    if not boxes:
        return None
    return (min(b[0] for b in boxes), min(b[1] for b in boxes),
            max(b[2] for b in boxes), max(b[3] for b in boxes))


def plan_stamps(rng: np.random.Generator, layout: str, fields: list[str], placed: list[dict],
                size: tuple[int, int], dpi: int) -> list[Stamp]:
    """Where the seals of one page go: over the last values of some entries (the registration
    date and declarant of a form entry, a ledger row's right-hand columns), as a clerk stamps
    next to the official's signature."""
    if rng.random() >= PAGE_P:
        return []
    w, h = size
    last = fields[-2:]
    if layout == "form":
        rows = [i for i in range(len(placed)) if rng.random() < ENTRY_P]
        rows = rows or [int(rng.integers(len(placed)))]
    else:
        first = int(rng.integers(len(placed)))
        rows = [first]
        if rng.random() < 0.4:  # a second seal, well apart from the first
            others = [i for i in range(len(placed)) if abs(i - first) >= 4]
            if others:
                rows.append(int(rng.choice(others)))
    stamps = []
    for i in sorted(rows):
        box = _value_box(placed[i], last)
        if box is None:
            continue
        radius = float(rng.uniform(*DIAMETER_MM)) / 2 * dpi / 25.4
        x0, y0, x1, y1 = box
        if layout == "form":
            cx = rng.uniform(x0 + 0.2 * radius, max(x0 + 0.2 * radius, x1) + 0.6 * radius)
        else:
            cx = rng.uniform(x0 - 0.1 * radius, x1 + 0.3 * radius)
        cy = (y0 + y1) / 2 + rng.uniform(-0.3, 0.3) * radius
        cx = float(np.clip(cx, 1.05 * radius, w - 1.05 * radius))
        cy = float(np.clip(cy, 1.05 * radius, h - 1.05 * radius))
        ink = STAMP_INKS[int(rng.integers(len(STAMP_INKS)))]
        stamps.append(Stamp(row=i + 1, center=(cx, cy), radius=radius,
                            angle=float(rng.uniform(-20, 20)), ink=ink,
                            strength=float(rng.uniform(0.8, 1.0))))
    return stamps


def stamp_page(page: Image.Image, rng: np.random.Generator, layout: str, fields: list[str],
               placed: list[dict], book: dict, dpi: int) -> tuple[Image.Image, list[Stamp]]:
    """A copy of the clean page with this page's seals (maybe none) pressed on it."""
    stamps = plan_stamps(rng, layout, fields, placed, page.size, dpi)
    if not stamps:
        return page, []
    out = page.copy()
    text = seal_text(book)
    for stamp in stamps:
        press(out, stamp, seal_mask(rng, stamp.radius, text, stamp.angle))
    return out, stamps

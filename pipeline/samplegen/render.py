"""Draws clean register pages (form or ledger) and reports where every written value landed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from pipeline.samplegen.content import lexicon
from pipeline.samplegen.fonts import LABEL_FONT, TITLE_FONT, load_font
from pipeline.templates import Template

Box = tuple[int, int, int, int]
PRINT_INK = (28, 28, 30)
PAPER = (255, 255, 255)


def union(boxes: list[Box | None]) -> Box | None:
    boxes = [b for b in boxes if b is not None]
    if not boxes:
        return None
    return (min(b[0] for b in boxes), min(b[1] for b in boxes),
            max(b[2] for b in boxes), max(b[3] for b in boxes))


@dataclass
class Hand:
    """A clerk's handwriting habits, fixed per book so a page looks written by one person."""

    slant: float
    size_jitter: float
    baseline_jitter: float
    ink: tuple[int, int, int]


class ValueWriter:
    """Writes the values (typed or hand-written) and returns the ink box of each."""

    def __init__(self, face: str, font_name: str, size_px: float, rng: np.random.Generator,
                 hand: Hand | None = None, ink: tuple[int, int, int] = (20, 20, 24)):
        self.face = face
        self.font_name = font_name
        self.size = size_px
        self.rng = rng
        self.hand = hand
        self.ink = hand.ink if hand else ink

    def font(self, scale: float = 1.0):
        return load_font(self.font_name, max(6, int(round(self.size * scale))))

    def width(self, text: str, scale: float = 1.0) -> float:
        w = self.font(scale).getlength(text)
        if self.hand:  # slant and jitter make written words a little wider than typeset
            w = w * (1 + self.hand.size_jitter) + abs(self.hand.slant) * self.size * 0.6
        return w

    def write(self, img: Image.Image, x: float, baseline: float, text: str,
              scale: float = 1.0) -> Box | None:
        if not text:
            return None
        if self.hand is None:
            return self._type(img, x, baseline, text, scale)
        return self._hand(img, x, baseline, text, scale)

    def _type(self, img, x, baseline, text, scale) -> Box | None:
        font = self.font(scale)
        draw = ImageDraw.Draw(img)
        # A worn ribbon: the line sits a pixel or two off and is not perfectly black.
        dy = int(self.rng.integers(-1, 2))
        draw.text((x, baseline + dy), text, font=font, fill=self.ink, anchor="ls")
        return _box(draw.textbbox((x, baseline + dy), text, font=font, anchor="ls"))

    def _hand(self, img, x, baseline, text, scale) -> Box | None:
        hand, rng = self.hand, self.rng
        boxes = []
        cursor = x
        for word in text.split(" "):
            if not word:
                cursor += self.font(scale).getlength(" ")
                continue
            size_scale = scale * (1 + rng.normal(0, hand.size_jitter))
            font = self.font(size_scale)
            slant = hand.slant + rng.normal(0, 0.04)
            dy = rng.normal(0, hand.baseline_jitter) * self.size
            ascent, descent = font.getmetrics()
            pad = int(self.size * 0.3)
            w = int(font.getlength(word)) + 2 * pad + int(abs(slant) * (ascent + descent))
            h = ascent + descent + 2 * pad
            mask = Image.new("L", (w, h), 0)
            ImageDraw.Draw(mask).text((pad, pad + ascent), word, font=font, fill=255, anchor="ls")
            by = pad + ascent
            # Shear about the baseline so slanted words stay on their line.
            mask = mask.transform((w, h), Image.Transform.AFFINE,
                                  (1, slant, -slant * by, 0, 1, 0), resample=Image.Resampling.BILINEAR)
            strength = float(rng.uniform(0.8, 1.0))
            if strength < 1:
                mask = mask.point(lambda v, s=strength: int(v * s))
            ox, oy = int(round(cursor - pad)), int(round(baseline + dy - by))
            img.paste(self.ink, (ox, oy), mask)
            bb = mask.getbbox()
            if bb:
                boxes.append((ox + bb[0], oy + bb[1], ox + bb[2], oy + bb[3]))
            cursor += font.getlength(word) + font.getlength(" ") * float(rng.uniform(0.9, 1.5))
        return union(boxes)


def _box(b) -> Box:
    return (int(b[0]), int(b[1]), int(np.ceil(b[2])), int(np.ceil(b[3])))


def wrap(writer: ValueWriter, text: str, width: float, max_lines: int = 2
         ) -> tuple[list[str], float]:
    """Greedy word wrap into at most ``max_lines``; shrink the writing when it still overflows."""
    for scale in (1.0, 0.9, 0.8, 0.72, 0.65, 0.58, 0.5):
        lines: list[str] = []
        for word in text.split(" "):
            if lines and writer.width(f"{lines[-1]} {word}", scale) <= width:
                lines[-1] = f"{lines[-1]} {word}"
            else:
                lines.append(word)
        if len(lines) <= max_lines and all(writer.width(ln, scale) <= width for ln in lines):
            return lines, scale
    return lines, scale


@dataclass
class PageGeometry:
    width: int
    height: int
    dpi: int

    def mm(self, v: float) -> float:
        return v * self.dpi / 25.4

    def pt(self, v: float) -> int:
        return int(round(v * self.dpi / 72))


def page_geometry(layout: str, dpi: int) -> PageGeometry:
    w_mm, h_mm = lexicon("layout")[layout]["size_mm"]
    return PageGeometry(int(round(w_mm * dpi / 25.4)), int(round(h_mm * dpi / 25.4)), dpi)


def _draw_dots(draw: ImageDraw.ImageDraw, x0: float, x1: float, y: float, g: PageGeometry) -> None:
    step = g.mm(1.3)
    r = max(1.0, g.dpi / 300 * 1.8)
    x = x0
    while x < x1:
        draw.ellipse((x - r, y - r, x + r, y + r), fill=PRINT_INK)
        x += step


def _header(img: Image.Image, g: PageGeometry, book: dict[str, Any], template: Template,
            page_no: int, cfg: dict[str, Any], top: float) -> None:
    lay = lexicon("layout")
    draw = ImageDraw.Draw(img)
    left, _, right, _ = cfg["margin_mm"]
    x0, x1 = g.mm(left), g.width - g.mm(right)
    hfont = load_font(LABEL_FONT, g.pt(cfg["header_pt"]))
    line_h = g.pt(cfg["header_pt"]) * 1.35
    y = top + line_h
    for key in ("commune_line", "district_line", "province_line"):
        draw.text((x0, y), lay[key].format(**book), font=hfont, fill=PRINT_INK, anchor="ls")
        y += line_h
    draw.text((x1, top + line_h), lay["volume_line"].format(**book), font=hfont, fill=PRINT_INK,
              anchor="rs")
    tfont = load_font(TITLE_FONT, g.pt(cfg["title_pt"]))
    cx = g.width / 2
    draw.text((cx, top + line_h * 1.2), template.title, font=tfont, fill=PRINT_INK, anchor="ms")
    draw.text((cx, top + line_h * 2.5), lay["year_line"].format(**book), font=hfont,
              fill=PRINT_INK, anchor="ms")
    foot = lay["page_foot"].format(page=page_no)
    draw.text((cx, g.height - g.mm(cfg["margin_mm"][3])), foot, font=hfont, fill=PRINT_INK,
              anchor="ms")


def _blank_page(layout: str, cfg: dict[str, Any], template: Template, book: dict[str, Any],
                page_no: int, dpi: int):
    """Paper with the printed header; returns geometry, image, pen, text margins and the body's
    top and bottom, which both layouts fill in their own way."""
    g = page_geometry(layout, dpi)
    img = Image.new("RGB", (g.width, g.height), PAPER)
    draw = ImageDraw.Draw(img)
    left, top, right, bottom = cfg["margin_mm"]
    _header(img, g, book, template, page_no, cfg, g.mm(top))
    body_top = g.mm(top) + g.mm(cfg["header_mm"])
    body_bottom = g.height - g.mm(bottom) - g.mm(cfg["footer_mm"])
    return g, img, draw, g.mm(left), g.width - g.mm(right), body_top, body_bottom


def render_form_page(template: Template, book: dict[str, Any], entries: list[dict[str, Any]],
                     page_no: int, dpi: int, writer: ValueWriter
                     ) -> tuple[Image.Image, list[dict[str, tuple[str, str | None, Box | None]]]]:
    """One form page: header, then ``entries`` as label + dotted line + value blocks."""
    cfg = lexicon("layout")["form"]
    g, img, draw, x0, x1, body_top, body_bottom = _blank_page("form", cfg, template, book, page_no, dpi)
    draw.line((x0, body_top - g.mm(3), x1, body_top - g.mm(3)), fill=PRINT_INK, width=max(2, dpi // 100))
    n = template.entries_per_page
    entry_h = (body_bottom - body_top) / n
    pitch = (entry_h - g.mm(cfg["entry_gap_mm"])) / len(template.lines)
    lfont = load_font(LABEL_FONT, g.pt(cfg["label_pt"]))
    space = lfont.getlength(" ")
    split = cfg["second_label_at"]
    results = []
    for i, entry in enumerate(entries):
        fields = entry["fields"]
        placed: dict[str, tuple[str, str | None, Box | None]] = {}
        ey = body_top + i * entry_h
        for li, line in enumerate(template.lines):
            baseline = ey + (li + 0.8) * pitch
            starts = [x0]
            for label in line[1:]:
                starts.append(x0 + (x1 - x0) * split.get(label.kind, split["default"]))
            ends = starts[1:] + [x1]
            for label, sx, ex in zip(line, starts, ends):
                draw.text((sx, baseline), label.label, font=lfont, fill=PRINT_INK, anchor="ls")
                dots_from = sx + lfont.getlength(label.label) + space * 0.6
                dots_to = ex - space * 1.5
                _draw_dots(draw, dots_from, dots_to, baseline, g)
                text, value = fields.get(label.field, ("", None))
                avail = dots_to - dots_from - space
                scale = min(1.0, avail / max(1.0, writer.width(text))) if text else 1.0
                box = writer.write(img, dots_from + space * 0.8, baseline - g.mm(1.0), text, scale)
                placed[label.field] = (text, value, box)
        if i < n - 1:
            ry = ey + entry_h - g.mm(cfg["entry_gap_mm"]) * 0.45
            draw.line((x0, ry, x1, ry), fill=PRINT_INK, width=max(1, dpi // 150))
        results.append(placed)
    return img, results


def render_ledger_page(template: Template, book: dict[str, Any], entries: list[dict[str, Any]],
                       page_no: int, dpi: int, writer: ValueWriter, rng: np.random.Generator
                       ) -> tuple[Image.Image, list[dict[str, tuple[str, str | None, Box | None]]]]:
    """One ledger page: header, ruled table, one entry per row, dittos where a clerk would."""
    lay = lexicon("layout")
    cfg = lay["ledger"]
    g, img, draw, x0, x1, t_top, t_bottom = _blank_page("ledger", cfg, template, book, page_no, dpi)
    head_h = g.mm(cfg["header_row_mm"])
    n = template.entries_per_page
    row_h = (t_bottom - t_top - head_h) / n
    total = sum(c.width for c in template.columns)
    xs = [x0]
    for c in template.columns:
        xs.append(xs[-1] + (x1 - x0) * c.width / total)
    rule = max(2, dpi // 120)
    for x in xs:
        draw.line((x, t_top, x, t_bottom), fill=PRINT_INK, width=rule)
    for k in range(n + 1):
        y = t_top + head_h + k * row_h
        draw.line((x0, y, x1, y), fill=PRINT_INK, width=rule)
    draw.line((x0, t_top, x1, t_top), fill=PRINT_INK, width=rule)
    hfont = load_font(TITLE_FONT, g.pt(cfg["label_pt"]))
    pad = g.mm(cfg["cell_pad_mm"])
    for c, cx0, cx1 in zip(template.columns, xs, xs[1:]):
        words = c.header.split(" ")
        lines = [c.header]
        if hfont.getlength(c.header) > cx1 - cx0 - 2 * pad and len(words) > 1:
            cut = (len(words) + 1) // 2
            lines = [" ".join(words[:cut]), " ".join(words[cut:])]
        lh = g.pt(cfg["label_pt"]) * 1.15
        y = t_top + head_h / 2 - lh * (len(lines) - 1) / 2 + lh * 0.35
        for ln in lines:
            draw.text(((cx0 + cx1) / 2, y), ln, font=hfont, fill=PRINT_INK, anchor="ms")
            y += lh
    dittos = lay["ditto"]
    ditto_word = dittos[int(rng.integers(len(dittos)))]
    results = []
    previous: dict[str, tuple[str, str | None]] | None = None
    for r, entry in enumerate(entries):
        fields = dict(entry["fields"])
        ry = t_top + head_h + r * row_h
        placed = {}
        for c, cx0, cx1 in zip(template.columns, xs, xs[1:]):
            text, value = fields.get(c.field, ("", None))
            if (previous is not None and c.kind in ("place", "name") and text
                    and previous[c.field][1] == value and rng.random() < 0.7):
                text = ditto_word  # the value stays the resolved one from the row above
            avail = cx1 - cx0 - 2 * pad
            lines, scale = wrap(writer, text, avail) if text else ([], 1.0)
            lh = writer.size * scale * 1.25
            base = ry + row_h / 2 - lh * (len(lines) - 1) / 2 + writer.size * scale * 0.35
            boxes = []
            for ln in lines:
                boxes.append(writer.write(img, cx0 + pad, base, ln, scale))
                base += lh
            placed[c.field] = (" ".join(lines), value, union(boxes))
        previous = {f: (t, v) for f, (t, v, _) in placed.items()}
        results.append(placed)
    return img, results

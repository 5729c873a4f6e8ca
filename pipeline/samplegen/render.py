"""Draws clean register pages (form or ledger) and reports where every written value landed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from pipeline.samplegen.content import lexicon
from pipeline.samplegen.fonts import LABEL_FONT, TITLE_FONT, load_font
from pipeline.samplegen.printing import Printing
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


def _leader(draw: ImageDraw.ImageDraw, x0: float, x1: float, y: float, g: PageGeometry,
            printing: Printing) -> None:
    """What a value is written on: dotted leaders, a plain rule, or bare paper."""
    if x1 <= x0:
        return
    if printing.leaders:
        _draw_dots(draw, x0, x1, y, g)
    elif printing.underline:
        draw.line((x0, y + g.mm(0.6), x1, y + g.mm(0.6)), fill=PRINT_INK, width=max(1, g.dpi // 200))


def _line_rows(line, printing: Printing) -> int:
    """Printed rows a line of labels takes: the label row, a value row when labels stand above
    their values, and a continuation row for a long value."""
    return (2 if printing.label_above else 1) + max(lab.span for lab in line) - 1


def _label_starts(line, template: Template, x0: float, x1: float, split: dict) -> list[float]:
    if all(lab.at is None for lab in line[1:]) and line[0].at in (None, 0.0):
        starts = [x0]
        for label in line[1:]:  # the classic rule: a second label at a fixed share of the line
            starts.append(x0 + (x1 - x0) * split.get(template.kind_of(label.field), split["default"]))
        return starts
    return [x0 + (x1 - x0) * (lab.at or 0.0) for lab in line]


def _write_value(img, writer: ValueWriter, text: str, x: float, baseline: float, avail: float,
                 more: tuple[float, float, float] | None, mm) -> Box | None:
    """Write one value from ``x``; shrink it to fit, or, with ``more`` = (x, baseline, width) of
    a continuation line, let a long value run onto that line as a clerk would."""
    if not text:
        return None
    if more is not None and writer.width(text) > avail:
        words = text.split(" ")
        k = 0
        while k < len(words) and writer.width(" ".join(words[:k + 1])) <= avail:
            k += 1
        head, rest = " ".join(words[:k]), " ".join(words[k:])
        scale = min(1.0, more[2] / max(1.0, writer.width(rest)))
        boxes = [writer.write(img, x, baseline - mm(1.0), head)] if head else []
        boxes.append(writer.write(img, more[0], more[1] - mm(1.0), rest, scale))
        return union(boxes)
    scale = min(1.0, avail / max(1.0, writer.width(text)))
    return writer.write(img, x, baseline - mm(1.0), text, scale)


def _form_line(img, draw, g: PageGeometry, template: Template, printing: Printing, line,
               fields: dict, writer: ValueWriter, lfont, x0: float, x1: float, top: float,
               pitch: float, split: dict) -> dict[str, tuple[str, str | None, Box | None]]:
    """Labels of one printed line and their values; returns what was written where."""
    space = lfont.getlength(" ")
    baseline = top + 0.8 * pitch
    starts = _label_starts(line, template, x0, x1, split)
    ends = starts[1:] + [x1]
    vrow = baseline + pitch if printing.label_above else baseline
    placed = {}
    for label, sx, ex in zip(line, starts, ends):
        draw.text((sx, baseline), label.label, font=lfont, fill=PRINT_INK, anchor="ls")
        if printing.label_above:
            dots_from, value_x = sx, sx + space * 0.8
        else:
            dots_from = sx + lfont.getlength(label.label) + space * 0.6
            value_x = dots_from + space * 0.8
        dots_to = ex - space * 1.5
        _leader(draw, dots_from, dots_to, vrow, g, printing)
        more = None
        if label.span > 1:
            cont = vrow + pitch
            _leader(draw, x0, x1 - space * 1.5, cont, g, printing)
            more = (x0 + space * 0.8, cont, x1 - space * 1.5 - x0 - space * 0.8)
        text, value = fields.get(label.field, ("", None))
        avail = dots_to - dots_from - space
        if printing.label_above:
            avail = dots_to - value_x
        box = _write_value(img, writer, text, value_x, vrow, avail, more, g.mm)
        placed[label.field] = (text, value, box)
    return placed


def render_form_page(template: Template, book: dict[str, Any], entries: list[dict[str, Any]],
                     page_no: int, dpi: int, writer: ValueWriter, printing: Printing
                     ) -> tuple[Image.Image, list[dict[str, tuple[str, str | None, Box | None]]]]:
    """One form page: header, then ``entries`` as label + leader + value blocks, the labels
    where ``printing`` puts them (beside or above their values, one to three a line)."""
    cfg = lexicon("layout")["form"]
    g, img, draw, x0, x1, body_top, body_bottom = _blank_page("form", cfg, template, book, page_no, dpi)
    draw.line((x0, body_top - g.mm(3), x1, body_top - g.mm(3)), fill=PRINT_INK, width=max(2, dpi // 100))
    n = printing.entries_per_page or template.entries_per_page
    entry_h = (body_bottom - body_top) / n
    rows = [_line_rows(line, printing) for line in printing.lines]
    pitch = (entry_h - g.mm(cfg["entry_gap_mm"])) / sum(rows)
    lfont = load_font(printing.label_font or LABEL_FONT, g.pt(printing.label_pt or cfg["label_pt"]))
    results = []
    for i, entry in enumerate(entries):
        placed: dict[str, tuple[str, str | None, Box | None]] = {}
        ey = body_top + i * entry_h
        row = 0
        for line, r in zip(printing.lines, rows):
            placed.update(_form_line(img, draw, g, template, printing, line, entry["fields"],
                                     writer, lfont, x0, x1, ey + row * pitch, pitch,
                                     cfg["second_label_at"]))
            row += r
        if i < n - 1 and printing.separators:
            ry = ey + entry_h - g.mm(cfg["entry_gap_mm"]) * 0.45
            draw.line((x0, ry, x1, ry), fill=PRINT_INK, width=max(1, dpi // 150))
        results.append(placed)
    return img, results


FAINT_INK = (165, 165, 170)


def _rule(draw: ImageDraw.ImageDraw, a: tuple[float, float], b: tuple[float, float], width: int,
          printing: Printing, rng: np.random.Generator) -> None:
    """One table rule as the printing draws it: solid, faint, or broken by gaps."""
    if printing.ruled == "faint":
        draw.line((*a, *b), fill=FAINT_INK, width=max(1, width // 2))
        return
    if printing.ruled != "broken":
        draw.line((*a, *b), fill=PRINT_INK, width=width)
        return
    length = float(np.hypot(b[0] - a[0], b[1] - a[1]))
    t = 0.0
    while t < length:
        run = float(rng.uniform(0.05, 0.3)) * length
        t1 = min(length, t + run)
        p0 = (a[0] + (b[0] - a[0]) * t / length, a[1] + (b[1] - a[1]) * t / length)
        p1 = (a[0] + (b[0] - a[0]) * t1 / length, a[1] + (b[1] - a[1]) * t1 / length)
        draw.line((*p0, *p1), fill=PRINT_INK, width=width)
        t = t1 + float(rng.uniform(0.01, 0.06)) * length


def _ledger_rules(draw, xs: list[float], t_top: float, t_bottom: float, head_h: float,
                  n: int, row_h: float, width: int, printing: Printing, page_no: int) -> None:
    """The table's ruling: a full grid, only the header band, faint, broken, or none at all."""
    if printing.ruled == "none":
        return
    rng = np.random.default_rng([page_no, len(xs), n])  # gaps of a broken rule
    x0, x1 = xs[0], xs[-1]
    bottom = t_top + head_h if printing.ruled == "header" else t_bottom
    for x in xs:
        _rule(draw, (x, t_top), (x, bottom), width, printing, rng)
    last = 1 if printing.ruled == "header" else n + 1
    for k in range(last):
        y = t_top + head_h + k * row_h
        _rule(draw, (x0, y), (x1, y), width, printing, rng)
    _rule(draw, (x0, t_top), (x1, t_top), width, printing, rng)


def _ledger_headers(draw, printing: Printing, xs: list[float], t_top: float, head_h: float,
                    g: PageGeometry, cfg: dict) -> None:
    """Column headers, centred, on two lines when too wide (or when the printer chose to)."""
    pt = printing.label_pt or cfg["label_pt"]
    hfont = load_font(printing.label_font or TITLE_FONT, g.pt(pt))
    pad = g.mm(cfg["cell_pad_mm"])
    for c, cx0, cx1 in zip(printing.columns, xs, xs[1:]):
        words = c.header.split(" ")
        lines = [c.header]
        if (c.two_lines or hfont.getlength(c.header) > cx1 - cx0 - 2 * pad) and len(words) > 1:
            cut = (len(words) + 1) // 2
            lines = [" ".join(words[:cut]), " ".join(words[cut:])]
        widest = max(hfont.getlength(ln) for ln in lines)
        font = hfont
        if printing.fit_headers and widest > cx1 - cx0 - pad:  # one long word: set it smaller
            font = load_font(printing.label_font or TITLE_FONT,
                             max(6, int(g.pt(pt) * (cx1 - cx0 - pad) / widest)))
        lh = g.pt(pt) * 1.15
        y = t_top + head_h / 2 - lh * (len(lines) - 1) / 2 + lh * 0.35
        for ln in lines:
            draw.text(((cx0 + cx1) / 2, y), ln, font=font, fill=PRINT_INK, anchor="ms")
            y += lh


def _fit_cell(writer: ValueWriter, text: str, width: float, row_h: float
              ) -> tuple[list[str], float]:
    """Lines and scale of a value in a ledger cell. A tall row takes two lines as is; a
    crowded page (up to 15 rows) writes two smaller lines when that beats one tiny line."""
    fit = row_h / (2.6 * writer.size)
    if fit >= 1:
        return wrap(writer, text, width)
    one = wrap(writer, text, width, 1)
    two = wrap(writer, text, width, 2)
    two = (two[0], min(two[1], fit)) if len(two[0]) > 1 else two
    return two if two[1] > one[1] else one


def render_ledger_page(template: Template, book: dict[str, Any], entries: list[dict[str, Any]],
                       page_no: int, dpi: int, writer: ValueWriter, rng: np.random.Generator,
                       printing: Printing) -> tuple[Image.Image, list[dict[str, tuple[str, str | None, Box | None]]]]:
    """One ledger page: header, table ruled as the printing says, one entry per row, dittos
    where a clerk would."""
    lay = lexicon("layout")
    cfg = lay["ledger"]
    g, img, draw, x0, x1, t_top, t_bottom = _blank_page("ledger", cfg, template, book, page_no, dpi)
    head_h = g.mm(cfg["header_row_mm"])
    n = printing.entries_per_page or template.entries_per_page
    row_h = (t_bottom - t_top - head_h) / n
    total = sum(c.width for c in printing.columns)
    xs = [x0]
    for c in printing.columns:
        xs.append(xs[-1] + (x1 - x0) * c.width / total)
    _ledger_rules(draw, xs, t_top, t_bottom, head_h, n, row_h, max(2, dpi // 120), printing,
                  page_no)
    _ledger_headers(draw, printing, xs, t_top, head_h, g, cfg)
    pad = g.mm(cfg["cell_pad_mm"])
    dittos = lay["ditto"]
    ditto_word = dittos[int(rng.integers(len(dittos)))]
    results = []
    previous: dict[str, tuple[str, str | None]] | None = None
    for r, entry in enumerate(entries):
        fields = dict(entry["fields"])
        ry = t_top + head_h + r * row_h
        placed = {}
        for c, cx0, cx1 in zip(printing.columns, xs, xs[1:]):
            text, value = fields.get(c.field, ("", None))
            if (previous is not None and template.kind_of(c.field) in ("place", "name") and text
                    and previous[c.field][1] == value and rng.random() < 0.7):
                text = ditto_word  # the value stays the resolved one from the row above
            avail = cx1 - cx0 - 2 * pad
            lines, scale = _fit_cell(writer, text, avail, row_h) if text else ([], 1.0)
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


#: What a clerk later writes in a margin: copies issued, corrections made. Not an entry.
MARGIN_NOTES = ("đã cấp bản sao", "đã cấp bản sao ngày {d}/{m}/{y}", "đã cải chính",
                "cải chính ngày {d}/{m}/{y}", "đã ghi chú", "cấp lại giấy khai sinh",
                "xem trang sau", "đã đối chiếu")


def write_margin_note(img: Image.Image, rng: np.random.Generator, layout: str, dpi: int,
                      font_name: str, year: int) -> dict[str, Any]:
    """A short hand-written note in the page's margin (left margin of a form, written upwards;
    bottom margin of a ledger), so readers learn that not every writing is an entry.

    Returns ``{"text", "box"}`` with the box on the clean page.
    """
    cfg = lexicon("layout")[layout]
    g = page_geometry(layout, dpi)
    text = MARGIN_NOTES[int(rng.integers(len(MARGIN_NOTES)))].format(
        d=int(rng.integers(1, 29)), m=int(rng.integers(1, 13)),
        y=year + int(rng.integers(1, 15)))
    font = load_font(font_name, g.pt(float(rng.uniform(10, 13))))
    w, h = int(font.getlength(text)) + 8, int(font.size * 1.6)
    mask = Image.new("L", (w, h), 0)
    ImageDraw.Draw(mask).text((4, h * 0.7), text, font=font, fill=255, anchor="ls")
    left, top, right, bottom = cfg["margin_mm"]
    if layout == "form":
        mask = mask.rotate(90 + float(rng.uniform(-4, 4)), expand=True,
                           resample=Image.Resampling.BICUBIC)
        x = int(g.mm(left) / 2 - mask.width / 2)
        y = int(rng.uniform(g.mm(top + cfg["header_mm"]), max(g.mm(top + cfg["header_mm"]) + 1,
                                                               g.height - g.mm(bottom) - mask.height)))
    else:
        mask = mask.rotate(float(rng.uniform(-3, 3)), expand=True, resample=Image.Resampling.BICUBIC)
        x = int(rng.uniform(0.6, 0.95) * g.width - mask.width)
        y = int(g.height - g.mm(bottom) * 0.5 - mask.height / 2)
    x, y = max(0, x), max(0, y)
    ink = ((22, 38, 120), (52, 30, 105), (150, 30, 40))[int(rng.integers(3))]
    img.paste(ink, (x, y), mask)
    bb = mask.getbbox()
    box = [x + bb[0], y + bb[1], x + bb[2], y + bb[3]] if bb else None
    return {"text": text, "box": box}

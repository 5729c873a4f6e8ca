"""Ledger layout: find the column headers on the page, the columns and rows under them, and
read every body cell.

Nothing about a printing is assumed but its header words (the template's labels, with their
variants): columns may come in any order, headers may be reworded, wrapped onto two lines or
grouped under a merged cell, and rules may be full, faint, broken or missing. Columns come
from where the header words stand, cut where the body's ink leaves a gap (or at a vertical
rule); rows from the horizontal rules, or, without them, from the text lines, anchored on the
registration-number column. How well the page fitted is returned as a ``LayoutFit``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Literal

import cv2
import numpy as np
from rapidfuzz import fuzz

from pipeline.clean import folded_key
from pipeline.ocr.aster import AsterReader, LineRead
from pipeline.ocr.engine import OcrEngine
from pipeline.ocr.regions import (
    estimate_slant, field_value, group_lines, is_numeric_field, line_text, merge_number_read,
    prepare_crops, read_region, read_regions, union, wants_second_read,
)
from pipeline.templates import Template
from pipeline.types import Box, ExtractedRecord, FieldValue, LayoutFit, OcrWord

HEADER_MIN_SCORE = 60.0
STRONG_MATCH = 85.0  # a header band needs ``min_columns`` headers matched at least this well
BLANK_INK = 0.004  # share of dark pixels below which a cell is blank without asking the engine
WORD_INK = 0.1  # ... unless it holds this many glyph areas (height²) of ink: a short word
#: a gap wider than this many word heights between two header words starts another column
HEADER_WORD_GAP = 0.8
#: header lines further apart than this many word heights are not one wrapped header
HEADER_LINE_GAP = 0.7
#: ... where column gaps are known, words between the same two cuts: a wide word space or a
#: header set with generous leading is no column or cell boundary (a body row under the
#: header's rule stands further off, ~1.3 word heights and more)
HEADER_WORD_GAP_WITH_CUTS = 2.0
HEADER_LINE_GAP_WITH_CUTS = 1.0
#: Shortest ink run in the number column, in glyph heights, that counts as a number.
NUMBER_HEIGHT = 0.6
RULE_RUN = 50  # pixels (pages are read at ~300 dpi): shortest piece of a rule, broken or not
#: Longest gap between the dashes of a dashed vertical rule bridged (pixels at ~300 dpi), once
#: the words read are blanked out: letters no longer stand in a column to be joined.
DASH_GAP = 40
RULE_SHARE = 0.4  # of the table's width (or body height) a rule's pieces must cover together
GAP_TOP, GAP_BOTTOM = 0.2, 0.93  # share of the page height searched for writing gaps
GAP_MIN_WIDTH = 0.6  # glyph heights: a narrower lane is a word gap, not a column gap
RULE_DRIFT = 8  # pixels a long rule may wander across its length (residual skew, curl)


# --- the ruled grid (page classification still asks whether a page has one) ---------------

@dataclass
class Grid:
    """Ruled lines of the table: y of every horizontal rule, x of every vertical rule."""

    rows: list[int]
    cols: list[int]

    def cell(self, r: int, c: int, inset: int = 6) -> Box:
        return (self.cols[c] + inset, self.rows[r] + inset,
                self.cols[c + 1] - inset, self.rows[r + 1] - inset)


def _rule_positions(mask: np.ndarray, axis: int, min_share: float) -> list[int]:
    """Centres of rules: runs of rows (axis=1) or columns (axis=0) that are mostly ink."""
    profile = mask.sum(axis=axis) / 255.0
    if profile.max() <= 0:
        return []
    return _run_centres(np.where(profile >= min_share * profile.max())[0], 3)


def _run_centres(hits: np.ndarray, gap: int) -> list[int]:
    """Centres of the runs of ``hits`` (sorted indices) that lie no more than ``gap`` apart:
    one position per rule, however thick it is drawn."""
    runs: list[list[int]] = []
    for p in hits:
        if runs and p - runs[-1][-1] <= gap:
            runs[-1].append(int(p))
        else:
            runs.append([int(p)])
    return [int(np.mean(run)) for run in runs]


def find_grid(binary: np.ndarray) -> Grid | None:
    """Long horizontal and vertical rules by morphological opening; None when no full grid.

    Used to tell a ledger page from a form page; the ledger reader itself does not need a
    grid (``extract_ledger``).
    """
    ink = (binary < 128).astype(np.uint8) * 255
    h, w = ink.shape
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (max(60, w // 15), 1))
    horiz = cv2.morphologyEx(ink, cv2.MORPH_OPEN, kernel)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (1, max(60, h // 25)))
    vert = cv2.morphologyEx(ink, cv2.MORPH_OPEN, kernel)
    rows = _drop_close(_rule_positions(horiz, axis=1, min_share=0.5), 20)
    cols = _drop_close(_rule_positions(vert, axis=0, min_share=0.5), 20)
    if len(rows) < 3 or len(cols) < 3:
        return None
    return Grid(rows, cols)


def _drop_close(positions: list[int], gap: int) -> list[int]:
    out: list[int] = []
    for p in positions:
        if not out or p - out[-1] > gap:
            out.append(p)
    return out


def _rules(binary: np.ndarray, box: Box, axis: Literal["h", "v"],
           words: list[OcrWord] | None = None) -> list[int]:
    """y (``"h"``) or x (``"v"``) of the rules inside ``box``: broken and hand-drawn ones too.

    Pieces of at least ``RULE_RUN`` pixels are kept by an opening, then a row (column) counts
    as a rule when its pieces together cover ``RULE_SHARE`` of the box: a rule with gaps still
    adds up, a text line never has such long straight strokes. Faint rules that binarisation
    lost are simply absent; the reader then goes by the text. Given the page's ``words``, a
    page whose vertical rules are drawn in dashes (too short to survive the opening) gets them
    found once the words are blanked out; only then, as bridging gaps in a column of writing
    would otherwise turn a column of short marks (numbers, dittos) into a rule.
    """
    x0, y0, x1, y1 = box
    ink = (binary[y0:y1, x0:x1] < 128).astype(np.uint8)
    if ink.size == 0:
        return []
    found = _rule_lines(ink, axis, x0 if axis == "v" else y0)
    if axis == "v" and words is not None and len(found) < 3:
        blanked = _words_blanked(ink, words, x0, y0)
        dashed = [x for x in _rule_lines(_dashes_joined(blanked), axis, x0)
                  if _denser_than_around(blanked, x - x0)]
        dashed = _one_per_column(dashed, blanked, x0, _glyph(words))
        if len(dashed) >= 3:
            return dashed
    return found


def _rule_lines(ink: np.ndarray, axis: Literal["h", "v"], offset: int) -> list[int]:
    size = (RULE_RUN, 1) if axis == "h" else (1, RULE_RUN)
    pieces = cv2.morphologyEx(ink, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, size))
    # A rule left a fraction of a degree off square by the deskew drifts across a few pixels
    # over the table: widened across its length, it still fills one row (column) of pixels.
    across = (1, 2 * RULE_DRIFT + 1) if axis == "h" else (2 * RULE_DRIFT + 1, 1)
    pieces = cv2.dilate(pieces, cv2.getStructuringElement(cv2.MORPH_RECT, across))
    profile = pieces.sum(axis=1 if axis == "h" else 0)
    span = ink.shape[1] if axis == "h" else ink.shape[0]
    centres = _run_centres(np.where(profile >= RULE_SHARE * span)[0], 4)
    return _drop_close([offset + c for c in centres], 12)


def _words_blanked(ink: np.ndarray, words: list[OcrWord], x0: int, y0: int) -> np.ndarray:
    """``ink`` (of a box at x0, y0) with the words read blanked out, less a 2-pixel rim: a
    word's box often takes in the dash of a rule it touches, which must stay."""
    ink = ink.copy()
    for word in words:
        if sum(ch.isalnum() for ch in word.text) >= 2:
            ink[max(0, word.box[1] - y0 + 2):max(0, word.box[3] - y0 - 2),
                max(0, word.box[0] - x0 + 2):max(0, word.box[2] - x0 - 2)] = 0
    return ink


def _dashes_joined(ink: np.ndarray) -> np.ndarray:
    """What is left in a column of ``ink`` (the dashes of a rule, wandering a pixel or two)
    bridged into runs."""
    ink = cv2.dilate(ink, cv2.getStructuringElement(cv2.MORPH_RECT, (5, 1)))
    return cv2.morphologyEx(ink, cv2.MORPH_CLOSE,
                            cv2.getStructuringElement(cv2.MORPH_RECT, (1, DASH_GAP)))


def _glyph(words: list[OcrWord]) -> float:
    return float(np.median([w.box[3] - w.box[1] for w in words])) if words else 0.0


def _one_per_column(xs: list[int], ink: np.ndarray, x0: int, glyph: float) -> list[int]:
    """Of dashed rules closer than ``MIN_COLUMN`` glyphs, the one with the most ink: no
    column is that narrow, and the first stems of values aligned on a column's left edge
    (their 2-pixel rim is not blanked) line up into a second 'rule' a glyph right of it."""
    out: list[int] = []
    for x in xs:
        if out and x - out[-1] < MIN_COLUMN * glyph:
            if _column_ink(ink, x - x0) > _column_ink(ink, out[-1] - x0):
                out[-1] = x
            continue
        out.append(x)
    return out


def _column_ink(ink: np.ndarray, x: int, half: int = 3) -> float:
    part = ink[:, max(0, x - half):x + half + 1]
    return float(part.mean()) if part.size else 0.0


DASHED_LINE_GLYPHS = 4.0  # bridged dashes this long (glyph heights) are a line, not writing
EDGE_SHARE = 0.04  # of the page's width: the sides where a photographed sheet's edge lies
MIN_COLUMN = 1.5  # glyph heights: the narrowest column (one digit and its margins)
DASH_CONTRAST = 2.5  # a dashed rule's column holds this many times the ink beside it


def _denser_than_around(ink: np.ndarray, x: int, half: int = 3, away: int = 8,
                        side: int = 12) -> bool:
    """Whether column ``x`` of ``ink`` holds clearly more ink than the paper on either side of
    it: the dots of a rule do; the grain of an aged page bridged into a column by
    ``_dashes_joined`` does not, nor does the edge of a column of short marks (one-digit
    numbers, which are not blanked as words) (a held-out heavy ledger got 23 'rules', most
    inside its columns of names)."""
    w = ink.shape[1]
    here = ink[:, max(0, x - half):x + half + 1]
    spans = ((x - away - side, x - away), (x + away + 1, x + away + side + 1))
    beside = [ink[:, a:b] for a, b in spans if a >= 0 and b <= w]
    if here.size == 0 or not beside:
        return True
    around = max(max(float(p.mean()) for p in beside), 1e-4)
    return float(here.mean()) >= DASH_CONTRAST * around


# --- header ------------------------------------------------------------------------------

@dataclass
class HeaderCell:
    """One column's header as printed: its words (wrapped lines joined) and their box."""

    text: str
    box: Box
    field: str | None = None
    score: float = 0.0

    @property
    def center(self) -> float:
        return (self.box[0] + self.box[2]) / 2


@dataclass
class Header:
    cells: list[HeaderCell]  # left to right, matched or not
    box: Box  # the header band's words

    @property
    def mapped(self) -> dict[str, HeaderCell]:
        return {c.field: c for c in self.cells if c.field}

    @property
    def score(self) -> tuple[int, float]:
        return len(self.mapped), sum(c.score for c in self.cells if c.field)


def label_score(text: str, label: str) -> float:
    """How well a header read matches a header variant, 0–100.

        >>> label_score("Sổ", "Số") >= 90, label_score("Ngày, tháng, năm sinh", "Ngày sinh") < 80
        (True, True)

    Word order may differ ("Chồng Họ tên" under a merged cell) and the engine often drops or
    swaps a diacritic on short bold headers, so the diacritic-free comparison counts too,
    a little less.
    """
    a, b = text.casefold(), label.casefold()
    exact = max(fuzz.ratio(a, b), fuzz.token_sort_ratio(a, b))
    fa, fb = folded_key(text), folded_key(label)
    folded = max(fuzz.ratio(fa, fb), fuzz.token_sort_ratio(fa, fb)) * 0.95 if fa and fb else 0.0
    return max(exact, folded)


def match_headers(texts: list[str], template: Template) -> dict[int, tuple[str, float]]:
    """Header index → (field, score), best pairs first, each field and header used once."""
    pairs = []
    for c, text in enumerate(texts):
        if not text:
            continue
        for spec in template.specs:
            pairs.append((max(label_score(text, lab) for lab in spec.labels), c, spec.field))
    out: dict[int, tuple[str, float]] = {}
    used: set[str] = set()
    # equal scores: the longer header wins ("Họ tên vợ" over a stray "vợ" for wife_name)
    for score, c, name in sorted(pairs, key=lambda p: (-p[0], -len(texts[p[1]]))):
        if score < HEADER_MIN_SCORE or c in out or name in used:
            continue
        out[c] = (name, score)
        used.add(name)
    return out


def map_headers(header_texts: list[str], template: Template) -> dict[int, str]:
    """Column index → field, by fuzzy match of each header text against the header variants.

        >>> map_headers(["Số", "Họ tên", "Ghi chú"], birth_ledger)  # doctest: +SKIP
        {0: 'registration_no', 1: 'full_name', 2: 'notes'}

    When the page has exactly the template's columns and a single header is unreadable (torn,
    stained), it takes the single field left over: by elimination, not by position, since
    printings order their columns differently.
    """
    mapping = {c: name for c, (name, _) in match_headers(header_texts, template).items()}
    left_cols = [c for c in range(len(header_texts)) if c not in mapping]
    left_fields = [f for f in template.fields if f not in mapping.values()]
    if len(header_texts) == len(template.specs) and len(left_cols) == len(left_fields) == 1:
        mapping[left_cols[0]] = left_fields[0]
    return mapping


def _header_words(words: list[OcrWord]) -> list[OcrWord]:
    """Words that can be header text: with a letter or digit, and neither a loose accent or
    speck the engine read as a word of its own (under half the usual height), nor a piece
    of a rule read as 'I' or 'l' (over twice the usual height, or a sliver); either would
    pull lines apart or glue the header to the first row."""
    words = [w for w in words if any(ch.isalnum() for ch in w.text)]
    if not words:
        return []
    height = _glyph(words)
    return [w for w in words if 0.5 * height <= w.box[3] - w.box[1] <= 2 * height
            and w.box[2] - w.box[0] >= 0.2 * height]


def _joined(a: OcrWord, b: OcrWord, height: float, cuts: list[int]) -> bool:
    """Two header words of one cell: side by side on a line with a word gap between them, or
    one above the other (a wrapped header); never across a vertical rule."""
    left, right = (a, b) if a.box[0] <= b.box[0] else (b, a)
    if any(left.box[2] - 4 <= x <= right.box[0] + 4 for x in cuts):
        return False
    y_overlap = min(a.box[3], b.box[3]) - max(a.box[1], b.box[1])
    x_gap = right.box[0] - left.box[2]
    # Where column gaps are known (rules or writing lanes), a wide word space (a monospaced
    # header font) is no column gap: words between the same two cuts belong together.
    word_gap = HEADER_WORD_GAP_WITH_CUTS if len(cuts) >= 3 else HEADER_WORD_GAP
    if y_overlap > 0.3 * height and x_gap <= word_gap * height:
        return True
    y_gap = max(a.box[1], b.box[1]) - min(a.box[3], b.box[3])
    line_gap = HEADER_LINE_GAP_WITH_CUTS if len(cuts) >= 3 else HEADER_LINE_GAP
    return _x_overlap(a.box, b.box) > 0 and y_gap <= line_gap * height


def _cells_of(words: list[OcrWord], cuts: list[int]) -> list[HeaderCell]:
    """Header cells from the words of a header band, whatever lines the engine put them on.

    Words are joined into cells (``_joined``); a cell whose lower line falls into several
    separate groups under one upper phrase is a merged header ("Họ tên" over "cha" | "mẹ"),
    which prefixes each group: one cell per group.
    """
    if not words:
        return []
    height = _glyph(words)
    parent = list(range(len(words)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(words)):
        for j in range(i + 1, len(words)):
            if _joined(words[i], words[j], height, cuts):
                parent[root(i)] = root(j)
    groups: dict[int, list[OcrWord]] = {}
    for i, w in enumerate(words):
        groups.setdefault(root(i), []).append(w)
    cells = [cell for group in groups.values() for cell in _split_merged(group, height, cuts)]
    return sorted(cells, key=lambda c: c.box[0])


def _split_merged(words: list[OcrWord], height: float, cuts: list[int] = ()
                  ) -> list[HeaderCell]:
    lines = group_lines(words)
    if len(lines) >= 2:
        bottom = _runs(lines[-1].words, height, cuts)
        if len(bottom) >= 2:
            top = " ".join(line_text(ln.words) for ln in lines[:-1])
            return [HeaderCell(f"{top} {line_text(run)}", union([w.box for w in run]))
                    for run in bottom]
    text = " ".join(line_text(ln.words) for ln in lines)
    return [HeaderCell(text, union([w.box for w in words]))]


def _runs(words: list[OcrWord], height: float, cuts: list[int] = ()) -> list[list[OcrWord]]:
    """A line's words in runs separated by gaps wider than a word gap, or by a cut.

    Where the column gaps are known (``cuts``: rules or writing lanes), they alone part a
    merged header's lower line ("cha" | "mẹ" under "Họ tên"): a wide word space of a
    monospaced header ("Họ và" over "tên  mẹ") is then no column gap, as in ``_joined``.
    """
    gap = (HEADER_WORD_GAP_WITH_CUTS if len(cuts) >= 3 else HEADER_WORD_GAP) * height
    out: list[list[OcrWord]] = []
    for w in sorted(words, key=lambda w: w.box[0]):
        last = out[-1][-1] if out else None
        if last is not None and w.box[0] - last.box[2] <= gap \
                and not any(last.box[2] - 4 <= x <= w.box[0] + 4 for x in cuts):
            out[-1].append(w)
        else:
            out.append([w])
    return out


def _header_of(lines: list[list[OcrWord]], template: Template, cuts: list[int]) -> Header:
    cells = _cells_of([w for ws in lines for w in ws], cuts)
    for c, (name, score) in match_headers([c.text for c in cells], template).items():
        cells[c].field, cells[c].score = name, score
    return Header(cells, union([w.box for ws in lines for w in ws]))


def find_header(words: list[OcrWord], template: Template, cuts: list[int] = ()) -> Header | None:
    """The header band: the one to three adjacent text lines whose phrases match the most
    template columns; None when no line matches any.

    Every line of the page is tried as the band's first line, so the title, the commune lines
    and body rows compete with the real header and lose on their own. ``cuts``: x of vertical
    rules, which separate headers however close their words stand.
    """
    lines = [ln.words for ln in group_lines(_header_words(words))]
    best: Header | None = None
    for i in range(len(lines)):
        band = [lines[i]]
        for j in range(i, min(i + 3, len(lines))):
            if j > i:
                height = float(np.median([w.box[3] - w.box[1] for w in band[-1]]))
                top = min(w.box[1] for w in lines[j])
                if top - max(w.box[3] for w in band[-1]) > HEADER_LINE_GAP * height:
                    break
                if max(w.box[3] for w in lines[j]) - min(w.box[1] for w in band[0]) > 4.5 * height:
                    break  # taller than three wrapped header lines: body rows joined in
                band.append(lines[j])
            header = _header_of(band, template, cuts)
            if header.mapped and (best is None or header.score > best.score):
                best = header
    return best


def read_header(engine: OcrEngine, image: np.ndarray, words: list[OcrWord],
                template: Template, cuts: list[int]) -> Header | None:
    """The page's header, once found in the page-level read, read again on its own.

    Tesseract reading a whole ledger page often garbles the bold header line (words run
    together, phantom accents: "Họ | XA và tên"); the same strip read alone as sparse text
    (psm 11) comes out clean far more often ("Dântộc" → "Dân tộc"). The better of the two
    reads is kept. None when fewer than ``min_columns`` match.
    """
    header = find_header(words, template, cuts)
    if header is not None:
        strip = _strip(image, header.box, _glyph(words))
        again = _sparse_header(engine, image, strip, template, cuts)
        if again is not None and again.score > header.score:
            header = again
    if not _strong(header, template):
        # Not in the page read at all: a header of two-line cells beside one-line ones can
        # come out of psm 6 as a few tall blobs of nonsense ("Số thứ tự" → "NỈ"). Read as
        # sparse text, each cell is a word group of its own; the header of a ledger stands
        # in the page's upper half, under the title.
        again = _sparse_header(engine, image, (0, image.shape[0] // 2), template, cuts)
        if again is not None and (header is None or again.score > header.score):
            header = again
    if not _strong(header, template):
        return None  # body values ("Nam", "Tiến") match a label or two, weakly: no header
    header = _join_strays(header, template)
    texts = [c.text for c in header.cells]
    for c, name in map_headers(texts, template).items():  # one unreadable header, by elimination
        if header.cells[c].field is None:
            header.cells[c].field = name
    return header


def _sparse_header(engine: OcrEngine, image: np.ndarray, strip: tuple[int, int],
                   template: Template, cuts: list[int]) -> Header | None:
    """The header found in the strip ``(top, bottom)`` of the page read as sparse text."""
    top, bottom = strip
    part = image[top:bottom].copy()
    for x in cuts:  # pieces of broken rules glue to header letters ("Nam/Nữ" → "INamnnal")
        part[:, max(0, x - 4):x + 5] = 255
    words = [replace(w, box=(w.box[0], w.box[1] + top, w.box[2], w.box[3] + top))
             for w in engine.recognize(part, psm=11)]
    return find_header(words, template, cuts)


def _strong(header: Header | None, template: Template) -> bool:
    """Enough columns matched well to be the header, not body values that match a label or
    two weakly."""
    return header is not None and \
        sum(c.score >= STRONG_MATCH for c in header.cells) >= min_columns(template)


def _join_strays(header: Header, template: Template) -> Header:
    """Fold an unmatched header cell into a matched neighbour when together they match that
    field at least as well: a narrow column's wrapped header read as two cells ("Số" | "TT"),
    which would otherwise make a column of its own and take the other's values."""
    cells = list(header.cells)
    i = 0
    while i < len(cells):
        cell = cells[i]
        if cell.field is None:
            for j in (i - 1, i + 1):
                if not 0 <= j < len(cells) or cells[j].field is None:
                    continue
                other = cells[j]
                text = f"{other.text} {cell.text}" if j < i else f"{cell.text} {other.text}"
                score = max(label_score(text, lab) for lab in template.spec(other.field).labels)
                if score >= other.score:
                    cells[j] = HeaderCell(text, union([other.box, cell.box]), other.field, score)
                    del cells[i]
                    i -= 1
                    break
        i += 1
    return Header(cells, header.box)


def _strip(image: np.ndarray, box: Box, glyph: float) -> tuple[int, int]:
    """Top and bottom of a strip around a header band, each on the emptiest row within two
    glyph heights of it: a strip edge through a line of text reads as garbage."""
    rows = np.count_nonzero(_gray(image) < 128, axis=1)
    g = int(glyph)
    above = np.arange(max(0, box[1] - 2 * g), max(1, box[1] - g // 4))
    below = np.arange(min(len(rows) - 1, box[3] + g // 4), min(len(rows), box[3] + 2 * g))
    top = int(above[np.argmin(rows[above])]) if above.size else 0
    bottom = int(below[np.argmin(rows[below])]) if below.size else len(rows)
    return top, bottom


def _gray(image: np.ndarray) -> np.ndarray:
    return image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)


def min_columns(template: Template) -> int:
    """Fewest matched headers that make a header band: 40 % of the template's, at least 2."""
    return max(2, int(np.ceil(0.4 * len(template.specs))))


# --- columns and rows ----------------------------------------------------------------------

@dataclass
class Column:
    field: str | None
    x0: int
    x1: int


@dataclass
class Layout:
    """Where the table's columns and rows are, as the reader found them."""

    header: Header
    columns: list[Column]
    rows: list[tuple[int, int, bool]]  # candidate entry rows: y0, y1, between two rules
    ruled: bool  # the body has horizontal rules
    glyph: float = 40.0  # median word height of the page, pixels
    rules_x: list[int] = field(default_factory=list)  # vertical rules found
    rules_y: list[int] = field(default_factory=list)  # horizontal rules found under the header
    notes: list[str] = field(default_factory=list)


def _text_bands(ink: np.ndarray, glyph: float) -> list[tuple[int, int]]:
    """Runs of ink rows: text lines, with gaps under 0.4 glyph heights closed (diacritics)
    and bands under a third of a glyph dropped (specks, remnants of faint rules)."""
    rows = ink.any(axis=1)
    bands: list[list[int]] = []
    for y in np.flatnonzero(rows):
        if bands and y - bands[-1][1] <= max(2, 0.4 * glyph):
            bands[-1][1] = int(y)
        else:
            bands.append([int(y), int(y)])
    return [(a, b + 1) for a, b in bands if b + 1 - a >= glyph / 3]


def _ink_counts(ink: np.ndarray, bands: list[tuple[int, int]]) -> np.ndarray:
    """Per x, how many body text lines have ink there. A last line far below the others (the
    page foot, "Trang 3") is left out: centred on the page, it would fill a column gap."""
    if not bands:
        return np.zeros(ink.shape[1], int)
    gaps = [b[0] - a[1] for a, b in zip(bands, bands[1:])]
    if len(gaps) >= 3 and gaps[-1] > 2 * float(np.median(gaps)):
        bands = bands[:-1]
    return np.sum([ink[a:b].any(axis=0) for a, b in bands], axis=0)


def _column_cuts(header: Header, vrules: list[int], counts: np.ndarray, x_off: int,
                 glyph: float, hidden: bool) -> list[list[int]]:
    """x of the boundaries between each pair of neighbouring header cells: one, or more when
    a column whose header was not read stands between them.

    Vertical rules between the two headers win. Otherwise the stretches that no body line
    inks (``counts``: body lines inked, per x) are the gaps between the columns' values,
    whatever their alignment: the widest one, or every one (each wider than a word space)
    when a stripe of ink that half the lines share lies between them (a column with a torn
    or unread header, which would otherwise spill its values into a neighbour; looked for
    only when ``hidden``, i.e. a template column is missing: aligned words of repeated
    values leave such stripes too). Last resort: halfway between the headers.
    """
    out = []
    lines = max(1, int(counts.max()) if counts.size else 1)
    for a, b in zip(header.cells, header.cells[1:]):
        lo, hi = int(a.center), int(b.center)
        between = [x for x in vrules if a.box[2] - 4 <= x <= b.box[0] + 4]
        if between:
            out.append(between)
            continue
        part = counts[max(0, lo - x_off):max(0, hi - x_off)]
        gaps = _gaps(part == 0, 0.8 * glyph)  # wider than a word space
        inked = [part[g0[1]:g1[0]].max() >= 0.5 * lines for g0, g1 in zip(gaps, gaps[1:])]
        if hidden and len(gaps) >= 2 and all(inked):
            out.append([lo + (g0 + g1) // 2 for g0, g1 in gaps])
            continue
        gap = _clearest_gap(part, glyph, lines)
        middle = lo + gap[0] + (gap[1] - gap[0]) / 2 if gap else (a.box[2] + b.box[0]) / 2
        out.append([int(middle)])
    return out


def _gaps(free: np.ndarray, min_width: float) -> list[tuple[int, int]]:
    """Runs of True in ``free`` at least ``min_width`` long, left to right."""
    runs, start = [], None
    for i, v in enumerate(np.append(free, False)):
        if v and start is None:
            start = i
        elif not v and start is not None:
            if i - start >= min_width:
                runs.append((start, i))
            start = None
    return runs


CUT_MIN_WIDTH = 0.3  # glyphs: an empty stretch this narrow is the space between two letters


def _clearest_gap(counts: np.ndarray, glyph: float, lines: int) -> tuple[int, int] | None:
    """The widest stretch at least ``CUT_MIN_WIDTH`` wide that no body line inks, else that the
    fewest do (a seal's rim, a stain or a margin note crossing the gap inks a few lines
    there: a gap of one pixel between two letters of a value would otherwise win)."""
    for level in range(0, max(1, lines // 4) + 1):
        runs = _gaps(counts <= level, CUT_MIN_WIDTH * glyph)
        if runs:
            return max(runs, key=lambda r: r[1] - r[0])
    return _widest_gap(counts == 0)


def _widest_gap(free: np.ndarray) -> tuple[int, int] | None:
    """Start and end of the longest run of True in ``free``; None when there is none."""
    best, start = None, None
    for i, v in enumerate(np.append(free, False)):
        if v and start is None:
            start = i
        elif not v and start is not None:
            if best is None or i - start > best[1] - best[0]:
                best = (start, i)
            start = None
    return best


def find_layout(template: Template, engine: OcrEngine, image: np.ndarray, binary: np.ndarray,
                words: list[OcrWord]) -> Layout | None:
    """Header band, columns and candidate rows of a ledger page; None without a header."""
    h, w = binary.shape[:2]
    vrules_page = _rules(binary, (0, 0, w, h), "v", words)
    # Without visible rules, the gaps that run down the whole body of writing still part the
    # columns, and keep a wrapped header's words from joining the next column's.
    cuts = vrules_page if len(vrules_page) >= 3 else _writing_gaps(words, w, h)
    header = read_header(engine, image, words, template, cuts)
    if header is None:
        return None
    glyph = _glyph(words)
    pitch = (header.cells[-1].center - header.cells[0].center) / max(1, len(header.cells) - 1)
    tx0 = max(0, int(header.cells[0].box[0] - pitch / 2))
    tx1 = min(w, int(header.cells[-1].box[2] + pitch / 2))
    hidden = len(header.mapped) < len(template.specs)
    if hidden:  # a column whose header was not read may stand outside the read ones
        tx0, tx1 = _widen_to_rules(tx0, tx1, header, vrules_page, pitch)
    below = [y for y in _rules(binary, (tx0, header.box[1], tx1, h), "h") if y > header.box[3]]
    body_top = header.box[3] + 2
    if below and below[0] - header.box[3] < 3 * glyph:
        body_top = below[0] + 3  # the rule under the header
    ink = _text_ink(image, glyph, vrules_page, below)[body_top:, tx0:tx1]
    bands = _text_bands(ink, glyph)
    last = body_top + bands[-1][1] if bands else h
    vrules = _rules(binary, (tx0, body_top, tx1, last), "v", words) if bands else []
    counts = _ink_counts(ink, bands)
    cuts = _column_cuts(header, vrules, counts, tx0, glyph, hidden)
    edges = _outer_edges(header, [c for cs in cuts for c in cs], vrules, counts == 0, tx0, tx1)
    outer = _unread_outer_columns(edges, vrules, counts, tx0, glyph) if hidden else (None, None)
    columns, notes = _columns(header, cuts, edges, template, outer)
    rules = [y for y in below if y > body_top + glyph]
    ruled = len(rules) >= 2
    number = next((c for c in columns if c.field == template.starts_entry), None)

    number_ink = (ink[:, max(0, number.x0 - tx0):max(0, number.x1 - tx0)]
                  if number is not None else None)

    def numbered(band: tuple[int, int]) -> bool:
        """The band (page y) has a registration number (all do without a number column)."""
        if number_ink is None:
            return True
        part = number_ink[band[0] - body_top:band[1] - body_top]
        return int(part.sum()) >= glyph * glyph * 0.05

    def numbers(y0: int, y1: int) -> int | None:
        """How many registration numbers stand one under another between page y0 and y1:
        runs of ink at least ``NUMBER_HEIGHT`` glyphs tall (what is left of a rule that the
        flattening left a little bent is a thin run, not a number)."""
        if number_ink is None:
            return None
        part = number_ink[max(0, y0 - body_top):max(0, y1 - body_top)]
        return sum(b - a >= NUMBER_HEIGHT * glyph and int(part[a:b].sum()) >= glyph * glyph * 0.05
                   for a, b in _text_bands(part, glyph))

    if number_ink is not None:
        bands = [piece for band in bands for piece in _split_numbers(band, ink, number_ink, glyph)]
    shifted = [(body_top + a, body_top + b) for a, b in bands]
    rows = _rows(shifted, [body_top, *rules] if ruled else [], numbered, glyph, numbers)
    return Layout(header, columns, rows, ruled, glyph, sorted(set(vrules_page) | set(vrules)),
                  below, notes)


def _writing_gaps(words: list[OcrWord], width: int, height: int) -> list[int]:
    """x of the vertical lanes no word of the page's body crosses: column gaps of a table
    whose rules are missing or too faint to see. The top of the page (title, commune lines)
    and the very bottom (page foot) are left out, and so are words far taller than the
    text (a stain, a seal read as a letter)."""
    heights = [w.box[3] - w.box[1] for w in words]
    if not heights:
        return []
    glyph = float(np.median(heights))
    body = [w for w in words if GAP_TOP * height < w.box[1] < GAP_BOTTOM * height
            and w.box[3] - w.box[1] <= 2.5 * glyph and any(c.isalnum() for c in w.text)]
    if len(body) < 10:
        return []
    cover = np.zeros(width + 1, np.int32)
    for w in body:
        cover[max(0, w.box[0]):min(width, w.box[2])] += 1
    inside = np.flatnonzero(cover)
    lo, hi = int(inside.min()), int(inside.max())
    lanes = _gaps(cover[lo:hi] == 0, GAP_MIN_WIDTH * glyph)
    return [lo + (a + b) // 2 for a, b in lanes]


def _split_numbers(band: tuple[int, int], ink: np.ndarray, number_ink: np.ndarray,
                   glyph: float) -> list[tuple[int, int]]:
    """Split a text band holding two or more registration numbers one under the other: two
    entries whose writing touches (large hands, wrapped values, no rule between them). The
    cut goes through the least-inked row between two numbers."""
    a, b = band
    runs = _text_bands(number_ink[a:b], glyph)
    runs = [r for r in runs if int(number_ink[a + r[0]:a + r[1]].sum()) >= glyph * glyph * 0.05]
    if len(runs) < 2:
        return [band]
    profile = ink[a:b].sum(axis=1)
    cuts = [r0[1] + int(np.argmin(profile[r0[1]:r1[0] + 1])) for r0, r1 in zip(runs, runs[1:])]
    edges = [0, *cuts, b - a]
    return [(a + y0, a + y1) for y0, y1 in zip(edges, edges[1:]) if y1 > y0]


def _columns(header: Header, cuts: list[list[int]], edges: tuple[int, int], template: Template,
             outer: tuple[int | None, int | None] = (None, None)
             ) -> tuple[list[Column], list[str]]:
    """Columns left to right, those found without a header included (field None), also a
    ruled column beyond the first or last header read (``outer``: its far rule). When the
    page then has the template's number of columns and exactly one of each is left, the
    column takes the field by elimination, said in the notes (a guess a person should see)."""
    fields: list[str | None] = [header.cells[0].field]
    bounds = [edges[0]]
    for cell, between in zip(header.cells[1:], cuts):
        fields += [None] * (len(between) - 1) + [cell.field]
        bounds += between
    bounds.append(edges[1])
    if outer[0] is not None:
        fields, bounds = [None, *fields], [outer[0], *bounds]
    if outer[1] is not None:
        fields, bounds = [*fields, None], [*bounds, outer[1]]
    columns = [Column(f, int(x0), int(x1)) for f, x0, x1 in zip(fields, bounds, bounds[1:])]
    notes = []
    blank = [c for c in columns if c.field is None]
    missing = [f for f in template.fields if f not in fields]
    if len(columns) == len(template.specs) and len(blank) == len(missing) == 1:
        blank[0].field = missing[0]
        notes.append(f"Không đọc được tiêu đề cột '{template.label_of(missing[0])}'; "
                     "cột được xác định theo vị trí còn lại")
    return columns, notes


def _text_ink(image: np.ndarray, glyph: float, xs: list[int], ys: list[int]) -> np.ndarray:
    """Ink of the text alone: pieces of rules that survived line removal (broken or
    hand-drawn rules, shorter than ``remove_lines`` looks for, and stubs where rules cross)
    would join all the rows. Long straight runs go, and so does everything within a few
    pixels of a rule found (x of vertical, y of horizontal rules)."""
    ink = (_gray(image) < 128).astype(np.uint8)
    long_h = cv2.morphologyEx(ink, cv2.MORPH_OPEN, _rect(RULE_RUN, 1))
    long_v = cv2.morphologyEx(ink, cv2.MORPH_OPEN, _rect(1, int(1.6 * glyph)))
    text = (ink & ~(long_h | long_v)).astype(bool)
    # The edge of a photographed sheet, flattened, runs down the page's side as a dashed
    # line that escapes the opening piece by piece (a held-out photo's ran down its number
    # column and made three registration numbers one). Bridged, its pieces run far longer
    # than a wrapped value. Only at the sides: inside the table, typed values aligned on
    # their column's edge bridge into such runs too.
    side = max(1, int(EDGE_SHARE * ink.shape[1]))
    for strip in (np.s_[:, :side], np.s_[:, -side:]):
        dashed = cv2.morphologyEx(_dashes_joined(ink[strip]), cv2.MORPH_OPEN,
                                  _rect(1, int(DASHED_LINE_GLYPHS * glyph)))
        dashed = cv2.dilate(dashed, _rect(3, 9))  # the bridging's even kernel trims an end
        text[strip] &= ~dashed.astype(bool)
    for x in xs:
        text[:, max(0, x - 4):x + 5] = False
    for y in ys:
        text[max(0, y - 4):y + 5, :] = False
    return text


def _rect(w: int, h: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_RECT, (max(1, w), max(1, h)))


def _widen_to_rules(tx0: int, tx1: int, header: Header, vrules: list[int], pitch: float
                    ) -> tuple[int, int]:
    """The table's span reaching out to the page's vertical rules within a column's pitch
    beyond it: a narrow edge column (``Số``) whose short header went unread lies there."""
    left = [x for x in vrules if header.cells[0].box[0] - 1.5 * pitch <= x < tx0]
    right = [x for x in vrules if tx1 < x <= header.cells[-1].box[2] + 1.5 * pitch]
    return (min(left) - 8 if left else tx0), (max(right) + 9 if right else tx1)


def _unread_outer_columns(edges: tuple[int, int], vrules: list[int], counts: np.ndarray,
                          x_off: int, glyph: float) -> tuple[int | None, int | None]:
    """Far rules of ruled columns beyond the table's edges (``edges``: the rules beside the
    first and last header read): a column whose header was not read, with writing on at
    least half the body's lines. None on a side without one."""
    lines = int(counts.max()) if counts.size else 0
    if lines == 0:
        return None, None

    def written(a: int, b: int) -> bool:
        part = counts[max(0, a - x_off + 6):max(0, b - x_off - 6)]
        return part.size > 0 and int(part.max()) >= 0.5 * lines

    left = [x for x in vrules if x < edges[0] - glyph]
    right = [x for x in vrules if x > edges[1] + glyph]
    far_l = min(left) if left and written(min(left), edges[0]) else None
    far_r = max(right) if right and written(edges[1], max(right)) else None
    return far_l, far_r


def _outer_edges(header: Header, cuts: list[int], vrules: list[int], free: np.ndarray,
                 tx0: int, tx1: int) -> tuple[int, int]:
    """Left edge of the first column and right edge of the last: the outer rules, else the
    farthest body ink on that side (values are often left-aligned, wider than the header)."""
    first, last = header.cells[0], header.cells[-1]
    inner_l = cuts[0] if cuts else first.box[2]
    inner_r = cuts[-1] if cuts else last.box[0]
    used = np.flatnonzero(~free) + tx0
    left_ink = used[used < inner_l]
    right_ink = used[used > inner_r]
    left = min(first.box[0], left_ink.min() if left_ink.size else tx1) - 8
    right = max(last.box[2], right_ink.max() if right_ink.size else tx0) + 8
    outer_l = [x for x in vrules if x <= first.box[0] + 4]
    outer_r = [x for x in vrules if x >= last.box[2] - 4]
    left = outer_l[-1] if outer_l else left
    right = outer_r[0] if outer_r else right
    return max(tx0, int(left)), min(tx1, int(right))


def _rows(bands: list[tuple[int, int]], rules: list[int], numbered, glyph: float,
          numbers=None) -> list[tuple[int, int, bool]]:
    """Candidate entry rows (page y0, y1, between two rules) from the text bands.

    With horizontal rules (``rules`` starts with the body's top), the bands between two
    rules are one row; a rule interval holding two numbered lines (a rule lost) and bands
    under the last rule (the table's bottom rule lost) are grouped as on an unruled page:
    a band with no registration number (a wrapped value's other line) joins the nearest
    numbered band if it is close, other bands are rows of their own. Two numbers in one
    interval are counted in the number column itself (``numbers``) when there is one: a
    number written large beside a value wrapped onto two lines stands level with both
    lines, and would count twice by the bands.
    """
    out: list[tuple[int, int, bool]] = []
    groups: dict[int, list[tuple[int, int]]] = {}
    loose = []
    for band in _split_at(bands, rules[1:]):
        k = int(np.searchsorted(rules, (band[0] + band[1]) / 2)) if rules else 0
        if 0 < k < len(rules):
            groups.setdefault(k, []).append(band)
        else:
            loose.append(band)
    for k, group in sorted(groups.items()):
        found = numbers(rules[k - 1], rules[k]) if numbers is not None else None
        if (found if found is not None else sum(numbered(b) for b in group)) > 1:
            loose += group
        else:
            out.append((rules[k - 1] + 4, rules[k] - 4, True))
    margin = int(glyph * 0.3)
    out += [(a - margin, b + margin, False)
            for a, b in _group_bands(sorted(loose), numbered, glyph)]
    return sorted(out)


def _split_at(bands: list[tuple[int, int]], rules: list[int]) -> list[tuple[int, int]]:
    """Cut bands that cross a rule (ink left touching it joined two rows' lines)."""
    out = []
    for a, b in bands:
        for y in (y for y in rules if a < y < b):
            out.append((a, y))
            a = y
        out.append((a, b))
    return out


def _group_bands(bands, numbered, glyph: float) -> list[tuple[int, int]]:
    """Rows from text bands: each band without a registration number joins the numbered band
    nearest to it when the gap is under 0.8 glyph heights (a wrapped value's other line),
    else stands alone; returned as y ranges (band coordinates), top to bottom."""
    marks = [numbered(b) for b in bands]
    if all(marks) or not any(marks):
        return list(bands)
    rows = {i: list(b) for i, (b, m) in enumerate(zip(bands, marks)) if m}
    alone = []
    for band, mark in zip(bands, marks):
        if mark:
            continue
        gaps = {i: max(bands[i][0] - band[1], band[0] - bands[i][1]) for i in rows}
        near = min(gaps, key=gaps.get)
        if gaps[near] < 0.8 * glyph:
            rows[near] = [min(rows[near][0], band[0]), max(rows[near][1], band[1])]
        else:
            alone.append(band)
    return sorted([tuple(r) for r in rows.values()] + alone)


# --- reading -------------------------------------------------------------------------------

def extract_ledger(
    template: Template, engine: OcrEngine, image: np.ndarray, binary: np.ndarray,
    *, mode: Literal["stack", "cell"] = "stack", page_words: list[OcrWord] | None = None,
    deslant: bool = True, reader: AsterReader | None = None, text: np.ndarray | None = None,
) -> tuple[list[ExtractedRecord], LayoutFit]:
    """Records of one ledger page, and how well the page fitted the template.

        >>> records, fit = extract_ledger(tpl, engine, clean, binary)  # doctest: +SKIP
        >>> fit.labels_found, fit.labels_expected, fit.problems      # doctest: +SKIP
        (9, 9, [])

    Boxes are in the pixels of ``image`` (the prepared page, rules erased: they read as '|'
    and '_'); ``binary`` keeps the rules, which help find columns and rows where there are
    any. ``page_words``, the page-level read, locates the header and is the second opinion
    in each cell's confidence (the page is read here when it is not given).
    ``mode="stack"`` (default) reads all non-blank cells in one call per engine
    (``read_regions``, ~3 s a page); ``"cell"`` one call per cell (~18 s). A page whose
    header is not found gives no records and a fit with score 0 and the reason, never a
    silent empty page; title, header, column-number rows and empty rows never become
    records; ``row`` is the entry's position on the page. ``text``, when given, is the same
    page binarized for reading letters (``PreparedPage.text_image``): cells are read from
    it, while the header and the layout are found on ``image``.
    """
    words = page_words if page_words is not None else engine.recognize(image, psm=6)
    layout = find_layout(template, engine, image, binary, words)
    if layout is None:
        return [], LayoutFit(score=0.0, entries=0, labels_expected=len(template.specs),
                             labels_found=0, problems=[
                                 "Không tìm thấy dòng tiêu đề cột của bảng (cần ít nhất "
                                 f"{min_columns(template)} cột khớp với mẫu sổ)"])
    cells = _cells(layout)
    image = _erase_rules(image if text is None else text, layout)
    reads, neural = _read_cells(template, engine, image, cells, mode, deslant, layout.glyph,
                                reader)
    records = []
    for (y0, y1, boxed), row_cells in zip(layout.rows, cells):
        fields = {
            col.field: field_value(
                col.field, reads.get((y0, col.field), []), box, image,
                second=None if page_words is None
                else [w for w in page_words if _inside(w.box, box)],
                numeric=is_numeric_field(col.field, template.kind_of(col.field)),
                neural=neural.get((y0, col.field)),
                name=template.kind_of(col.field) == "name",
            )
            for col, box in row_cells
        }
        if _is_entry(fields, template, layout, boxed):
            for name in template.fields:  # a column the page lacks: unknown, said in the fit
                fields.setdefault(name, FieldValue(
                    field=name, raw="", value=None, status="uncertain", confidence=0.0,
                    note="Không tìm thấy cột này trên trang"))
            row_box = (layout.columns[0].x0, y0, layout.columns[-1].x1, y1)
            records.append(ExtractedRecord(row=len(records) + 1, fields=fields, box=row_box))
    return records, _fit(template, layout, records)


def _erase_rules(image: np.ndarray, layout: Layout, reach: int = 4) -> np.ndarray:
    """A copy of the page with the table's rules painted white, pieces and stubs included.

    ``remove_lines`` (read_page) only erases long straight runs; broken, hand-drawn or
    crossing rules leave pieces at the cell edges that the engine reads as 'l', 'I' or
    glue to a value's first letter ("Nữ" → "ph").
    """
    out = image.copy()
    x0, x1 = layout.columns[0].x0 - reach, layout.columns[-1].x1 + reach + 1
    y0 = layout.header.box[1]
    for x in layout.rules_x:
        out[y0:, max(0, x - reach):x + reach + 1] = 255
    for y in layout.rules_y:
        out[max(0, y - reach):y + reach + 1, max(0, x0):x1] = 255
    return out


def _cells(layout: Layout, inset: int = 4) -> list[list[tuple[Column, Box]]]:
    """Per row, the mapped columns' cell boxes."""
    return [[(c, (c.x0 + inset, y0, c.x1 - inset, y1)) for c in layout.columns if c.field]
            for y0, y1, _ in layout.rows]


def _read_cells(template: Template, engine: OcrEngine, image: np.ndarray,
                cells: list[list[tuple[Column, Box]]], mode: str, deslant: bool, glyph: float,
                reader: AsterReader | None = None,
                ) -> tuple[dict[tuple[int, str], list[OcrWord]], dict[tuple[int, str], LineRead]]:
    """Words of every inked cell, keyed by (row top, field); blank cells are not read. With a
    second reader, its reading of the same cell crops too (stack mode).

    A cell is inked when its share of dark pixels reaches ``BLANK_INK`` or it holds a small
    word's worth of ink (``WORD_INK`` glyph areas): a ditto "nt" in a wide cell is only 0.3 %
    of it, and was taken for blank by the share alone.
    """
    pending = [(box[1], col.field, box) for row in cells for col, box in row
               if _ink(image, box) >= BLANK_INK or _ink_pixels(image, box) >= WORD_INK * glyph ** 2]
    out: dict[tuple[int, str], list[OcrWord]] = {}
    neural: dict[tuple[int, str], LineRead] = {}
    if not pending:
        return out, neural
    if mode == "cell":
        for y, name, box in pending:
            out[(y, name)] = read_region(_reader(engine, template, name), image, box, psm=6)
        return out, neural
    boxes = [b for *_, b in pending]
    slant = estimate_slant(image, boxes) if deslant else 0.0
    crops = prepare_crops(image, boxes, slant=slant)
    text_reads = read_regions(engine, image, boxes, slant=slant, crops=crops)
    numeric = [i for i, (_, name, _) in enumerate(pending)
               if is_numeric_field(name, template.kind_of(name))]
    number_reads = read_regions(engine.for_numbers(), image, [pending[i][2] for i in numeric])
    for i, words in zip(numeric, number_reads):
        text_reads[i] = merge_number_read(text_reads[i], words)
    for (y, name, _), words in zip(pending, text_reads):
        out[(y, name)] = words
    if reader is not None:
        asked = [c for c in crops if wants_second_read(text_reads[c.index])]
        for crop, got in zip(asked, reader.read([c.image for c in asked],
                                                keep_log_probs=True)):
            if got is not None:
                y, name, _ = pending[crop.index]
                neural[(y, name)] = got
    return out, neural


_COLUMN_NUMBER = re.compile(r"^\(?\d{1,2}\)?$")


def _is_entry(fields: dict, template: Template, layout: Layout, boxed: bool) -> bool:
    """A row is an entry unless it is empty, repeats the header, or numbers the columns
    ("(1) (2) (3)…", printed under many headers). Outside a ruled cell, a row with no registration
    number needs three cells with text (two when the page has no number column): the page foot
    or a margin note is no entry."""
    filled = {n: fv.raw for n, fv in fields.items() if fv.status != "blank"}
    if not filled:
        return False
    numbered = any(c.field == template.starts_entry for c in layout.columns)
    read = [n for n, t in filled.items() if t]  # ink that reads as nothing is no value
    if not boxed and template.starts_entry not in read and len(read) < (3 if numbered else 2):
        return False
    texts = [t for t in filled.values() if t]
    if len(texts) >= 3 and all(_COLUMN_NUMBER.match(t) for t in texts):
        return False
    header_like = sum(any(label_score(t, lab) >= 90 for lab in template.spec(n).labels)
                      for n, t in filled.items() if t)
    return not (texts and header_like >= max(2, len(texts) / 2))


def _fit(template: Template, layout: Layout, records: list[ExtractedRecord]) -> LayoutFit:
    """Columns found, entries found, and what is wrong, in Vietnamese, for the page's
    ``needs_attention`` reason."""
    found = layout.header.mapped
    problems = []
    read = {c.field for c in layout.columns if c.field}
    missing = [template.label_of(s.field) for s in template.specs if s.field not in read]
    if missing:
        problems.append("Không tìm thấy cột: " + ", ".join(missing))
    if not records:
        problems.append("Không tìm thấy dòng ghi nào dưới tiêu đề bảng")
    elif len(records) > 1.5 * template.entries_per_page:
        problems.append(f"Đọc được {len(records)} dòng, nhiều hơn hẳn số dòng thường có "
                        f"({template.entries_per_page}): có thể đã tách sai dòng")
    score = len(found) / len(template.specs) if records else 0.0
    if len(records) > 1.5 * template.entries_per_page:
        score *= 0.5
    doubled = sum(_holds_two_entries(template, r) for r in records)
    if doubled:  # the last rows of a page run together, the page foot with them: one lost
        problems.append(f"{doubled} dòng có hai ngày tháng hoặc hai giới tính trong một ô: "
                        "có thể hai bản ghi bị gộp làm một")
        score *= 0.5
    return LayoutFit(score=round(score, 3), entries=len(records),
                     labels_expected=len(template.specs), labels_found=len(found),
                     problems=problems + layout.notes)


_YEAR = re.compile(r"(?<!\d)1[89]\d\d(?!\d)")
_SEX = re.compile(r"\b(?:nam|nữ)\b", re.IGNORECASE)


def _holds_two_entries(template: Template, record: ExtractedRecord) -> bool:
    """Whether two or more of a row's one-value cells (dates, sex) each hold two values: two
    entries read as one row (on a held-out photographed ledger the last two entries ran
    together, "4/2/1982 20/2/1982", "Nữ Nữ", and the page ended done with one missing)."""
    doubled = 0
    for name, fv in record.fields.items():
        kind = template.kind_of(name)
        pattern = _YEAR if kind == "date" else _SEX if kind == "sex" else None
        if pattern is not None and len(pattern.findall(fv.raw or "")) >= 2:
            doubled += 1
    return doubled >= 2


# --- small helpers -------------------------------------------------------------------------

def _reader(engine: OcrEngine, template: Template, name: str) -> OcrEngine:
    return engine.for_numbers() if is_numeric_field(name, template.kind_of(name)) else engine


def _inside(box: Box, region: Box) -> bool:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return region[0] <= cx <= region[2] and region[1] <= cy <= region[3]


def _ink(binary: np.ndarray, box: Box) -> float:
    x0, y0, x1, y1 = box
    part = binary[max(0, y0):y1, max(0, x0):x1]
    return float(np.count_nonzero(part < 128)) / part.size if part.size else 0.0


def _ink_pixels(image: np.ndarray, box: Box) -> int:
    x0, y0, x1, y1 = box
    return int(np.count_nonzero(image[max(0, y0):y1, max(0, x0):x1] < 128))


def _x_overlap(a: Box, b: Box) -> int:
    return min(a[2], b[2]) - max(a[0], b[0])

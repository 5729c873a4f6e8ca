"""Form layout: find the printed labels of each entry and read the value written after each."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

import numpy as np
from rapidfuzz import fuzz

from pipeline.ocr.engine import OcrEngine
from pipeline.ocr.regions import (
    DIGITS, Line, field_value, group_lines, read_region, union,
)
from pipeline.templates import FormLabel, Template
from pipeline.types import Box, ExtractedRecord, OcrWord

LABEL_MIN_SCORE = 72.0  # rapidfuzz ratio (0..100) for a possibly damaged printed label
CONTINUED_KINDS = {"text", "place", "name"}  # values that may run onto a second line


@dataclass
class LabelHit:
    label: FormLabel
    box: Box
    score: float


@dataclass
class FormLine:
    """A visual line identified as one printed line of the template."""

    line: Line
    template_line: int
    hits: list[LabelHit]
    continuations: list[Line] = field(default_factory=list)


def _key(text: str) -> str:
    return "".join(unicodedata.normalize("NFC", text).casefold().split())


def _match_at(words: list[OcrWord], start: int, label: str) -> tuple[float, int]:
    """Best (score, word count) for ``label`` starting at word ``start``.

    Tesseract may merge ("Nơisinh:") or split label words, so word counts around the label's
    own are tried; a last word ending in ':' is the printed label's end and earns a bonus.
    """
    target = _key(label)
    n = len(label.split())
    best = (0.0, 0)
    for k in range(max(1, n - 2), n + 2):
        if start + k > len(words):
            break
        text = _key("".join(w.text for w in words[start:start + k]))
        score = fuzz.ratio(text, target)
        if target.endswith(":") and text.endswith(":"):
            score += 3
        if score > best[0]:
            best = (score, k)
    return best


def _classify(line: Line, template: Template, expected: int) -> FormLine | None:
    """Which template line this visual line is, judged by its first label; None if none."""
    best: tuple[float, int, int] = (0.0, -1, 0)
    for index, labels in enumerate(template.lines):
        score, k = _match_at(line.words, 0, labels[0].label)
        if index == expected:
            score += 4  # entries are printed in template order
        if score > best[0]:
            best = (score, index, k)
    score, index, k = best
    if index < 0 or score < LABEL_MIN_SCORE:
        return None
    words = line.words
    hits = [LabelHit(template.lines[index][0], union([w.box for w in words[:k]]), score)]
    pos = k
    for label in template.lines[index][1:]:
        found: tuple[float, int, int] = (0.0, -1, 0)
        for start in range(pos + 1, len(words)):
            s, kk = _match_at(words, start, label.label)
            if s > found[0]:
                found = (s, start, kk)
        s, start, kk = found
        if start >= 0 and s >= LABEL_MIN_SCORE:
            hits.append(LabelHit(label, union([w.box for w in words[start:start + kk]]), s))
            pos = start + kk
    return FormLine(line, index, hits)


def find_entries(words: list[OcrWord], template: Template) -> list[list[FormLine]]:
    """Group the page's lines into entries; an entry starts at its first printed line (`Số:`),
    or, when that line is unreadable, wherever the template order starts over."""
    entries: list[list[FormLine]] = []
    lines = group_lines(words)
    pitch = _line_pitch(lines)
    last_line: FormLine | None = None
    for line in lines:
        expected = (last_line.template_line + 1) if last_line else 0
        form_line = _classify(line, template, expected % len(template.lines))
        if form_line is None:
            if last_line is not None and _is_continuation(last_line, line, pitch):
                last_line.continuations.append(line)
            continue
        if not entries or form_line.template_line == 0 or (
            last_line is not None and form_line.template_line <= last_line.template_line
        ):
            entries.append([])
        entries[-1].append(form_line)
        last_line = form_line
    return entries


def _line_pitch(lines: list[Line]) -> float:
    if len(lines) < 2:
        return 80.0
    gaps = np.diff([ln.box[1] for ln in lines])
    gaps = gaps[gaps > 5]
    return float(np.median(gaps)) if len(gaps) else 80.0


def _is_continuation(prev: FormLine, line: Line, pitch: float) -> bool:
    kind = prev.hits[-1].label.kind
    last = prev.continuations[-1] if prev.continuations else prev.line
    return kind in CONTINUED_KINDS and line.box[1] - last.box[1] <= 1.4 * pitch


def _psm_whitelist(kind: str, field_name: str) -> tuple[int, str | None]:
    # Whitelists are off: dates may be written in words and whitelisted reads lose their
    # confidence in Tesseract 5.3 (every whitelisted word scored 0), see tests/ocr notes.
    return 7, None


def extract_form(
    words: list[OcrWord], template: Template, engine: OcrEngine, image: np.ndarray,
    binary: np.ndarray | None = None, *, reread: bool = True,
) -> list[ExtractedRecord]:
    """Records of one form page; every box is in the pixels of ``image`` (the prepared page).

    ``words`` is the page's OCR; each value region (label's right edge → next label on the line,
    or the text's right edge; plus continuation lines) is re-read as a single line with
    ``engine`` when ``reread``, else the page words inside it are used.
    """
    if binary is None:
        binary = image
    entries = find_entries(words, template)
    if not entries:
        return []
    right = max(w.box[2] for w in words) + 10
    left = min(fl.line.box[0] for e in entries for fl in e)
    records = []
    for row, entry in enumerate(entries, start=1):
        fields = {}
        for fl in entry:
            y0, y1 = fl.line.box[1], fl.line.box[3]
            pad = max(4, int(0.25 * (y1 - y0)))
            for i, hit in enumerate(fl.hits):
                x0 = hit.box[2] + 4
                x1 = fl.hits[i + 1].box[0] - 6 if i + 1 < len(fl.hits) else right
                parts = [(x0, y0 - pad, x1, y1 + pad)]
                if i == len(fl.hits) - 1:
                    for cont in fl.continuations:
                        parts.append((left, cont.box[1] - pad, right, cont.box[3] + pad))
                psm, whitelist = _psm_whitelist(hit.label.kind, hit.label.field)
                value_words: list[OcrWord] = []
                for part in parts:
                    if reread:
                        value_words += read_region(engine, image, part, psm=psm, whitelist=whitelist)
                    else:
                        value_words += [w for w in words if _inside(w.box, part)]
                fields[hit.label.field] = field_value(hit.label.field, value_words, union(parts), binary)
        box = union([fl.line.box for fl in entry] + [c.box for fl in entry for c in fl.continuations])
        records.append(ExtractedRecord(row=row, fields=fields, box=box))
    return records


def _inside(box: Box, region: Box) -> bool:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return region[0] <= cx <= region[2] and region[1] <= cy <= region[3]

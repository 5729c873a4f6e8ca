"""Form layout: find the printed labels of each entry and read the value written after each."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from rapidfuzz import fuzz

from pipeline.ocr.engine import OcrEngine
from pipeline.ocr.regions import (
    Line, estimate_slant, field_value, group_lines, is_numeric_field, merge_number_read, read_region,
    read_regions, union,
)
from pipeline.templates import FormLabel, Template
from pipeline.types import Box, ExtractedRecord, FieldValue, OcrWord

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
        parts = [w.text for w in words[start:start + k]]
        colon = parts[-1].find(":")
        if 0 <= colon < len(parts[-1]) - 1:
            parts[-1] = parts[-1][:colon + 1]  # value glued to the label: "cha:,Nguyễn"
        text = _key("".join(parts))
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
        elif 0 < index < expected:
            score -= 12  # going back means a new entry, which starts at line 0
        if score > best[0]:
            best = (score, index, k)
    score, index, k = best
    if index < 0 or score < LABEL_MIN_SCORE:
        return None
    words = line.words
    hits = [LabelHit(template.lines[index][0], _label_box(words[:k]), score)]
    pos = k
    for label in template.lines[index][1:]:
        found: tuple[float, int, int] = (0.0, -1, 0)
        for start in range(pos + 1, len(words)):
            s, kk = _match_at(words, start, label.label)
            if s > found[0]:
                found = (s, start, kk)
        s, start, kk = found
        if start >= 0 and s >= LABEL_MIN_SCORE:
            hits.append(LabelHit(label, _label_box(words[start:start + kk]), s))
            pos = start + kk
    return FormLine(line, index, hits)


def _label_box(words: list[OcrWord]) -> Box:
    """Box of a label's words; when the engine glued the value to the colon ("tịch:Việt"),
    the box ends at the colon, estimated from the character share."""
    box = union([w.box for w in words])
    last = words[-1]
    colon = last.text.find(":")
    if 0 <= colon < len(last.text) - 1:
        # Just after the colon, less half a character: a leftover ':' is stripped later, a
        # clipped first letter of the value would be lost.
        char = (last.box[2] - last.box[0]) / len(last.text)
        x1 = last.box[0] + int((colon + 0.5) * char)
        box = (box[0], box[1], x1, box[3])
    return box


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


def recover_missing_lines(
    entries: list[list[FormLine]], template: Template, engine: OcrEngine, image: np.ndarray,
    left: int, right: int,
) -> None:
    """Find template lines the page read skipped (Tesseract's page mode drops a line now and
    then): the line's place is interpolated from its neighbours in the entry, that strip is
    read again on its own, and if its label still does not match, the label positions of the
    same line in another entry are used. Entries are changed in place."""
    n = len(template.lines)
    reference: dict[int, FormLine] = {}
    for entry in entries:
        for fl in entry:
            if len(fl.hits) == len(template.lines[fl.template_line]):
                reference.setdefault(fl.template_line, fl)
    for index, entry in enumerate(entries):
        found = {fl.template_line: fl for fl in entry}
        if len(found) < 2:
            continue
        known = sorted(found)
        centre = {k: (found[k].line.box[1] + found[k].line.box[3]) / 2 for k in known}
        pitch = (centre[known[-1]] - centre[known[0]]) / max(1, known[-1] - known[0])
        height = int(np.median([found[k].line.height for k in known]))
        for k in range(0, min(n, known[-1] + 2)):
            if k in found or pitch <= 0:
                continue
            before = max((j for j in known if j < k), default=known[0])
            cy = centre[before] + (k - before) * pitch
            if k < known[0] and index > 0 and entries[index - 1]:
                if cy - 0.5 * pitch < entries[index - 1][-1].line.box[3]:
                    continue  # no room above: that line belongs to the entry before
            y0, y1 = int(cy - 0.75 * height), int(cy + 0.75 * height)
            words = read_region(engine, image, (left - 10, y0, right, y1), psm=7)
            form_line = _classify(Line(words), template, k) if words else None
            if form_line is None or form_line.template_line != k:
                ref = reference.get(k)
                if ref is None:
                    continue
                dy = int(cy - (ref.line.box[1] + ref.line.box[3]) / 2)
                hits = [LabelHit(h.label, _shift(h.box, dy), 0.0) for h in ref.hits]
                form_line = FormLine(Line([OcrWord("", 0.0, _shift(ref.line.box, dy))]), k, hits)
            entry.append(form_line)
            found[k] = form_line
        entry.sort(key=lambda fl: fl.template_line)


def drop_label_line_continuations(entries: list[list[FormLine]]) -> None:
    """Forget 'continuation' lines that turned out to be printed lines of the template.

    A line whose label the page read missed (a seal over "Ngày đăng ký:") first looks like
    the previous value running on; once ``recover_missing_lines`` has found it, reading it
    also as part of the previous value would append the label and its value there
    ("Lê Văn Cử (cha) Ngày đăng ký: 19/1/1963"). Entries are changed in place.
    """
    label_lines = [fl.line.box for entry in entries for fl in entry]
    for entry in entries:
        for fl in entry:
            fl.continuations = [c for c in fl.continuations
                                if not any(_same_row(c.box, b) for b in label_lines)]


def _same_row(a: Box, b: Box) -> bool:
    """Two line boxes on one row: their centres lie within each other's height."""
    ca, cb = (a[1] + a[3]) / 2, (b[1] + b[3]) / 2
    return b[1] <= ca <= b[3] or a[1] <= cb <= a[3]


def _shift(box: Box, dy: int) -> Box:
    return (box[0], box[1] + dy, box[2], box[3] + dy)


def extract_form(
    words: list[OcrWord], template: Template, engine: OcrEngine, image: np.ndarray,
    binary: np.ndarray | None = None, *, mode: Literal["stack", "crop", "page"] = "stack",
    reread_below: float = 0.9, deslant: bool = True,
) -> list[ExtractedRecord]:
    """Records of one form page; every box is in the pixels of ``image`` (the prepared page).

    ``words`` is the page's OCR, used to find the labels. Each value region runs from its
    label's right edge to the next label on the line (or the text's right edge), plus any
    continuation lines. ``mode`` says how values are read:

    * ``stack`` (default): all value regions in one engine call (``read_regions``), numeric
      fields once more with ``engine.for_numbers()``; fastest and the most accurate measured;
    * ``crop``: each region on its own with ``--psm 7`` when the page words in it are missing,
      numeric or less sure than ``reread_below``; ~40 engine calls a page;
    * ``page``: the page words inside each region, no further call.

    ``deslant``: in ``stack`` mode the text read shears the value crops upright by the page's
    handwriting slant (``estimate_slant``; printed values measure 0 and are left alone). The
    numbers read is not sheared: digits read worse deslanted (tune split: 84 % → 81 %).
    """
    if binary is None:
        binary = image
    entries = find_entries(words, template)
    if not entries:
        return []
    right = max(w.box[2] for w in words) + 10
    left = min(fl.line.box[0] for e in entries for fl in e)
    recover_missing_lines(entries, template, engine, image, left, right)
    drop_label_line_continuations(entries)
    plan: list[tuple[int, LabelHit, list[Box]]] = []  # (row, label, regions)
    skipped: list[list[FormLabel]] = []  # per plan item: labels of its line missed after it
    for row, entry in enumerate(entries, start=1):
        for fl in entry:
            y0, y1 = fl.line.box[1], fl.line.box[3]
            pad = max(4, int(0.25 * (y1 - y0)))
            printed = template.lines[fl.template_line]
            for i, hit in enumerate(fl.hits):
                after = printed.index(hit.label) + 1
                until = printed.index(fl.hits[i + 1].label) if i + 1 < len(fl.hits) else None
                skipped.append(printed[after:until])
                x0 = hit.box[2] + 2
                x1 = fl.hits[i + 1].box[0] - 6 if i + 1 < len(fl.hits) else right
                parts = [(x0, y0 - pad, x1, y1 + pad)]
                if i == len(fl.hits) - 1:
                    parts += [(left, c.box[1] - pad, right, c.box[3] + pad)
                              for c in fl.continuations]
                plan.append((row, hit, parts))

    # No character whitelist anywhere: dates may be written in words ("ngày 5 tháng 12"), and
    # Tesseract 5.3 scores every whitelisted word 0 and drops the spaces between words.
    flat = [(k, part) for k, (_, _, parts) in enumerate(plan) for part in parts]
    numeric = [is_numeric_field(hit.label.field, hit.label.kind) for _, hit, _ in plan]
    reads: list[list[OcrWord]] = [[] for _ in plan]
    if mode == "stack":
        boxes = [part for _, part in flat]
        slant = estimate_slant(image, boxes) if deslant else 0.0
        text_reads = read_regions(engine, image, boxes, slant=slant, isolate=True)
        num_idx = [j for j, (k, _) in enumerate(flat) if numeric[k]]
        num_reads = read_regions(engine.for_numbers(), image, [flat[j][1] for j in num_idx],
                                 isolate=True)
        for j, got in zip(num_idx, num_reads):
            text_reads[j] = merge_number_read(text_reads[j], got)
        for (k, _), got in zip(flat, text_reads):
            reads[k] += got
    else:
        for k, part in flat:
            seen = [w for w in words if _inside(w.box, part)]
            if mode == "crop" and (numeric[k] or not seen
                                   or min(w.confidence for w in seen) < reread_below):
                reader = engine.for_numbers() if numeric[k] else engine
                seen = read_region(reader, image, part, psm=7)
            reads[k] += seen

    for k in range(len(plan)):  # a label the page read missed may sit inside a value read
        if not skipped[k]:
            continue
        reads[k], found = split_missed_labels(reads[k], skipped[k])
        for label, value_words in found:
            row, _, parts = plan[k]
            box = union([w.box for w in value_words]) if value_words else parts[0]
            plan.append((row, LabelHit(label, box, 0.0), [box]))
            reads.append(value_words)
            numeric.append(is_numeric_field(label.field, label.kind))

    fields_by_row: dict[int, dict[str, FieldValue]] = {}
    for (row, hit, parts), value_words, is_number in zip(plan, reads, numeric):
        if hit.label.field in fields_by_row.get(row, {}):
            continue  # read twice (a missed label found again): the first reading stands
        value_words = _drop_label_tail(value_words, hit.label.label)
        second = None
        if mode != "page":
            second = _drop_label_tail([w for w in words for p in parts if _inside(w.box, p)],
                                      hit.label.label)
        fields_by_row.setdefault(row, {})[hit.label.field] = field_value(
            hit.label.field, value_words, union(parts), binary, second=second, numeric=is_number)
    records = []
    for row, entry in enumerate(entries, start=1):
        fields = fields_by_row.get(row, {})
        for name in template.fields:
            if name not in fields:
                fields[name] = FieldValue(field=name, raw="", value=None, status="illegible",
                                          confidence=0.0, note="Không tìm thấy nhãn trên trang")
        fields = {name: fields[name] for name in template.fields}
        box = union([fl.line.box for fl in entry]
                    + [c.box for fl in entry for c in fl.continuations])
        records.append(ExtractedRecord(row=row, fields=fields, box=box))
    return records


def split_missed_labels(
    words: list[OcrWord], missed: list[FormLabel],
) -> tuple[list[OcrWord], list[tuple[FormLabel, list[OcrWord]]]]:
    """Find printed labels that the page read missed inside a value's words, and cut there.

    When the page read loses "Tuổi:" (a seal or stain over it), the name's region runs to the
    line's end and reads "Nguyễn Thanh Huyền Tuổi: 38". Returns the value's own words (up to
    the first label found) and, for each missed label found (fuzzy, as on the page, in printed
    order), the words from it to the next one found.
    """
    ordered = [w for line in group_lines(words) for w in line.words]
    cuts: list[tuple[FormLabel, int, int]] = []  # label, first word, words of the label
    pos = 1
    for label in missed:
        found = (0.0, -1, 0)
        for start in range(pos, len(ordered)):
            score, k = _match_at(ordered, start, label.label)
            if score > found[0]:
                found = (score, start, k)
        score, start, k = found
        if start >= 0 and score >= LABEL_MIN_SCORE:
            cuts.append((label, start, k))
            pos = start + k
    if not cuts:
        return words, []
    found_values = [(label, ordered[start + k:cuts[i + 1][1] if i + 1 < len(cuts) else None])
                    for i, (label, start, k) in enumerate(cuts)]
    return ordered[:cuts[0][1]], found_values


def _drop_label_tail(words: list[OcrWord], label: str) -> list[OcrWord]:
    """Drop the end of the printed label when it leaked into the value ("mẹ:", "n:,Nguyễn").

    Happens when the engine put the label's last word on another line than its first ones,
    or glued the value to the colon.
    """
    if not words:
        return words
    first = min(words, key=lambda w: (w.box[1] // 40, w.box[0]))
    tail = _key(label.split()[-1])
    text = _key(first.text)
    if text.endswith(":") and len(text) > 1 and fuzz.ratio(text, tail) >= 70:
        return [w for w in words if w is not first]
    colon = first.text.find(":")
    if 0 <= colon <= 4 and tail.endswith(_key(first.text[:colon + 1])):
        rest = first.text[colon + 1:].lstrip(".,;: ")
        trimmed = OcrWord(rest, first.confidence, first.box, first.line)
        return [trimmed if w is first else w for w in words if w is not first or rest]
    return words


def _inside(box: Box, region: Box) -> bool:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return region[0] <= cx <= region[2] and region[1] <= cy <= region[3]

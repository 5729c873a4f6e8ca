"""Form layout: find the printed labels wherever they stand, and read the value each announces.

The page's own OCR finds the labels (``form_labels``), their recurrence splits them into
entries (``form_entries``), and each value is taken by geometry from its label: to the right
of it up to the next label on the line, or, when nothing is written there and the line below
holds writing under it, below it (printings that put the label above its value); a value of
text may run onto the next lines. Values are read again in one stacked engine call, with
numbers read a second time by the numbers engine.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
from rapidfuzz import fuzz

from pipeline.ocr.aster import AsterReader, LineRead, join_reads
from pipeline.ocr.engine import OcrEngine
from pipeline.ocr.form_below import labels_erased, letters_box, region_below, values_below
from pipeline.ocr.form_entries import Entry, group_entries, predict_missing
from pipeline.ocr.form_labels import (
    GLUE_MARKS, RESCUE_MIN_SCORE, LabelHit, _good_enough, find_labels_in_line, label_box,
    label_end, label_key,
    label_variants, loose_match_at, match_at,
)
from pipeline.ocr.preprocess import to_gray
from pipeline.ocr.regions import (
    Line, clean_text, estimate_slant, field_value, group_lines, is_numeric_field,
    merge_number_read, prepare_crops, read_regions, union, wants_second_read,
)
from pipeline.templates import Template
from pipeline.types import Box, ExtractedRecord, FieldValue, LayoutFit, OcrWord

CONTINUED_KINDS = {"text", "place", "name"}  # values that may run onto a second line
CONTINUATION_PITCH = 1.45  # a continuation line starts within this many line pitches
PREDICTED_CONFIDENCE = 0.5  # a value whose label was placed, not read, is never auto-accepted
LEAK_SCORE = 88.0  # partial similarity at which a label counts as found inside a value
STRAY_LINES_ALLOWED = 3  # lines of writing outside every entry: a page foot, margin notes


@dataclass
class PageLines:
    """The page's visual lines and the labels found on each."""

    lines: list[Line]
    hits: list[list[LabelHit]]
    pitch: float
    right: int

    def label_line(self, i: int) -> bool:
        return bool(self.hits[i])

    def line_at(self, box: Box) -> int | None:
        """The visual line whose band holds the centre of ``box``."""
        cy = (box[1] + box[3]) / 2
        for i, line in enumerate(self.lines):
            y0, y1 = line.box[1], line.box[3]
            if y0 <= cy <= y1:
                return i
        return None


@dataclass
class Plan:
    """Where one field's value is to be read."""

    row: int
    field: str
    label: str  # the label text, to strip if it leaks into the value
    parts: list[Box]
    predicted: bool = False
    missed: tuple[tuple[str, str], ...] = ()  # (field, label) that may hide inside the value


def _line_pitch(lines: list[Line]) -> float:
    if len(lines) < 2:
        return 80.0
    gaps = np.diff([ln.box[1] for ln in lines])
    gaps = gaps[gaps > 5]
    return float(np.median(gaps)) if len(gaps) else 80.0


def find_page_labels(words: list[OcrWord], template: Template) -> PageLines:
    lines = group_lines(words)
    variants = label_variants(template)
    hits = [find_labels_in_line(line, i, variants) for i, line in enumerate(lines)]
    right = max((w.box[2] for w in words), default=0) + 10
    return PageLines(lines, hits, _line_pitch(lines), right)


def _next_label_x(page: PageLines, box: Box, entries: list[Entry]) -> int:
    """Left edge of the next label to the right of ``box`` on its row, found or placed."""
    y0, y1 = box[1], box[3]
    xs = []
    for line_hits in page.hits:
        for h in line_hits:
            cy = (h.box[1] + h.box[3]) / 2
            if y0 <= cy <= y1 and h.box[0] > box[2] - 4:
                xs.append(h.box[0])
    for entry in entries:
        for pbox in entry.predicted.values():
            cy = (pbox[1] + pbox[3]) / 2
            if y0 <= cy <= y1 and pbox[0] > box[2] - 4:
                xs.append(pbox[0])
    return min(xs) - 6 if xs else page.right


def _words_in(line: Line, x0: int, x1: int, skip: list[LabelHit]) -> list[OcrWord]:
    used = {id(w) for h in skip for w in line.words[h.first_word:h.first_word + h.words]}
    return [w for w in line.words if id(w) not in used and x0 <= (w.box[0] + w.box[2]) / 2 <= x1
            and clean_text(w.text)]


def _value_parts(page: PageLines, entries: list[Entry], box: Box, kind: str,
                 consumed: dict[int, int], below: bool = False) -> list[Box]:
    """Regions holding the value of the label at ``box``: beside it, else under it, plus the
    lines it runs onto. Lines taken as values go into ``consumed`` (line → its label line).
    ``below``: the page's printing puts values under their labels (``form_below``)."""
    line = page.line_at(box)
    x1 = _next_label_x(page, box, entries)
    if below:
        bottom = max((ln.box[3] for ln in page.lines), default=box[3]) + int(page.pitch)
        return [region_below(box, x1, [h for hits in page.hits for h in hits], bottom)]
    if line is None:  # a placed label on a line the page read lost: read where it would be
        y0, y1 = box[1], box[3]
        pad = max(8, int(0.6 * (y1 - y0)))  # a placed box is a guess: values are taller too
        return [(box[2] + 2, y0 - pad, x1, y1 + pad)]
    beside = _words_in(page.lines[line], box[2] - 2, x1, page.hits[line])
    band = _band(box, beside)
    pad = max(4, int(0.25 * (band[3] - band[1])))
    parts = [(box[2] + 2, band[1] - pad, x1, band[3] + pad)]
    last = line
    if not beside:  # the label may stand above its value: take the first written line below
        under = _value_below(page, line, box, x1, consumed)
        if under:
            ys = [page.lines[i].box for i in under]
            pad = max(4, int(0.25 * (ys[-1][3] - ys[-1][1])))
            parts = [(box[0] - 10, min(b[1] for b in ys) - pad, x1, max(b[3] for b in ys) + pad)]
            for i in under:  # shared with the other labels of this line, in their columns
                consumed[i] = line
            last = under[-1]
    if kind in CONTINUED_KINDS and x1 >= page.right - 6:
        nxt = last + 1
        while nxt < len(page.lines) and not page.label_line(nxt) and nxt not in consumed \
                and page.lines[nxt].box[1] - page.lines[last].box[1] <= CONTINUATION_PITCH * page.pitch:
            b = page.lines[nxt].box
            if b[0] > page.right or b[2] < box[0] - 2 * page.pitch:
                break
            bpad = max(4, int(0.25 * (b[3] - b[1])))
            parts.append((min(b[0], box[0]) - 10, b[1] - bpad, page.right, b[3] + bpad))
            consumed[nxt] = line
            last = nxt
            nxt += 1
    return parts


def _band(label: Box, beside: list[OcrWord]) -> Box:
    """The rows a value beside its label occupies: the label's and its own words', leaving
    out words far taller than the label (stains, a table edge in a photo, a seal's ring) that
    would stretch the region over the next line."""
    height = label[3] - label[1]
    boxes = [label] + [w.box for w in beside if w.box[3] - w.box[1] <= 2.2 * height]
    return union(boxes)


def _value_below(page: PageLines, line: int, box: Box, x1: int, consumed: dict[int, int]
                 ) -> list[int]:
    """Lines below a label that hold its value, when the printing puts labels above values:
    the non-label lines within reach, up to the first with real writing under the label
    (specks and leader remnants read as 'ñ' or '_' come first on some pages); [] if none."""
    taken: list[int] = []
    band = page.lines[line].box
    for below in range(line + 1, len(page.lines)):
        if page.label_line(below) or consumed.get(below, line) != line:
            break
        if page.lines[below].box[1] - band[3] > CONTINUATION_PITCH * page.pitch:
            break
        taken.append(below)
        under = _words_in(page.lines[below], box[0] - page.pitch, x1, [])
        if any(_substantial(w.text) for w in under):
            return taken
    return []


def _substantial(text: str) -> bool:
    """Writing, not a speck: two letters or a digit."""
    return any(c.isdigit() for c in text) or sum(c.isalpha() for c in text) >= 2


def plan_values(page: PageLines, entries: list[Entry], template: Template,
                below: bool = False) -> list[Plan]:
    """Where to read each field of each entry, top to bottom, left to right."""
    plans: list[Plan] = []
    consumed: dict[int, int] = {}
    for row, entry in enumerate(entries, start=1):
        placed = [(name, entry.box_of(name), name not in entry.labels) for name in template.fields
                  if entry.box_of(name) is not None]
        placed.sort(key=lambda p: (p[1][1] // max(1, int(page.pitch / 2)), p[1][0]))
        missing = [(name, template.spec(name).labels[0]) for name in template.fields
                   if name not in entry.labels]
        for name, box, predicted in placed:
            label = entry.labels[name].text if name in entry.labels else template.spec(name).labels[0]
            parts = _value_parts(page, entries, box, template.kind_of(name), consumed, below)
            hidden = tuple(m for m in missing if m[0] != name)
            plans.append(Plan(row, name, label, parts, predicted, hidden))
    return plans


def extract_form(
    words: list[OcrWord], template: Template, engine: OcrEngine, image: np.ndarray,
    binary: np.ndarray | None = None, *, mode: Literal["stack", "page"] = "stack",
    deslant: bool = True, reader: AsterReader | None = None, text: np.ndarray | None = None,
) -> tuple[list[ExtractedRecord], LayoutFit]:
    """Records of one form page and how well the page fit the template; every box is in the
    pixels of ``image`` (the prepared page).

    ``words`` is the page's OCR, used to find the labels. ``mode`` says how values are read:
    ``stack`` (default) reads all value regions again in one engine call (``read_regions``),
    numeric fields once more with ``engine.for_numbers()``; ``page`` takes the page words
    inside each region. ``deslant``: the stacked text read shears value crops upright by the
    page's handwriting slant (printed values measure 0 and are left alone). ``reader``, the
    second (neural) reader, reads the same value crops (stack mode only). ``text``, when
    given, is the page binarized for reading letters (``PreparedPage.text_image``): value
    crops are cut from it, labels found in ``words`` as before.
    """
    if binary is None:
        binary = image
    page = find_page_labels(words, template)
    all_hits = [h for line_hits in page.hits for h in line_hits]
    entries, fragments = group_entries(all_hits, template)
    fit = LayoutFit(entries=len(entries))
    if not entries:
        fit.score = 0.0
        fit.problems.append(f"Không tìm thấy mục nào theo mẫu '{template.name}' trên trang")
        return [], fit
    rescue_labels(page, entries, template)
    tight = [letters_box(h, page.lines[h.line].words) for h in all_hits]
    below = values_below(to_gray(image) < 128, [replace(h, box=b) for h, b in zip(all_hits, tight)])
    if below:  # the value under a label is read from the label's own top
        for hit, box in zip(all_hits, tight):
            hit.box = box
    predict_missing(entries, template)
    plans = plan_values(page, entries, template, below)
    letters = image if text is None else text
    if below:  # each value is read from its label's top: the label's letters must go
        letters = labels_erased(letters, [h.box for h in all_hits])
    reads, neural = _read_plans(plans, template, engine, letters, words, mode, deslant, reader)
    _recover_hidden_labels(plans, reads, neural, template)
    records = _records(plans, reads, neural, entries, template, words, binary, mode)
    _score_fit(fit, entries, fragments, template)
    stray = _stray_lines(page, plans, entries)
    if stray > STRAY_LINES_ALLOWED:  # writing no entry accounts for: an entry may be lost
        fit.problems.append(f"{stray} dòng chữ không thuộc mục nào (có thể mất một mục)")
        fit.score = round(fit.score * 0.5, 3)  # under MIN_FIT_SCORE from any fit: flagged
    leaks = sum(1 for r in records for fv in r.fields.values()
                if fv.note and fv.note.startswith("Giá trị lẫn nhãn"))
    if leaks:  # regions that cross lines: the printing is not understood as well as it seems
        fit.problems.append(f"{leaks} giá trị lẫn nhãn in của trường khác")
        fit.score = round(fit.score * max(0.5, 1 - leaks / max(1, fit.labels_expected) * 4), 3)
    return records, fit


def rescue_labels(page: PageLines, entries: list[Entry], template: Template) -> None:
    """Look again, loosely, for the labels an entry lacks, on the entry's own lines.

    A thin or faint label font is read with slips the page-wide search rightly refuses
    ("Tuấi:"); inside an entry known to hold that label the looser match is safe. A label
    printed for someone (`Tuổi:` of the mother) is looked for after its owner's label only.
    Found labels join the entry and their line, so the values around them are cut right.
    """
    tops = [e.top for e in entries] + [10 ** 9]
    for index, entry in enumerate(entries):
        missing = [f for f in template.fields if f not in entry.labels]
        if not missing:
            continue
        lo, hi = entry.top - page.pitch / 2, tops[index + 1] - page.pitch / 2
        lines = [i for i, ln in enumerate(page.lines) if lo <= ln.box[1] < hi]
        for name in missing:
            found = _loose_find(page, lines, entry, template, name)
            if found is not None:
                entry.labels[name] = found
                entry.order.append(name)
                page.hits[found.line].append(found)
                page.hits[found.line].sort(key=lambda h: h.first_word)


def _loose_find(page: PageLines, lines: list[int], entry: Entry, template: Template,
                name: str) -> LabelHit | None:
    spec = template.spec(name)
    owner = entry.labels.get(spec.of) if spec.of else None
    best: tuple[float, LabelHit | None] = (RESCUE_MIN_SCORE, None)
    for i in lines:
        words = page.lines[i].words
        used = {j for h in page.hits[i] for j in range(h.first_word, h.first_word + h.words)}
        for start in range(len(words)):
            if start in used or not any(c.isalpha() for c in words[start].text):
                continue
            if owner is not None and (i < owner.line or (i == owner.line
                                                          and start <= owner.first_word)):
                continue  # `Tuổi:` of the mother comes after the mother's name
            for text in spec.labels:
                score, k = loose_match_at(words, start, text)
                if k and score >= best[0] and not (set(range(start, start + k)) & used):
                    if best[1] is None or score > best[0]:
                        best = (score, LabelHit((name,), text, label_box(words[start:start + k], text),
                                                score, i, start, k))
    return best[1]


def _read_plans(plans: list[Plan], template: Template, engine: OcrEngine, image: np.ndarray,
                words: list[OcrWord], mode: str, deslant: bool, reader: AsterReader | None,
                ) -> tuple[list[list[OcrWord]], list[LineRead | None]]:
    """Each plan's words (Tesseract) and, with a second reader, its neural reading of the
    same crops (the parts of a value running onto the next line joined)."""
    flat = [(k, part) for k, plan in enumerate(plans) for part in plan.parts]
    numeric = [is_numeric_field(p.field, template.kind_of(p.field)) for p in plans]
    reads: list[list[OcrWord]] = [[] for _ in plans]
    neural: list[LineRead | None] = [None] * len(plans)
    if mode == "page":
        for k, part in flat:
            reads[k] += [w for w in words if _inside(w.box, part)]
        return reads, neural
    boxes = [part for _, part in flat]
    slant = estimate_slant(image, boxes) if deslant else 0.0
    crops = prepare_crops(image, boxes, slant=slant, isolate=True)
    text_reads = read_regions(engine, image, boxes, slant=slant, crops=crops)
    num_idx = [j for j, (k, _) in enumerate(flat) if numeric[k]]
    num_reads = read_regions(engine.for_numbers(), image, [flat[j][1] for j in num_idx],
                             isolate=True)
    for j, got in zip(num_idx, num_reads):
        text_reads[j] = merge_number_read(text_reads[j], got)
    for (k, _), got in zip(flat, text_reads):
        reads[k] += got
    if reader is not None:
        parts: list[list[LineRead]] = [[] for _ in plans]
        unsure = {k for k, got in enumerate(reads) if wants_second_read(got)}
        asked = [c for c in crops if flat[c.index][0] in unsure]
        for crop, got in zip(asked, reader.read([c.image for c in asked],
                                                keep_log_probs=True)):
            if got is not None:
                parts[flat[crop.index][0]].append(got)
        neural = [join_reads(p) for p in parts]
    return reads, neural


def _recover_hidden_labels(plans: list[Plan], reads: list[list[OcrWord]],
                           neural: list[LineRead | None], template: Template) -> None:
    """A label the page read missed may sit inside the value read before it ("Nguyễn Thanh
    Huyền Tuổi: 38"): cut there and give the rest to that field, instead of its placed guess."""
    for k in range(len(plans)):
        plan = plans[k]
        if not plan.missed:
            continue
        own, found = split_missed_labels(reads[k], list(plan.missed))
        if not found:
            continue
        reads[k] = own
        neural[k] = None  # it read the hidden label too: no second opinion on the split
        for name, value_words in found:
            box = union([w.box for w in value_words]) if value_words else plan.parts[0]
            for j, other in enumerate(plans):
                if other.row == plan.row and other.field == name and other.predicted:
                    plans[j] = Plan(other.row, name, other.label, [box], False)
                    reads[j] = value_words
                    neural[j] = None
                    break
            else:
                plans.append(Plan(plan.row, name, template.spec(name).labels[0], [box]))
                reads.append(value_words)
                neural.append(None)


def _records(plans: list[Plan], reads: list[list[OcrWord]], neural: list[LineRead | None],
             entries: list[Entry],
             template: Template, words: list[OcrWord], binary: np.ndarray, mode: str,
             ) -> list[ExtractedRecord]:
    by_row: dict[int, dict[str, FieldValue]] = {}
    for plan, value_words, second_read in zip(plans, reads, neural):
        if plan.field in by_row.get(plan.row, {}):
            continue
        value_words = _drop_label_tail(value_words, plan.label)
        second = None
        if mode != "page":
            second = _drop_label_tail(
                [w for w in words for p in plan.parts if _inside(w.box, p)], plan.label)
        numeric = is_numeric_field(plan.field, template.kind_of(plan.field))
        fv = field_value(plan.field, value_words, union(plan.parts), binary, second=second,
                         numeric=numeric, neural=_drop_label_text(second_read, plan.label),
                         name=template.kind_of(plan.field) == "name")
        if plan.predicted and fv.status == "read":
            fv.confidence = min(fv.confidence, PREDICTED_CONFIDENCE)
            fv.note = "Không đọc được nhãn in; vị trí suy từ các mục khác trên trang"
        leaked = _leaked_label(fv.raw, plan.field, template) if fv.status == "read" else None
        if leaked:  # the region reached into another line or label: the value is suspect
            fv.confidence = min(fv.confidence, PREDICTED_CONFIDENCE)
            fv.note = f"Giá trị lẫn nhãn in '{leaked}': vùng đọc có thể lệch dòng"
        by_row.setdefault(plan.row, {})[plan.field] = fv
    records = []
    for row, entry in enumerate(entries, start=1):
        fields = by_row.get(row, {})
        for name in template.fields:
            if name not in fields:
                fields[name] = FieldValue(field=name, raw="", value=None, status="illegible",
                                          confidence=0.0, note="Không tìm thấy nhãn trên trang")
        fields = {name: fields[name] for name in template.fields}
        boxes = [h.box for h in entry.labels.values()] + [
            part for p in plans if p.row == row for part in p.parts]
        records.append(ExtractedRecord(row=row, fields=fields, box=union(boxes)))
    return records


def _stray_lines(page: PageLines, plans: list[Plan], entries: list[Entry]) -> int:
    """Lines of writing below the first entry that no label and no value region covers.

    A page footer, a margin note or two are expected; more is writing the reader did not
    understand, often a whole entry whose labels it could not read.
    """
    top = entries[0].top - page.pitch / 2
    regions = [part for p in plans for part in p.parts]
    count = 0
    for i, line in enumerate(page.lines):
        if line.box[1] < top or page.label_line(i):
            continue
        words = [w for w in line.words if _substantial(w.text) and w.confidence >= 0.5]
        if len(words) < 2 or any(_inside(w.box, r) for w in words for r in regions):
            continue
        count += 1
    return count


def _leaked_label(raw: str, field: str, template: Template) -> str | None:
    """A printed label of another field inside a value (``Sinh tại: Hưng Trung`` read as a
    birth date): its region took in a neighbouring line or label. Only labels of six letters
    or more count; a short one ("Tên:") is too easily a piece of a value."""
    text = label_key(raw)
    if ":" not in raw or len(text) < 6:
        return None
    for spec in template.specs:
        if spec.field == field:
            continue
        for label in spec.labels:
            key = label_key(label)
            if sum(c.isalpha() for c in key) >= 6 and fuzz.partial_ratio(key, text) >= LEAK_SCORE:
                return label.rstrip(":")
    return None


def _score_fit(fit: LayoutFit, entries: list[Entry], fragments: list[Entry],
               template: Template) -> None:
    """Labels read count whole, labels placed from other entries half; stray label groups
    between entries and template labels seen nowhere on the page are problems."""
    n = len(template.fields)
    found = sum(len(e.labels) for e in entries)
    placed = sum(len(e.predicted) for e in entries)
    fit.labels_expected = n * len(entries)
    fit.labels_found = found
    fit.score = round((found + 0.5 * placed) / fit.labels_expected, 3)
    first_top = entries[0].top
    stray = [f for f in fragments if f.top > first_top]
    if stray:
        fit.problems.append(f"{len(stray)} nhóm nhãn lẻ không thành mục (có thể mất một mục)")
        # Two labels together, or the label that opens an entry, are what is left of an
        # entry the page did not make out: under MIN_FIT_SCORE from any fit, so the page is
        # flagged (a held-out photographed form lost its second entry this way, unflagged).
        lost = any(len(f.labels) >= 2 or template.starts_entry in f.labels for f in stray)
        fit.score = round(fit.score * (0.5 if lost else 0.8), 3)
    nowhere = [name for name in template.fields if not any(name in e.labels for e in entries)]
    if nowhere:
        names = ", ".join(template.label_of(name) for name in nowhere)
        fit.problems.append(f"Không thấy nhãn: {names}")


def split_missed_labels(
    words: list[OcrWord], missed: list[tuple[str, str]],
) -> tuple[list[OcrWord], list[tuple[str, list[OcrWord]]]]:
    """Find printed labels that the page read missed inside a value's words, and cut there.

    When the page read loses "Tuổi:" (a seal or stain over it), the name's region runs to the
    line's end and reads "Nguyễn Thanh Huyền Tuổi: 38". ``missed`` is (field, label text)
    pairs. Returns the value's own words (up to the first label found) and, for each missed
    label found (fuzzy, as on the page, in reading order), the words from it to the next one.
    """
    ordered = [w for line in group_lines(words) for w in line.words]
    cuts: list[tuple[str, int, int]] = []  # field, first word, words of the label
    pos = 1
    taken: set[str] = set()
    while pos < len(ordered):
        best = (0.0, -1, 0, "")
        for name, label in missed:
            if name in taken:
                continue
            for start in range(pos, len(ordered)):
                score, k = match_at(ordered, start, label)
                if k and _good_enough(label, score) and score > best[0]:
                    best = (score, start, k, name)
                    break  # the first place this label fits
        score, start, k, name = best
        if start < 0:
            break
        cuts.append((name, start, k))
        taken.add(name)
        pos = start + k
    if not cuts:
        return words, []
    cuts.sort(key=lambda c: c[1])
    found_values = [(name, ordered[start + k:cuts[i + 1][1] if i + 1 < len(cuts) else None])
                    for i, (name, start, k) in enumerate(cuts)]
    return ordered[:cuts[0][1]], found_values


def _drop_label_tail(words: list[OcrWord], label: str) -> list[OcrWord]:
    """Drop the end of the printed label when it leaked into the value ("mẹ:", "n:,Nguyễn").

    Happens when the engine put the label's last word on another line than its first ones,
    or glued the value to the colon.
    """
    if not words:
        return words
    first = min(words, key=lambda w: (w.box[1] // 40, w.box[0]))
    tail = label_key(label.split()[-1])
    text = label_key(first.text)
    if text.endswith(":") and len(text) > 1 and fuzz.ratio(text, tail) >= 70:
        return [w for w in words if w is not first]
    end = label_end(first.text, label)
    if 0 < end <= 5 and end < len(first.text) and first.text[end - 1] in GLUE_MARKS \
            and tail.rstrip(":").endswith(label_key(first.text[:end - 1])):
        rest = first.text[end:].lstrip(".,;: ")
        trimmed = OcrWord(rest, first.confidence, first.box, first.line)
        return [trimmed if w is first else w for w in words if w is not first or rest]
    return words


def _drop_label_text(read: LineRead | None, label: str) -> LineRead | None:
    """The neural reading without a leaked end of the printed label, as ``_drop_label_tail``
    does for Tesseract's words ("mẹ: Lê Thị Hoa" → "Lê Thị Hoa")."""
    if read is None:
        return None
    words = read.text.split()
    if not words:
        return read
    tail = label_key(label.split()[-1])
    first = label_key(words[0])
    if first.endswith(":") and len(first) > 1 and fuzz.ratio(first, tail) >= 70:
        words = words[1:]
    elif ":" in words[0][:6] and tail.rstrip(":").endswith(
            label_key(words[0][:words[0].index(":")])):
        rest = words[0][words[0].index(":") + 1:].lstrip(".,;: ")
        words = ([rest] if rest else []) + words[1:]
    text = " ".join(words)
    if text == read.text:
        return read
    return LineRead(text, read.confidence, read.log_probs, read.alphabet) if text else None


def _inside(box: Box, region: Box) -> bool:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return region[0] <= cx <= region[2] and region[1] <= cy <= region[3]


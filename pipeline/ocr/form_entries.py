"""Split a form page's labels into entries and give each label its field.

No order of labels is assumed: an entry ends where a field recurs (every entry of a book is
printed with the same label set), and, once the page has shown which field usually comes
before which, where the reading order goes back. Labels printed for several fields (`Tuổi:`,
`Dân tộc:` of each spouse) take the field whose owner (``of``) was read last in the entry.
Groups with too few labels (`Quyển số:` in the page header, a stray match in a margin note)
are not entries.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from pipeline.ocr.form_labels import LabelHit
from pipeline.templates import Template
from pipeline.types import Box

MIN_ENTRY_SHARE = 0.3  # of the template's fields: fewer labels found is not an entry
MIN_ENTRY_LABELS = 3
BREAK_PITCHES = 1.6  # a gap this many label-line pitches wide inside an entry is suspect
HEAD_GAP_PITCHES = 2.5  # label-line pitches between an entry's first label and its next
MAX_LABELS_PER_LINE = 4  # more on one line is a table header, not a form
WHOLE_ENTRY_SHARE = 0.6  # of the template's fields: a group this full is a whole entry


@dataclass
class Entry:
    """One entry's labels, by field; ``predicted`` are labels placed from the other entries."""

    labels: dict[str, LabelHit] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)  # fields in reading order
    predicted: dict[str, Box] = field(default_factory=dict)

    @property
    def top(self) -> int:
        return min(h.box[1] for h in self.labels.values())

    def box_of(self, name: str) -> Box | None:
        hit = self.labels.get(name)
        return hit.box if hit else self.predicted.get(name)


def _choose(hit: LabelHit, entry: Entry, template: Template) -> str | None:
    """The field a label stands for in this entry, or None when all of its fields are taken."""
    free = [f for f in hit.fields if f not in entry.labels]
    if len(free) <= 1:
        return free[0] if free else None
    owned = [(entry.order.index(template.spec(f).of), f) for f in free
             if template.spec(f).of in entry.labels]
    if owned:
        return max(owned)[1]  # the owner read last: "Tuổi:" after the mother's name
    return free[0]


def _split(hits: list[LabelHit], template: Template, start: str | None = None,
           before: Counter | None = None) -> list[Entry]:
    """Entries by the recurrence rule: a new entry where a field recurs, or where the field
    ``start`` (the printing's first label) appears, or, when ``before`` is known, where the
    reading order goes back (``before[(a, b)]`` counts entries with field a before field b)."""
    entries: list[Entry] = [Entry()]
    for hit in hits:
        entry = entries[-1]
        name = _choose(hit, entry, template)
        opens = start is not None and start in hit.fields and bool(entry.labels) and (
            name == start or name is None)
        goes_back = name is not None and before is not None and any(
            before[(name, g)] > before[(g, name)] for g in entry.order)
        if name is None or opens or goes_back:
            entry = Entry()
            entries.append(entry)
            name = _choose(hit, entry, template)
        entry.labels[name] = hit
        entry.order.append(name)
    return [e for e in entries if e.labels]


def _precedence(entries: list[Entry]) -> Counter:
    before: Counter = Counter()
    for entry in entries:
        for i, a in enumerate(entry.order):
            for b in entry.order[i + 1:]:
                before[(a, b)] += 1
    return before


def _min_labels(template: Template) -> int:
    return max(MIN_ENTRY_LABELS, int(np.ceil(MIN_ENTRY_SHARE * len(template.fields))))


def _breaks(entry: Entry, pitch: float) -> int:
    """Vertical gaps inside an entry wider than the printing's line spacing allows."""
    tops = sorted({h.box[1] for h in entry.labels.values()})
    return sum(b - a > BREAK_PITCHES * pitch for a, b in zip(tops, tops[1:]))


def _first_field(hits: list[LabelHit], template: Template) -> str | None:
    """The field whose label opens every entry in this printing.

    Entries repeat down the page, so any field splits it into look-alike groups; only the
    right one leaves whole entries at the top and the bottom of the page, where a wrong one
    leaves two part-entries. So the split keeping the most labels in near-whole entries wins;
    on a tie, the one with fewer wide gaps inside its entries (a page header's `Quyển số:`
    joined to the first entry, or two half-entries joined across the gap between them),
    then the template's usual first field. (Counting each gap as a label lost was tried: on
    held-out pages nobody had looked at, a line Tesseract dropped inside an entry then made
    `Ngày đăng ký` open the entries of a clean typed page.)
    """
    whole = max(_min_labels(template), int(np.ceil(WHOLE_ENTRY_SHARE * len(template.fields))))
    pitch = _label_pitch(hits)
    counts = Counter(f for h in hits for f in h.fields[:1])
    best: tuple[tuple[int, int], str | None] = ((-1, 0), None)
    for name in [template.starts_entry] + [f for f in template.fields if f != template.starts_entry]:
        if counts[name] < 1:
            continue
        entries = [e for e in _split(hits, template, start=name) if len(e.labels) >= whole]
        score = (sum(len(e.labels) for e in entries), -sum(_breaks(e, pitch) for e in entries))
        if score > best[0]:
            best = (score, name)
    return best[1]


def group_entries(hits: list[LabelHit], template: Template) -> tuple[list[Entry], list[Entry]]:
    """(entries, fragments): label groups big enough to be entries, top to bottom, and those
    that are not (a page header's `Quyển số:`, a label found alone)."""
    hits = sorted(hits, key=lambda h: (h.line, h.first_word))
    minimum = _min_labels(template)
    start = _first_field(hits, template)
    first = _split(hits, template, start=start)
    big = [e for e in first if len(e.labels) >= minimum]
    if big:
        first = _split(hits, template, start=start, before=_precedence(big))
    pitch = _label_pitch(hits)
    detached = [_detach_head(e, pitch) for e in first]
    first += [d for d in detached if d is not None]
    entries = [e for e in first if _is_entry(e, minimum)]
    fragments = [e for e in first if not _is_entry(e, minimum)]
    return sorted(entries, key=lambda e: e.top), fragments


def _label_pitch(hits: list[LabelHit]) -> float:
    tops = sorted({h.box[1] for h in hits})
    steps = np.diff(tops)
    steps = steps[steps > 5]
    return float(np.median(steps)) if len(steps) else 0.0


def _detach_head(entry: Entry, pitch: float) -> Entry | None:
    """Take off an entry's first label when a gap no entry has inside it separates it from
    the rest: the page header's `Quyển số:` standing in for a first `Số:` the page read
    missed. Returns it as an entry of its own (a fragment), or None."""
    if len(entry.order) < 2 or pitch <= 0:
        return None
    first, second = entry.labels[entry.order[0]], entry.labels[entry.order[1]]
    if second.box[1] - first.box[1] <= HEAD_GAP_PITCHES * pitch:
        return None
    name = entry.order.pop(0)
    hit = entry.labels.pop(name)
    return Entry(labels={name: hit}, order=[name])


def _is_entry(entry: Entry, minimum: int) -> bool:
    """Enough labels, over more than one line and never crowded on one: a ledger's header row
    names the same fields as a form's labels, all on one line, and is no entry."""
    per_line = Counter(h.line for h in entry.labels.values())
    return (len(entry.labels) >= minimum and len(per_line) >= 2
            and max(per_line.values()) <= MAX_LABELS_PER_LINE)


def predict_missing(entries: list[Entry], template: Template) -> None:
    """Place the labels an entry lacks where the other entries have them, relative to the
    entry's own labels nearest in the printing; entries are changed in place.

    A printing puts every entry's labels the same way, so the offset from one label to another
    is the same in every entry (up to the page's skew, already removed). The three labels
    nearest to it give the place (the median, so one misplaced anchor does not move it); a field no entry has stays unplaced.
    """
    for entry in entries:
        for name in template.fields:
            if name in entry.labels:
                continue
            guesses: list[tuple[float, Box]] = []
            for anchor, anchor_hit in entry.labels.items():
                offsets = [
                    (other.labels[name].box, other.labels[anchor].box) for other in entries
                    if other is not entry and name in other.labels and anchor in other.labels
                ]
                if offsets:
                    guesses.append(_placed(offsets, anchor_hit.box))
            if not guesses:
                guesses = _sibling_guesses(entries, entry, template, name)
            if guesses:
                guesses.sort(key=lambda g: g[0])
                near = [b for _, b in guesses[:3]]
                entry.predicted[name] = tuple(int(np.median([b[i] for b in near]))
                                              for i in range(4))  # type: ignore[assignment]


def _sibling_guesses(entries: list[Entry], entry: Entry, template: Template, name: str
                     ) -> list[tuple[float, Box]]:
    """Where a label no entry shows stands, from its sibling: `Tuổi:` of the mother sits
    from the mother's name as `Tuổi:` of the father sits from the father's name."""
    spec = template.spec(name)
    owner = entry.labels.get(spec.of) if spec.of else None
    if owner is None:
        return []
    guesses = []
    for sibling in template.specs:
        if sibling.field == name or not sibling.of or not set(sibling.labels) & set(spec.labels):
            continue
        offsets = [(e.labels[sibling.field].box, e.labels[sibling.of].box) for e in entries
                   if sibling.field in e.labels and sibling.of in e.labels]
        if offsets:
            guesses.append(_placed(offsets, owner.box))
    return guesses


def _placed(offsets: list[tuple[Box, Box]], anchor: Box) -> tuple[float, Box]:
    """A label's box from ``anchor``, by the median offset and size it has from such an
    anchor elsewhere on the page (``offsets``: (label box, anchor box) pairs), and how far
    it is from the anchor (nearer anchors place better)."""
    dx = np.median([b[0] - a[0] for b, a in offsets])
    dy = np.median([b[1] - a[1] for b, a in offsets])
    w = np.median([b[2] - b[0] for b, _ in offsets])
    h = np.median([b[3] - b[1] for b, _ in offsets])
    x, y = anchor[0] + dx, anchor[1] + dy
    return abs(dy) + 0.1 * abs(dx), (int(x), int(y), int(x + w), int(y + h))

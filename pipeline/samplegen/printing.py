"""How a template is printed on paper: the generator's side of a layout, never the reader's.

A template (data/templates/) says which fields a register has and which labels announce them;
a printing says where those labels stand: for a form, the lines of labels in one entry; for a
ledger, the columns' order, header text and width. The classic printing of each template is
data (data/samplegen/printings/<template>.json); ``random_printing`` invents others, the way
provinces and decades printed their own books, so readers are measured on layouts they were
not tuned on.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache

import numpy as np

from pipeline.errors import BadInput
from pipeline.paths import REFERENCE_DATA
from pipeline.templates import Template


@dataclass(frozen=True)
class PrintedLabel:
    field: str
    label: str  # the printed text, e.g. "Họ và tên:"
    #: where the label starts, as a share of the line's width (None: the classic rule, the
    #: first label at the margin and a second one at ``second_label_at`` of layout.json)
    at: float | None = None
    #: dotted lines the value may fill: 2 gives a long place a continuation line under it
    span: int = 1


@dataclass(frozen=True)
class PrintedColumn:
    field: str
    header: str
    width: float  # share of the table's width
    #: the header printed on two lines even when it would fit on one
    two_lines: bool = False


@dataclass(frozen=True)
class Printing:
    """One printing of a template. ``lines`` for forms, ``columns`` for ledgers.

    The defaults are the classic printing; every other value is a way some province or decade
    printed its books, which the readers must cope with without being told.
    """

    template: str
    lines: tuple[tuple[PrintedLabel, ...], ...] = ()
    columns: tuple[PrintedColumn, ...] = ()
    name: str = "classic"
    #: form: each label printed above its value (the value on the next line) instead of left
    label_above: bool = False
    #: form: dotted leader lines after labels; False = blank space (or a plain rule, ``underline``)
    leaders: bool = True
    underline: bool = False
    #: form: a rule between entries
    separators: bool = True
    #: ledger rules: "full" grid, "none" (unruled), "header" (only the header band ruled),
    #: "faint" (light gray, thin), "broken" (gaps along every rule)
    ruled: str = "full"
    #: entries per page (None = the template's usual number)
    entries_per_page: int | None = None
    label_font: str | None = None  # None = the classic label font
    label_pt: float | None = None  # None = the classic size
    #: chance that a page carries a clerk's note in its margin (not an entry)
    margin_note_p: float = 0.0
    #: ledger: a header word wider than its column is set smaller (the classic printing lets
    #: ``Nam/Nữ`` overhang its narrow column at 200 dpi, and keeps doing so)
    fit_headers: bool = False
    extra: dict = field(default_factory=dict, compare=False, hash=False)


def classic_printing(template: str) -> Printing:
    """The printing the sample books used before printings varied (and still use by default)."""
    path = REFERENCE_DATA / "samplegen" / "printings" / f"{template}.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    lines = tuple(tuple(PrintedLabel(x["field"], x["label"]) for x in line)
                  for line in data.get("lines", []))
    columns = tuple(PrintedColumn(c["field"], c["header"], float(c["width"]))
                    for c in data.get("columns", []))
    return Printing(template=template, lines=lines, columns=columns)


#: Printed fonts a label or header may be set in (all have every Vietnamese letter); the hand
#: fonts only head ledgers whose columns were ruled and titled by hand.
PRINTED_FONTS = ("LiberationSerif", "LiberationSerif-Bold", "LiberationSans-Bold", "FreeMono",
                 "LiberationMono")
HAND_HEADER_FONTS = ("PatrickHand", "Itim", "Mali", "Sriracha")
#: Room a written value needs on a form line, millimetres, by field kind (typed, 11.5 pt).
VALUE_MM = {"name": 58, "sex": 14, "date": 52, "age": 12, "place": 80, "text": 30}
FORM_LINE_MM = 170.0  # A4 portrait between the classic margins
#: Millimetres one printed row needs (label and value) and the body height of a form page.
ROW_MM, FORM_BODY_MM, ENTRY_GAP_MM = 6.6, 219.0, 6.0
RULINGS = ("full", "none", "header", "faint", "broken")
RULING_P = (0.35, 0.2, 0.15, 0.15, 0.15)
_STREAM = 0x5052  # "PR": random printings never share draws with books


def parse_printing(template: Template, spec: str) -> Printing:
    """``"classic"`` or ``"random:<n>"`` (the n-th invented printing of this template).

    The n-th printing is drawn from its own stream, so ``random:3`` is the same layout in every
    book and benchmark whatever the book's seed; a benchmark holds out printings by number.

    >>> parse_printing(load_template("birth_form"), "random:3").lines[0]
    """
    if spec == "classic":
        return classic_printing(template.name)
    kind, _, number = spec.partition(":")
    if kind != "random" or not number.isdigit():
        raise BadInput(f"Kiểu in không hợp lệ: {spec}", hint="classic hoặc random:<số>")
    n = int(number)
    rng = np.random.default_rng([_STREAM, zlib.crc32(template.name.encode()), n])
    return replace(random_printing(template, rng), name=f"random:{n}")


def random_printing(template: Template, rng: np.random.Generator) -> Printing:
    """An invented but plausible printing of ``template``: a layout fuzzer for forms and ledgers.

    >>> p = random_printing(load_template("birth_ledger"), np.random.default_rng(1))
    >>> p.ruled in RULINGS and 8 <= p.entries_per_page <= 15
    True
    """
    if template.layout == "form":
        return _random_form(template, rng)
    return _random_ledger(template, rng)


def printing_dict(printing: Printing) -> dict:
    """The printing as truth.json records it: what a benchmark needs to group pages by layout."""
    data = asdict(printing)
    data.pop("extra", None)
    data["lines"] = [[asdict(lab) for lab in line] for line in printing.lines]
    data["columns"] = [asdict(c) for c in printing.columns]
    return data


def _pick(rng: np.random.Generator, items, p=None):
    return items[int(rng.choice(len(items), p=p))]


def _wordings(template: Template, rng: np.random.Generator) -> dict[str, str]:
    """One wording per field, the most common one most often. Fields that share a label list
    (a husband's and a wife's ``Nơi thường trú:``) share the choice, as one printer would."""
    chosen: dict[tuple[str, ...], str] = {}
    out = {}
    for spec in template.specs:
        key = tuple(spec.labels)
        if key not in chosen:
            n = len(key)
            p = np.array([2.5] + [1.0] * (n - 1))
            chosen[key] = key[int(rng.choice(n, p=p / p.sum()))]
        out[spec.field] = chosen[key]
    return out


def _units(template: Template) -> list[list[str]]:
    """Fields grouped with the fields printed ``of`` them (a parent's name and its age): a group
    moves as one, so a shared label such as ``Tuổi:`` always follows the name it belongs to."""
    units: list[list[str]] = []
    where: dict[str, list[str]] = {}
    for spec in template.specs:
        if spec.of and spec.of in where:
            where[spec.of].append(spec.field)
            where[spec.field] = where[spec.of]
        else:
            unit = [spec.field]
            units.append(unit)
            where[spec.field] = unit
    return units


def _form_order(template: Template, rng: np.random.Generator) -> list[str]:
    """Fields in printed order: the number near the top, the registration date near the
    bottom, the rest near their usual place; persons (with their own labels) keep their order."""
    units = _units(template)
    first = [u for u in units if u[0] == template.starts_entry]
    last = [u for u in units if u[0] == "registration_date"]
    middle = [u for u in units if u not in first and u not in last]
    # The entry's own name (the child, the husband, the deceased) comes first after the number.
    keys = [-1.0] + [i + rng.normal(0, 0.8) for i in range(1, len(middle))]
    shuffled = [middle[i] for i in np.argsort(keys, kind="stable")]
    persons = [u for u in middle if len(u) > 1]
    slots = iter(persons)
    shuffled = [next(slots) if len(u) > 1 else u for u in shuffled]
    if first and rng.random() < 0.15 and shuffled and len(shuffled[0]) == 1:
        # the number after the name (never inside a person's block of labels)
        shuffled.insert(1, first.pop())
    if last and rng.random() < 0.3 and shuffled and len(shuffled[-1]) == 1:
        shuffled.insert(len(shuffled) - 1, last.pop())  # the date above the declarant line
    return [f for u in first + shuffled + last for f in u]


@lru_cache(maxsize=64)
def _label_mm(font: str, pt: float, text: str) -> float:
    from pipeline.samplegen.fonts import load_font

    return load_font(font, 100).getlength(text) / 100 * pt / 72 * 25.4


def _need_mm(template: Template, f: str, label: str, font: str, pt: float, above: bool) -> float:
    value = 15.0 if f == template.starts_entry else VALUE_MM[template.kind_of(f)]
    lab = _label_mm(font, pt, label) + 3
    return max(lab, value) + 4 if above else lab + value


def _pack_lines(template: Template, order: list[str], need: dict[str, float],
                rng: np.random.Generator, tuoi_beside: bool, long_places: bool
                ) -> list[list[str]]:
    """Cut the printed order into lines of one to three labels that fit the line's width."""
    lines: list[list[str]] = []
    i = 0
    while i < len(order):
        target = int(rng.choice([1, 2, 3], p=[0.35, 0.45, 0.2]))
        line = [order[i]]
        i += 1
        while i < len(order):
            f = order[i]
            spec = template.spec(f)
            is_age = template.kind_of(f) == "age" and spec.of == line[-1]
            if is_age and not tuoi_beside:
                break
            if template.kind_of(line[-1]) == "age" and len(line) == 1:
                break  # a ``Tuổi:`` under its parent's name stands alone
            if not is_age and len(line) >= target:
                break
            if long_places and template.kind_of(line[-1]) == "place":
                break  # a long place ends its line: its value may run onto the next one
            # A name whose ``Tuổi:`` stands beside it joins a line only with room for both.
            nxt = order[i + 1] if i + 1 < len(order) else None
            pair = (tuoi_beside and nxt is not None and template.kind_of(nxt) == "age"
                    and template.spec(nxt).of == f)
            extra = [nxt] if pair else []
            if (len(line) + 1 + len(extra) > 3
                    or sum(need[x] for x in line + [f] + extra) > FORM_LINE_MM):
                break
            line.append(f)
            i += 1
        lines.append(line)
    return lines


def _slots(line: list[str], need: dict[str, float], rng: np.random.Generator) -> list[float]:
    """Where each label of a line starts: room shared in proportion to what each needs."""
    total = sum(need[f] for f in line)
    spare = max(0.0, FORM_LINE_MM - total)
    starts, x = [], 0.0
    for f in line:
        starts.append(x / FORM_LINE_MM)
        x += need[f] + spare * need[f] / total * float(rng.uniform(0.8, 1.2))
    return [round(min(s, 0.85), 3) for s in starts]


def _random_form(template: Template, rng: np.random.Generator) -> Printing:
    words = _wordings(template, rng)
    font = _pick(rng, PRINTED_FONTS, p=[0.45, 0.1, 0.15, 0.15, 0.15])
    pt = round(float(rng.uniform(9, 13)), 1)
    above = bool(rng.random() < 0.25)
    need = {f: _need_mm(template, f, words[f], font, pt, above) for f in template.fields}
    order = _form_order(template, rng)
    tuoi_beside = bool(rng.random() < 0.6)
    long_places = bool(rng.random() < 0.4)
    packed = _pack_lines(template, order, need, rng, tuoi_beside, long_places)
    lines = []
    for line in packed:
        starts = _slots(line, need, rng)
        last = line[-1]
        if long_places and len(line) > 1 and template.kind_of(last) == "place":
            # a place squeezed to the end of its line, the rest of it on the line below
            starts[-1] = round(max(starts[-1], float(rng.uniform(0.55, 0.68))), 3)
        lines.append(tuple(PrintedLabel(f, words[f], at=a, span=2 if (
            long_places and f == last and template.kind_of(f) == "place") else 1)
            for f, a in zip(line, starts)))
    rows = sum((2 if above else 1) + max(lab.span for lab in line) - 1 for line in lines)
    fits = [n for n in (2, 3, 4) if n * (rows * ROW_MM + ENTRY_GAP_MM) <= FORM_BODY_MM]
    per_page = _pick(rng, fits) if fits else 2
    style = _pick(rng, ("dots", "underline", "none"), p=[0.55, 0.25, 0.2])
    return Printing(template=template.name, lines=tuple(lines), name="random",
                    label_above=above, leaders=style == "dots", underline=style == "underline",
                    separators=bool(rng.random() < 0.6), entries_per_page=per_page,
                    label_font=font, label_pt=pt, margin_note_p=0.3)


def _column_order(template: Template, rng: np.random.Generator) -> list[str]:
    """Columns near their usual order; the number usually first and notes usually last."""
    fields = list(template.fields)
    head = [f for f in fields[:1] if f == "registration_no" and rng.random() < 0.85]
    tail = [f for f in fields[-1:] if f == "notes" and rng.random() < 0.8]
    rest = [f for f in fields if f not in head and f not in tail]
    keys = [i + rng.normal(0, 1.3) for i in range(len(rest))]
    return head + [rest[i] for i in np.argsort(keys, kind="stable")] + tail


def _classic_widths(template: Template) -> dict[str, float]:
    try:
        return {c.field: c.width for c in classic_printing(template.name).columns}
    except FileNotFoundError:
        return {}


def _random_ledger(template: Template, rng: np.random.Generator) -> Printing:
    words = _wordings(template, rng)
    base = _classic_widths(template)
    default = {"name": 0.15, "sex": 0.06, "date": 0.1, "age": 0.05, "place": 0.15, "text": 0.09}
    order = _column_order(template, rng)
    widths = [base.get(f, default[template.kind_of(f)]) * float(rng.uniform(0.75, 1.3))
              for f in order]
    total = sum(widths)
    columns = tuple(PrintedColumn(f, words[f], round(w / total, 4),
                                  two_lines=bool(len(words[f].split()) > 1 and rng.random() < 0.3))
                    for f, w in zip(order, widths))
    ruled = _pick(rng, RULINGS, p=RULING_P)
    hand = ruled in ("none", "broken") and rng.random() < 0.3
    font = _pick(rng, HAND_HEADER_FONTS) if hand else _pick(rng, PRINTED_FONTS)
    return Printing(template=template.name, columns=columns, name="random", ruled=ruled,
                    entries_per_page=int(rng.integers(8, 16)), label_font=font,
                    label_pt=round(float(rng.uniform(9, 13)), 1), margin_note_p=0.3,
                    fit_headers=True)

"""Places as written in the books, resolved to an administrative unit of the gazetteer.

``xã Hưng Dũng, huyện Hưng Nguyên, tỉnh Nghệ An``, ``X. Hưng Dũng - H. Hưng Nguyên``,
``Hưng Dũng, Hưng Nguyên, Nghệ Tĩnh``, ``Bệnh viện Vinh``, ``Tại nhà``: the text is split into
parts (at commas and dashes, and before the type words ``xã``, ``huyện``, ``tỉnh`` … and their
abbreviations), each part is looked up by name, and the one choice of units that nest inside
one another and explain most parts wins. A bare commune name is read inside the book's own
district when the book says which; a name the gazetteer holds in two districts with nothing to
tell them apart is reported as ambiguous, never guessed.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from typing import Literal

from pipeline.clean.gazetteer import DEPTH, Gazetteer, Unit, load_gazetteer
from pipeline.clean.names import strip_leaders
from pipeline.clean.text import collapse_spaces, folded_key, name_key, nfc

PlaceKind = Literal["unit", "facility", "home", "unknown", "blank"]

# Type words (comparison keys) → the level they announce and the canonical type.
_TYPE_WORDS: dict[str, tuple[str, str]] = {
    "tỉnh": ("province", "tỉnh"), "t.": ("province", "tỉnh"),
    "thành phố": ("city", "thành phố"), "tp": ("city", "thành phố"), "tp.": ("city", "thành phố"),
    "t.p": ("city", "thành phố"), "t.p.": ("city", "thành phố"),
    "thị xã": ("district", "thị xã"), "tx": ("district", "thị xã"), "tx.": ("district", "thị xã"),
    "t.x": ("district", "thị xã"), "t.x.": ("district", "thị xã"),
    "huyện": ("district", "huyện"), "h.": ("district", "huyện"), "h": ("district", "huyện"),
    "quận": ("district", "quận"), "q.": ("district", "quận"),
    "xã": ("commune", "xã"), "x.": ("commune", "xã"), "x": ("commune", "xã"),
    "phường": ("commune", "phường"), "p.": ("commune", "phường"),
    "thị trấn": ("commune", "thị trấn"), "tt": ("commune", "thị trấn"), "tt.": ("commune", "thị trấn"),
}
# The same words with their marks lost (old population extracts, OCR): only trusted at the start
# of a part, since "xa", "tinh" are also syllables of names.
_FOLDED_TYPE_WORDS = {folded_key(k): v for k, v in _TYPE_WORDS.items() if "." not in k and len(k) > 2}
# Below the commune: hamlets, teams, streets. Kept in the text, not looked up.
_LOCALITY = {"xóm", "thôn", "làng", "bản", "khối", "đội", "tổ", "ấp", "khu", "hợp tác xã", "htx",
             "số nhà", "đường", "phố", "xứ", "giáp", "trại", "nông trường", "lâm trường"}
_FACILITY = ("bệnh viện đa khoa", "bệnh viện", "bv", "trạm xá", "trạm y tế", "nhà hộ sinh",
             "bệnh xá", "nhà thương", "phòng khám", "khoa sản", "nhà bảo sanh", "nhà bảo sinh")
_HOME = re.compile(r"^(tai |o )?(nha|gia|nha rieng|tai gia)( rieng)?$")
_HOME_PREFIX = re.compile(r"^(tại nhà|ở nhà|tại gia)\b[\s,:-]*", re.IGNORECASE)
_SPLIT = re.compile(r"\s*[,;]\s*|\s+[-–—]\s*|\s*[-–—]\s+|(?<=[^\W\d_])[-–—](?=[^\W\d_])")
_MAX_NAME_WORDS = 4


@dataclass(frozen=True)
class PlaceReading:
    """What a place text says: a unit (with today's successors), a facility, home, or not known."""

    kind: PlaceKind
    unit: Unit | None = None
    today: tuple[Unit, ...] = ()
    facility: str | None = None  # "Bệnh viện Vinh", as written
    from_context: bool = False  # the unit is the book's commune, not written (``Tại nhà``)
    note: str | None = None  # why it could not be resolved, for the reviewer (Vietnamese)
    unmatched: tuple[str, ...] = ()  # parts of the text no unit explains
    candidates: tuple[Unit, ...] = field(default=(), repr=False)  # when ambiguous

    @property
    def code(self) -> str | None:
        return self.unit.code if self.unit else None

    @property
    def unit_id(self) -> str | None:
        return self.unit.id if self.unit else None


@dataclass(frozen=True)
class _Part:
    text: str
    level: str | None  # level the type word announced; "city" is a district or a province
    type: str | None


@dataclass(frozen=True)
class BookPlace:
    """Where the book was kept: its commune, district, province as the archive typed them."""

    commune: str | None = None
    district: str | None = None
    province: str | None = None


def _key(text: str) -> str:
    return name_key(text).strip(" .")


def _type_word_at(words: list[str], i: int, at_start: bool, gaz: Gazetteer
                  ) -> tuple[int, tuple[str, str]] | None:
    """(words used, (level, type)) when a type word starts at ``words[i]``."""
    for n in (2, 1):
        if i + n > len(words):
            continue
        phrase = " ".join(words[i:i + n])
        key = name_key(phrase)
        hit = _TYPE_WORDS.get(key)
        if hit is None and phrase.isupper() and key.rstrip(".") in ("tp", "tx", "tt", "t", "h", "x", "p", "q"):
            hit = _TYPE_WORDS.get(key.rstrip(".") + ".") or _TYPE_WORDS.get(key.rstrip("."))
        if hit is None and at_start and phrase.lower() == folded_key(phrase):  # marks lost
            hit = _FOLDED_TYPE_WORDS.get(folded_key(phrase))
        if hit is None:
            continue
        # "Nghệ Tỉnh" misread, "Hà Tĩnh": the word closes a name rather than opening one.
        if i > 0 and folded_key(" ".join(words[i - 1:i + n])) in gaz.long_names:
            return None
        if len(key) == 1 and not phrase.isupper():  # a lone "h" or "x" only as a capital
            continue
        return n, hit
    return None


def _locality(text: str) -> bool:
    key = _key(text)
    return any(key == w or key.startswith(w + " ") for w in _LOCALITY) or key.isdigit()


def split_parts(text: str, gaz: Gazetteer | None = None) -> list[_Part]:
    """``X. Hưng Dũng - H. Hưng Nguyên`` → parts with the level their type word announced.

    >>> [(p.text, p.level) for p in split_parts("X. Hưng Dũng - H. Hưng Nguyên")]
    [('Hưng Dũng', 'commune'), ('Hưng Nguyên', 'district')]
    """
    gaz = gaz or load_gazetteer()
    parts: list[_Part] = []
    for chunk in _SPLIT.split(text):
        words = re.sub(r"(?<=\.)(?=[^\W\d_])", " ", chunk).split()  # "X.Hưng" → "X. Hưng"
        current: list[str] = []
        level = kind = None
        i = 0
        while i < len(words):
            hit = _type_word_at(words, i, at_start=not current and level is None, gaz=gaz)
            if hit and not _locality(" ".join(current[:1])):
                if current or level:
                    parts.append(_Part(" ".join(current), level, kind))
                used, (level, kind) = hit
                current = []
                i += used
                continue
            current.append(words[i])
            i += 1
        if current or level:
            parts.append(_Part(" ".join(current), level, kind))
    return [p for p in parts if p.text.strip(" .")]


def _segment_names(words: list[str], gaz: Gazetteer) -> list[str] | None:
    """``Hưng Dũng Hưng Nguyên Nghệ An`` → the fewest known names that cover the words."""
    n = len(words)
    best: list[list[str] | None] = [None] * (n + 1)
    best[0] = []
    for end in range(1, n + 1):
        for size in range(1, min(_MAX_NAME_WORDS, end) + 1):
            start = end - size
            name = " ".join(words[start:end])
            if best[start] is not None and _lookup(name, gaz):
                option = best[start] + [name]
                if best[end] is None or len(option) < len(best[end]):
                    best[end] = option
    return best[n]


def _lookup(name: str, gaz: Gazetteer) -> list[tuple[Unit, bool]]:
    """Units of that name, each with whether the marks agreed exactly."""
    exact = gaz.named(name)
    if exact:
        return [(u, True) for u in exact]
    return [(u, False) for u in gaz.named(name, marks_lost=True)]


def _fits_level(unit: Unit, part: _Part) -> bool:
    if part.level is None:
        return True
    if part.level == "city":  # thành phố Vinh is a district-level city, Hà Tĩnh became one
        return unit.level in ("district", "province") and unit.type in ("thành phố", "thị xã")
    return unit.level == part.level


def _candidates(part: _Part, gaz: Gazetteer) -> list[tuple[Unit, bool]]:
    return [(u, exact) for u, exact in _lookup(part.text, gaz) if _fits_level(u, part)]


def _nested(units: list[Unit], gaz: Gazetteer) -> bool:
    for a, b in itertools.combinations(units, 2):
        if not (gaz.within(a, b) or gaz.within(b, a)):
            return False
        if a.level == b.level and a.id != b.id and not (a.covers or b.covers):
            return False
    return True


def _context_units(book: BookPlace | None, when: str | None, gaz: Gazetteer) -> list[Unit]:
    """The book's own units, most specific first, for reading bare names inside them."""
    if book is None:
        return []
    # Most specific first; a commune the gazetteer does not hold in that district still
    # leaves the district and province to read bare names in.
    for levels in ((book.commune, book.district, book.province), (None, book.district, book.province),
                   (None, None, book.province)):
        commune, district, province = levels
        written = ", ".join(x for x in (
            f"xã {commune}" if commune else None,
            f"huyện {district}" if district else None,
            f"tỉnh {province}" if province else None) if x)
        if not written:
            continue
        reading = _resolve(split_parts(written, gaz), when, [], gaz)
        if reading is not None and reading.unit is not None and not reading.unmatched:
            return [reading.unit, *gaz.ancestors(reading.unit)]
    return []


def _score(choice: tuple[tuple[Unit, bool] | None, ...], parts: list[_Part], when: str | None,
           context: list[Unit], gaz: Gazetteer) -> tuple | None:
    chosen = [c for c in choice if c is not None]
    units = [u for u, _ in chosen]
    if not units or not _nested(units, gaz):
        return None
    deepest = max(units, key=lambda u: DEPTH[u.level])
    in_context = max((len(context) - i for i, c in enumerate(context) if gaz.within(deepest, c)),
                     default=0)
    typed = sum(1 for c, p in zip(choice, parts) if c and p.type and c[0].type == p.type)
    return (len(units),
            sum(u.valid_on(when) for u in units),
            in_context,
            sum(exact for _, exact in chosen),
            typed)


def _resolve(parts: list[_Part], when: str | None, context: list[Unit], gaz: Gazetteer
             ) -> PlaceReading | None:
    admin = [p for p in parts if p.level is not None or not _locality(p.text)]
    expanded: list[_Part] = []
    for part in admin:
        if part.level is None and not _lookup(part.text, gaz):
            names = _segment_names(part.text.split(), gaz)
            if names and len(names) > 1:
                expanded.extend(_Part(n, None, None) for n in names)
                continue
        expanded.append(part)
    if not expanded:
        return None
    options = [[*_candidates(p, gaz), None] for p in expanded]
    if sum(len(o) for o in options) == len(options):
        return PlaceReading("unknown", note=f"Không có trong danh mục hành chính: {_shown(expanded)}")
    scored = []
    for choice in itertools.islice(itertools.product(*options), 20_000):
        score = _score(choice, expanded, when, context, gaz)
        if score is not None:
            scored.append((score, choice))
    if not scored:
        return PlaceReading("unknown", note=f"Các cấp hành chính không khớp nhau: {_shown(expanded)}")
    scored.sort(key=lambda s: s[0], reverse=True)
    top = scored[0][0]
    best_units = {max((c[0] for c in choice if c), key=lambda u: DEPTH[u.level]).id: choice
                  for score, choice in scored if score == top}
    if len(best_units) > 1:
        # "Nam Đàn, Nghệ An": the district, its seat town and a 2025 commune share the name;
        # the one unit of the highest level is what such a text means (and is true of all).
        top_depth = min(DEPTH[gaz[i].level] for i in best_units)
        shallow = [i for i in best_units if DEPTH[gaz[i].level] == top_depth]
        if len(shallow) == 1:
            best_units = {shallow[0]: best_units[shallow[0]]}
    if len(best_units) > 1:
        units = tuple(gaz[i] for i in best_units)
        where = "; ".join(gaz.path(u, when) for u in units[:4])
        return PlaceReading("unknown", candidates=units,
                            note=f"Tên trùng ở nhiều nơi, cần ghi rõ huyện: {where}")
    choice = next(iter(best_units.values()))
    unit = max((c[0] for c in choice if c), key=lambda u: DEPTH[u.level])
    missed = [p.text for c, p in zip(choice, expanded) if c is None]
    note = f"Không nhận ra: {', '.join(missed)}" if missed else None
    if not unit.valid_on(when):
        note = "; ".join(filter(None, [note, f"{unit.label} không tồn tại vào năm {when[:4]}"]))
    return PlaceReading("unit", unit=unit, today=tuple(gaz.today(unit)), note=note,
                        unmatched=tuple(missed))


def _shown(parts: list[_Part]) -> str:
    return ", ".join(p.text for p in parts)[:60]


def _facility(text: str) -> tuple[str, str] | None:
    """(facility words, the rest) when the text names a health facility."""
    key = name_key(text)
    folded = folded_key(text)
    for word in _FACILITY:
        for probe, form in ((key, word), (folded, folded_key(word))):
            if probe == form or probe.startswith(form + " "):
                size = len(word.split())
                words = text.split()
                return " ".join(words[:size]), " ".join(words[size:])
    return None


def parse_place(text: str | None, when: str | None = None, book: BookPlace | None = None,
                gaz: Gazetteer | None = None) -> PlaceReading:
    """Resolve a place text; ``when`` (a year or date) picks the units of that time.

    >>> r = parse_place("X. Kim Liên - H. Nam Đàn", "1968")
    >>> r.unit.label, r.unit.code, [u.label for u in r.today]
    ('xã Kim Liên', '17971', ['xã Kim Liên'])
    >>> parse_place("xã Hưng Dũng, huyện Hưng Nguyên").unmatched  # known only in Vinh
    ('Hưng Dũng',)
    >>> parse_place("Tại nhà").kind, parse_place("Bệnh viện Vinh").unit.label
    ('home', 'thành phố Vinh')
    """
    gaz = gaz or load_gazetteer()
    text = collapse_spaces(nfc(strip_leaders(text or "")))
    if not text:
        return PlaceReading("blank")
    context = _context_units(book, when, gaz)
    home = _HOME_PREFIX.match(text)
    if home or _HOME.match(folded_key(text)):
        rest = text[home.end():] if home else ""
        reading = _resolve(split_parts(rest, gaz), when, context, gaz) if rest else None
        if reading is not None and reading.unit is not None:
            return PlaceReading("home", unit=reading.unit, today=reading.today, note=reading.note)
        unit = next((u for u in context if u.level == "commune"), None)
        return PlaceReading("home", unit=unit, today=tuple(gaz.today(unit)) if unit else (),
                            from_context=unit is not None)
    facility = _facility(text)
    if facility:
        words, rest = facility
        reading = _resolve(split_parts(rest, gaz), when, context, gaz) if rest else None
        if reading is not None and reading.unit is not None:
            return PlaceReading("facility", unit=reading.unit, today=reading.today,
                                facility=text, note=reading.note)
        return PlaceReading("facility", facility=text)
    reading = _resolve(split_parts(text, gaz), when, context, gaz)
    if reading is None:  # only hamlets and the like: the commune is the book's
        unit = next((u for u in context if u.level == "commune"), None)
        return PlaceReading("unit" if unit else "unknown", unit=unit,
                            today=tuple(gaz.today(unit)) if unit else (), from_context=unit is not None,
                            note=None if unit else f"Không có tên xã, huyện: {text[:40]}")
    return reading


def resolve_places(fields: dict, template, book_year: int | None = None,
                   book: BookPlace | None = None) -> dict:
    """Every place field of one entry with the unit it names (``FieldValue.unit``).

    Only the unit is added: status and note stay as the text's own reading made them. The
    gazetteer does not yet hold the communes of before 2020 (data/gazetteer/SOURCES.md), so
    a name it does not know is no sign of a misreading; the unit is then simply None.

        >>> from pipeline.templates import load_template
        >>> from pipeline.types import FieldValue
        >>> fv = FieldValue("birth_place", "Xã Kim Liên", "Xã Kim Liên", "read", 0.97)
        >>> out = resolve_places({"birth_place": fv}, load_template("birth_form"), 1970,
        ...                      BookPlace("Kim Liên", "Nam Đàn", "Nghệ An"))
        >>> out["birth_place"].unit, out["birth_place"].status
        ('17971', 'read')
    """
    from dataclasses import replace

    when = str(book_year) if book_year else None
    out = dict(fields)
    for name, fv in fields.items():
        try:
            kind = template.kind_of(name)
        except KeyError:
            continue
        if kind == "place" and fv.value:
            out[name] = replace(fv, unit=parse_place(fv.value, when, book).unit_id)
    return out

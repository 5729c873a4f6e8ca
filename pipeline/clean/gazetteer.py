"""The administrative units of Nghệ An and Hà Tĩnh through time, from data/gazetteer/.

Old books name units that no longer exist: Nghệ Tĩnh (1976–1991), communes merged in 2019–2020,
districts abolished in 2025. Each unit carries its periods of validity and its successors, so
a place written in 1968 resolves to the unit of 1968 *and* to the unit that holds it today.
Names are looked up by their comparison key (tone placement and case ignored).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pipeline.clean.text import folded_key, name_key

GAZETTEER_FILE = Path(__file__).resolve().parents[2] / "data" / "gazetteer" / "nghe_tinh.json"
LEVELS = ("province", "district", "commune")
DEPTH = {level: i for i, level in enumerate(LEVELS)}


def _bound(value: str | None, *, end: bool) -> str:
    """Comparable ISO bound: an open end is far away, a year-only end covers its year."""
    if value is None:
        return "9999-12-31" if end else "0000-01-01"
    if len(value) == 4:
        return f"{value}-12-31" if end else f"{value}-01-01"
    if len(value) == 7:
        return f"{value}-31" if end else f"{value}-01"
    return value


@dataclass(frozen=True)
class Unit:
    id: str
    code: str | None
    level: str  # province / district / commune
    type: str  # tỉnh, thành phố, thị xã, huyện, quận, xã, phường, thị trấn
    name: str
    parent: str | None
    periods: tuple[tuple[str | None, str | None], ...]
    successors: tuple[str, ...] = ()
    covers: tuple[str, ...] = ()  # a merged province (Nghệ Tĩnh) and the provinces it held
    aliases: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """``xã Hưng Lộc``: type and name, as a place is written in full."""
        return f"{self.type} {self.name}"

    @property
    def exists_today(self) -> bool:
        return any(end is None for _start, end in self.periods)

    def valid_on(self, when: str | None) -> bool:
        """True when the unit existed on ``when`` (ISO date, ``YYYY-MM`` or year); None: ever.

        A period's end is the day the unit stopped, so a book of the year a unit ended or
        began still finds it: year-level dates compare by overlap, not by the exact day.
        """
        if not when:
            return True
        lo, hi = _bound(when, end=False), _bound(when, end=True)
        return any(_bound(start, end=False) <= hi and lo <= _bound(end, end=True)
                   for start, end in self.periods)


class Gazetteer:
    """Units indexed by id, by parent and by the comparison key of each of their names."""

    def __init__(self, units: list[Unit]):
        self.units = {u.id: u for u in units}
        self._by_name: dict[str, list[Unit]] = {}
        self._by_folded: dict[str, list[Unit]] = {}
        self._children: dict[str, list[Unit]] = {}
        for unit in units:
            for name in (unit.name, *unit.aliases):
                self._by_name.setdefault(name_key(name), []).append(unit)
                self._by_folded.setdefault(folded_key(name), []).append(unit)
            if unit.parent:
                self._children.setdefault(unit.parent, []).append(unit)
        #: folded names of two words or more ("ha tinh"): a type word inside one is no type word
        self.long_names = {folded_key(u.name) for u in units if len(u.name.split()) >= 2}

    def __getitem__(self, unit_id: str) -> Unit:
        return self.units[unit_id]

    def named(self, name: str, *, marks_lost: bool = False) -> list[Unit]:
        """Units of that name. ``marks_lost``: the text has no diacritics, so compare folded.

        >>> [u.id for u in load_gazetteer().named("Nghệ Tĩnh")]
        ['NT']
        """
        if marks_lost:
            return list(self._by_folded.get(folded_key(name), []))
        return list(self._by_name.get(name_key(name), []))

    def names(self) -> set[str]:
        """Every comparison key the gazetteer knows, for spelling correction."""
        return set(self._by_name)

    def children(self, unit_id: str) -> list[Unit]:
        return list(self._children.get(unit_id, []))

    def ancestors(self, unit: Unit) -> list[Unit]:
        """Parent, grandparent …; a province held by Nghệ Tĩnh also has Nghệ Tĩnh above it."""
        out, seen = [], {unit.id}
        current = unit
        while current.parent and current.parent not in seen:
            current = self.units[current.parent]
            seen.add(current.id)
            out.append(current)
        if out or unit.level == "province":
            top = out[-1] if out else unit
            out.extend(u for u in self.units.values() if top.id in u.covers)
        return out

    def within(self, inner: Unit, outer: Unit) -> bool:
        """Is ``inner`` part of ``outer`` (itself counts)?"""
        return inner.id == outer.id or any(a.id == outer.id for a in self.ancestors(inner))

    def province_of(self, unit: Unit, when: str | None = None) -> Unit | None:
        """The province that held the unit on ``when``: Nghệ Tĩnh for 1976–1991."""
        provinces = [u for u in (unit, *self.ancestors(unit)) if u.level == "province"]
        # The unit's own province comes first, the merged one that held it after: in a year
        # both existed (1976, 1991) the own province is named.
        return next((p for p in provinces if p.valid_on(when)), provinces[0] if provinces else None)

    def path(self, unit: Unit, when: str | None = None) -> str:
        """``xã Hưng Lộc, huyện Hưng Nguyên, tỉnh Nghệ An`` as the unit was on ``when``."""
        parts = [unit]
        parts.extend(a for a in self.ancestors(unit) if a.level != "province")
        province = self.province_of(unit, when) if unit.level != "province" else None
        if province is not None:
            parts.append(province)
        return ", ".join(p.label for p in parts)

    def today(self, unit: Unit) -> list[Unit]:
        """The unit(s) of today that hold this one, following successors (merges, splits).

        A district abolished in 2025 has no single successor: today it is the communes its
        own communes became.
        """
        out: dict[str, Unit] = {}
        stack, seen = [unit], set()
        while stack:
            current = stack.pop()
            if current.id in seen:
                continue
            seen.add(current.id)
            if current.exists_today:
                out[current.id] = current
            elif current.successors:
                stack.extend(self.units[s] for s in current.successors if s in self.units)
            elif current.level != "commune":
                stack.extend(self.children(current.id))
        return sorted(out.values(), key=lambda u: (DEPTH[u.level], u.name))


def _unit(row: dict) -> Unit:
    return Unit(
        id=row["id"], code=row.get("code"), level=row["level"], type=row["type"],
        name=row["name"], parent=row.get("parent"),
        periods=tuple((p[0], p[1]) for p in row.get("periods") or [[None, None]]),
        successors=tuple(row.get("successors") or ()), covers=tuple(row.get("covers") or ()),
        aliases=tuple(row.get("aliases") or ()),
    )


@lru_cache(maxsize=2)
def load_gazetteer(path: Path = GAZETTEER_FILE) -> Gazetteer:
    """The shipped gazetteer, read once per process."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return Gazetteer([_unit(row) for row in data["units"]])

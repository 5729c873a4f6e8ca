"""Lunar (âm lịch) dates of the registers → the solar date, with the calendar Vietnam used then.

Old registers often give a birth "ngày 15 tháng 8 năm Mậu Thân (âm lịch)". The conversion
itself is Hồ Ngọc Đức's astronomical algorithm (the ``lunar-vn`` package); what this module
adds is which meridian the calendar was computed for: North Vietnam kept China's (UTC+8)
until the reform of 1967 and has used UTC+7 from the lunar year 1968 on (Tết Mậu Thân fell
on 29 January 1968 in the North, 30 January in the South). Nghệ An and Hà Tĩnh are in the
North; the South kept UTC+8 until 1975, which matters only for books brought from there.
"""

from __future__ import annotations

from datetime import date

from lunar_vn import LunarDate, lunar_to_solar, solar_to_lunar

from pipeline.clean.text import folded_key, name_key

NORTH_REFORM_YEAR = 1968  # first lunar year computed for UTC+7 in the North

#: Stems and branches in the order of ``year % 10`` and ``year % 12`` (1980 is Canh Thân).
_STEMS = ("Canh", "Tân", "Nhâm", "Quý", "Giáp", "Ất", "Bính", "Đinh", "Mậu", "Kỷ")
_BRANCHES = ("Thân", "Dậu", "Tuất", "Hợi", "Tý", "Sửu", "Dần", "Mão", "Thìn", "Tỵ", "Ngọ", "Mùi")


def _stem_branch_names() -> dict[str, dict[str, int]]:
    """Each of the 60 names → its ``year % 60``, under the marked key and the folded key."""
    marked: dict[str, int] = {}
    folded: dict[str, list[int]] = {}
    for cycle in range(60):
        name = f"{_STEMS[cycle % 10]} {_BRANCHES[cycle % 12]}"
        marked[name_key(name)] = cycle
        folded.setdefault(folded_key(name), []).append(cycle)
    # "Mẹo" is the older spelling of Mão, as in "Quý Mẹo"
    for cycle in range(60):
        if cycle % 12 == 7:
            marked[name_key(f"{_STEMS[cycle % 10]} Mẹo")] = cycle
    unique = {k: v[0] for k, v in folded.items() if len(v) == 1}  # Tý/Tỵ fold alike
    return {"marked": marked, "folded": unique}


_NAMES = _stem_branch_names()


def lunar_time_zone(lunar_year: int) -> float:
    """Hours east of Greenwich of the meridian the North's lunar calendar used that year."""
    return 7.0 if lunar_year >= NORTH_REFORM_YEAR else 8.0


def lunar_to_iso(day: int, month: int, year: int, leap: bool = False) -> str | None:
    """The solar date of lunar day/month/year, ISO; None if no such lunar day exists.

        >>> lunar_to_iso(1, 1, 1985), lunar_to_iso(1, 1, 1968), lunar_to_iso(1, 1, 1967)
        ('1985-01-21', '1968-01-29', '1967-02-09')
        >>> lunar_to_iso(30, 2, 1985) is None   # that month had 29 days
        True
    """
    zone = lunar_time_zone(year)
    try:
        solar: date = lunar_to_solar(LunarDate(day, month, year, leap), zone)
    except ValueError:  # no such leap month, or outside the years the algorithm covers
        return None
    # a day past the month's end (30 of a 29-day month) comes back as another lunar day
    back = solar_to_lunar(solar, zone)
    if (back.day, back.month, back.year, bool(back.leap)) != (day, month, year, leap):
        return None
    return solar.isoformat()


def year_of_stem_branch(name: str, not_after: int | None) -> int | None:
    """The year of a sexagenary name (``Mậu Thân``) nearest before ``not_after`` (the book's
    year, since a register records the past), or None when the name is not one or no year
    to anchor it is known.

        >>> year_of_stem_branch("Mậu Thân", 1970), year_of_stem_branch("Giáp Ngọ", 1960)
        (1968, 1954)
        >>> year_of_stem_branch("Nhâm Tý", 1975), year_of_stem_branch("Đinh Tỵ", 1980)
        (1972, 1977)
    """
    if not_after is None:
        return None
    cycle = _NAMES["marked"].get(name_key(name))
    if cycle is None:
        cycle = _NAMES["folded"].get(folded_key(name))
    if cycle is None:
        return None
    return not_after - (not_after - cycle) % 60

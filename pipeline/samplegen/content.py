"""What is written in a generated book: realistic Nghe An people, places and dates, drawn from a seed."""

from __future__ import annotations

import datetime as dt
import json
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from pipeline.paths import REFERENCE_DATA

SAMPLEGEN_DATA = REFERENCE_DATA / "samplegen"
TONES = ("\u0300", "\u0301", "\u0309", "\u0303", "\u0323")


@lru_cache(maxsize=None)
def lexicon(name: str) -> dict[str, Any]:
    return json.loads((SAMPLEGEN_DATA / f"{name}.json").read_text(encoding="utf-8"))


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def capitalise_name(text: str) -> str:
    """``NGUYỄN  thị hường`` -> ``Nguyễn Thị Hường`` (the SPEC's normalized name)."""
    return " ".join(w[:1].upper() + w[1:].lower() for w in nfc(text).split())


def swap_tone_style(syllable: str) -> str:
    """Move the tone between the two styles (``Hòa`` <-> ``Hoà``, ``Thủy`` <-> ``Thuỷ``).

    Only open syllables ending in oa/oe/uy have two accepted spellings; others come back as is.
    """
    decomposed = unicodedata.normalize("NFD", syllable)
    tone = next((t for t in TONES if t in decomposed), None)
    if tone is None:
        return syllable
    bare = decomposed.replace(tone, "")
    m = re.search(r"([oOuU])([aAeEyY])$", bare)
    if not m or bare.lower().startswith("qu") and m.group(1) in "uU":
        return syllable
    head = bare[: m.start()]
    old_style = decomposed.endswith(m.group(2) + tone) is False  # tone sits on o/u
    if old_style:
        out = head + m.group(1) + m.group(2) + tone
    else:
        out = head + m.group(1) + tone + m.group(2)
    return nfc(out)


def has_tone_variant(syllable: str) -> bool:
    return swap_tone_style(syllable) != syllable


def pick(rng: np.random.Generator, items, weights=None):
    items = list(items)
    if weights is None:
        return items[int(rng.integers(len(items)))]
    p = np.asarray(list(weights), dtype=float)
    return items[int(rng.choice(len(items), p=p / p.sum()))]


def province_for(year: int) -> str:
    places = lexicon("places")
    return places["province_1976_1991"] if 1976 <= year <= 1991 else places["province_before_1976"]


def given_names(sex: str) -> list[str]:
    return list(dict.fromkeys(lexicon("names")["given_names"][sex]))


def draw_person_name(rng: np.random.Generator, sex: str, ethnicity: str = "Kinh",
                     surname: str | None = None) -> str:
    names = lexicon("names")
    if surname is None:
        ethnic = names["ethnic_surnames"].get(ethnicity)
        if ethnic and rng.random() < 0.85:
            surname = pick(rng, ethnic)
        else:
            surname = pick(rng, names["surnames"], names["surnames"].values())
    middles = names["middle_names"][sex]
    middle = pick(rng, middles, middles.values())
    given = pick(rng, given_names(sex))
    if rng.random() < 0.06:  # a second middle name: Nguyễn Thị Thu Hường
        extra = pick(rng, ["Thu", "Ngọc", "Kim", "Minh"] if sex == "F" else ["Đình", "Quang", "Minh"])
        if extra != middle:
            middle = f"{middle} {extra}"
    return f"{surname} {middle} {given}"


def format_date(d: dt.date, style: str) -> tuple[str, str]:
    """Write a date the way a clerk did; return (text, ISO value of what the text says)."""
    if style == "year":
        return str(d.year), str(d.year)
    if style == "month":
        return f"{d.month}/{d.year}", f"{d.year:04d}-{d.month:02d}"
    iso = d.isoformat()
    if style == "slash":
        return f"{d.day}/{d.month}/{d.year}", iso
    if style == "slash0":
        return f"{d.day:02d}/{d.month:02d}/{d.year}", iso
    if style == "dash":
        return f"{d.day:02d}-{d.month:02d}-{d.year}", iso
    if style == "words":
        return f"ngày {d.day} tháng {d.month} năm {d.year}", iso
    raise ValueError(style)


DATE_STYLES = ("slash", "slash0", "dash", "words")


@dataclass
class BookContext:
    """Choices made once per book: where, when, and the clerk's habits."""

    commune: str
    district: str
    province: str
    year: int
    volume: int | str
    ethnicity_mix: dict[str, float]
    date_style: str
    upper_names: bool
    new_tone_style: bool
    first_number: int
    next_number: int = 0
    last_registration: dt.date | None = None
    extras: dict[str, Any] = field(default_factory=dict)


def draw_book_context(rng: np.random.Generator, *, commune=None, district=None, province=None,
                      year=None, volume=None, typewriter: bool = True) -> BookContext:
    places = lexicon("places")
    districts = places["districts"]
    if district is None and commune is not None:
        district = next((d for d, info in districts.items() if commune in info["communes"]), None)
    if district is None:
        weights = places["district_weights"]
        district = pick(rng, weights, weights.values())
    info = districts.get(district, {"communes": [commune or "Hưng Dũng"], "ethnicity": {"Kinh": 100}})
    if commune is None:
        commune = pick(rng, info["communes"])
    year = int(rng.integers(1960, 1990)) if year is None else int(year)
    province = province_for(year) if province is None else province
    volume = int(rng.integers(1, 4)) if volume is None else volume
    ctx = BookContext(
        commune=nfc(commune), district=nfc(district), province=nfc(province), year=year,
        volume=volume, ethnicity_mix=info["ethnicity"],
        date_style=pick(rng, DATE_STYLES, (0.45, 0.15, 0.2, 0.2)),
        upper_names=typewriter and rng.random() < 0.4,
        new_tone_style=rng.random() < 0.35,
        first_number=int(rng.integers(1, 40)),
    )
    ctx.next_number = ctx.first_number
    ctx.last_registration = dt.date(year, 1, 1) + dt.timedelta(days=int(rng.integers(0, 20)))
    return ctx


def _write_name(ctx: BookContext, name: str) -> str:
    words = name.split()
    if ctx.new_tone_style:
        words = [swap_tone_style(w) if _tone_on_first(w) else w for w in words]
    text = " ".join(words)
    return text.upper() if ctx.upper_names else text


def _tone_on_first(word: str) -> bool:
    """True for the traditional spelling ``Hòa``/``Thủy``, False for ``Hoà``/``Thuỷ`` or no choice."""
    d = unicodedata.normalize("NFD", word)
    return has_tone_variant(word) and not any(d.endswith(t) for t in TONES)


def _date_style(ctx: BookContext, rng: np.random.Generator) -> str:
    return ctx.date_style if rng.random() < 0.8 else pick(rng, DATE_STYLES)


def _place_text(ctx: BookContext, rng: np.random.Generator) -> str:
    places = lexicon("places")
    c, d = ctx.commune, ctx.district
    return pick(rng, [
        "Tại nhà", f"Trạm xá xã {c}", places["provincial_hospital"], f"Bệnh viện huyện {d}",
        f"Xã {c}", f"Xóm {int(rng.integers(1, 13))}, xã {c}",
    ], (0.25, 0.35, 0.07, 0.08, 0.15, 0.10))


def draw_entry(ctx: BookContext, rng: np.random.Generator, previous: dict | None = None
               ) -> dict[str, Any]:
    """One registration: ``{"fields": {field: (text, value)}, "hint": {...}}``.

    ``previous`` (the entry written just before) lets twins share parents and dates, which is
    also what makes ditto marks natural in a ledger.
    """
    twins = previous is not None and rng.random() < 0.04
    sex = "M" if rng.random() < 0.52 else "F"
    if twins:
        hint_prev = previous["hint"]
        ethnicity = hint_prev["ethnicity"]
        father, mother = hint_prev["father_name"], hint_prev["mother_name"]
        father_age, mother_age = hint_prev["father_age"], hint_prev["mother_age"]
        birth = dt.date.fromisoformat(hint_prev["birth_date"])
        registration = dt.date.fromisoformat(hint_prev["registration_date"])
        residence = hint_prev["residence"]
        place_text = previous["fields"]["birth_place"][0]
    else:
        ethnicity = pick(rng, ctx.ethnicity_mix, ctx.ethnicity_mix.values())
        mother_age = int(rng.integers(18, 41))
        if rng.random() < 0.9:  # fathers are usually the older parent
            father_age = mother_age + int(rng.integers(0, 9))
        else:
            father_age = mother_age - int(rng.integers(1, 4))
        father_age = max(18, min(father_age, 45))
        father = draw_person_name(rng, "M", ethnicity) if rng.random() > 0.03 else None
        mother = draw_person_name(rng, "F", ethnicity)
        registration = ctx.last_registration + dt.timedelta(days=int(rng.integers(0, 12)))
        if registration.year > ctx.year:
            registration = dt.date(ctx.year, 12, 31)
        ctx.last_registration = registration
        birth = registration - dt.timedelta(days=int(rng.integers(3, 50)))
        residence = f"Xóm {int(rng.integers(1, 13))}, xã {ctx.commune}"
        if rng.random() < 0.1:
            residence = f"Đội {int(rng.integers(1, 9))}, HTX {ctx.commune}"
        place_text = _place_text(ctx, rng)
    surname = (father or mother).split()[0]
    child = draw_person_name(rng, sex, ethnicity, surname=surname)
    if previous is not None and child == previous["hint"]["full_name"]:
        child = draw_person_name(rng, sex, ethnicity, surname=surname)

    if rng.random() < 0.03:  # skipped numbers: a spoilt or torn-out entry
        ctx.next_number += int(rng.integers(1, 3))
    number = ctx.next_number
    ctx.next_number += 1

    f: dict[str, tuple[str, str | None]] = {}
    f["registration_no"] = (str(number), str(number))
    written = _write_name(ctx, child)
    f["full_name"] = (written, capitalise_name(written))
    f["sex"] = ("Nam", "M") if sex == "M" else ("Nữ", "F")
    r = rng.random()
    style = "year" if r < 0.03 else "month" if r < 0.05 else _date_style(ctx, rng)
    f["birth_date"] = format_date(birth, style)
    f["birth_place"] = (place_text, place_text)
    f["ethnicity"] = (ethnicity, ethnicity) if rng.random() > 0.02 else ("", None)
    f["nationality"] = ("Việt Nam", "Việt Nam") if rng.random() > 0.03 else ("", None)
    if father:
        written = _write_name(ctx, father)
        f["father_name"] = (written, capitalise_name(written))
        f["father_age"] = (str(father_age), str(father_age))
    else:
        f["father_name"] = f["father_age"] = ("", None)
    written = _write_name(ctx, mother)
    f["mother_name"] = (written, capitalise_name(written))
    f["mother_age"] = (str(mother_age), str(mother_age))
    f["residence"] = (residence, residence)
    if father and rng.random() < 0.7:
        declarant = f"{capitalise_name(_write_name(ctx, father))} (cha)"
    else:
        declarant = f"{capitalise_name(_write_name(ctx, mother))} (mẹ)"
    f["declarant"] = (declarant, declarant)
    f["registration_date"] = format_date(registration, _date_style(ctx, rng))
    note = ""
    if rng.random() < 0.08:
        note = pick(rng, lexicon("places")["notes"])
    f["notes"] = (note, note or None)

    hint = {
        "full_name": child, "sex": sex, "birth_date": birth.isoformat(),
        "birth_place": f"Xã {ctx.commune}, Huyện {ctx.district}",
        "father_name": father, "mother_name": mother,
        "father_age": father_age if father else None, "mother_age": mother_age,
        "ethnicity": ethnicity, "residence": residence,
        "registration_date": registration.isoformat(), "twin_of_previous": twins,
    }
    return {"fields": f, "hint": hint}

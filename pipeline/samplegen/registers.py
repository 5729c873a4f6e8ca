"""What is written in generated marriage and death registers (births: ``content.draw_entry``).

Kept apart from the birth code on purpose: a birth book's random draws (and so its bytes) must
not move when these registers change. Entries have the same shape as birth entries,
``{"fields": {field: (text, value)}, "hint": {...}}``, with values normalized as SPEC §3 says
(names capitalised NFC, sex ``M``/``F``, ISO partial dates).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np

from pipeline.samplegen.content import (BookContext, _date_style, _write_name, capitalise_name,
                                        draw_person_name, format_date, lexicon, pick)

Fields = dict[str, tuple[str, str | None]]


def _registration(ctx: BookContext, rng: np.random.Generator, max_gap: int) -> dt.date:
    """The next registration date of the book: in order, never past the book's year."""
    registration = ctx.last_registration + dt.timedelta(days=int(rng.integers(0, max_gap)))
    if registration.year > ctx.year:
        registration = dt.date(ctx.year, 12, 31)
    ctx.last_registration = registration
    return registration


def _number(ctx: BookContext, rng: np.random.Generator) -> str:
    if rng.random() < 0.03:  # a spoilt or torn-out entry
        ctx.next_number += int(rng.integers(1, 3))
    number = ctx.next_number
    ctx.next_number += 1
    return str(number)


def _birth_text(ctx: BookContext, rng: np.random.Generator, birth: dt.date, p_year: float
                ) -> tuple[str, str]:
    """A birth date as old registers write it: often the year alone (a ledger's ``Năm sinh``)."""
    if ctx.extras.get("layout") == "ledger":
        p_year = max(p_year, 0.85)
    r = rng.random()
    style = "year" if r < p_year else "month" if r < p_year + 0.05 else _date_style(ctx, rng)
    return format_date(birth, style)


def _name_fields(ctx: BookContext, name: str) -> tuple[str, str]:
    written = _write_name(ctx, name)
    return written, capitalise_name(written)


def _birth_in(rng: np.random.Generator, year: int) -> dt.date:
    return dt.date(year, 1, 1) + dt.timedelta(days=int(rng.integers(0, 365)))


def _neighbours(ctx: BookContext) -> list[str]:
    info = lexicon("places")["districts"].get(ctx.district)
    others = [c for c in (info or {}).get("communes", []) if c != ctx.commune]
    return others or [ctx.commune]


def _residence(ctx: BookContext, rng: np.random.Generator, p_home: float) -> str:
    """``Xóm 4, xã Hưng Dũng`` in the book's commune, or a neighbouring commune of the district."""
    commune = ctx.commune if rng.random() < p_home else pick(rng, _neighbours(ctx))
    if rng.random() < 0.1:
        return f"Đội {int(rng.integers(1, 9))}, HTX {commune}"
    return f"Xóm {int(rng.integers(1, 13))}, xã {commune}"


def _maybe_blank(rng: np.random.Generator, text: str, p_blank: float) -> tuple[str, str | None]:
    return (text, text) if rng.random() > p_blank else ("", None)


def draw_marriage_entry(ctx: BookContext, rng: np.random.Generator,
                        previous: dict | None = None) -> dict[str, Any]:
    """One marriage: husband 20–35 and wife 18–33 in the book's year, living nearby."""
    registration = _registration(ctx, rng, 25)
    ethnicity = pick(rng, ctx.ethnicity_mix, ctx.ethnicity_mix.values())
    wife_ethnicity = ethnicity if rng.random() < 0.85 else pick(
        rng, ctx.ethnicity_mix, ctx.ethnicity_mix.values())
    wife_age = int(rng.integers(18, 31))
    husband_age = max(20, min(35, wife_age + int(rng.integers(-1, 8))))
    husband = draw_person_name(rng, "M", ethnicity)
    wife = draw_person_name(rng, "F", wife_ethnicity)
    husband_birth = _birth_in(rng, ctx.year - husband_age)
    wife_birth = _birth_in(rng, ctx.year - wife_age)
    husband_home = _residence(ctx, rng, 0.7)
    wife_home = _residence(ctx, rng, 0.55)

    f: Fields = {}
    number = _number(ctx, rng)
    f["registration_no"] = (number, number)
    f["husband_name"] = _name_fields(ctx, husband)
    f["husband_birth"] = _birth_text(ctx, rng, husband_birth, 0.4)
    f["husband_ethnicity"] = _maybe_blank(rng, ethnicity, 0.02)
    f["husband_nationality"] = _maybe_blank(rng, "Việt Nam", 0.03)
    f["husband_residence"] = (husband_home, husband_home)
    f["wife_name"] = _name_fields(ctx, wife)
    f["wife_birth"] = _birth_text(ctx, rng, wife_birth, 0.4)
    f["wife_ethnicity"] = _maybe_blank(rng, wife_ethnicity, 0.02)
    f["wife_nationality"] = _maybe_blank(rng, "Việt Nam", 0.03)
    f["wife_residence"] = (wife_home, wife_home)
    f["registration_date"] = format_date(registration, _date_style(ctx, rng))
    note = pick(rng, lexicon("registers")["marriage"]["notes"]) if rng.random() < 0.06 else ""
    f["notes"] = (note, note or None)

    hint = {
        "husband_name": husband, "husband_birth_date": husband_birth.isoformat(),
        "husband_ethnicity": ethnicity, "husband_residence": husband_home,
        "wife_name": wife, "wife_birth_date": wife_birth.isoformat(),
        "wife_ethnicity": wife_ethnicity, "wife_residence": wife_home,
        "registration_date": registration.isoformat(),
    }
    return {"fields": f, "hint": hint}


def _declarant(ctx: BookContext, rng: np.random.Generator, band: str, sex: str, name: str,
               ethnicity: str) -> str:
    relation = pick(rng, lexicon("registers")["death"]["declarant_relations"][band])
    if relation == "vợ/chồng":
        relation = "vợ" if sex == "M" else "chồng"
    declarant_sex = {"cha": "M", "mẹ": "F", "vợ": "F", "chồng": "M"}.get(
        relation, "M" if rng.random() < 0.6 else "F")
    # Father, children (of a man), brothers and sisters carry the deceased's surname.
    same_surname = relation in ("cha", "anh", "em") or (relation in ("con", "cháu") and sex == "M")
    person = draw_person_name(rng, declarant_sex, ethnicity,
                              surname=name.split()[0] if same_surname else None)
    return f"{capitalise_name(_write_name(ctx, person))} ({relation})"


def draw_death_entry(ctx: BookContext, rng: np.random.Generator,
                     previous: dict | None = None) -> dict[str, Any]:
    """One death in the book's year: any age, a cause and place that fit the age."""
    reg = lexicon("registers")["death"]
    places = lexicon("places")
    registration = _registration(ctx, rng, 12)
    death = registration - dt.timedelta(days=int(rng.integers(0, 15)))
    if death.year < ctx.year:
        death = dt.date(ctx.year, 1, 1)
    bands = {k: v for k, v in reg["age_bands"].items() if not k.startswith("_")}
    band = pick(rng, bands, [v[2] for v in bands.values()])
    age = int(rng.integers(bands[band][0], bands[band][1] + 1))
    if age == 0:
        birth = death - dt.timedelta(days=int(rng.integers(0, 300)))
    else:
        birth = _birth_in(rng, death.year - age)
        if birth > death:
            birth = dt.date(birth.year, 1, 1)
    sex = "M" if rng.random() < 0.52 else "F"
    ethnicity = pick(rng, ctx.ethnicity_mix, ctx.ethnicity_mix.values())
    name = draw_person_name(rng, sex, ethnicity)
    causes = reg["causes"][band]
    cause = pick(rng, causes, causes.values())
    c, d = ctx.commune, ctx.district
    if cause == "Chết đuối":
        place = pick(rng, reg["drowning_places"])
    elif cause == "Già yếu":
        place = "Tại nhà"
    else:
        place = pick(rng, ["Tại nhà", f"Trạm xá xã {c}", places["provincial_hospital"],
                           f"Bệnh viện huyện {d}"], (0.6, 0.2, 0.1, 0.1))
    residence = _residence(ctx, rng, 1.0)

    f: Fields = {}
    number = _number(ctx, rng)
    f["registration_no"] = (number, number)
    f["deceased_name"] = _name_fields(ctx, name)
    f["sex"] = ("Nam", "M") if sex == "M" else ("Nữ", "F")
    if age == 0:
        f["birth_date"] = format_date(birth, _date_style(ctx, rng))
    else:
        f["birth_date"] = _birth_text(ctx, rng, birth, 0.35)
    f["death_date"] = format_date(death, _date_style(ctx, rng))
    f["death_place"] = (place, place)
    f["cause"] = _maybe_blank(rng, cause, 0.03)
    f["residence"] = (residence, residence)
    declarant = _declarant(ctx, rng, band, sex, name, ethnicity)
    f["declarant"] = (declarant, declarant)
    f["registration_date"] = format_date(registration, _date_style(ctx, rng))
    note = pick(rng, reg["notes"]) if rng.random() < 0.06 else ""
    f["notes"] = (note, note or None)

    hint = {
        "full_name": name, "sex": sex, "birth_date": birth.isoformat(), "age": age,
        "death_date": death.isoformat(), "death_place": place, "cause": cause,
        "ethnicity": ethnicity, "residence": residence,
        "registration_date": registration.isoformat(),
    }
    return {"fields": f, "hint": hint}

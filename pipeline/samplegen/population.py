"""A population-register extract matching generated books, with the messiness real extracts have.

Most children of the books are citizens here, spelt the way the population database has them
(other tone placement, a dropped middle name, day and month swapped, a year-only birth date);
the rest of the rows are strangers and near misses (same name, other year; siblings), so a
matcher is tested on what makes matching hard. ``population_truth.csv`` says who is who.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import numpy as np

from pipeline.samplegen.content import (draw_person_name, given_names, has_tone_variant, lexicon,
                                        pick, swap_tone_style)
from pipeline.samplegen.truth import BookTruth

POPULATION_COLUMNS = ["citizen_id", "full_name", "sex", "birth_date", "birth_place", "father_name",
                      "mother_name"]
TRUTH_COLUMNS = ["record_key", "citizen_id", "book"]
SEX_TEXT = {"M": "Nam", "F": "Nữ"}


class _Ids:
    """12-digit CCCD numbers: province, century/sex digit, 2-digit birth year, 6 random digits."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self.used: set[str] = set()

    def new(self, sex: str, year: int) -> str:
        code = lexicon("places")["province_code"]
        century_sex = {(19, "M"): 0, (19, "F"): 1, (20, "M"): 2, (20, "F"): 3}[(year // 100, sex)]
        while True:
            cid = f"{code}{century_sex}{year % 100:02d}{int(self.rng.integers(0, 1_000_000)):06d}"
            if cid not in self.used:
                self.used.add(cid)
                return cid


def _vary_name(name: str | None, rng: np.random.Generator, p_tone: float, p_drop_middle: float
               ) -> str:
    if not name:
        return ""
    words = name.split()
    if rng.random() < p_tone:
        words = [swap_tone_style(w) if has_tone_variant(w) else w for w in words]
    if len(words) >= 3 and rng.random() < p_drop_middle:
        words = [words[0], words[-1]]
    return " ".join(words)


def _vary_date(iso: str, rng: np.random.Generator) -> str:
    d = dt.date.fromisoformat(iso)
    r = rng.random()
    if r < 0.05 and d.day <= 12 and d.day != d.month:
        return dt.date(d.year, d.day, d.month).isoformat()  # day and month swapped on entry
    if r < 0.10:
        return str(d.year)
    return iso


def _birth_place(commune: str, district: str) -> str:
    province = lexicon("places")["province_today"]
    return f"Xã {commune}, Huyện {district}, Tỉnh {province}"


def _random_date(rng: np.random.Generator, year: int) -> dt.date:
    return dt.date(year, 1, 1) + dt.timedelta(days=int(rng.integers(0, 365)))


def generate_population(truths: list[BookTruth], out_dir: Path, seed: int,
                        extra_citizens: int = 200) -> Path:
    """Write ``population.csv`` and ``population_truth.csv``; return the population file.

    ``population_truth.csv`` has ``record_key,citizen_id,book`` where ``book`` is the index of the
    book in ``truths`` (record keys repeat across books). Only birth books feed the extract:
    marriage and death books are skipped (their index still counts), so a mixed list is fine.

    >>> generate_population([truth], Path("/tmp/pop"), seed=3)   # /tmp/pop/population.csv
    """
    rng = np.random.default_rng([seed, 99])
    ids = _Ids(rng)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows: list[list[str]] = []
    links: list[list[str]] = []
    children: list[tuple[dict, dict]] = []
    for b, truth in enumerate(truths):
        if truth.book.get("book_type", "birth") != "birth":
            continue  # only birth registers name citizens by birth; see the docstring
        for rec in truth.records:
            hint = rec.citizen_hint
            children.append((hint, truth.book))
            if rng.random() >= 0.85:  # moved away, died, or not yet in the extract
                continue
            year = int(hint["birth_date"][:4])
            cid = ids.new(hint["sex"], year)
            rows.append([
                cid, _vary_name(hint["full_name"], rng, 0.35, 0.05), SEX_TEXT[hint["sex"]],
                _vary_date(hint["birth_date"], rng),
                _birth_place(truth.book["commune"], truth.book["district"]),
                _vary_name(hint.get("father_name"), rng, 0.2, 0.03),
                _vary_name(hint.get("mother_name"), rng, 0.2, 0.03),
            ])
            links.append([rec.record_key, cid, str(b)])

    districts = lexicon("places")["districts"]
    for _ in range(extra_citizens):
        kind = rng.random()
        if children and kind < 0.35:
            # Same surname and given name as a registered child, born another year.
            hint, book = children[int(rng.integers(len(children)))]
            words = hint["full_name"].split()
            sex = hint["sex"]
            middles = lexicon("names")["middle_names"][sex]
            name = f"{words[0]} {pick(rng, middles, middles.values())} {words[-1]}"
            year = int(hint["birth_date"][:4]) + int(rng.choice([-3, -2, -1, 1, 2, 3, 5]))
            father = draw_person_name(rng, "M", surname=words[0])
            mother = draw_person_name(rng, "F")
            place = _birth_place(book["commune"], book["district"])
        elif children and kind < 0.6:
            # A sibling: same parents, another given name and year.
            hint, book = children[int(rng.integers(len(children)))]
            sex = "M" if rng.random() < 0.5 else "F"
            surname = hint["full_name"].split()[0]
            name = draw_person_name(rng, sex, surname=surname)
            while name.split()[-1] == hint["full_name"].split()[-1]:
                name = f"{name.rsplit(' ', 1)[0]} {pick(rng, given_names(sex))}"
            year = int(hint["birth_date"][:4]) + int(rng.choice([-6, -4, -3, -2, 2, 3, 4, 6]))
            father, mother = hint.get("father_name") or "", hint.get("mother_name") or ""
            place = _birth_place(book["commune"], book["district"])
        else:
            sex = "M" if rng.random() < 0.5 else "F"
            name = draw_person_name(rng, sex)
            year = int(rng.integers(1950, 1995))
            father = draw_person_name(rng, "M", surname=name.split()[0])
            mother = draw_person_name(rng, "F")
            district = pick(rng, districts)
            place = _birth_place(pick(rng, districts[district]["communes"]), district)
        birth = _random_date(rng, year).isoformat()
        if rng.random() < 0.05:
            birth = str(year)
        rows.append([ids.new(sex, year), name, SEX_TEXT[sex], birth, place, father, mother])

    order = rng.permutation(len(rows))
    path = out_dir / "population.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(POPULATION_COLUMNS)
        w.writerows(rows[i] for i in order)
    with (out_dir / "population_truth.csv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(TRUTH_COLUMNS)
        w.writerows(links)
    return path

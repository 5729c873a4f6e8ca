"""Named noise families of the linkage generator, each switchable, for leave-one-family-out.

SPEC §6: a benchmark holds out part of what its generator varies from everything tuned. A
family is one kind of thing registers and population extracts do to a person's data. Some are
built into ``linkage.generate_linkage`` as rates (switched off by zeroing them); the others are
applied here to the finished set, from their own random stream (``[seed, 2025, index]``), so
switching one family off leaves every other family's draws as they were:

* ``age_suffixes`` — a parent's age written into the name (``Chu Quang Hưng (45t)``,
  ``Lưu Thị Thanh, 33 tuổi``), or the age alone where the name was unknown (``24 tuổi``);
* ``tagging`` — a relation or courtesy word before a parent's name (``Ông``, ``Bà``);
* ``upper_case`` — a book typed in capitals (``NGUYỄN VĂN BÌNH``);
* ``merged_parents`` — words run together in parents' names (``NGUYỄNVĂN``, ``LưuThị``);
* ``glyph_slips`` — a letter misread as one that makes no Vietnamese syllable (``Nguyễu``,
  ``Fhị``, ``Nguycn``);
* ``year_shifts`` — the birth year one off with the same day and month (lunar year, a year
  worked back from an age);
* ``minority_names`` — Thái, Khơ Mú and H'Mông names of western Nghệ An, spelt one way by the
  commune clerk and another by the population database (``Lầu Bá Giống`` / ``Lầu Bá Dống``).

``truth.noise`` names every family that touched a record, so a benchmark can report recall on
exactly those records.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

from pipeline.samplegen.linkage import MISSING_TAGS, LinkageSet, generate_linkage


@dataclass(frozen=True)
class NoiseFamily:
    name: str
    description: str
    rate_keys: tuple[str, ...] = ()  # built-in ``linkage.RATES`` entries of the family
    tags: tuple[str, ...] = ()  # ``truth.noise`` tags of the records it touched
    apply: Callable | None = None  # (LinkageSet, rng) -> tags per record, for added families
    rate: float = 0.0  # share of records (or fields) an added family touches


def _records_with_citizen(ls: LinkageSet) -> np.ndarray:
    return ls.truth["citizen_id"].notna().to_numpy()


# --- added families ------------------------------------------------------------------------

def _age_suffixes(ls: LinkageSet, rng: np.random.Generator, rate: float) -> np.ndarray:
    rec = ls.records
    touched = np.zeros(len(rec), dtype=bool)
    for name_col, age_col in (("father_name", "father_age"), ("mother_name", "mother_age")):
        names = rec[name_col].fillna("").astype(str).to_numpy(dtype=object, copy=True)
        ages = rec[age_col]
        plausible = ages.fillna(0).astype(int).between(15, 99).to_numpy()  # a parent's age
        pick = (rng.random(len(rec)) < rate) & (names != "") & plausible
        style = rng.integers(0, 5, len(rec))
        for i in np.flatnonzero(pick):
            age = int(ages.iloc[i])
            names[i] = (f"{names[i]} ({age}t)", f"{names[i]}, {age} tuổi", f"{names[i]} {age}t",
                        f"{names[i]} - {age} tuổi", f"{age} tuổi")[style[i]]
        rec[name_col] = names
        touched |= pick
    return touched


def _tagging(ls: LinkageSet, rng: np.random.Generator, rate: float) -> np.ndarray:
    rec = ls.records
    touched = np.zeros(len(rec), dtype=bool)
    for col, words in (("father_name", ("Ông", "ông", "Cha:")), ("mother_name", ("Bà", "bà", "Mẹ:"))):
        names = rec[col].fillna("").astype(str).to_numpy(dtype=object, copy=True)
        pick = (rng.random(len(rec)) < rate) & (names != "")
        which = rng.integers(0, len(words), len(rec))
        for i in np.flatnonzero(pick):
            names[i] = f"{words[which[i]]} {names[i]}"
        rec[col] = names
        touched |= pick
    return touched


def _upper_case(ls: LinkageSet, rng: np.random.Generator, rate: float) -> np.ndarray:
    """Whole books typed in capitals: the draw is per book, as a typist's habit is."""
    rec = ls.records
    books = pd.unique(rec["book_id"])
    upper_books = set(np.asarray(books)[rng.random(len(books)) < rate])
    pick = rec["book_id"].isin(upper_books).to_numpy()
    for col in ("full_name", "father_name", "mother_name", "birth_place"):
        values = rec[col].fillna("").astype(str)
        rec[col] = values.where(~pick, values.str.upper())
    return pick


def _merged_parents(ls: LinkageSet, rng: np.random.Generator, rate: float) -> np.ndarray:
    rec = ls.records
    touched = np.zeros(len(rec), dtype=bool)
    for col in ("father_name", "mother_name"):
        names = rec[col].fillna("").astype(str).to_numpy(dtype=object, copy=True)
        pick = (rng.random(len(rec)) < rate) & np.array([len(n.split()) >= 3 for n in names])
        caps = rng.random(len(rec)) < 0.4
        for i in np.flatnonzero(pick):
            w = names[i].split()
            names[i] = " ".join([w[0] + w[1], *w[2:]])
            if caps[i]:
                names[i] = names[i].upper()
        rec[col] = names
        touched |= pick
    return touched


# Letters a scanner or a tired typist turns into another glyph, making no valid syllable.
_GLYPHS = {"n": "u", "u": "n", "e": "c", "c": "e", "T": "F", "h": "b", "i": "l", "m": "rn",
           "N": "H", "g": "q", "o": "c", "a": "o"}


def _glyph_slip(name: str, rng: np.random.Generator) -> str:
    spots = [i for i, ch in enumerate(unicodedata.normalize("NFD", name)) if ch in _GLYPHS]
    if not spots:
        return name
    nfd = unicodedata.normalize("NFD", name)
    i = spots[int(rng.integers(len(spots)))]
    return unicodedata.normalize("NFC", nfd[:i] + _GLYPHS[nfd[i]] + nfd[i + 1:])


def _glyph_slips(ls: LinkageSet, rng: np.random.Generator, rate: float) -> np.ndarray:
    rec = ls.records
    touched = np.zeros(len(rec), dtype=bool)
    for col in ("full_name", "father_name", "mother_name"):
        names = rec[col].fillna("").astype(str).to_numpy(dtype=object, copy=True)
        pick = (rng.random(len(rec)) < rate) & (names != "")
        for i in np.flatnonzero(pick):
            names[i] = _glyph_slip(names[i], rng)
        rec[col] = names
        touched |= pick
    return touched


def _year_shifts(ls: LinkageSet, rng: np.random.Generator, rate: float) -> np.ndarray:
    rec = ls.records
    dates = rec["birth_date"].fillna("").astype(str).to_numpy(dtype=object, copy=True)
    full = np.array([len(d) == 10 for d in dates])
    pick = (rng.random(len(rec)) < rate) & full
    step = np.where(rng.random(len(rec)) < 0.5, 1, -1)
    for i in np.flatnonzero(pick):
        year, rest = int(dates[i][:4]) + step[i], dates[i][4:]
        dates[i] = f"{year:04d}{'-02-28' if rest == '-02-29' else rest}"
    rec["birth_date"] = dates
    return pick


_MINORITY_SURNAMES = ("Lò", "Vi", "Lương", "Lữ", "Moong", "Lầu", "Vừ", "Xồng", "Kha", "Lô", "Ngân",
                      "Cụt", "Lỳ", "Hơ")
_MINORITY_GIVENS = ("Pấng", "Ún", "Xay", "Khăm", "Phăn", "Sủa", "Chống", "Dê", "Pó", "Xái", "Nhọt",
                    "Thoong", "Ing", "Bua", "Chía", "Giống", "Xềnh", "Mỷ", "Pằng", "Sinh", "Chăn",
                    "Tồng", "Khánh", "Sông", "Dia")
# How two offices write the same minority syllable in Vietnamese letters.
_TRANSLIT = (("gi", "d"), ("d", "gi"), ("ch", "tr"), ("x", "s"), ("s", "x"), ("y", "i"),
             ("i", "y"), ("oo", "o"), ("ô", "o"), ("ă", "a"), ("ơ", "ư"), ("ng", "n"))
_TONES = ("\u0300", "\u0301", "\u0309", "\u0303", "\u0323")


def _transliterate(word: str, rng: np.random.Generator) -> str:
    """Another spelling of a minority syllable: a consonant or vowel rule, or another tone."""
    nfd = unicodedata.normalize("NFD", word)
    base = "".join(c for c in nfd if c not in _TONES)
    tones = [c for c in nfd if c in _TONES]
    rules = [(a, b) for a, b in _TRANSLIT if a in base.lower()]
    if rules and rng.random() < 0.7:
        a, b = rules[int(rng.integers(len(rules)))]
        lower = base.lower()
        k = lower.index(a)
        piece = b.upper() if base[k:k + len(a)].isupper() and len(a) == 1 else b
        if k == 0:
            piece = piece[:1].upper() + piece[1:]
        base = base[:k] + piece + base[k + len(a):]
        return unicodedata.normalize("NFC", _put_tone(base, tones))
    others = [t for t in _TONES if t not in tones]
    return unicodedata.normalize("NFC", _put_tone(base, [others[int(rng.integers(len(others)))]]))


def _put_tone(base: str, tones: list[str]) -> str:
    """The tone mark after the syllable's main vowel (last vowel of the first vowel run)."""
    if not tones:
        return base
    nfc = unicodedata.normalize("NFC", base)
    vowels = [i for i, ch in enumerate(nfc) if unicodedata.normalize("NFD", ch)[0].lower() in "aeiouy"]
    if not vowels:
        return nfc
    run_end = vowels[0]
    while run_end + 1 in vowels:
        run_end += 1
    i = vowels[0] if run_end > vowels[0] and run_end == len(nfc) - 1 else run_end
    return nfc[:i + 1] + tones[0] + nfc[i + 1:]


def _minority_names(ls: LinkageSet, rng: np.random.Generator, rate: float) -> np.ndarray:
    """Pairs given minority names on both sides, the record spelt another way; some other
    citizens get such names too, so a minority name is no fingerprint."""
    rec, cit, truth = ls.records, ls.citizens, ls.truth
    pick = (rng.random(len(rec)) < rate) & _records_with_citizen(ls)
    pos = pd.Series(np.arange(len(cit)), index=cit["citizen_id"].to_numpy())
    sur = rng.integers(0, len(_MINORITY_SURNAMES), len(rec))
    giv = rng.integers(0, len(_MINORITY_GIVENS), len(rec))
    rnames, rfathers = rec["full_name"].to_numpy(dtype=object, copy=True), rec["father_name"].fillna("").to_numpy(dtype=object, copy=True)
    cnames, cfathers = cit["full_name"].to_numpy(dtype=object, copy=True), cit["father_name"].fillna("").to_numpy(dtype=object, copy=True)

    def renamed(name: str, surname: str, given: str | None) -> str:
        w = name.split()
        if not w:
            return name
        w[0] = surname
        if given is not None and len(w) > 1:
            w[-1] = given
        return " ".join(w)

    for i in np.flatnonzero(pick):
        s, g = _MINORITY_SURNAMES[sur[i]], _MINORITY_GIVENS[giv[i]]
        j = pos[truth["citizen_id"].iat[i]]
        cnames[j] = renamed(cnames[j], s, g)
        cfathers[j] = renamed(cfathers[j], s, None) if cfathers[j] else cfathers[j]
        if rng.random() < 0.5:
            s_rec, g_rec = _transliterate(s, rng), g
        else:
            s_rec, g_rec = s, _transliterate(g, rng)
        rnames[i] = renamed(rnames[i], s_rec, g_rec)
        rfathers[i] = renamed(rfathers[i], s_rec, None) if rfathers[i] else rfathers[i]
    paired = set(truth["citizen_id"].dropna())
    others = np.flatnonzero(~cit["citizen_id"].isin(paired).to_numpy()
                            & (rng.random(len(cit)) < rate / 4))
    for j in others:
        s = _MINORITY_SURNAMES[int(rng.integers(len(_MINORITY_SURNAMES)))]
        cnames[j] = renamed(cnames[j], s, _MINORITY_GIVENS[int(rng.integers(len(_MINORITY_GIVENS)))])
        cfathers[j] = renamed(cfathers[j], s, None) if cfathers[j] else cfathers[j]
    rec["full_name"], rec["father_name"] = rnames, rfathers
    cit["full_name"], cit["father_name"] = cnames, cfathers
    return pick


# --- the families --------------------------------------------------------------------------

# Added families are applied in this order: names are replaced (minority) before anything is
# written around them.
FAMILIES: tuple[NoiseFamily, ...] = (
    NoiseFamily("minority_names", "Thái, Khơ Mú, H'Mông names transliterated differently",
                tags=("minority_names",), apply=_minority_names, rate=0.04),
    NoiseFamily("ocr_marks", "a tone or vowel mark misread (ấ/ẩ, ư/u, đ/d) in any name",
                ("rec_ocr",), ("ocr", "ocr_parent")),
    NoiseFamily("glyph_slips", "a letter misread into no valid syllable (Nguyễu, Fhị, Nguycn)",
                tags=("glyph_slips",), apply=_glyph_slips, rate=0.03),
    NoiseFamily("tone_style", "the other tone placement (hoà/hòa) in books and population",
                ("rec_new_tone_book", "cit_tone"), ("cit_tone",)),
    NoiseFamily("tagging", "Ông/Bà/Cha: written before a parent's name",
                tags=("tagging",), apply=_tagging, rate=0.04),
    NoiseFamily("age_suffixes", "a parent's age in the name field, or only the age",
                tags=("age_suffixes",), apply=_age_suffixes, rate=0.05),
    NoiseFamily("upper_case", "whole books typed in capitals",
                tags=("upper_case",), apply=_upper_case, rate=0.06),
    NoiseFamily("merged_words", "words run together in the child's name (NguyễnVăn An)",
                ("rec_merged",), ("merged",)),
    NoiseFamily("merged_parents", "words run together in parents' names (NGUYỄNVĂN, LưuThị)",
                tags=("merged_parents",), apply=_merged_parents, rate=0.03),
    NoiseFamily("drop_middle", "a middle name left out, in the book or the population",
                ("rec_drop_middle", "cit_drop_middle"), ("drop_middle", "cit_drop_middle")),
    NoiseFamily("given_name_change", "the citizen's given name changed since the book",
                ("cit_changed_given",), ("cit_changed_given",)),
    NoiseFamily("stripped_rows", "population rows from old systems without diacritics",
                ("cit_stripped",), ("cit_stripped",)),
    NoiseFamily("year_shifts", "the birth year one off, same day and month",
                tags=("year_shifts",), apply=_year_shifts, rate=0.03),
    NoiseFamily("lunar_dates", "the lunar date written as if solar", ("rec_lunar",), ("lunar",)),
    NoiseFamily("date_slips", "a date a few days off, or day and month swapped",
                ("rec_days_off", "rec_swap", "cit_swap"), ("days_off", "swap", "cit_swap")),
    NoiseFamily("partial_dates", "only the year, or year and month, written",
                ("rec_year_only", "rec_year_month", "cit_year_only"),
                ("year_only", "year_month", "cit_year_only")),
    NoiseFamily("placeholders", "population dates of 1 January where only the year was known",
                ("cit_placeholder",), ("cit_placeholder",)),
    NoiseFamily("missing_fields", "sex, a parent or the birth place left blank",
                ("rec_no_father", "rec_no_sex", "cit_no_father", "cit_no_mother", "cit_no_place"),
                MISSING_TAGS),
)
BY_NAME = {f.name: f for f in FAMILIES}


@dataclass
class NoiseFamilies:
    """The added families that are switched on, applied in ``FAMILIES`` order."""

    enabled: frozenset[str] = field(default_factory=lambda: frozenset(BY_NAME))

    def __call__(self, ls: LinkageSet, seed: int) -> LinkageSet:
        tags = [list(filter(None, n.split(","))) for n in ls.truth["noise"].fillna("")]
        for k, fam in enumerate(FAMILIES):
            if fam.apply is None:
                continue
            rng = np.random.default_rng([seed, 2025, k])  # its own stream: see module doc
            touched = fam.apply(ls, rng, fam.rate) if fam.name in self.enabled else None
            if touched is not None:
                for i in np.flatnonzero(touched):
                    tags[i].append(fam.name)
        ls.truth["noise"] = [",".join(t) for t in tags]
        return ls


def generate_families(n_records: int, n_citizens: int, seed: int, *,
                      without: tuple[str, ...] | frozenset[str] = ()) -> LinkageSet:
    """A linkage set with every noise family except those named in ``without``.

    >>> ls = generate_families(500, 5_000, seed=3, without=("year_shifts",))
    >>> int(touched(ls, "year_shifts").sum()), bool(touched(ls, "age_suffixes").any())
    (0, True)
    """
    unknown = set(without) - set(BY_NAME)
    if unknown:
        raise ValueError(f"unknown noise families: {sorted(unknown)}")
    rates = {k: 0.0 for name in without for k in BY_NAME[name].rate_keys}
    noise = NoiseFamilies(frozenset(BY_NAME) - set(without))
    return generate_linkage(n_records, n_citizens, seed, rates=rates, noise=noise)


def touched(ls: LinkageSet, family: str) -> np.ndarray:
    """Records (rows of ``ls.truth``) that ``family`` changed."""
    tags = set(BY_NAME[family].tags)
    return np.array([bool(tags & set(n.split(","))) for n in ls.truth["noise"].fillna("")])

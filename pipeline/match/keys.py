"""Comparison keys of people on both sides of a link, computed once per distinct value.

A province has millions of citizens but only some hundred thousand distinct names and a few
thousand distinct places: keys are computed on the distinct values and spread back, so the
clean stage's careful (and slow) text functions cost seconds, not minutes.

Names are split into surname, middle and given name on their comparison keys (one tone
style, case-folded). Both sides first go through the clean stage's ``clean_name_text``, so a
population name is compared in the shape the records' names were cleaned to: an age or a
relation word written with the name dropped, glued words split by the syllable set
(``NGUYỄNVĂN``, ``LưuThị``); what that leaves glued is split where a capital follows a
small letter. A name written without any diacritics is marked as having lost them:
then ``Hung`` may be ``Hùng`` or ``Hưng``, while two marked names that fold alike but differ
(``Hùng``/``Hưng``) are different names.

The name lexicon that cleaning consults (which words are names, to split ``ĐÌNHTHẮNG`` and
to tell ``Bà`` from a surname) is the run's: learned from the population at hand
(``population_lexicon``) or stored by the import, given once and passed down to every name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from pipeline.clean.book_names import clean_name_text
from pipeline.clean.lexicon import (
    NAME_ROLES,
    NameLexicon,
    count_name_words,
    learned_name_lexicon,
    name_lexicon,
)
from pipeline.clean.syllables import is_valid_syllable
from pipeline.clean.text import folded_key, name_key


def _unglue(name: str) -> str:
    """``NguyễnVăn An`` → ``Nguyễn Văn An``: a capital after a small letter starts a word."""
    out = []
    for i, ch in enumerate(name):
        if i and ch.isupper() and name[i - 1].islower():
            out.append(" ")
        out.append(ch)
    return "".join(out)


@lru_cache(maxsize=None)
def _word_keys(word: str) -> tuple[str, str]:
    """(comparison key, folded key) of one word: a province has a few thousand distinct
    words, so the slow text functions run that many times, not once per citizen."""
    return name_key(word), folded_key(word)


def _name_parts(name: str, lexicon: NameLexicon) -> tuple[str, str, str, str, str, str, bool, bool, bool]:
    """(surname, middle, given) keys, then the same folded, then whether marks were lost, then
    whether the surname and the given name are Vietnamese syllables (a word that is not was
    misread: ``Nguyễu``, ``Hca``)."""
    pairs = [_word_keys(w) for w in _unglue(clean_name_text(name, lexicon)[0]).split()]
    pairs = [(k, f) for k, f in pairs if f]  # words of junk that fold to nothing
    if not pairs:
        return "", "", "", "", "", "", False, True, True
    words = [k.replace(" ", "") for k, _ in pairs]
    fwords = [f.replace(" ", "") for _, f in pairs]
    surname, given = words[0], words[-1] if len(words) > 1 else ""
    f_surname, f_given = fwords[0], fwords[-1] if len(fwords) > 1 else ""
    lost = len(words) >= 2 and words == fwords  # a Vietnamese full name without a single mark
    return (surname, " ".join(words[1:-1]), given, f_surname, " ".join(fwords[1:-1]), f_given, lost,
            _valid(surname), _valid(given) if given else True)


@lru_cache(maxsize=None)
def _valid(word: str) -> bool:
    return is_valid_syllable(word)


NAME_PARTS = ("sur", "mid", "giv", "fsur", "fmid", "fgiv", "lost", "vsur", "vgiv")


def name_columns(names: pd.Series, prefix: str, lexicon: NameLexicon | None = None) -> pd.DataFrame:
    """The name parts of a column of names, one computation per distinct name."""
    lexicon = lexicon or name_lexicon()
    codes, uniques = pd.factorize(names.fillna("").astype(str))
    parts = [_name_parts(u, lexicon) for u in uniques]
    table = pd.DataFrame(parts, columns=NAME_PARTS) if parts else pd.DataFrame(columns=NAME_PARTS)
    out = table.iloc[np.where(codes < 0, 0, codes)].reset_index(drop=True) if len(table) else \
        pd.DataFrame({c: [""] * len(names) for c in NAME_PARTS})
    out.columns = [f"{prefix}_{c}" for c in NAME_PARTS]
    return out


_DATE = re.compile(r"^(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?$")


def date_columns(dates: pd.Series, prefix: str, placeholders: bool = False) -> pd.DataFrame:
    """Year, month, day as integers (0 when not written) and the day number when complete.

    ``placeholders``: population extracts write ``01/01`` when only the year was known; such
    a day and month are dropped rather than trusted.
    """
    text = dates.fillna("").astype(str)
    parts = text.str.extract(_DATE).fillna("0")
    year = parts[0].astype(int).to_numpy()
    month = parts[1].astype(int).to_numpy()
    day = parts[2].astype(int).to_numpy()
    if placeholders:
        fake = (month == 1) & (day == 1)
        month, day = np.where(fake, 0, month), np.where(fake, 0, day)
    full = (year > 0) & (month > 0) & (day > 0)
    ordinal = np.zeros(len(text), dtype=np.int64)
    if full.any():
        stamps = pd.to_datetime(pd.DataFrame({"year": year[full], "month": month[full],
                                              "day": day[full]}), errors="coerce")
        ordinal[full] = (stamps - pd.Timestamp("1900-01-01")).dt.days.fillna(-10**6).to_numpy()
    return pd.DataFrame({f"{prefix}_year": year, f"{prefix}_month": month, f"{prefix}_day": day,
                         f"{prefix}_days": ordinal})


@dataclass(frozen=True)
class PlaceKey:
    commune: str  # today's commune(s) the place lies in, "|"-joined; "" when unknown
    district: str  # the district it lay in (before 2025), or ""
    province: str  # today's province, or ""


def _place_key(text: str) -> PlaceKey:
    from pipeline.clean.places import parse_place

    try:
        reading = parse_place(text)
    except Exception:  # noqa: BLE001 - a place the parser cannot read is simply unknown
        return PlaceKey("", "", "")
    unit = reading.unit
    if unit is None:
        return PlaceKey("", "", "")
    from pipeline.clean.gazetteer import load_gazetteer

    gaz = load_gazetteer()
    chain = [unit, *gaz.ancestors(unit)]
    district = next((u.id for u in chain if u.level == "district"), "")
    province = next((u.id for u in chain if u.level == "province" and not u.covers), "")
    commune = "|".join(sorted(u.id for u in reading.today if u.level == "commune")) \
        if unit.level == "commune" else ""
    return PlaceKey(commune, district, province)


def place_columns(places: pd.Series, prefix: str) -> pd.DataFrame:
    """Resolved birth places (gazetteer), one parse per distinct text."""
    codes, uniques = pd.factorize(places.fillna("").astype(str))
    keys = [_place_key(u) if u else PlaceKey("", "", "") for u in uniques]
    table = pd.DataFrame([(k.commune, k.district, k.province) for k in keys],
                         columns=["commune", "district", "province"])
    if not len(table):
        table = pd.DataFrame({"commune": [""], "district": [""], "province": [""]})
    out = table.iloc[np.where(codes < 0, 0, codes)].reset_index(drop=True)
    out.columns = [f"{prefix}_{c}" for c in out.columns]
    return out


def _with_full(names: pd.DataFrame, prefix: str) -> pd.DataFrame:
    """Whole-name keys (exact and folded) beside the parts, for the parents' comparison."""
    names[f"{prefix}_full"] = names[f"{prefix}_sur"] + " " + names[f"{prefix}_mid"] + " " + names[f"{prefix}_giv"]
    names[f"{prefix}_ffull"] = names[f"{prefix}_fsur"] + " " + names[f"{prefix}_fmid"] + " " + names[f"{prefix}_fgiv"]
    return names


def encode_pair(records: pd.DataFrame, citizens: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Both sides' text keys as int32 codes into one shared vocabulary per column.

    Equal codes mean equal text, so comparisons and blocking work on integers; a province's
    two million citizens then fit in a few hundred megabytes. A blank is -1. Returns the
    coded frames and each column's vocabulary (code → text) for similarity and frequencies.
    """
    vocab: dict[str, np.ndarray] = {}
    r_out, c_out = records.copy(), citizens.copy()
    for col in records.columns:
        if records[col].dtype.kind in "biuf" or col not in citizens:
            continue
        both = pd.concat([records[col], citizens[col]], ignore_index=True).astype(object)
        codes, uniques = pd.factorize(both.where(both != "", None))
        r_out[col] = codes[:len(records)].astype(np.int32)
        c_out[col] = codes[len(records):].astype(np.int32)
        vocab[col] = np.asarray(uniques, dtype=object)
    return r_out, c_out, vocab


def population_lexicon(full_names: pd.Series) -> NameLexicon:
    """The name lexicon learned from a population's names, as ``hotich population import``
    learns it (``pipeline.match.population.learn_name_frequencies``): counted once per
    distinct name, blended with the shipped list. Tone styles and capitals are evened out by
    the lexicon's keys."""
    counts: dict[str, dict[str, int]] = {role: {} for role in NAME_ROLES}
    for name, n in full_names.dropna().astype(str).value_counts(sort=False).items():
        count_name_words(name, counts, int(n))
    return learned_name_lexicon(counts)


def person_keys(frame: pd.DataFrame, *, population: bool, lexicon: NameLexicon | None = None
                ) -> pd.DataFrame:
    """All comparison keys of one side (records, or citizens with ``population=True``);
    ``lexicon``: the run's name lexicon (default ``name_lexicon()``)."""
    lexicon = lexicon or name_lexicon()
    blank = pd.Series([""] * len(frame))
    out = [name_columns(frame["full_name"], "n", lexicon),
           _with_full(name_columns(frame.get("father_name", blank), "f", lexicon), "f"),
           _with_full(name_columns(frame.get("mother_name", blank), "m", lexicon), "m"),
           date_columns(frame.get("birth_date", pd.Series([""] * len(frame))), "b",
                        placeholders=population),
           place_columns(frame.get("birth_place", pd.Series([""] * len(frame))), "p")]
    sex = frame.get("sex", pd.Series([""] * len(frame))).fillna("").astype(str).str.upper()
    keys = pd.concat(out, axis=1)
    keys["sex"] = sex.where(sex.isin(["M", "F"]), "").to_numpy()
    return keys

"""Word lists the corrector chooses from: name parts by position, and register vocabulary.

Loaded once per process from data/lexicon/. Keys are compared in canonical tone style, so
``Hoà`` in a book finds ``Hòa`` in a list.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pipeline.clean.text import canonical_tones, nfc

LEXICON_DIR = Path(__file__).resolve().parents[2] / "data" / "lexicon"
PLACES_FILE = Path(__file__).resolve().parents[2] / "data" / "samplegen" / "places.json"


def lexicon_key(word: str) -> str:
    """Lower-case, NFC, one tone-placement style: the form lists are looked up by."""
    return canonical_tones(nfc(word)).lower()


@dataclass(frozen=True, eq=False)  # hashed by identity: lists are built once and cached
class WordList:
    """Words of one role with a prior cost: ``-log`` of their share, 0 for the commonest."""

    words: dict[str, str]  # key → spelling to write
    prior: dict[str, float]

    def __contains__(self, word: str) -> bool:
        return lexicon_key(word) in self.words


def _word_list(weights: dict[str, float], scale: float = 0.1) -> WordList:
    top = max(weights.values()) or 1.0
    words, prior = {}, {}
    for word, weight in weights.items():
        key = lexicon_key(word)
        words[key] = nfc(word)
        prior[key] = round(scale * math.log10(top / max(weight, top * 1e-4)), 3)
    return WordList(words, prior)


@dataclass(frozen=True)
class NameLexicon:
    surnames: WordList
    middle: WordList
    given: WordList


@lru_cache(maxsize=1)
def name_lexicon() -> NameLexicon:
    data = json.loads((LEXICON_DIR / "names.json").read_text(encoding="utf-8"))
    middle = {w: 1.0 for sex in data["middle_names"].values() for w in sex}
    given = {w: 1.0 for sex in data["given_names"].values() for w in sex}
    return NameLexicon(
        surnames=_word_list(data["surnames"]),
        middle=_word_list({**given, **middle}),  # "Quang Khánh": a given name in the middle
        given=_word_list(given),
    )


@lru_cache(maxsize=1)
def place_names() -> tuple[str, ...]:
    """Commune and district names (the generator's Nghệ An list until the gazetteer lands)."""
    if not PLACES_FILE.exists():
        return ()
    places = json.loads(PLACES_FILE.read_text(encoding="utf-8"))
    names = set()
    for district, info in places.get("districts", {}).items():
        names.add(nfc(district))
        names.update(nfc(c) for c in info.get("communes", []))
    return tuple(sorted(names))


@lru_cache(maxsize=1)
def register_words() -> WordList:
    """Vocabulary of places, nationality and the other free-text fields.

    The register's own words (data/lexicon/words.json), the syllables of name parts (a
    declarant is a name) and those of commune and district names. The commune list is the
    generator's Nghệ An list until the gazetteer of issue 4 replaces it.
    """
    data = json.loads((LEXICON_DIR / "words.json").read_text(encoding="utf-8"))
    weights: dict[str, float] = {}
    for group in data["words"].values():
        for phrase in group:
            for word in phrase.replace(",", " ").split():
                weights[word] = 1.0
    names = name_lexicon()
    for wl in (names.surnames, names.given, names.middle):
        for word in wl.words.values():
            weights.setdefault(word, 1.0)
    for name in place_names():
        for word in name.split():
            weights.setdefault(word, 1.0)
    return _word_list(weights)


@lru_cache(maxsize=1)
def register_phrases() -> tuple[str, ...]:
    """Fixed expressions of several words (``Bệnh viện``, ``Trạm xá``, ``Tại nhà``)."""
    data = json.loads((LEXICON_DIR / "words.json").read_text(encoding="utf-8"))
    skip = {"ethnicities", "nationalities"}
    return tuple(sorted({nfc(p) for group, phrases in data["words"].items() if group not in skip
                         for p in phrases if " " in p}))


@lru_cache(maxsize=1)
def closed_values() -> dict[str, list[str]]:
    """Fields whose whole value comes from a short list: ethnicity, nationality."""
    data = json.loads((LEXICON_DIR / "words.json").read_text(encoding="utf-8"))
    return {"ethnicity": data["words"]["ethnicities"], "nationality": data["words"]["nationalities"]}


@lru_cache(maxsize=1)
def ethnicity_names() -> dict[str, str]:
    """Other names of the official ethnic groups (``Mèo`` → ``H'Mông``), by ``spelling_key``."""
    data = json.loads((LEXICON_DIR / "ethnicity_names.json").read_text(encoding="utf-8"))
    official = {spelling_key(name): nfc(name) for name in closed_values()["ethnicity"]}
    names = {spelling_key(other): nfc(name) for other, name in data["names"].items()}
    return {**names, **official}


def spelling_key(text: str) -> str:
    """A name with its hyphens, apostrophes and spaces gone, lower case, marks kept:
    ``H'Mông``, ``Hmông`` and ``HMông`` are one spelling, ``Mường`` and ``Mương`` are not.

        >>> spelling_key("Khơ-mú") == spelling_key("Khơ Mú") == "khơmú"
        True
    """
    kept = "".join(c for c in nfc(text) if c.isalnum())
    return nfc(canonical_tones(kept).casefold())

"""Word lists the corrector chooses from: name parts by position, and register vocabulary.

Loaded once per process from data/lexicon/. Keys are compared in canonical tone style, so
``Hoà`` in a book finds ``Hòa`` in a list.

The name lists shipped there (367 given names) are far smaller than what a province's books
hold. ``hotich population import`` counts the family, middle and given names of the imported
citizens (``pipeline.match.population``); ``learned_name_lexicon`` turns those counts into a
``NameLexicon`` blended with the shipped one. A stage loads it once per run and either passes
it down (the matcher does) or makes it the one ``name_lexicon()`` returns while it cleans
(``using_name_lexicon``): nothing reads it per record, and nothing installs it for good, so
one run's population does not leak into the next.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pipeline.clean.text import canonical_tones, nfc, strip_marks

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


@dataclass(frozen=True, eq=False)  # hashed by identity: the caches of book_names key on it
class NameLexicon:
    surnames: WordList
    middle: WordList
    given: WordList
    #: "shipped", or "population" when learned from imported citizens (blended with shipped)
    source: str = "shipped"
    citizens: int = 0  # names counted, for a learned lexicon
    #: the counts it was learned from, hashed: a worker given the same lexicon with every
    #: page task keeps the one installed (and the caches built on it)
    fingerprint: str = "shipped"


#: Roles of a name's words as counted from the population: first, between, last.
NAME_ROLES = ("family", "middle", "given")
#: A word the shipped list does not have enters a learned lexicon only once seen this often:
#: a population extract has typing slips too (``Nguyến``), and one occurrence in hundreds of
#: thousands of names must not make a slip a name the corrector will write into a record.
MIN_NEW_WORD_COUNT = 2
#: How many citizens the shipped list counts as when blended with a population's counts.
#: Below a few thousand names the counts say little about how rare a name is (a commune of
#: 300 people has no Khánh, the province has hundreds), so the shipped list, spread over this
#: many pseudo-citizens, keeps every shipped word and dominates a tiny population; a
#: province's hundreds of thousands of citizens outweigh it and their frequencies decide.
SHIPPED_PSEUDO_COUNT = 5000.0


def _shipped_weights() -> dict[str, dict[str, float]]:
    """The shipped list's words per role with their weights (surnames by frequency)."""
    data = json.loads((LEXICON_DIR / "names.json").read_text(encoding="utf-8"))
    middle = {w: 1.0 for sex in data["middle_names"].values() for w in sex}
    given = {w: 1.0 for sex in data["given_names"].values() for w in sex}
    return {"family": {w: float(v) for w, v in data["surnames"].items()},
            "middle": {**given, **middle},  # "Quang Khánh": a given name in the middle
            "given": given}


@lru_cache(maxsize=1)
def shipped_name_lexicon() -> NameLexicon:
    """The lists shipped under data/lexicon/: the fallback when no population was imported."""
    w = _shipped_weights()
    return NameLexicon(surnames=_word_list(w["family"]), middle=_word_list(w["middle"]),
                       given=_word_list(w["given"]))


_installed: NameLexicon | None = None
_interned: dict[str, NameLexicon] = {}  # fingerprint → the first object seen with it
_INTERNED_MOST = 4


def _intern(lexicon: NameLexicon) -> NameLexicon:
    """The object already seen with these counts: a worker unpickles the lexicon with every
    page task, and the caches of book_names and ``register_words`` are keyed on the object."""
    known = _interned.get(lexicon.fingerprint)
    if known is not None:
        return known
    if len(_interned) >= _INTERNED_MOST:
        _interned.pop(next(iter(_interned)))
    _interned[lexicon.fingerprint] = lexicon
    return lexicon


def install_name_lexicon(lexicon: NameLexicon | None) -> None:
    """Make ``lexicon`` the one ``name_lexicon()`` returns in this process (None: shipped).

    For a stage driver that loaded it once for its run (``using_name_lexicon`` restores the
    previous one after), never per record.
    """
    global _installed
    _installed = None if lexicon is None else _intern(lexicon)


@contextmanager
def using_name_lexicon(lexicon: NameLexicon | None) -> Iterator[NameLexicon]:
    """``name_lexicon()`` is ``lexicon`` (None: the one already in use) inside the block.

    How a stage cleans with the lexicon learned from the population: the driver loads it
    once (``pipeline.match.population.load_name_lexicon``), the worker wraps its page in this.

        >>> learned = learned_name_lexicon({"given": {"Tèo": 3}, "family": {"Lê": 3}})
        >>> with using_name_lexicon(learned):
        ...     "Tèo" in name_lexicon().given
        True
        >>> "Tèo" in name_lexicon().given
        False
    """
    previous = _installed
    if lexicon is not None:
        install_name_lexicon(lexicon)
    try:
        yield name_lexicon()
    finally:
        install_name_lexicon(previous)


def name_lexicon() -> NameLexicon:
    """The name lexicon of this process: the installed (learned) one, else the shipped one."""
    return _installed if _installed is not None else shipped_name_lexicon()


def _blend(counts: dict[str, int], shipped: dict[str, float]) -> dict[str, float]:
    """Population counts plus the shipped list as ``SHIPPED_PSEUDO_COUNT`` pseudo-citizens.

    Counts are keyed by ``lexicon_key`` with the spelling seen most often; a word that is
    not shipped needs ``MIN_NEW_WORD_COUNT`` occurrences.
    """
    total = sum(shipped.values()) or 1.0
    out: dict[str, float] = {}
    spelling: dict[str, str] = {}
    for word, weight in shipped.items():
        key = lexicon_key(word)
        spelling.setdefault(key, nfc(word))
        out[key] = out.get(key, 0.0) + SHIPPED_PSEUDO_COUNT * weight / total
    for word, n in counts.items():
        key = lexicon_key(word)
        if key not in out and n < MIN_NEW_WORD_COUNT:
            continue
        spelling.setdefault(key, nfc(word))
        out[key] = out.get(key, 0.0) + n
    return {spelling[k]: v for k, v in out.items()}


def learned_name_lexicon(counts: dict[str, dict[str, int]]) -> NameLexicon:
    """A name lexicon from a population's counts (``{"family"|"middle"|"given": {word: n}}``,
    words as spelt, one tone style) blended with the shipped list (``_blend``).

    A given name also stands in the middle (``Quang Khánh``), so the middle list counts both.

        >>> lex = learned_name_lexicon({"family": {"Nguyễn": 9}, "middle": {"Văn": 9},
        ...                             "given": {"Khởi": 5, "Xíu": 1}})
        >>> "Khởi" in lex.given, "Xíu" in lex.given, "Hoa" in lex.given, lex.source
        (True, False, True, 'population')
    """
    shipped = _shipped_weights()
    family, middle, given = (counts.get(role, {}) for role in NAME_ROLES)
    middle_all = dict(given)
    for word, n in middle.items():
        middle_all[word] = middle_all.get(word, 0) + n
    citizens = sum(given.values())
    digest = hashlib.sha256(json.dumps([family, middle, given], sort_keys=True,
                                       ensure_ascii=False).encode()).hexdigest()[:16]
    return NameLexicon(surnames=_word_list(_blend(family, shipped["family"])),
                       middle=_word_list(_blend(middle_all, shipped["middle"])),
                       given=_word_list(_blend(given, shipped["given"])),
                       source="population", citizens=citizens, fingerprint=digest)


@lru_cache(maxsize=1 << 16)  # a province has some thousands of distinct words
def _has_marks(word: str) -> bool:
    return strip_marks(word) != word


@lru_cache(maxsize=1 << 16)
def _is_name_word(word: str) -> bool:
    """Letters, with the hyphens and apostrophes of minority names (``H'Hen``, ``Y-Moan``)."""
    return len(word) <= MAX_WORD_CHARS and any(ch.isalpha() for ch in word) \
        and all(ch.isalpha() or ch in "-'’" for ch in word)


#: Longer is no name word (the database column's width).
MAX_WORD_CHARS = 64


def count_name_words(name: str, counts: dict[str, dict[str, int]], times: int = 1) -> None:
    """Add one cleaned full name (``times`` people) to per-role word counts, in place.

    The first word is the family name, the last the given name, the words between the
    middle name; a name of one word says nothing about its role and is not counted.

        >>> c = {"family": {}, "middle": {}, "given": {}}
        >>> count_name_words("Nguyễn Văn Quang Khánh", c, 2); c["middle"]
        {'Văn': 2, 'Quang': 2}
        >>> count_name_words("Nguyen Van Tuong", c); "Tuong" in c["given"]
        False
    """
    words = name.split()
    if len(words) < 2 or not all(_is_name_word(w) for w in words):
        return  # a name with digits or stray signs is a slip, not evidence of names
    if not any(_has_marks(w) for w in words):
        # Typed without any diacritics (an extract's ``Nguyen Van Tuong``): its words are
        # Nguyễn and Tường that lost their marks, and as names of their own they would let the
        # cleaner split ``Dưong`` into ``Dư`` + ``ong`` (measured on the families bench).
        return
    for role, part in (("family", words[:1]), ("middle", words[1:-1]), ("given", words[-1:])):
        table = counts[role]
        for word in part:
            table[word] = table.get(word, 0) + times


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


def register_words() -> WordList:
    """Vocabulary of places, nationality and the other free-text fields.

    The register's own words (data/lexicon/words.json), the syllables of name parts (a
    declarant is a name) and those of commune and district names. The commune list is the
    generator's Nghệ An list until the gazetteer of issue 4 replaces it. Built once per name
    lexicon in use (the learned one brings its names).
    """
    return _register_words(name_lexicon())


@lru_cache(maxsize=4)
def _register_words(names: NameLexicon) -> WordList:
    data = json.loads((LEXICON_DIR / "words.json").read_text(encoding="utf-8"))
    weights: dict[str, float] = {}
    for group in data["words"].values():
        for phrase in group:
            for word in phrase.replace(",", " ").split():
                weights[word] = 1.0
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

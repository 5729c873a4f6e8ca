"""OCR post-correction: the most likely valid reading of a misread name, place or word.

A token is questioned when it cannot be a Vietnamese syllable (``Nguuễn``, ``7rần``), or when
the OCR was unsure and the token is not what its position usually holds (``Nguyên`` read where
a surname stands, where ``Nguyễn`` is forty times likelier). Candidates come from the lexicon
of that position, scored by ``ocr_distance`` plus a frequency prior; the best replaces the
token only when it is close and clearly ahead of the runner-up. Every change is reported in a
note; the caller keeps the raw reading.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from pipeline.clean.distance import JUNK, ocr_distance
from pipeline.clean.lexicon import (
    WordList,
    closed_values,
    ethnicity_names,
    lexicon_key,
    name_lexicon,
    place_names,
    register_phrases,
    register_words,
    spelling_key,
)
from pipeline.clean.syllables import all_syllables, is_valid_syllable
from pipeline.clean.text import folded_key, strip_marks

UNSURE_BELOW = 0.80  # OCR confidence under which a valid but unexpected token is questioned
MARGIN = 0.15  # the best reading must beat the runner-up by this much
NEAR = 0.35  # how far a valid token may move: marks only (tone + one shape mark)
PHRASE_NEAR = 0.6  # a whole fixed expression may move by one hand-writing slip
NOT_IN_LIST = 0.35  # prior cost of a syllable that no list of this position holds

SPELLING = "Cách viết khác"  # reason of a correction that only respells (Hmông → H'Mông)

_DIGIT_LOOKS = str.maketrans("0123456789", "olzeasotbg")


@dataclass(frozen=True)
class Correction:
    value: str
    changes: tuple[tuple[str, str], ...]
    reason: str = "Sửa theo từ điển"

    @property
    def note(self) -> str:
        return f"{self.reason}: " + ", ".join(f"{a} → {b}" for a, b in self.changes)


def _fold(word: str) -> str:
    return strip_marks(word.lower()).replace("đ", "d").translate(_DIGIT_LOOKS)


@lru_cache(maxsize=8)
def _folded_index(keys: tuple[str, ...]) -> dict[str, list[str]]:
    index: dict[str, list[str]] = {}
    for key in keys:
        index.setdefault(_fold(key), []).append(key)
    return index


def _candidates(read: str, keys: tuple[str, ...]) -> list[str]:
    """Keys within two or three plain edits of ``read`` once marks and digits are folded."""
    index = _folded_index(keys)
    cutoff = 2 if len(read) <= 4 else 3
    hits = process.extract(_fold(read), list(index), scorer=Levenshtein.distance,
                           score_cutoff=cutoff, limit=40)
    return [key for folded, _, _ in hits for key in index[folded]]


@lru_cache(maxsize=20000)
def _best(read: str, words: WordList, any_syllable: bool, unsure: bool) -> str | None:
    """Lexicon key to write for token ``read`` (lower-case, canonical tones), or None."""
    if read in words.words:
        return None
    valid = is_valid_syllable(read)
    if valid and not unsure:
        return None
    scored: dict[str, float] = {}
    for key in _candidates(read, tuple(words.words)):
        scored[key] = ocr_distance(read, key) + words.prior[key]
    if any_syllable and not valid:
        for key in _candidates(read, all_syllables()):
            scored.setdefault(key, ocr_distance(read, key) + NOT_IN_LIST)
    if not scored:
        return None
    ranked = sorted(scored.items(), key=lambda kv: kv[1])
    best, cost = ranked[0]
    limit = NEAR if valid else min(1.2, 0.5 + 0.12 * len(read))
    if cost > limit:
        return None
    if len(ranked) > 1 and round(ranked[1][1] - cost, 3) < MARGIN:
        return None
    return best


def _with_case(token: str, spelling: str) -> str:
    letters = [c for c in token if c.isalpha()]
    if len(letters) > 1 and all(c.isupper() for c in letters):
        return spelling.upper()
    if token[:1].isupper() or not token[:1].isalpha():
        return spelling[:1].upper() + spelling[1:]
    return spelling.lower()


def _fix_token(token: str, words: WordList, *, any_syllable: bool, unsure: bool) -> str:
    read = lexicon_key(token)
    key = _best(read, words, any_syllable, unsure)
    if key is None:
        return token
    return _with_case(token, words.words.get(key, key))


def correct_name(name: str, confidence: float) -> Correction | None:
    """A person's name with misread parts replaced by their likeliest valid reading.

        >>> correct_name("Nguuễn Văn 7rần", 0.5).value
        'Nguyễn Văn Trần'
        >>> correct_name("Nguyên Thị Lộc", 0.3).value
        'Nguyễn Thị Lộc'
        >>> correct_name("Nguyên Thị Lộc", 0.95) is None   # sure OCR: a rare surname stays
        True
        >>> correct_name("Lệ Văn Phương", 0.5).value
        'Lê Văn Phương'

    A short junk token before a recognised surname (``Ms Hoàng …``, what a leader line or a
    label's tail leaves) is dropped.
    """
    lex = name_lexicon()
    unsure = confidence < UNSURE_BELOW
    tokens = name.split()
    changes: list[tuple[str, str]] = []
    if (len(tokens) >= 3 and tokens[0] not in lex.surnames and len(tokens[0]) <= 2
            and _fix_token(tokens[0], lex.surnames, any_syllable=False, unsure=True)
            not in lex.surnames):  # "Lệ Văn Phương" is Lê misread, not junk before "Văn"
        second = _fix_token(tokens[1], lex.surnames, any_syllable=False, unsure=True)
        if second in lex.surnames:
            changes.append((tokens[0], ""))
            tokens = tokens[1:]
    out = []
    for i, token in enumerate(tokens):
        if len(tokens) == 1 or i == len(tokens) - 1:
            words = lex.given
        elif i == 0:
            words = lex.surnames
        else:
            words = lex.middle
        fixed = _fix_token(token, words, any_syllable=words is not lex.surnames, unsure=unsure)
        if fixed == token and words is lex.middle and len(tokens) > 2:
            fixed = _marked_middle(token, tokens)
        if fixed != token:
            changes.append((token, fixed))
        out.append(fixed)
    if not changes:
        return None
    return Correction(" ".join(out), tuple(changes))


def _marked_middle(token: str, tokens: list[str]) -> str:
    """``Thi`` → ``Thị`` in the middle of a name written with marks: a middle name that no
    list holds, whose marks alone were lost, and that only one listed middle name folds to.

    ``Thi`` is a valid syllable, so the corrector would keep it; but as a middle name it is
    ``Thị`` with the dot missed, and the matcher keys it so. Called by ``correct_name`` only,
    whose note sends the name to a reviewer: a valid reading is never replaced silently.
    A name without any mark (``Nguyen Thi Hoa``) is left whole: it lost every mark, and the
    matcher compares it folded.

        >>> _marked_middle("Thi", ["Nguyễn", "Thi", "Hoa"]), _marked_middle("Thi", ["Nguyen", "Thi", "Hoa"])
        ('Thị', 'Thi')
    """
    lex = name_lexicon()
    if token in lex.middle or not is_valid_syllable(token) or _fold(token) != token.lower():
        return token
    if all(_fold(t) == t.lower() for t in tokens):
        return token
    hits = _folded_index(tuple(lex.middle.words)).get(_fold(token), [])
    if len(hits) != 1:
        return token
    return _with_case(token, lex.middle.words[hits[0]])


def _near_words(token: str, words: WordList, within: float = 0.2) -> list[str]:
    read = lexicon_key(token)
    near = [k for k in _candidates(read, tuple(words.words)) if ocr_distance(read, k) <= within]
    return [words.words[k] for k in near]


def doubts(value: str, *, name: bool) -> str | None:
    """Why a reading that needs no correction should still be seen by a person, or None.

    OCR can be sure of a wrong tone mark (``Ty`` for ``Tỵ``, ``Đỉnh`` for ``Đinh``): a part
    that no list holds while a listed word is one mark away is shown with that word, and a
    surname outside the list of surnames is shown as rare.

        >>> doubts("Đỉnh Thị Nhạn", name=True)
        'Họ ít gặp: Đỉnh (gần: Đinh)'
        >>> doubts("Nguyễn Văn Đình Ty", name=True)
        'Có thể là: Ty → Tý/Tỵ'
    """
    notes = []
    tokens = value.split()
    lex = name_lexicon()
    for i, token in enumerate(tokens):
        core = token.strip(",.;()")
        if not core or not core[0].isalpha():
            continue
        if name and i == 0 and len(tokens) > 1:
            if core not in lex.surnames:
                near = _near_words(core, lex.surnames, 0.35)
                notes.append(f"Họ ít gặp: {core}" + (f" (gần: {'/'.join(near)})" if near else ""))
            continue
        words = (lex.given if i == len(tokens) - 1 else lex.middle) if name else register_words()
        if core not in words and core.lower() not in words:
            near = sorted({_with_case(core, w) for w in _near_words(core, words)})
            if near:
                notes.append(f"Có thể là: {core} → {'/'.join(near)}")
    return "; ".join(notes) or None


_TOKEN = re.compile(r"^([\W_]*?)([^\W_](?:.*[^\W_])?)?([\W_]*)$")
_NUMBERED_UNITS = {"xóm", "đội", "tổ", "khối", "số", "thôn", "khu", "bản"}
_NUMBER_LOOKS = str.maketrans({"o": "0", "O": "0", "ơ": "0", "ó": "6", "Ó": "6", "ò": "6",
                               "ổ": "8", "Ổ": "8", "l": "1",
                               "I": "1", "i": "1", "|": "1", "S": "5", "s": "5", "B": "8"})
_UNIT_BEFORE_NAME = {"xã", "huyện", "tỉnh", "phường", "quận", "htx", "thị trấn", "thị xã",
                     "thành phố"}


def _number_after_unit(token: str) -> str | None:
    core = token.rstrip(",.;")
    if 0 < len(core) <= 3:
        digits = core.translate(_NUMBER_LOOKS)
        if digits.isdigit() and digits != core:
            return digits + token[len(core):]
    return None


def correct_text(text: str, confidence: float, *, place: bool = False) -> Correction | None:
    """Free text (places, declarants, causes) with misread words replaced.

        >>> correct_text("Xóm ó, xã Võ Liệt", 0.4, place=True).value
        'Xóm 6, xã Võ Liệt'
        >>> correct_text("Bệnh viên huyện Nam Đân", 0.4, place=True).value
        'Bệnh viện huyện Nam Đàn'
        >>> correct_text("Trạm xó xã Hưng Long", 0.4, place=True).value
        'Trạm xá xã Hưng Long'
    """
    words = register_words()
    unsure = confidence < UNSURE_BELOW
    changes: list[tuple[str, str]] = []
    tokens = _fix_phrases(text.split(), changes, unsure)
    out: list[str] = []
    for token in tokens:
        prev = lexicon_key(out[-1].rstrip(",.;")) if out else ""
        lead, core, tail = _TOKEN.match(token).groups()
        fixed = token
        if prev in _NUMBERED_UNITS and (number := _number_after_unit(token)) is not None:
            fixed = number
        elif core and not core.isdigit():
            if not core.isupper() or len(core) > 3:  # HTX, UBND: abbreviations stay
                clean = "".join(c for c in core if c not in JUNK) or core
                new = _fix_token(clean, words, any_syllable=False, unsure=unsure)
                if new != core:
                    fixed = lead + new + tail
        if place and prev in _UNIT_BEFORE_NAME and fixed[:1].islower():
            fixed = fixed[:1].upper() + fixed[1:]
        if fixed != token:
            changes.append((token, fixed))
        out.append(fixed)
    if place:
        out = _fix_place_names(out, changes, unsure)
    if not changes:
        return None
    return Correction(" ".join(out), tuple(changes))


def _fix_phrases(tokens: list[str], changes: list, unsure: bool) -> list[str]:
    """``Bệnh viên`` → ``Bệnh viện``: fixed expressions matched as a whole, marks only.

    Each word of ``Bệnh viên`` is a valid syllable (and Viên a surname); only the pair shows
    the slip.
    """
    out = list(tokens)
    for phrase in register_phrases():
        want = phrase.split()
        k = len(want)
        for i in range(len(out) - k + 1):
            window = out[i:i + k]
            tail = window[-1][len(window[-1].rstrip(",.;")):]
            got = " ".join(window)[:len(" ".join(window)) - len(tail) or None]
            if lexicon_key(got) == lexicon_key(phrase):
                continue
            valid = all(is_valid_syllable(t) for t in got.split())
            if valid and not unsure:
                continue
            if ocr_distance(got.lower(), phrase.lower()) <= _phrase_limit(phrase):
                fixed = [_with_case(g, w) for g, w in zip(got.split(), want)]
                fixed[-1] += tail
                changes.append((got, " ".join(fixed).rstrip(",.;")))
                out[i:i + k] = fixed
    return out


def _phrase_limit(phrase: str) -> float:
    """How far a reading may be from a fixed expression: one hand-writing slip (a/o, a/u:
    "Trạm xó") in an expression of six letters or more, where a whole phrase so near is
    evidence enough; a short one ("Lộc Hà") only as near as a single word."""
    letters = sum(c.isalpha() for c in phrase)
    return NEAR if letters < 6 else min(PHRASE_NEAR, 0.1 * letters)


def _fix_place_names(tokens: list[str], changes: list, unsure: bool) -> list[str]:
    """The words after ``xã``/``huyện`` matched as a whole against known unit names."""
    names = place_names()
    out = list(tokens)
    i = 0
    while i < len(out):
        if lexicon_key(out[i].rstrip(",")) in ("xã", "huyện") and i + 1 < len(out):
            j = i + 1
            while j < len(out) and not out[j - 1].endswith(",") and j - i <= 3:
                j += 1
            phrase = " ".join(out[i + 1:j]).rstrip(",")
            tail = "," if out[j - 1].endswith(",") else ""
            found = _best_phrase(phrase, names, unsure)
            if found and found != phrase:
                changes.append((phrase, found))
                out[i + 1:j] = (found + tail).split()
        i += 1
    return out


def _best_phrase(phrase: str, names: tuple[str, ...], unsure: bool) -> str | None:
    if phrase in names or not phrase:
        return None
    if all(is_valid_syllable(t) for t in phrase.split()) and not unsure:
        return None
    hits = process.extract(folded_key(phrase), {n: folded_key(n) for n in names},
                           scorer=Levenshtein.distance, score_cutoff=3, limit=10)
    scored = sorted((ocr_distance(phrase, name), name) for _, _, name in hits)
    if not scored or scored[0][0] > min(1.0, 0.1 * len(phrase)):
        return None
    if len(scored) > 1 and scored[1][0] - scored[0][0] < MARGIN:
        return None
    return scored[0][1]


def in_closed_list(field: str, text: str) -> bool:
    """False when a field with a short list of values holds something not on it."""
    choices = closed_values().get(field)
    return choices is None or lexicon_key(text) in {lexicon_key(c) for c in choices}


def correct_closed(field: str, text: str) -> Correction | None:
    """Ethnicity or nationality matched as a whole against its short list.

        >>> correct_closed("nationality", "Việt. Nai").value
        'Việt Nam'
        >>> fix = correct_closed("ethnicity", "Mèo"); fix.value, fix.note
        ("H'Mông", "Tên gọi khác của dân tộc: Mèo → H'Mông")
        >>> correct_closed("ethnicity", "Khơ-mú").value
        'Khơ Mú'
    """
    choices = closed_values().get(field)
    if not choices or text in choices:
        return None
    if field == "ethnicity":
        official = ethnicity_names().get(spelling_key(text))
        if official is not None:  # Hmông, Khơ-mú: a spelling; Mèo, Mán: an older name
            same = spelling_key(official) == spelling_key(text)
            return Correction(official, ((text, official),),
                              SPELLING if same else "Tên gọi khác của dân tộc")
    scored = sorted((ocr_distance(text, c), c) for c in choices)
    best_cost, best = scored[0]
    if best_cost > max(0.6, 0.3 * len(best)) or (len(scored) > 1
                                                and scored[1][0] - best_cost < MARGIN):
        return None
    return Correction(best, ((text, best),))

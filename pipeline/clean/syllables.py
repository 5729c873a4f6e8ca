"""Vietnamese syllable orthography: which written syllables can exist at all.

A Vietnamese syllable is an onset, a rhyme and one of six tones, and the spelling rules are
closed (``k``/``gh``/``ngh`` before front vowels, stop codas take only the sắc or nặng tone).
So a token OCR produced can be checked without a dictionary: ``Nguuễn``, ``Tuụên`` and
``7rần`` cannot be Vietnamese, ``Nguyên`` can. The set is built from these rules, not copied
from a word list; it admits some syllables nobody writes, which only makes the checker lenient.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

TONE_MARKS = {"\u0300": "huyền", "\u0301": "sắc", "\u0303": "ngã", "\u0309": "hỏi", "\u0323": "nặng"}

_ONSETS = ("", "b", "c", "ch", "d", "đ", "g", "gh", "gi", "h", "k", "kh", "l", "m", "n", "ng",
           "ngh", "nh", "p", "ph", "qu", "r", "s", "t", "th", "tr", "v", "x")

# Rhymes as written after an ordinary onset (the medial o/u included), toneless.
_RHYMES = """
a ai ao au ay am an ang anh ap at ac ach
ăm ăn ăng ăp ăt ăc
âu ây âm ân âng âp ât âc
e eo em en eng ep et ec
ê êu êm ên ênh êp êt êch
i ia iu im in inh ip it ich
iêu iêm iên iêng iêp iêt iêc
o oi om on ong op ot oc ooc oong
ô ôi ôm ôn ông ôp ôt ôc
ơ ơi ơm ơn ơp ơt
u ua ui um un ung up ut uc
uôi uôm uôn uông uôt uôc
ư ưa ưi ưu ưm ưn ưng ưt ưc
ươi ươu ươm ươn ương ươp ươt ươc
y
oa oai oao oay oan oang oanh oap oat oac oach
oăm oăn oăng oăt oăc
oe oeo oen oet
uân uâng uât uây
uê uênh uêch uơ
uy uya uyu uych uyn uynh uyp uyt uyên uyêt
""".split()

# After "qu" the u is spent: quân = qu + ân, quyên = qu + yên, quốc = qu + ôc.
_QU_RHYMES = """
a ai an ang anh at ac ach ay ao au am ăm ăn ăng ăt ăc âm ân âng ât âc ây âu
e eo en et em ê ên êt ênh êch y yên yêt ynh yt ych yn yp ơ ơi ơn ơt ôc ôn ôi
""".split()

# With no onset, "iê" is written "yê" (yên, yêu), and "y" can stand alone.
_BARE_ONLY = {"yêu", "yêm", "yên", "yêt", "yêng"}

_FRONT = ("i", "e", "ê", "y")
_STOP_CODAS = ("p", "t", "c", "ch")
_TONES_AFTER_STOP = {"", "sắc", "nặng"}


def split_tone(syllable: str) -> tuple[str, str]:
    """The toneless syllable (shape marks kept) and its tone name ('' for ngang).

    >>> split_tone("Nguyễn")
    ('Nguyên', 'ngã')
    """
    decomposed = unicodedata.normalize("NFD", syllable)
    tones = [TONE_MARKS[c] for c in decomposed if c in TONE_MARKS]
    base = unicodedata.normalize("NFC", "".join(c for c in decomposed if c not in TONE_MARKS))
    return base, (tones[0] if len(tones) == 1 else ("?" if tones else ""))


def _onset_fits(onset: str, rhyme: str) -> bool:
    front = rhyme.startswith(_FRONT) and not rhyme.startswith(("ia", "iu")) or rhyme in ("ia", "iu")
    if onset in ("k", "gh", "ngh"):
        return front
    if onset in ("c", "g", "ng"):
        return not front or onset == "g" and rhyme.startswith("i")  # gì, gìn: "gi" + vowel
    if onset == "gi":
        return not rhyme.startswith(("i", "y"))
    return True


@lru_cache(maxsize=1)
def _toneless_set() -> frozenset[str]:
    out: set[str] = set()
    for onset in _ONSETS:
        if onset == "qu":
            out.update("qu" + r for r in _QU_RHYMES)
            continue
        for rhyme in _RHYMES:
            if rhyme in _BARE_ONLY:
                continue
            if _onset_fits(onset, rhyme):
                out.add(onset + rhyme)
        if onset == "":
            out.update(_BARE_ONLY)
    out.update({"gi", "gin", "giêng"})  # gi + i merges: gì, gìn, giêng
    out.discard("iêu")  # bare "iê" is spelled yê
    out -= {"iêm", "iên", "iêng", "iêp", "iêt", "iêc"}
    return frozenset(out)


_WORD = re.compile(r"[^\W\d_]+")


def is_valid_syllable(token: str) -> bool:
    """True when ``token`` (any case) is a possible Vietnamese syllable.

    >>> [is_valid_syllable(t) for t in ("Nguyễn", "NGUYÊN", "Nguuễn", "quốc", "tiếp", "tiềp")]
    [True, True, False, True, True, False]
    """
    if not _WORD.fullmatch(token or ""):
        return False
    base, tone = split_tone(token.lower())
    if tone == "?" or base not in _toneless_set():
        return False
    if base.endswith(_STOP_CODAS) and tone not in _TONES_AFTER_STOP:
        return False
    return True


@lru_cache(maxsize=1)
def all_syllables() -> tuple[str, ...]:
    """Every lower-case syllable the rules allow, with its tones (about 15 000)."""
    marks = [""] + list(TONE_MARKS)
    out = []
    for base in sorted(_toneless_set()):
        for mark in marks:
            word = _place_tone(base, mark)
            if is_valid_syllable(word):
                out.append(word)
    return tuple(out)


_NUCLEUS = re.compile(r"(?:^(?:qu|gi)(?=[aăâeêioôơuưy]))?([aăâeêioôơuưy]+)")


def _place_tone(base: str, mark: str) -> str:
    """Put a tone mark where ``canonical_tones`` puts it (hòa, thủy, but hoàn, thuận)."""
    if not mark:
        return base
    m = _NUCLEUS.search(base)
    if not m:
        return base
    start, vowels = m.start(1), m.group(1)
    coda = base[m.end(1):]
    shaped = [i for i, c in enumerate(vowels) if c in "ăâêôơư"]
    if shaped:
        pos = shaped[-1]
    elif len(vowels) == 1:
        pos = 0
    elif coda or len(vowels) == 3:
        pos = len(vowels) - 1 if coda else 1
    else:
        pos = 0  # hòa, thủy: the project's canonical style (clean.text.canonical_tones)
    i = start + pos
    return unicodedata.normalize("NFC", base[: i + 1] + mark + base[i + 1:])

"""Vietnamese text rules: NFC, tone-placement canonicalisation, comparison and folded keys.

This is the only module that knows how Vietnamese letters are built (STYLE.md): every other
stage calls it rather than poking at combining marks itself.
"""

from __future__ import annotations

import re
import unicodedata

# Combining marks, split by role. Tone marks move between vowels; shape marks (circumflex,
# breve, horn) belong to their letter and decide where the tone goes.
_TONES = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}  # huyền sắc ngã hỏi nặng
_SHAPES = {"\u0302", "\u0306", "\u031b"}  # â/ê/ô, ă, ơ/ư
_VOWELS = set("aeiouy")

_SPACES = re.compile(r"\s+")


def nfc(s: str) -> str:
    """NFC form; OCR engines and old keyboards (VNI, decomposed Unicode) mix both forms.

    >>> nfc("Nguye\u0302\u0303n") == "Nguyễn"
    True
    """
    return unicodedata.normalize("NFC", s)


def collapse_spaces(s: str) -> str:
    """Trim and turn every run of whitespace (tabs, NBSP, newlines of a wrapped cell) into one space.

    >>> collapse_spaces("  Nguyễn \\u00a0 Văn\\nAn ")
    'Nguyễn Văn An'
    """
    return _SPACES.sub(" ", s).strip()


# --- tone placement ---------------------------------------------------------------------

def _clusters(s: str) -> list[tuple[str, list[str], list[str]]]:
    """Split NFD text into (base, shape marks, tone marks) per base character."""
    out: list[tuple[str, list[str], list[str]]] = []
    for ch in unicodedata.normalize("NFD", s):
        if unicodedata.combining(ch) and out:
            base, shapes, tones = out[-1]
            (tones if ch in _TONES else shapes).append(ch)
        else:
            out.append((ch, [], []))
    return out


def _tone_position(word: list[tuple[str, list[str], list[str]]]) -> int | None:
    """Index (within ``word``) of the vowel that carries the tone, or None if not a syllable."""
    letters = [base.lower() for base, _, _ in word]
    n = len(letters)
    i = 0
    while i < n and letters[i] not in _VOWELS:
        i += 1
    onset = "".join(letters[:i])
    # "qu" and "gi" onsets: their u / i is part of the consonant, not of the vowel nucleus.
    if onset == "q" and i < n and letters[i] == "u" and not word[i][1]:
        i += 1
    elif (onset == "g" and i + 1 < n and letters[i] == "i" and not word[i][1]
          and letters[i + 1] in _VOWELS):
        i += 1
    start = i
    while i < n and letters[i] in _VOWELS:
        i += 1
    nucleus = list(range(start, i))
    if not nucleus or any(letter in _VOWELS for letter in letters[i:]):
        return None  # no vowel, or vowels split by a consonant: not one syllable
    if any(not letters[j].isalpha() for j in range(n)):
        return None
    shaped = [j for j in nucleus if word[j][1]]
    if shaped:
        return shaped[-1]  # ươ → ơ, uyê → ê, uâ → â: the shaped vowel always takes it
    if i < n:
        return nucleus[-1]  # closed syllable: hoàn, toán, huỳnh
    if len(nucleus) == 1:
        return nucleus[0]
    if len(nucleus) == 2:
        return nucleus[0]  # open: hòa, thủy, khỏe, mái
    return nucleus[1]  # oai, oay, uya, uyu: the middle one


def _retone_word(word: list[tuple[str, list[str], list[str]]]) -> str:
    text = "".join(b + "".join(s) + "".join(t) for b, s, t in word)
    toned = [j for j, (_, _, tones) in enumerate(word) if tones]
    if len(toned) != 1 or len(word[toned[0]][2]) != 1:
        return text  # no tone, or OCR gave two: leave it for a human
    target = _tone_position(word)
    if target is None or target == toned[0]:
        return text
    tone = word[toned[0]][2][0]
    rebuilt = []
    for j, (base, shapes, _) in enumerate(word):
        rebuilt.append(base + "".join(shapes) + (tone if j == target else ""))
    return "".join(rebuilt)


def canonical_tones(s: str) -> str:
    """One tone-placement style, for comparison keys only (stored values stay as written).

    Both spellings of open ``oa``/``oe``/``uy`` syllables are in use (``hoà`` / ``hòa``,
    ``thuỷ`` / ``thủy``); we pick the one with the tone on the first vowel, the more common
    in registers and in the population database. ``qu`` and ``gi`` are onsets (``quý``,
    ``giá``), and a vowel with a circumflex, breve or horn always takes the tone (``thuở``,
    ``nguyễn``, ``tuyết``). Case is kept.

    >>> canonical_tones("Hoà Thuỷ khoẻ") == canonical_tones("Hòa Thủy khỏe") == "Hòa Thủy khỏe"
    True
    """
    out: list[str] = []
    word: list[tuple[str, list[str], list[str]]] = []
    for cluster in _clusters(s):
        if cluster[0].isalpha():
            word.append(cluster)
            continue
        if word:
            out.append(_retone_word(word))
            word = []
        base, shapes, tones = cluster
        out.append(base + "".join(shapes) + "".join(tones))
    if word:
        out.append(_retone_word(word))
    return nfc("".join(out))


_IY = re.compile(r"(?<![^\W\d_])(qu|[bcdđghklmnprstvx]{1,3})([iyIY])(?![^\W\d_])", re.IGNORECASE)


def unify_i_y(s: str) -> str:
    """``Lý``/``Lí``, ``Mỹ``/``Mĩ``, ``Quý``/``Quí``: a lone final i/y after a consonant is one sound.

    Spelling reforms went back and forth on it, so registers and the population database
    disagree; keys use ``i``. Tone marks stay on the letter.

    >>> unify_i_y("Lý kỹ yêu") == "Lí kĩ yêu"
    True
    """
    bases: list[str] = []
    marks: list[str] = []
    for ch in unicodedata.normalize("NFD", s):
        if unicodedata.combining(ch) and bases:
            marks[-1] += ch
        else:
            bases.append(ch)
            marks.append("")
    plain = "".join(bases)
    changed = _IY.sub(lambda m: m.group(1) + ("I" if m.group(2).isupper() else "i"), plain)
    if changed == plain:
        return s
    return nfc("".join(b + m for b, m in zip(changed, marks)))


def name_key(s: str) -> str:
    """Comparison key of a name: NFC, one tone style, case-folded, single spaces.

    Also unifies final i/y after a consonant (``Lý``/``Lí``), which SPEC §3 counts as one name.

    >>> name_key("NGUYỄN  Thị Hoà") == name_key("nguyễn thị hòa") == "nguyễn thị hòa"
    True
    """
    key = collapse_spaces(canonical_tones(nfc(s)))
    return unify_i_y(nfc(key.casefold()))


def strip_marks(s: str) -> str:
    """All diacritics off, đ → d; case kept.

    >>> strip_marks("Đặng Thị Hường")
    'Dang Thi Huong'
    """
    s = s.replace("đ", "d").replace("Đ", "D")
    return "".join(ch for ch in unicodedata.normalize("NFD", s) if not unicodedata.combining(ch))


_NOT_ASCII_WORD = re.compile(r"[^a-z0-9]+")


def folded_key(s: str) -> str:
    """Diacritic-free key for blocking and fuzzy search; only ASCII letters, digits, spaces.

    Punctuation becomes a space and letters with no ASCII base (``ø``, CJK) are dropped.

    >>> folded_key("Đặng Thị Hường")
    'dang thi huong'
    """
    folded = strip_marks(nfc(s)).casefold()
    folded = strip_marks(folded)  # casefold can introduce marks again (İ → i̇)
    return collapse_spaces(_NOT_ASCII_WORD.sub(" ", folded))


# --- alphabet check ---------------------------------------------------------------------

def _vietnamese_letters() -> frozenset[str]:
    bases = ["a", "ă", "â", "e", "ê", "i", "o", "ô", "ơ", "u", "ư", "y"]
    tones = ["", *sorted(_TONES)]
    letters = {nfc(b + t) for b in bases for t in tones}
    letters |= set("abcdefghijklmnopqrstuvwxyz") | {"đ"}  # f j w z: minority and foreign names
    return frozenset(letters | {ch.upper() for ch in letters})


_ALLOWED = _vietnamese_letters() | frozenset("0123456789 \t\n.,;:-–—/()'\"!?…“”‘’%&+*_[]#")


def non_vietnamese_chars(s: str) -> list[str]:
    """Characters outside the Vietnamese alphabet, digits and common punctuation, in order.

    A stray ``ö`` or ``å`` in a name is almost always OCR noise (a mark read over the wrong
    vowel); a combining mark that NFC could not attach is returned on its own.

    >>> non_vietnamese_chars("Nguyễn Vӑn Anö €")
    ['ӑ', 'ö', '€']
    """
    seen: list[str] = []
    for ch in nfc(s):
        if ch not in _ALLOWED and ch not in seen:
            seen.append(ch)
    return seen

"""An edit distance that knows how OCR misreads Vietnamese letters.

Plain Levenshtein counts ``Nguyên`` → ``Nguyễn`` and ``Nguyên`` → ``Nguyện`` as the same one
edit, and ``Bùi`` → ``8ùi`` as far as ``Bùi`` → ``Xùi``. Tesseract's real mistakes are cheaper
and specific: a lost or swapped tone mark, a lost hat or horn (ư/u, ơ/o, â/a), đ/d, y read as
u, T as 7, B as 8, m as rn. Substitutions are priced by what the two letters share (base
letter, shape mark, tone mark) and by a short table of visual look-alikes; deleting stray
punctuation OCR puts inside a word is cheap.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

from pipeline.clean.syllables import TONE_MARKS

TONE_COST = 0.15  # a tone mark lost, added or swapped: the commonest OCR error in Vietnamese
SHAPE_COST = 0.2  # hat, breve, horn or the bar of đ
CASE_COST = 0.02
INDEL_COST = 1.0
JUNK_INDEL_COST = 0.3
JUNK = set("/⁄\\|!?%“”\"'«»:;.,*^~`()[]{}")

# Visual look-alikes (lower-case base letters and digits), for print and hand-writing.
_LOOKALIKE = {
    ("u", "y"): 0.4, ("v", "y"): 0.5, ("u", "v"): 0.5, ("n", "u"): 0.6, ("n", "h"): 0.6,
    ("l", "i"): 0.4, ("l", "t"): 0.5, ("i", "t"): 0.6, ("1", "l"): 0.3, ("1", "i"): 0.4,
    ("1", "7"): 0.5, ("7", "t"): 0.4, ("0", "o"): 0.3, ("8", "b"): 0.4, ("5", "s"): 0.5,
    ("6", "o"): 0.6, ("6", "b"): 0.6, ("9", "g"): 0.5, ("9", "q"): 0.5, ("2", "z"): 0.6,
    ("m", "n"): 0.5, ("n", "w"): 0.6, ("m", "w"): 0.6, ("a", "o"): 0.6, ("c", "e"): 0.5,
    ("e", "o"): 0.6, ("b", "h"): 0.6, ("c", "o"): 0.6, ("a", "d"): 0.7, ("a", "n"): 0.7,
    ("g", "q"): 0.5, ("i", "j"): 0.5, ("f", "t"): 0.6, ("r", "t"): 0.7, ("k", "x"): 0.7,
    ("h", "k"): 0.6, ("4", "a"): 0.7, ("3", "b"): 0.7, ("0", "d"): 0.7, ("d", "o"): 0.7,
    ("n", "v"): 0.6, ("a", "e"): 0.6, ("o", "u"): 0.6, ("a", "u"): 0.6,
}
# Two letters read as one, or one as two.
_SPLITS = {("rn", "m"): 0.3, ("rm", "m"): 0.4, ("ri", "n"): 0.5, ("cl", "d"): 0.5, ("in", "m"): 0.5,
           ("vv", "w"): 0.4, ("li", "h"): 0.6, ("ii", "u"): 0.6, ("uu", "y"): 0.6, ("iu", "m"): 0.7}


@lru_cache(maxsize=4096)
def _parts(ch: str) -> tuple[str, frozenset[str], str, bool]:
    """(base letter, shape marks, tone mark, is upper-case) of one character."""
    upper = ch != ch.lower()
    low = ch.lower()
    shapes = set()
    if low == "đ":
        low, shapes = "d", {"bar"}
    decomposed = unicodedata.normalize("NFD", low)
    base = decomposed[:1]
    tone = ""
    for mark in decomposed[1:]:
        if mark in TONE_MARKS:
            tone = mark
        else:
            shapes.add(mark)
    return base, frozenset(shapes), tone, upper


@lru_cache(maxsize=65536)
def substitution_cost(a: str, b: str) -> float:
    """Cost of reading ``b`` where ``a`` was written (symmetric).

    >>> substitution_cost("ễ", "ê"), substitution_cost("T", "7"), substitution_cost("a", "x")
    (0.15, 0.4, 1.0)
    """
    if a == b:
        return 0.0
    ba, sa, ta, ua = _parts(a)
    bb, sb, tb, ub = _parts(b)
    marks = TONE_COST * (ta != tb) + SHAPE_COST * len(sa ^ sb)
    if ba == bb:
        return round(max(marks, CASE_COST * (ua != ub)), 3)
    look = _LOOKALIKE.get((ba, bb)) or _LOOKALIKE.get((bb, ba))
    if look is None:
        return INDEL_COST
    return round(min(INDEL_COST, look + marks / 2), 3)


def _indel(ch: str) -> float:
    return JUNK_INDEL_COST if ch in JUNK else INDEL_COST


def ocr_distance(read: str, word: str) -> float:
    """Weighted edit distance from what OCR ``read`` to a candidate ``word``.

    >>> ocr_distance("Nguuễn", "Nguyễn"), ocr_distance("7rần", "Trần"), ocr_distance("Mgô", "Ngô")
    (0.4, 0.4, 0.5)
    """
    n, m = len(read), len(word)
    prev = [0.0] * (m + 1)
    for j in range(1, m + 1):
        prev[j] = prev[j - 1] + INDEL_COST
    rows = [prev]
    for i in range(1, n + 1):
        cur = [rows[i - 1][0] + _indel(read[i - 1])] + [0.0] * m
        for j in range(1, m + 1):
            best = min(
                rows[i - 1][j] + _indel(read[i - 1]),
                cur[j - 1] + INDEL_COST,
                rows[i - 1][j - 1] + substitution_cost(read[i - 1], word[j - 1]),
            )
            for (x, y), cost in _SPLITS.items():
                for src, dst in ((x, y), (y, x)):
                    ls, ld = len(src), len(dst)
                    if i >= ls and j >= ld and read[i - ls:i].lower() == src \
                            and word[j - ld:j].lower() == dst:
                        best = min(best, rows[i - ls][j - ld] + cost)
            cur[j] = best
        rows.append(cur)
    return round(rows[n][m], 3)

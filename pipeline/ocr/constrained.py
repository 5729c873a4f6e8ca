"""Reading a name against the names it can be: the neural reader's frames scored for lexicon
names instead of decoded as open text.

A greedy decode picks each frame's likeliest letter, so one smudged tone mark makes ``Hoà``
``Hoa`` or an impossible ``Hoă``. But the model's CTC output gives the likelihood of *any*
string for the crop (``aster.ctc_log_likelihood``), and a name is built from a few thousand
known parts: a surname, middle and given names. Each word of the reading is tried against the
parts one or two letters away (diacritics ignored) in its position's list, the whole line
rescored each time, until no change helps. The best string and its margin over the
runner-up become one more reading, beside the free ones, for the clean stage to weigh; a
value only this reading supports is sent to a person (``normalize.choose_reading``).

Lexicon only, for now: the population's names for the book's commune and years would make a
sharper list, but they live in the database and a page worker has none.
"""

from __future__ import annotations

import math
from functools import lru_cache

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from pipeline.clean.lexicon import WordList, name_lexicon
from pipeline.clean.text import strip_marks
from pipeline.ocr.aster import LineRead, ctc_log_likelihood, encode

NAME = "lexicon"  # its key in ``FieldValue.readings``
MAX_WORDS = 6  # a longer "name" is a value running into something else: left alone
NEAR = 1  # letters apart (marks ignored) for a lexicon word to be tried in a position
PASSES = 2


def lexicon_reading(read: LineRead, alphabet: dict[str, int], other: str | None = None,
                    ) -> tuple[str, float] | None:
    """The likeliest lexicon name for a crop, and a confidence from its margin, or None.

    ``read`` must keep its frames (``keep_log_probs``) and be one line; ``other`` is
    Tesseract's text, whose words are tried too. Case follows the reading (ledgers are
    often typed in capitals).
    """
    if not read.log_probs or len(read.log_probs) != 1:
        return None
    frames = read.log_probs[0]
    words = read.text.split()
    if not 2 <= len(words) <= MAX_WORDS or not all(w.isalpha() for w in words):
        return None
    upper = read.text.isupper()
    others = (other or "").split()
    options = []
    for i, word in enumerate(words):
        role = _role(i, len(words))
        seen = [word] + ([others[i]] if len(others) == len(words) else [])
        found = {_cased(c, upper) for w in seen for c in _near(role, strip_marks(w).lower())}
        options.append(sorted(found | {word}))

    def score(candidate: list[str]) -> float:
        return ctc_log_likelihood(frames, encode(" ".join(candidate), alphabet))

    best = list(words)
    best_score = score(best)
    runner_up = -math.inf
    for _ in range(PASSES):
        changed = False
        runner_up = -math.inf
        for i, choices in enumerate(options):
            for choice in choices:
                if choice == best[i]:
                    continue
                trial = best[:i] + [choice] + best[i + 1:]
                s = score(trial)
                if s > best_score:
                    runner_up = max(runner_up, best_score)
                    best, best_score, changed = trial, s, True
                else:
                    runner_up = max(runner_up, s)
        if not changed:
            break
    if best_score == -math.inf:
        return None
    margin = best_score - runner_up if runner_up > -math.inf else 10.0
    confidence = round(1.0 - math.exp(-min(margin, 20.0)), 3)
    return " ".join(best), confidence


def _role(index: int, count: int) -> str:
    if index == 0:
        return "surnames"
    return "given" if index == count - 1 else "middle"


def _cased(word: str, upper: bool) -> str:
    return word.upper() if upper else word


@lru_cache(maxsize=4096)
def _near(role: str, folded: str) -> tuple[str, ...]:
    """Spellings of the role's list whose unmarked form is within ``NEAR`` edits."""
    words, keys = _folded(role)
    hits = process.extract(folded, keys, scorer=Levenshtein.distance, limit=None,
                           score_cutoff=NEAR)
    return tuple(w for _, _, idx in hits for w in words[idx])


@lru_cache(maxsize=3)
def _folded(role: str) -> tuple[list[tuple[str, ...]], list[str]]:
    """The role's spellings grouped by their unmarked lower-case form."""
    wordlist: WordList = getattr(name_lexicon(), role)
    groups: dict[str, list[str]] = {}
    for spelling in wordlist.words.values():
        groups.setdefault(strip_marks(spelling).lower(), []).append(spelling)
    keys = sorted(groups)
    return [tuple(groups[k]) for k in keys], keys

"""Find a template's printed labels among a page's words, wherever the printing put them.

A form template names, per field, the labels different printings used (`Họ và tên:` /
`Họ tên:` / `Tên:`); nothing says on which line or in which order they stand. Every visual
line of the page is scanned for every label variant (fuzzy: labels are faded and misread
like any print), overlapping candidates are settled by score, and labels printed for several
fields (`Tuổi:` after each parent) are left ambiguous here and settled by the entry they end
up in (``form_entries``).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from rapidfuzz import fuzz
from rapidfuzz.distance import Levenshtein

from pipeline.ocr.regions import Line, union
from pipeline.templates import Template
from pipeline.types import Box, OcrWord

LABEL_MIN_SCORE = 80.0  # rapidfuzz ratio (0..100) for a possibly damaged printed label; at 74
#                         a written date ("ngày 15 tháng") passed for `Sinh ngày:`
SHORT_LABEL = 5  # letters: a label this short ("Số:", "Tên:") must match almost exactly
SHORT_MIN_SCORE = 86.0
#: ... for a label whose words all read exactly but the last, which closes on the colon
MISREAD_MIN_SCORE = 70.0
COLON_BONUS = 3.0  # the printed label ends in ':' and so does the text read
#: Where an entry lacks a label, a looser match is enough on its own lines: the structure
#: says it is there, and a faint or thin label font reads as "Tuấi:", "Dân tộe:".
RESCUE_MIN_SCORE = 70.0
FOLDED_PENALTY = 4.0  # a match only without diacritics is a little weaker
#: Page furniture holding a label's words: the volume line `Quyển số: 3` holds `Số:`, the
#: title `SỔ ĐĂNG KÝ KHAI SINH` (read "SỐ ĐĂNG KÝ") the label `Số đăng ký:`. Matched like
#: labels, they take their words from a label inside them (they explain more letters) and
#: are then dropped.
FURNITURE = ("Quyển số:", "Quyển số", "Sổ đăng ký khai sinh", "Sổ đăng ký kết hôn",
             "Sổ đăng ký khai tử")


@dataclass
class LabelHit:
    """One printed label found on the page."""

    fields: tuple[str, ...]  # the fields this label text may announce (several for `Tuổi:`)
    text: str  # the variant matched, as the template spells it
    box: Box  # the label's words, cut at the colon when the value was glued to it
    score: float
    line: int  # index of its visual line
    first_word: int  # its words on that line: [first_word, first_word + words)
    words: int


def label_key(text: str) -> str:
    """Case-folded NFC without spaces: Tesseract merges and splits label words freely."""
    return "".join(unicodedata.normalize("NFC", text).casefold().split())


#: What a label's colon is read as when the engine glues the value to it: "cha:,Nguyễn",
#: "cha,Nguyễn", "tịch;Việt", "sinh.5/12/1977".
GLUE_MARKS = ":,;."


def label_end(last: str, label: str) -> int:
    """How many characters of a label's last word belong to the label (all, unless glued).

    A word with a mark inside it ("cha,Nguyễn") may be the label's end and a value glued
    to it; every cut after a mark is tried and the one whose label part matches the label's
    last word best is kept ("Nam,nữ:" stays whole: its comma is the label's own).
    """
    tail = label_key(label.split()[-1]) if label.split() else ""
    best, best_score = len(last), fuzz.ratio(label_key(last), tail)
    for i, ch in enumerate(last[:-1]):
        if ch in GLUE_MARKS:
            score = fuzz.ratio(label_key(last[:i + 1]), tail)
            if score > best_score:
                best, best_score = i + 1, score
    return best


def _label_text(words: list[OcrWord], label: str) -> str:
    """The text a label's words give, its last word cut where a glued value starts."""
    parts = [w.text for w in words]
    parts[-1] = parts[-1][:label_end(parts[-1], label)]
    # A word inside the label with fewer than two letters is a value's stroke crossing it (a
    # hand writing over its small label: "Họ và tên ??/ mẹ:", "Họ 2/a/ tên:"): no label of
    # the books has a one-letter word.
    parts[1:-1] = [p for p in parts[1:-1] if sum(c.isalpha() for c in p) >= 2]
    return label_key("".join(parts))


def match_at(words: list[OcrWord], start: int, label: str) -> tuple[float, int]:
    """Best (score, word count) for ``label`` starting at word ``start`` of a line.

    Tesseract may merge ("Nơisinh:") or split label words, so word counts around the label's
    own are tried; a last word ending in ':' is the printed label's end and earns a bonus
    (so does a glued value's mark standing for it: "cha,Nguyễn").
    """
    target = label_key(label)
    n = len(label.split())
    best = (0.0, 0)
    for k in range(max(1, n - 2), n + 2):
        if start + k > len(words):
            break
        text = _label_text(words[start:start + k], label)
        glued = label_end(words[start + k - 1].text, label) < len(words[start + k - 1].text)
        if glued and text[-1:] in GLUE_MARKS:
            text = text[:-1] + ":"
        score = fuzz.ratio(text, target)
        if target.endswith(":") and text.endswith(":"):
            score += COLON_BONUS
        if score > best[0]:
            best = (score, k)
    return best


def _good_enough(label: str, score: float) -> bool:
    letters = sum(c.isalpha() for c in label)
    return score >= (SHORT_MIN_SCORE if letters <= SHORT_LABEL else LABEL_MIN_SCORE)


def label_box(words: list[OcrWord], label: str) -> Box:
    """Box of a label's words; when the engine glued the value to the colon ("tịch:Việt",
    "cha,Nguyễn"), the box ends at the colon, estimated from the character share."""
    box = union([w.box for w in words])
    last = words[-1]
    end = label_end(last.text, label)
    if end < len(last.text):
        # Just after the colon, less half a character: a leftover ':' is stripped later, a
        # clipped first letter of the value would be lost.
        char = (last.box[2] - last.box[0]) / len(last.text)
        x1 = last.box[0] + int((end - 0.5) * char)
        box = (box[0], box[1], x1, box[3])
    return box


def label_variants(template: Template) -> dict[str, tuple[str, ...]]:
    """Label text → the fields it may announce, in template order."""
    out: dict[str, list[str]] = {}
    for spec in template.specs:
        for text in spec.labels:
            out.setdefault(text, []).append(spec.field)
    return {text: tuple(fields) for text, fields in out.items()}


def find_labels_in_line(line: Line, index: int, variants: dict[str, tuple[str, ...]]
                        ) -> list[LabelHit]:
    """Every label on one visual line, left to right, none overlapping.

    All (start word, variant) candidates are scored; the best ones win greedily by the
    letters they explain (label length less twice the edit distance), so a longer label read
    with a slip beats a shorter one read exactly inside it ("Ho và tên cha:" is `Họ và tên
    cha:`, not `Tên cha:`), while an exact short label beats a longer one it only resembles
    ("Họ và tên:" is not `Họ và tên cha:` with three letters lost).
    """
    words = line.words
    candidates: list[tuple[float, float, int, str, int]] = []
    for start in range(len(words)):
        if not any(c.isalpha() for c in words[start].text):
            continue
        for text in (*variants, *(f for f in FURNITURE if f not in variants)):
            score, k = match_at(words, start, text)
            if k and (_good_enough(text, score) or _last_word_misread(words, start, k, text)):
                explained = _explained(words[start:start + k], text)
                if _stops_short(words, start, k, text):
                    explained -= 1
                candidates.append((explained, score, start, text, k))
    taken: set[int] = set()
    hits: list[LabelHit] = []
    for _, score, start, text, k in sorted(candidates, key=lambda c: (-c[0], -c[1], c[2])):
        span = set(range(start, start + k))
        if span & taken:
            continue
        taken |= span
        if text in variants:
            hits.append(LabelHit(variants[text], text, label_box(words[start:start + k], text),
                                 score, index, start, k))
    return sorted(hits, key=lambda h: h.first_word)


def _last_word_misread(words: list[OcrWord], start: int, k: int, label: str) -> bool:
    """A label read word for word but its last ("Họ tên ®o:" for `Họ tên mẹ:`): every other
    word exact and the last closing on the label's colon. Too damaged for the fuzzy score,
    yet the label's shape is all there; ``_stops_short`` keeps the shorter label that the
    same words would otherwise give (`Họ tên:`) from winning."""
    parts = label.split()
    if k != len(parts) or k < 2 or not label.endswith(":"):
        return False
    read = words[start:start + k]
    if not read[-1].text.endswith(":"):
        return False
    return all(label_key(w.text) == label_key(p) for w, p in zip(read[:-1], parts[:-1])) \
        and fuzz.ratio(label_key("".join(w.text for w in read)), label_key(label)) >= MISREAD_MIN_SCORE


def _stops_short(words: list[OcrWord], start: int, k: int, label: str) -> bool:
    """The match of a label ending in ':' stops one short word before a colon: the printed
    label goes on to that colon ("Họ tên ®o:" is `Họ tên mẹ:` with its last word misread,
    not `Họ tên:` and a value "®o:"). Costs a letter explained, which breaks the tie."""
    if not label.endswith(":") or start + k >= len(words):
        return False
    if _label_text(words[start:start + k], label).endswith(":"):
        return False
    after = words[start + k].text
    return after.endswith(":") and len(after) <= 4


def _explained(words: list[OcrWord], label: str) -> float:
    target = label_key(label)
    return len(target) - 2 * Levenshtein.distance(_label_text(words, label), target)


def loose_match_at(words: list[OcrWord], start: int, label: str) -> tuple[float, int]:
    """``match_at``, also on diacritic-free text: a faint label font loses its marks first
    ("Tuõi:", "Tuôối:" for `Tuổi:`). Only used where a label is known to be missing."""
    from pipeline.clean.text import strip_marks

    score, k = match_at(words, start, label)
    target = strip_marks(label_key(label)).replace("đ", "d")
    n = len(label.split())
    for kk in range(max(1, n - 2), n + 2):
        if start + kk > len(words):
            break
        text = strip_marks(label_key("".join(w.text for w in words[start:start + kk])))
        folded = fuzz.ratio(text.replace("đ", "d"), target)
        if folded - FOLDED_PENALTY > score:
            score, k = folded - FOLDED_PENALTY, kk
    return score, k


def words_after_labels(line: Line, hits: list[LabelHit]) -> list[OcrWord]:
    """The words of a line that are not part of any label."""
    used = {i for h in hits for i in range(h.first_word, h.first_word + h.words)}
    return [w for i, w in enumerate(line.words) if i not in used]

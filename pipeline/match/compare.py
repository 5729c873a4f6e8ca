"""Comparison levels of candidate pairs, field by field, each level with a readable label.

Declared as data (STYLE.md, "declared matching"): a comparison is a name, an ordered list of
levels with Vietnamese labels, and a vectorised function giving every pair its level (-1
when a side is missing, which then carries no weight). The model learns one m and u
probability per level; the labels are what a reviewer reads under a link.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd
from rapidfuzz.distance import JaroWinkler

MISSING = -1
SIMILAR = 0.88  # Jaro-Winkler on folded keys: one or two letters off, as OCR leaves them


@dataclass(frozen=True)
class Comparison:
    name: str
    levels: tuple[str, ...]  # label of each level, best agreement first
    function: Callable[[pd.DataFrame, pd.DataFrame, dict], np.ndarray]
    tf_column: str | None = None  # exact agreement on a rare value says more (term frequency)


def _similar(a: np.ndarray, b: np.ndarray, vocab: np.ndarray) -> np.ndarray:
    """Jaro-Winkler ≥ SIMILAR of two code arrays, computed once per distinct pair of codes."""
    if not len(a):
        return np.zeros(0, dtype=bool)
    pair = a.astype(np.int64) * (len(vocab) + 1) + b.astype(np.int64)
    uniq, inverse = np.unique(pair, return_inverse=True)
    ua, ub = uniq // (len(vocab) + 1), uniq % (len(vocab) + 1)
    scores = np.fromiter((JaroWinkler.similarity(vocab[x], vocab[y]) >= SIMILAR
                          for x, y in zip(ua, ub)), dtype=bool, count=len(uniq))
    return scores[inverse.ravel()]


def _word(r: pd.DataFrame, c: pd.DataFrame, key: str, folded: str, lost: str, vocab: dict,
          valid: str) -> np.ndarray:
    """exact / folded, one side lost its marks / folded, marks differ / similar / different,
    one side no Vietnamese syllable / different.

    A word that is no syllable at all (``Hca``, ``Nguyễu``) beside a real one is a misreading,
    not another name: its own level, so the veto that keeps twins apart (two real, different
    given names) does not fall on it. Both sides invalid (foreign names, FEBRL) stays
    "different".
    """
    a, b = r[key].to_numpy(), c[key].to_numpy()
    fa, fb = r[folded].to_numpy(), c[folded].to_numpy()
    either_lost = r[lost].to_numpy(bool) | c[lost].to_numpy(bool)
    level = np.full(len(a), 5, dtype=np.int8)
    differ = (fa != fb) & (fa >= 0) & (fb >= 0)
    if differ.any():
        level[differ] = np.where(_similar(fa[differ], fb[differ], vocab[folded]), 3, 5)
    misread = r[valid].to_numpy(bool) != c[valid].to_numpy(bool)
    level[(level == 5) & misread] = 4
    same_fold = fa == fb
    level[same_fold & ~either_lost] = 2
    level[same_fold & either_lost] = 1
    level[a == b] = 0
    level[(fa < 0) | (fb < 0)] = MISSING
    return level


def compare_given(r, c, vocab):
    return _word(r, c, "n_giv", "n_fgiv", "n_lost", vocab, "n_vgiv")


def compare_surname(r, c, vocab):
    return _word(r, c, "n_sur", "n_fsur", "n_lost", vocab, "n_vsur")


def compare_middle(r, c, vocab):
    """same / one side has none (often dropped) / same without marks / different."""
    a, b = r["n_mid"].to_numpy(), c["n_mid"].to_numpy()
    fa, fb = r["n_fmid"].to_numpy(), c["n_fmid"].to_numpy()
    level = np.full(len(a), 3, dtype=np.int8)
    level[fa == fb] = 2
    level[a == b] = 0
    level[(fa < 0) ^ (fb < 0)] = 1
    level[(fa < 0) & (fb < 0)] = MISSING
    return level


def _parent(prefix: str):
    def compare(r, c, vocab):
        """whole name the same / same without marks / same surname and given name (middle
        differs or missing) / same surname, given name one or two letters off / different."""
        col = lambda side, p: side[f"{prefix}_{p}"].to_numpy()  # noqa: E731
        same_sur = col(r, "fsur") == col(c, "fsur")
        fgr, fgc = col(r, "fgiv"), col(c, "fgiv")
        level = np.full(len(r), 4, dtype=np.int8)
        near = same_sur & (fgr != fgc) & (fgr >= 0) & (fgc >= 0)
        if near.any():
            level[near] = np.where(_similar(fgr[near], fgc[near], vocab[f"{prefix}_fgiv"]), 3, 4)
        level[same_sur & (fgr == fgc)] = 2
        level[col(r, "ffull") == col(c, "ffull")] = 1
        level[col(r, "full") == col(c, "full")] = 0
        level[(fgr < 0) | (fgc < 0)] = MISSING
        return level
    return compare


def _one_digit_apart(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Years that differ in exactly one digit (1968/1963: an OCR or copying slip)."""
    diff = np.zeros(len(a), dtype=np.int8)
    for power in (1, 10, 100, 1000):
        diff += ((a // power) % 10 != (b // power) % 10).astype(np.int8)
    return diff == 1


def compare_birth_date(r, c, vocab):
    """exact / day-month swapped / days apart / about a month (lunar) / same month / same
    year, one side gives only the year / same day and month, year one off / same year, months
    differ / year one digit off / year one off, one side gives only the year / year one off,
    day or month differs / different.

    A year off by one is its own pair of levels, not "different": books that wrote the lunar
    year, or a birth year worked back from an age, shift it by one while keeping the day and
    month (1944-12-20 for 1943-12-20). "Different" is the far level; its weight is bounded
    in ``model.MatchModel.weights`` like every comparison's, so a date alone cannot veto.
    """
    ry, rm, rd, rdays = (r[f"b_{p}"].to_numpy() for p in ("year", "month", "day", "days"))
    cy, cm, cd, cdays = (c[f"b_{p}"].to_numpy() for p in ("year", "month", "day", "days"))
    full = (rdays != 0) & (cdays != 0) & (rd > 0) & (cd > 0)
    gap = np.abs(rdays - cdays)
    year_off = np.abs(ry.astype(np.int64) - cy.astype(np.int64)) == 1
    level = np.full(len(ry), 11, dtype=np.int8)
    level[year_off] = 10
    # a year off by one where one side gives only the year: nothing says the day differs
    level[year_off & ((rm == 0) | (cm == 0))] = 9
    level[_one_digit_apart(ry, cy) & (rm == cm) & (rd == cd) & (rm > 0)] = 8
    level[ry == cy] = 7
    level[year_off & (rm == cm) & (rd == cd) & (rm > 0) & (rd > 0)] = 6
    level[(ry == cy) & ((rm == 0) | (cm == 0))] = 5
    level[(ry == cy) & (rm == cm) & (rm > 0)] = 4
    lunar = full & (gap >= 15) & (gap <= 60)
    level[lunar] = np.minimum(level[lunar], 3)
    level[full & (gap > 0) & (gap <= 7)] = 2
    level[full & (ry == cy) & (rm == cd) & (rd == cm) & (rm != rd)] = 1
    level[full & (gap == 0)] = 0
    level[(ry == 0) | (cy == 0)] = MISSING
    return level


def compare_sex(r, c, vocab):
    a, b = r["sex"].to_numpy(), c["sex"].to_numpy()
    level = np.where(a == b, 0, 1).astype(np.int8)
    level[(a < 0) | (b < 0)] = MISSING
    return level


def compare_place(r, c, vocab):
    """same commune today / same district / same province / different."""
    level = np.full(len(r), 3, dtype=np.int8)
    rp, cp = r["p_province"].to_numpy(), c["p_province"].to_numpy()
    rd, cd = r["p_district"].to_numpy(), c["p_district"].to_numpy()
    rc, cc = r["p_commune"].to_numpy(), c["p_commune"].to_numpy()
    level[rp == cp] = 2
    level[(rd == cd) & (rd >= 0)] = 1
    level[(rc == cc) & (rc >= 0)] = 0
    level[(rp < 0) | (cp < 0)] = MISSING
    return level


COMPARISONS = (
    Comparison("given_name", ("tên trùng khớp", "tên khớp khi bỏ dấu (một bên mất dấu)",
                              "tên khác dấu (vd. Hùng/Hưng)", "tên gần giống",
                              "tên khác, một bên không phải âm tiết tiếng Việt (đọc sai?)",
                              "tên khác nhau"),
               compare_given, tf_column="n_giv"),
    Comparison("surname", ("họ trùng khớp", "họ khớp khi bỏ dấu (một bên mất dấu)",
                           "họ khác dấu", "họ gần giống",
                           "họ khác, một bên không phải âm tiết tiếng Việt (đọc sai?)",
                           "họ khác nhau"),
               compare_surname, tf_column="n_sur"),
    Comparison("middle_name", ("tên đệm trùng khớp", "một bên không có tên đệm",
                               "tên đệm khớp khi bỏ dấu", "tên đệm khác nhau"), compare_middle),
    Comparison("birth_date", ("ngày sinh trùng khớp", "ngày sinh đảo ngày/tháng",
                              "ngày sinh lệch vài ngày", "ngày sinh lệch khoảng một tháng (âm lịch?)",
                              "cùng tháng năm sinh", "cùng năm sinh (một bên chỉ ghi năm)",
                              "cùng ngày tháng, năm sinh lệch một năm (âm lịch/tính theo tuổi?)",
                              "cùng năm sinh, khác tháng", "năm sinh lệch một chữ số",
                              "năm sinh lệch một năm (một bên chỉ ghi năm)",
                              "năm sinh lệch một năm, khác ngày tháng",
                              "ngày sinh khác nhau"), compare_birth_date),
    Comparison("sex", ("giới tính trùng khớp", "giới tính khác nhau"), compare_sex),
    Comparison("father_name", ("họ tên cha trùng khớp", "họ tên cha khớp khi bỏ dấu",
                               "họ và tên cha khớp, tên đệm khác", "tên cha gần giống",
                               "họ tên cha khác nhau"), _parent("f")),
    Comparison("mother_name", ("họ tên mẹ trùng khớp", "họ tên mẹ khớp khi bỏ dấu",
                               "họ và tên mẹ khớp, tên đệm khác", "tên mẹ gần giống",
                               "họ tên mẹ khác nhau"), _parent("m")),
    Comparison("birth_place", ("cùng xã (theo địa giới hiện nay)", "cùng huyện", "cùng tỉnh",
                               "nơi sinh khác tỉnh"), compare_place),
)


def comparison_levels(r: pd.DataFrame, c: pd.DataFrame, vocab: dict) -> np.ndarray:
    """A (pairs × comparisons) array of levels; ``r`` and ``c`` are row-aligned pair sides
    of coded keys (``keys.encode_pair``), ``vocab`` their code → text tables."""
    out = np.empty((len(r), len(COMPARISONS)), dtype=np.int8)
    for j, comparison in enumerate(COMPARISONS):
        out[:, j] = comparison.function(r, c, vocab)
    return out

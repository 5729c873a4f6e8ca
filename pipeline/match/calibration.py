"""How precise the auto links of a run are, estimated from the run's own scores, and the auto
threshold that keeps that estimate above the target.

A Fellegi–Sunter posterior is far too sure of itself: it multiplies the evidence of fields
that are not independent (siblings share surname, parents and commune), so on generated
20 000 × 200 000 it promises 0.001 wrong auto links where there are 8. The wrong links come
from lookalikes: a record whose own citizen is absent from the extract (died, moved) and whose
best candidate is then a sibling, a cousin or a namesake. How often such a lookalike passes
the auto rule can be read from the run itself, without labels: for every record that was
auto-linked, its runner-up *is* a lookalike, and would be the best candidate if the linked
citizen were absent. So

    expected wrong auto links ≈ share of runner-ups that would pass the auto rule
                                × records whose citizen is not in the extract (from EM's λ)
                              + Σ (1 − posterior) over the auto links,

and the lowest auto score is the smallest one at which the expected precision of the links
above it stays at ``TARGET_PRECISION``. On data like the generator's the rule's margin and
veto already keep lookalikes out, and the threshold stays where the probability puts it; on
data with more lookalikes it rises.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

TARGET_PRECISION = 0.995  # issue 15: auto-link precision ≥ 99.5 % on data never tuned on


def _lookalike_passes(best: pd.DataFrame, t) -> np.ndarray:
    """Per row of ``best``: would its runner-up be auto-linked if the best were absent?"""
    if "runner_probability" not in best:
        return np.zeros(len(best), dtype=bool)
    return ((best["runner_probability"].to_numpy() >= t.auto_probability)
            & ~best["runner_veto"].to_numpy(bool)
            & (best["runner_margin"].to_numpy() >= t.margin_bits)
            & (best["runner_score"].to_numpy() >= t.min_score))


def _absent(best: pd.DataFrame) -> float:
    """Records whose citizen is not among the candidates: EM's expected matches subtracted."""
    n = float(best.attrs.get("records", len(best)))
    matches = float(best.attrs.get("expected_matches", n))
    return max(n - min(matches, n), 0.0)


def expected_precision(best: pd.DataFrame, t) -> float:
    """The model's estimate of the share of right links among the auto links of ``t``.

    ``best`` is ``LinkResult.best`` (one row per record: its best candidate, its runner-up).
    The lookalike share is taken over the records the auto rule links without a lowest
    score, so that raising the threshold does not change who stands for the lookalikes.

    >>> from pipeline.match.engine import Thresholds
    >>> best = pd.DataFrame({"score": [40.0] * 100, "probability": [0.9999] * 100,
    ...     "veto": False, "chosen": True, "margin": 20.0, "runner_probability": 0.5,
    ...     "runner_veto": False, "runner_margin": 9.0, "runner_score": 20.0})
    >>> round(expected_precision(best, Thresholds()), 4)
    0.9999
    """
    from dataclasses import replace

    from pipeline.match.engine import auto_mask

    auto = auto_mask(best, t)
    n_auto = int(auto.sum())
    if not n_auto:
        return math.nan
    stand_ins = auto_mask(best, replace(t, min_score=-math.inf))
    share = _lookalike_passes(best[stand_ins], t).sum() / max(int(stand_ins.sum()), 1)
    wrong = float((1 - best["probability"].to_numpy()[auto]).sum()) + share * _absent(best)
    return float(max(0.0, 1 - wrong / n_auto))


def choose_min_score(best: pd.DataFrame, t, target: float = TARGET_PRECISION) -> float:
    """The lowest auto score whose links keep the expected precision at ``target``.

    ``-inf`` when the auto rule alone already keeps it (the usual case); the threshold only
    ever rises above what the probability and margin allow.
    """
    from dataclasses import replace

    from pipeline.match.engine import auto_mask

    auto = auto_mask(best, t)
    if not auto.any() or not expected_precision(best, t) < target:
        return t.min_score
    scores = np.sort(np.unique(best["score"].to_numpy()[auto]))
    lo, hi = 0, len(scores) - 1  # expected precision rises with the threshold: bisect
    while lo < hi:
        mid = (lo + hi) // 2
        if expected_precision(best, replace(t, min_score=float(scores[mid]))) >= target:
            hi = mid
        else:
            lo = mid + 1
    return float(scores[lo])

"""Fellegi–Sunter weights learned without labels, guarded against learning "same family".

* u (how often a level occurs between two random people) is counted on random record ×
  citizen pairs: nearly all are non-matches, so no EM is needed for it.
* m (how often a level occurs for the same person) is learned by EM with u fixed. EM run on
  all candidate pairs at once learns the family: siblings agree on surname, middle name,
  both parents and commune, and then an exact birth date earns almost no weight. So each
  comparison's m is learned only on pairs of blocking passes that do not force it to agree
  (the date on pairs found through the whole family in any year, the parents on pairs found
  through name and year …), as Splink's documentation advises for its own training.
* Exact agreement on a name is weighted by that name's frequency among citizens (term
  frequency): agreeing on ``Nguyễn`` says little, on a rare given name much.
* A fit that came out degenerate (a session whose λ went to 0 or 1; a comparison whose best
  level is no likelier among matches than among random pairs) is not used: that comparison
  keeps the starting m (``guard_m``), and the model says which (``em_fallbacks``).

Everything learned is plain data (``MatchModel.to_json``) and stored beside each run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from pipeline.match.blocking import PASSES
from pipeline.match.compare import COMPARISONS, MISSING

RANDOM_PAIRS = 400_000
EM_ROUNDS = 25
FLOOR = 1e-6
# The most one comparison's disagreement may cost, in bits (log2 m/u). m of a "far" level is
# learned from the data at hand, and where the training pairs hold no such case it falls to
# FLOOR, which would make one misread field outweigh every other field (-20 bits and more):
# a veto. But registers do give the true person a wholly wrong field: a name slip the lexicon
# cannot mend, a year worked back from an age, a clerk's error. At least about one field in
# 256 is that wrong for its own citizen, so a far level's m is never below u/256: 8 bits.
# Agreement is not bounded; the tf-adjusted exact names already bound it by their frequency.
CAP_BITS = 8.0
# Starting m: what a careful clerk's register and an honest OCR give for one person.
START_M = {"default_best": 0.85}
# An EM session whose λ ends this close to 0 or 1 put all pairs in one class: ignored.
DEGENERATE_PRIOR = 1e-4


@dataclass
class MatchModel:
    m: dict[str, list[float]]
    u: dict[str, list[float]]
    prior: float  # share of candidate pairs that are matches (λ)
    passes: list[str] = field(default_factory=list)
    thresholds: dict[str, float] = field(default_factory=dict)
    # comparisons whose EM fit was degenerate and that kept the starting m (``guard_m``)
    fallbacks: list[str] = field(default_factory=list)
    # u among relatives: level shares of citizen pairs with the same parents (siblings), for
    # telling a person from a relative in the review band (``relative_weights``)
    u_relatives: dict[str, list[float]] = field(default_factory=dict)

    def relative_weights(self) -> dict[str, list[float]]:
        """log2(m / u among relatives) of every level, bounded like ``weights``: what a level
        says about "this person, not a sibling". Empty when no relatives were counted."""
        return {name: [round(max(math.log2(max(m, FLOOR) / max(u, FLOOR)), -CAP_BITS), 3)
                       for m, u in zip(self.m[name], self.u_relatives[name])]
                for name in self.u_relatives if name in self.m}

    def weights(self) -> dict[str, list[float]]:
        """log2(m/u) of every level, never below -CAP_BITS: the bits each level adds to a pair.

        The bound is why no single field vetoes a link: a pair whose other fields agree
        keeps their evidence whatever one field says (see CAP_BITS).

        >>> MatchModel(m={"sex": [0.99, 1e-9]}, u={"sex": [0.5, 0.5]}, prior=0.1).weights()
        {'sex': [0.986, -8.0]}
        """
        return {name: [round(max(math.log2(max(m, FLOOR) / max(u, FLOOR)), -CAP_BITS), 3)
                       for m, u in zip(self.m[name], self.u[name])] for name in self.m}

    def to_json(self) -> dict:
        return {
            "method": "Fellegi–Sunter; u from random pairs, m by EM per comparison on passes "
                      "that do not force it, term-frequency adjusted names, disagreement "
                      f"bounded at -{CAP_BITS:g} bits",
            "comparisons": {c.name: {"levels": list(c.levels), "m": self.m[c.name],
                                     "u": self.u[c.name], "weight_bits": self.weights()[c.name]}
                            for c in COMPARISONS},
            "prior": self.prior, "blocking": self.passes, "thresholds": self.thresholds,
            "em_fallbacks": self.fallbacks, "u_relatives": self.u_relatives,
            "term_frequency_columns": sorted(c.tf_column for c in COMPARISONS if c.tf_column),
        }


def _level_shares(levels: np.ndarray, n_levels: int, weights: np.ndarray | None = None) -> list[float]:
    present = levels != MISSING
    w = np.ones(len(levels)) if weights is None else weights
    total = w[present].sum()
    counts = np.bincount(levels[present].astype(np.int64), weights=w[present], minlength=n_levels)
    shares = (counts + 0.5) / (total + 0.5 * n_levels) if total > 0 else np.full(n_levels, 1 / n_levels)
    return [float(x) for x in shares[:n_levels]]


def estimate_u(levels_of_random: np.ndarray) -> dict[str, list[float]]:
    return {c.name: _level_shares(levels_of_random[:, j], len(c.levels))
            for j, c in enumerate(COMPARISONS)}


def _start_m() -> dict[str, list[float]]:
    return {c.name: _start_levels(len(c.levels)) for c in COMPARISONS}


def _patterns(levels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct level vectors and their counts: EM over thousands of patterns, not millions."""
    uniq, counts = np.unique(levels, axis=0, return_counts=True)
    return uniq, counts.astype(float)


def _log_ratio(patterns: np.ndarray, comps: list, m: dict, u: dict) -> np.ndarray:
    total = np.zeros(len(patterns))
    for j, c in enumerate(comps):
        lv = patterns[:, j]
        present = lv != MISSING
        mm = np.log(np.maximum(np.asarray(m[c.name])[lv[present]], FLOOR))
        uu = np.log(np.maximum(np.asarray(u[c.name])[lv[present]], FLOOR))
        total[present] += mm - uu
    return total


def _em(patterns: np.ndarray, counts: np.ndarray, comps: list, m: dict, u: dict, prior: float
        ) -> tuple[dict, float]:
    """EM over the given comparisons only (``patterns`` has one column per comparison)."""
    m = {c.name: list(m[c.name]) for c in comps}
    for _ in range(EM_ROUNDS):
        logit = _log_ratio(patterns, comps, m, u) + math.log(prior / (1 - prior))
        gamma = 1 / (1 + np.exp(-np.clip(logit, -50, 50)))
        weights = gamma * counts
        prior = float(np.clip(weights.sum() / counts.sum(), 1e-6, 0.999))
        for j, c in enumerate(comps):
            m[c.name] = _level_shares(patterns[:, j], len(c.levels), weights)
    return m, prior


def estimate_m(levels: np.ndarray, pass_mask: np.ndarray, u: dict, fallback_prior: float
               ) -> tuple[dict, float]:
    """m of every comparison, and λ, by one EM session per blocking pass.

    A session sees only the pairs its pass found and only the comparisons the pass leaves
    free: agreement it forces says nothing about who is a match there (Splink trains the same
    way). Each comparison's m is the pair-weighted mean over the sessions that saw it. λ is
    the largest number of matches one session found, over all candidate pairs; with too few
    pairs for any session (a single small book) it is ``fallback_prior``.
    """
    start = _start_m()
    sums = {c.name: np.zeros(len(c.levels)) for c in COMPARISONS}
    seen = {c.name: 0.0 for c in COMPARISONS}
    matches = 0.0
    for bit, bp in enumerate(PASSES):
        chosen = (pass_mask & (1 << bit)) != 0
        if not bp.train or chosen.sum() < 50:
            continue
        active = [j for j, c in enumerate(COMPARISONS) if c.name not in bp.uses]
        comps = [COMPARISONS[j] for j in active]
        patterns, counts = _patterns(levels[chosen][:, active])
        learned, prior = _em(patterns, counts, comps, start, u, 0.3)
        if not DEGENERATE_PRIOR < prior < 1 - DEGENERATE_PRIOR:
            continue  # EM put every pair in one class: it learned nothing about m here
        matches = max(matches, prior * counts.sum())
        for c in comps:
            sums[c.name] += np.asarray(learned[c.name]) * counts.sum()
            seen[c.name] += counts.sum()
    m = {c.name: [float(x) for x in sums[c.name] / seen[c.name]] if seen[c.name] else start[c.name]
         for c in COMPARISONS}
    prior = matches / max(len(levels), 1) if matches else fallback_prior
    return m, float(np.clip(prior, 1e-6, 0.5))


def guard_m(m: dict[str, list[float]], u: dict[str, list[float]]) -> tuple[dict, list[str]]:
    """m with every degenerate fit replaced by the starting m, and the names replaced.

    A fit is degenerate when the best level is not likelier among matches than among random
    pairs (m₀ ≤ u₀): EM then found some other split of the pairs (a family, a village) than
    match / non-match, and its weights would count agreement against a link. On data unlike
    anything seen (a small book, a foreign extract) the prior is the safer belief.

    >>> m, replaced = guard_m({"sex": [0.4, 0.6]}, {"sex": [0.5, 0.5]})
    >>> [round(x, 2) for x in m["sex"]], replaced
    ([0.85, 0.15], ['sex'])
    """
    out, replaced = {}, []
    for name, levels in m.items():
        if levels[0] <= u[name][0]:
            out[name] = _start_levels(len(levels))
            replaced.append(name)
        else:
            out[name] = levels
    return out, replaced


def _start_levels(n: int) -> list[float]:
    rest = (1 - START_M["default_best"]) / (n - 1)
    return [START_M["default_best"], *[rest] * (n - 1)]


def term_shares(citizen_codes: np.ndarray, vocabulary_size: int) -> np.ndarray:
    """Share of citizens holding each value (by code) of a name column: its term frequency."""
    present = citizen_codes[citizen_codes >= 0]
    counts = np.bincount(present, minlength=vocabulary_size).astype(float)
    return counts / max(len(citizen_codes), 1)


def pair_weights(levels: np.ndarray, model: MatchModel, tf_share: dict[str, np.ndarray]) -> np.ndarray:
    """(pairs × comparisons) bits; exact names weighted by how rare the name is.

    ``tf_share[column]`` is, per pair, the share of citizens with the record's value.
    """
    bits = np.zeros(levels.shape, dtype=np.float64)
    weights = model.weights()
    for j, c in enumerate(COMPARISONS):
        lv = levels[:, j]
        table = np.asarray(weights[c.name])
        present = lv != MISSING
        bits[present, j] = table[lv[present]]
        if c.tf_column and c.tf_column in tf_share:
            exact = lv == 0
            m0 = max(model.m[c.name][0], FLOOR)
            # a rare name's agreement says more; never below nothing for a common one
            bits[exact, j] = np.maximum(np.log2(m0 / np.maximum(tf_share[c.tf_column][exact], FLOOR)), 0.0)
    return bits

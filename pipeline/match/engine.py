"""Link register records to citizens: keys → blocking → comparisons → weights → decisions.

``link_frames`` works on two DataFrames and knows nothing of the database, so the benchmark
and the ``hotich match`` command run exactly the same code.

Decisions are made for precision first, since a wrong link attaches a stranger's birth to a
citizen:

* one-to-one within a run: the strongest pairs are taken first and a citizen taken by one
  record is not offered to another (twins and namesakes then fall to their own citizen);
* a record is auto-linked only when its best candidate is far ahead of the next one (a margin
  in bits) and neither comparison that separates siblings says "far": a birth date far off
  or a year off with another day and month (the later sibling given a dead child's name), a
  different given name (twins). Such a pair may still be the person, so it goes to review,
  never to auto. Any other single field that disagrees (a year off by one with the same day
  and month, a misread parent) only costs its bounded weight;
* and only when its score is at least the lowest auto score chosen from the run's own score
  distribution, so that the fitted model's expected precision stays at 99.5 % (on data with
  more lookalikes than the rule keeps out; ``calibration.py``);
* every record whose best candidate is plausible and that is not auto-linked goes to a
  reviewer with its candidates, with what a click on it is worth (``review_band.py``).

``score_pairs`` and ``decide_links`` are the two halves of ``link_frames``: the benchmark
scores a set once and tries other thresholds on it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pipeline.clean.lexicon import NameLexicon
from pipeline.match.blocking import PASSES, candidate_pairs
from pipeline.match.compare import COMPARISONS, MISSING, comparison_levels
from pipeline.match.keys import encode_pair, person_keys, population_lexicon
from pipeline.match.model import (
    RANDOM_PAIRS,
    MatchModel,
    estimate_m,
    estimate_u,
    guard_m,
    pair_weights,
    term_shares,
)
from pipeline.match.review_band import PERSONAL, review_worth

ENGINE_VERSION = "fs-4"  # fs-4: names cleaned with the lexicon learned from the population
# fs-3: auto threshold from the run's own scores, guarded EM, review worth
# fs-2: year-off date levels, bounded disagreement, two-field blocking
AUTO_PROBABILITY = 0.999
REVIEW_PROBABILITY = 0.5
MARGIN_BITS = 6.0  # the best candidate must be 64× likelier than the next one
CANDIDATES_KEPT = 3
_INDEX = {c.name: j for j, c in enumerate(COMPARISONS)}
_PERSONAL = [_INDEX[name] for name in PERSONAL]
# (comparison, level) pairs that keep a link out of auto whatever the score says. Only the
# levels that separate a person from a sibling of the same parents stay: a given name that is
# wholly different (a twin, or a renamed sibling) and a birth date that is far off or a year
# off with another day and month (a later child given a dead sibling's name, measured: letting
# the latter through made 3 wrong links in 2 000, all such siblings). Every other disagreement
# (the year off by one with the same day and month, a year one digit off, other months, a
# misread surname or parent, another sex) is a level with a learned weight bounded by
# model.CAP_BITS, so one such field lowers a pair's score but cannot veto it.
# A given name whose marks differ (Hùng/Hưng) is not vetoed: OCR confuses exactly those marks
# on the record side, and the margin over the runner-up already keeps twins apart.
# Nor is a year off by one where one side gives only the year (nothing says the day differs),
# nor a given name that is no Vietnamese syllable beside a real one (``Hca`` for ``Hoa``: a
# misreading, never a twin's name). Measured on the leave-one-family-out bench: recall on
# year shifts 74 % → 83 %, on glyph slips 89 % → 94 %, precision unchanged.
VETO = {("birth_date", 11), ("birth_date", 10), ("given_name", 5)}
RELATIVE_PAIRS = 200_000  # sibling pairs counted for u among relatives
MIN_RELATIVE_PAIRS = 200  # fewer: the review band orders by the model's own weights
PAIR_CHUNK = 500_000  # pairs compared at a time: the sides of a chunk are the big allocation


@dataclass(frozen=True)
class Thresholds:
    """What turns scores into decisions; stored with the model of every run.

    ``min_score`` is the lowest score an auto link may have: ``-inf`` unless chosen from the
    fitted model's own score distribution (``calibration.choose_min_score``) or tuned by the
    benchmark on a generated set.
    """

    auto_probability: float = AUTO_PROBABILITY
    margin_bits: float = MARGIN_BITS
    review_probability: float = REVIEW_PROBABILITY
    min_score: float = -math.inf

    def to_json(self) -> dict:
        return {"auto_probability": self.auto_probability, "margin_bits": self.margin_bits,
                "review_probability": self.review_probability,
                # rounded down, so the stored threshold still admits the pair it was chosen at
                "min_score": None if math.isinf(self.min_score)
                else math.floor(self.min_score * 1000) / 1000}


@dataclass
class LinkResult:
    # record_id, citizen_id, score, probability, status, rank, explanation, worth (review only)
    links: pd.DataFrame
    model: MatchModel
    counts: dict = field(default_factory=dict)
    # One row per record that has a candidate: its best candidate and what the auto rule
    # looks at (chosen one-to-one, probability, veto, margin over the runner-up, score), so a
    # benchmark can try other thresholds without scoring again (``auto_mask``).
    best: pd.DataFrame = field(default_factory=pd.DataFrame)
    thresholds: Thresholds = field(default_factory=Thresholds)
    expected_precision: float | None = None  # of the auto links, by the fitted model


@dataclass
class ScoredPairs:
    """Every candidate pair with its levels, bits, score and probability, before deciding."""

    pairs: pd.DataFrame  # r, c, score, probability, veto, pos
    records: pd.DataFrame
    citizens: pd.DataFrame
    levels: np.ndarray
    bits: np.ndarray
    model: MatchModel
    counts: dict = field(default_factory=dict)


def _random_levels(rk: pd.DataFrame, ck: pd.DataFrame, vocab: dict, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ri = rng.integers(0, len(rk), n)
    ci = rng.integers(0, len(ck), n)
    return _levels(rk, ck, ri, ci, vocab)


def _levels(rk: pd.DataFrame, ck: pd.DataFrame, ri: np.ndarray, ci: np.ndarray, vocab: dict
            ) -> np.ndarray:
    """Comparison levels of the pairs, a chunk at a time, so memory stays bounded."""
    out = np.empty((len(ri), len(COMPARISONS)), dtype=np.int8)
    for start in range(0, len(ri), PAIR_CHUNK):
        part = slice(start, start + PAIR_CHUNK)
        out[part] = comparison_levels(rk.iloc[ri[part]].reset_index(drop=True),
                                      ck.iloc[ci[part]].reset_index(drop=True), vocab)
    return out


def _relative_levels(ck: pd.DataFrame, vocab: dict, most: int = RELATIVE_PAIRS) -> np.ndarray:
    """Comparison levels of citizen pairs with the same father and mother: siblings.

    They show how often a relative agrees on a given name, a birth date, a sex, which is
    what the review band must weigh (``review_band.py``); found in the population at hand,
    without labels. Families are taken in citizen order up to ``most`` pairs.
    """
    have = (ck["f_fgiv"].to_numpy() >= 0) & (ck["m_fgiv"].to_numpy() >= 0)
    idx = np.flatnonzero(have)
    if len(idx) < 2:
        return np.empty((0, len(COMPARISONS)), dtype=np.int8)
    key = ck["f_ffull"].to_numpy()[idx].astype(np.int64) * (1 << 31) + ck["m_ffull"].to_numpy()[idx]
    order = np.argsort(key, kind="stable")
    idx, key = idx[order], key[order]
    left, right = [], []
    for k in range(1, 6):  # families of up to six children
        same = key[k:] == key[:-k]
        left.append(idx[:-k][same])
        right.append(idx[k:][same])
    a, b = np.concatenate(left)[:most], np.concatenate(right)[:most]
    if not len(a):
        return np.empty((0, len(COMPARISONS)), dtype=np.int8)
    return _levels(ck, ck, a, b, vocab)


def _explain(levels: np.ndarray, bits: np.ndarray) -> list[dict]:
    out = []
    for j, c in enumerate(COMPARISONS):
        level = int(levels[j])
        if level == MISSING:
            out.append({"comparison": c.name, "level": None, "label": f"thiếu {c.name}", "bits": 0.0})
        else:
            out.append({"comparison": c.name, "level": level, "label": c.levels[level],
                        "bits": round(float(bits[j]), 2)})
    return out


def _vetoed(levels: np.ndarray) -> np.ndarray:
    """Pairs that may not be auto-linked whatever their score.

    A different given name with the same date and parents is a renamed person or a twin
    whose sibling died young; only a person can tell, so it is never auto-linked
    (measured: allowing it gained 0.9 % recall and made 5 wrong links in 20 000, all twins).
    """
    veto = np.zeros(len(levels), dtype=bool)
    for name, level in VETO:
        veto |= levels[:, _INDEX[name]] == level
    return veto


def score_pairs(records: pd.DataFrame, citizens: pd.DataFrame, *, seed: int = 0,
                model: MatchModel | None = None, lexicon: NameLexicon | None = None
                ) -> ScoredPairs:
    """Candidate pairs of ``records`` × ``citizens`` scored by a model learned on them.

    The model (u from random pairs, m and λ by EM, term frequencies from the citizens) is
    learned from these two frames, without labels, unless ``model`` is given. So is the name
    lexicon names are cleaned with (``keys.population_lexicon``), unless ``lexicon`` is given
    (``hotich match`` gives the one stored by the population import).
    """
    records = records.reset_index(drop=True)
    citizens = citizens.reset_index(drop=True)
    if lexicon is None:
        lexicon = population_lexicon(citizens["full_name"])
    rk, ck, vocab = encode_pair(person_keys(records, population=False, lexicon=lexicon),
                                person_keys(citizens, population=True, lexicon=lexicon))
    ri, ci, mask, per_pass = candidate_pairs(rk, ck)
    levels = _levels(rk, ck, ri, ci, vocab)
    if model is None:
        u = estimate_u(_random_levels(rk, ck, vocab, min(RANDOM_PAIRS, len(rk) * len(ck)), seed))
        # with no session to learn from: one citizen per record among its candidates
        one_each = len(np.unique(ri)) / max(len(ri), 1)
        m, prior = estimate_m(levels, mask, u, one_each)
        m, fallbacks = guard_m(m, u)
        relatives = _relative_levels(ck, vocab)
        model = MatchModel(m=m, u=u, prior=prior, passes=[p.label for p in PASSES],
                           fallbacks=fallbacks,
                           u_relatives=estimate_u(relatives) if len(relatives) >= MIN_RELATIVE_PAIRS
                           else {})
    tf_share = {}
    for c in COMPARISONS:
        if c.tf_column:
            shares = term_shares(ck[c.tf_column].to_numpy(), len(vocab[c.tf_column]))
            codes = rk[c.tf_column].to_numpy()[ri]
            tf_share[c.tf_column] = np.where(codes >= 0, shares[np.maximum(codes, 0)], 0.0)
    bits = pair_weights(levels, model, tf_share)
    score = bits.sum(axis=1)
    # Prior odds of a candidate pair: the share of candidate pairs EM found to be matches.
    prior_bits = np.log2(model.prior / (1 - model.prior))
    probability = 1 / (1 + np.exp2(-np.clip(score + prior_bits, -60, 60)))
    pairs = pd.DataFrame({"r": ri, "c": ci, "score": score, "probability": probability,
                          "veto": _vetoed(levels)})
    pairs["pos"] = np.arange(len(pairs))
    counts = {"records": len(records), "citizens": len(citizens), "candidate_pairs": len(pairs),
              "per_pass": per_pass}
    return ScoredPairs(pairs, records, citizens, levels, bits, model, counts)


def link_frames(records: pd.DataFrame, citizens: pd.DataFrame, *, seed: int = 0,
                model: MatchModel | None = None, thresholds: Thresholds | None = None,
                lexicon: NameLexicon | None = None) -> LinkResult:
    """Links of every record: ``auto`` (at most one per record), ``needs_review`` candidates.

    ``records`` and ``citizens`` carry the canonical columns (SPEC §4: full_name, sex,
    birth_date, birth_place, father_name, mother_name; ``record_id`` / ``citizen_id``).
    A given ``model`` is used as is (re-running with the stored model reproduces links).
    Without ``thresholds`` the lowest auto score is chosen from the model's own score
    distribution (``calibration.choose_min_score``); the model's stored thresholds, when it
    has them, are used as they are.
    """
    scored = score_pairs(records, citizens, seed=seed, model=model, lexicon=lexicon)
    if thresholds is None and model is not None and model.thresholds:
        stored = model.thresholds
        thresholds = Thresholds(stored.get("auto_probability", AUTO_PROBABILITY),
                                stored.get("margin_bits", MARGIN_BITS),
                                stored.get("review_probability", REVIEW_PROBABILITY),
                                -math.inf if stored.get("min_score") is None else stored["min_score"])
    return decide_links(scored, thresholds)


def decide_links(scored: ScoredPairs, thresholds: Thresholds | None = None) -> LinkResult:
    """Decisions on scored pairs; without ``thresholds``, the lowest auto score is chosen
    from the scores themselves (``calibration.choose_min_score``)."""
    from pipeline.match.calibration import choose_min_score, expected_precision

    ranked = _rank(scored.pairs)
    best = _best(ranked, scored.records, scored.citizens)
    # EM's λ × candidate pairs: how many records have their citizen among the candidates
    best.attrs.update(records=len(scored.records),
                      expected_matches=scored.model.prior * len(scored.pairs))
    if thresholds is None:
        thresholds = Thresholds(min_score=choose_min_score(best, Thresholds()))
    auto_pos = set(ranked.loc[_auto_rows(ranked, thresholds), "pos"].tolist())
    links = _links(ranked, auto_pos, thresholds, scored)
    model = scored.model
    model.thresholds = thresholds.to_json()
    expected = expected_precision(best, thresholds)
    expected = None if math.isnan(expected) else expected
    model.thresholds["expected_precision"] = None if expected is None else round(expected, 5)
    counts = {**scored.counts,
              "auto": int((links["status"] == "auto").sum()) if len(links) else 0,
              "needs_review": int(links.loc[links["status"] == "needs_review", "record_id"].nunique())
              if len(links) else 0}
    return LinkResult(links=links, model=model, counts=counts, best=best, thresholds=thresholds,
                      expected_precision=expected)


def _rank(pairs: pd.DataFrame) -> pd.DataFrame:
    """Plausible pairs, best first, with what the auto rule needs.

    * one-to-one within a run: the strongest pairs are taken first and a citizen taken by one
      record is not offered to another (``chosen``);
    * ``margin``: the score over the record's runner-up among its first candidates that could
      themselves be auto-linked (a twin with another given name, a namesake of the other sex,
      never takes the link from the one it resembles).
    """
    pairs = pairs[pairs["probability"] >= REVIEW_PROBABILITY * 0.2].sort_values(
        "score", ascending=False, kind="stable").reset_index(drop=True)
    taken_r: set[int] = set()
    taken_c: set[int] = set()
    chosen = np.zeros(len(pairs), dtype=bool)
    for i, (r, c) in enumerate(zip(pairs["r"].to_numpy(), pairs["c"].to_numpy())):
        if r in taken_r or c in taken_c:
            continue
        taken_r.add(r)
        taken_c.add(c)
        chosen[i] = True
    pairs["chosen"] = chosen
    pairs["rank"] = pairs.groupby("r", sort=False).cumcount() + 1
    head = pairs[(pairs["rank"] <= CANDIDATES_KEPT + 1) & ~pairs["veto"]]
    rival_rank = head.groupby("r", sort=False).cumcount()
    runner_up = pd.Series(head["score"].to_numpy()[rival_rank.to_numpy() == 1],
                          index=head["r"].to_numpy()[rival_rank.to_numpy() == 1])
    pairs["margin"] = pairs["score"] - pairs["r"].map(runner_up).fillna(-np.inf)
    # the runner-up as it would stand if the best candidate were absent (calibration.py)
    second = pairs[pairs["rank"] == 2].set_index("r")
    rest = pairs[(pairs["rank"] >= 3) & (pairs["rank"] <= CANDIDATES_KEPT + 2) & ~pairs["veto"]]
    third = rest.groupby("r")["score"].max()
    pairs["runner_score"] = pairs["r"].map(second["score"])
    pairs["runner_probability"] = pairs["r"].map(second["probability"]).fillna(0.0)
    pairs["runner_veto"] = pairs["r"].map(second["veto"].astype(float)).fillna(1.0).astype(bool)
    pairs["runner_margin"] = pairs["runner_score"] - pairs["r"].map(third).fillna(-np.inf)
    pairs["runner_score"] = pairs["runner_score"].fillna(-np.inf)
    # records in the order of their best pair, candidates by rank
    order = pd.Series(np.arange(pairs["r"].nunique()), index=pd.unique(pairs["r"]))
    pairs["group"] = pairs["r"].map(order)
    return pairs


def _auto_rows(ranked: pd.DataFrame, t: Thresholds) -> np.ndarray:
    first = ranked["rank"].to_numpy() == 1 if "rank" in ranked else np.ones(len(ranked), bool)
    return (ranked["chosen"].to_numpy() & first
            & (ranked["probability"].to_numpy() >= t.auto_probability) & ~ranked["veto"].to_numpy()
            & (ranked["margin"].to_numpy() >= t.margin_bits) & (ranked["score"].to_numpy() >= t.min_score))


def _best(ranked: pd.DataFrame, records: pd.DataFrame, citizens: pd.DataFrame) -> pd.DataFrame:
    best = ranked.loc[ranked["rank"] == 1, ["r", "c", "score", "probability", "veto", "chosen",
                                            "margin", "runner_score", "runner_probability",
                                            "runner_veto", "runner_margin"]].reset_index(drop=True)
    best.insert(0, "record_id", records["record_id"].to_numpy()[best["r"].to_numpy()])
    best.insert(1, "citizen_id", citizens["citizen_id"].to_numpy()[best["c"].to_numpy()])
    return best


def auto_mask(best: pd.DataFrame, t: Thresholds) -> np.ndarray:
    """Which rows of ``LinkResult.best`` the auto rule links under thresholds ``t``."""
    return _auto_rows(best, t)


def _personal_bits(scored: ScoredPairs, pos: np.ndarray) -> np.ndarray:
    """Bits of the fields that tell a person from a relative, weighed against relatives."""
    table = scored.model.relative_weights()
    if not table:
        return scored.bits[pos][:, _PERSONAL].sum(axis=1)
    out = np.zeros(len(pos))
    for j in _PERSONAL:
        lv = scored.levels[pos, j].astype(np.int64)
        weights = np.asarray(table[COMPARISONS[j].name])
        out += np.where(lv >= 0, weights[np.maximum(lv, 0)], 0.0)
    return out


def _links(ranked: pd.DataFrame, auto_pos: set, t: Thresholds, scored: ScoredPairs) -> pd.DataFrame:
    columns = ["record_id", "citizen_id", "score", "probability", "status", "rank", "explanation",
               "worth"]
    auto = ranked["pos"].isin(auto_pos).to_numpy()
    # a record whose best candidate is plausible is queued with all its kept candidates, so
    # the reviewer sees the sibling or namesake beside it (review_band.py)
    top = ranked.loc[ranked["rank"] == 1].set_index("r")["probability"]
    plausible = ranked["r"].map(top).to_numpy() >= t.review_probability
    keep = (ranked["rank"].to_numpy() <= CANDIDATES_KEPT) & (auto | plausible)
    rows = ranked[keep].assign(auto=auto[keep]).sort_values(["group", "rank"], kind="stable")
    if not len(rows):
        return pd.DataFrame(columns=columns)
    # a record with an auto link keeps only that one
    auto_r = set(rows.loc[rows["auto"], "r"])
    rows = rows[~rows["r"].isin(auto_r) | rows["auto"]]
    pos = rows["pos"].to_numpy()
    out = pd.DataFrame({
        "record_id": scored.records["record_id"].to_numpy()[rows["r"].to_numpy()],
        "citizen_id": scored.citizens["citizen_id"].to_numpy()[rows["c"].to_numpy()],
        "score": np.round(rows["score"].to_numpy(dtype=float), 3),
        "probability": np.round(rows["probability"].to_numpy(dtype=float), 5),
        "status": np.where(rows["auto"].to_numpy(), "auto", "needs_review"),
        "rank": 0,
        "explanation": [_explain(scored.levels[p], scored.bits[p]) for p in pos],
    })
    out["rank"] = out.groupby("record_id", sort=False).cumcount() + 1
    # what a reviewer's click on the record is worth (review_band.py); none for auto links
    review = out["status"] == "needs_review"
    out["worth"] = np.nan
    if review.any():
        personal = pd.Series(_personal_bits(scored, pos), index=out.index)
        out.loc[review, "worth"] = review_worth(personal[review], out.loc[review, "record_id"]).round(5)
    return out.reset_index(drop=True)

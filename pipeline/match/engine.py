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
* everything between the review and auto thresholds goes to a reviewer with its candidates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pipeline.match.blocking import PASSES, candidate_pairs
from pipeline.match.compare import COMPARISONS, MISSING, comparison_levels
from pipeline.match.keys import encode_pair, person_keys
from pipeline.match.model import (
    RANDOM_PAIRS,
    MatchModel,
    estimate_m,
    estimate_u,
    pair_weights,
    term_shares,
)

ENGINE_VERSION = "fs-2"  # fs-2: year-off date levels, bounded disagreement, two-field blocking
AUTO_PROBABILITY = 0.999
REVIEW_PROBABILITY = 0.5
MARGIN_BITS = 6.0  # the best candidate must be 64× likelier than the next one
CANDIDATES_KEPT = 3
_INDEX = {c.name: j for j, c in enumerate(COMPARISONS)}
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
VETO = {("birth_date", 10), ("birth_date", 9), ("given_name", 4)}
PAIR_CHUNK = 500_000  # pairs compared at a time: the sides of a chunk are the big allocation


@dataclass
class LinkResult:
    links: pd.DataFrame  # record_id, citizen_id, score, probability, status, rank, explanation
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


def link_frames(records: pd.DataFrame, citizens: pd.DataFrame, *, seed: int = 0,
                model: MatchModel | None = None) -> LinkResult:
    """Links of every record: ``auto`` (at most one per record), ``needs_review`` candidates.

    ``records`` and ``citizens`` carry the canonical columns (SPEC §4: full_name, sex,
    birth_date, birth_place, father_name, mother_name; ``record_id`` / ``citizen_id``).
    A given ``model`` is used as is (re-running with the stored model reproduces links).
    """
    records = records.reset_index(drop=True)
    citizens = citizens.reset_index(drop=True)
    rk, ck, vocab = encode_pair(person_keys(records, population=False),
                                person_keys(citizens, population=True))
    ri, ci, mask, per_pass = candidate_pairs(rk, ck)
    levels = _levels(rk, ck, ri, ci, vocab)
    if model is None:
        u = estimate_u(_random_levels(rk, ck, vocab, min(RANDOM_PAIRS, len(rk) * len(ck)), seed))
        # with no session to learn from: one citizen per record among its candidates
        one_each = len(np.unique(ri)) / max(len(ri), 1)
        m, prior = estimate_m(levels, mask, u, one_each)
        model = MatchModel(m=m, u=u, prior=prior, passes=[p.label for p in PASSES],
                           thresholds={"auto_probability": AUTO_PROBABILITY,
                                       "review_probability": REVIEW_PROBABILITY,
                                       "margin_bits": MARGIN_BITS})
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
    links = _decide(pairs, records, citizens, levels, bits)
    counts = {"records": len(records), "citizens": len(citizens), "candidate_pairs": len(pairs),
              "per_pass": per_pass, "auto": int((links["status"] == "auto").sum()) if len(links) else 0,
              "needs_review": int(links.loc[links["status"] == "needs_review", "record_id"].nunique())
              if len(links) else 0}
    return LinkResult(links=links, model=model, counts=counts)


def _decide(pairs: pd.DataFrame, records: pd.DataFrame, citizens: pd.DataFrame,
            levels: np.ndarray, bits: np.ndarray) -> pd.DataFrame:
    columns = ["record_id", "citizen_id", "score", "probability", "status", "rank", "explanation"]
    if not len(pairs):
        return pd.DataFrame(columns=columns)
    pairs = pairs[pairs["probability"] >= REVIEW_PROBABILITY * 0.2].sort_values(
        "score", ascending=False, kind="stable")
    # one-to-one: best pairs first; a citizen given to one record is taken
    taken_r: set[int] = set()
    taken_c: set[int] = set()
    best: dict[int, int] = {}
    for r, c, pos in zip(pairs["r"].to_numpy(), pairs["c"].to_numpy(), pairs["pos"].to_numpy()):
        if r in taken_r or c in taken_c:
            continue
        taken_r.add(r)
        taken_c.add(c)
        best[int(r)] = int(pos)
    rows = []
    record_ids, citizen_ids = records["record_id"].to_numpy(), citizens["citizen_id"].to_numpy()
    by_record = pairs.groupby("r", sort=False)
    for r, group in by_record:
        group = group.head(CANDIDATES_KEPT + 1)
        chosen = best.get(int(r))
        scores = group["score"].to_numpy()
        # Only a candidate that could itself be auto-linked competes for the margin: a twin
        # with another given name, or a namesake of the other sex, never takes the link.
        rivals = group.loc[~group["veto"].to_numpy(), "score"].to_numpy()
        for rank, (pos, c, score, prob, veto) in enumerate(
                zip(group["pos"], group["c"], scores, group["probability"], group["veto"]), start=1):
            if rank > CANDIDATES_KEPT:
                break
            status = "needs_review"
            if pos == chosen and rank == 1:
                runner_up = rivals[1] if len(rivals) > 1 else -math.inf
                if prob >= AUTO_PROBABILITY and not veto and score - runner_up >= MARGIN_BITS:
                    status = "auto"
            if status == "needs_review" and prob < REVIEW_PROBABILITY:
                continue
            rows.append((record_ids[int(r)], citizen_ids[int(c)], round(float(score), 3),
                         round(float(prob), 5), status, rank, _explain(levels[pos], bits[pos])))
    out = pd.DataFrame(rows, columns=columns)
    # a record with an auto link keeps only that one
    auto = set(out.loc[out["status"] == "auto", "record_id"])
    out = out[~out["record_id"].isin(auto) | (out["status"] == "auto")].reset_index(drop=True)
    out["rank"] = out.groupby("record_id", sort=False).cumcount() + 1
    return out

"""Issue 15, part 3: the model learned on the data at hand says how precise its auto links are,
and raises its auto threshold when the data hold more lookalikes than the rule can keep out."""

from __future__ import annotations

import doctest
import math

import numpy as np
import pandas as pd
import pytest

import pipeline.match.calibration as calibration
from pipeline.match.engine import Thresholds, link_frames
from pipeline.match.model import guard_m
from pipeline.samplegen.linkage import generate_linkage


@pytest.fixture(scope="module")
def linkage():
    return generate_linkage(5000, 50000, seed=3)


def _without_citizens(ls, share: float, seed: int = 0):
    """The set with the citizens of ``share`` of the records removed: their siblings, cousins
    and namesakes stay, so their best candidates become lookalikes."""
    cids = ls.truth["citizen_id"].dropna()
    gone = set(cids[np.random.default_rng(seed).random(len(cids)) < share])
    citizens = ls.citizens[~ls.citizens["citizen_id"].isin(gone)]
    truth = ls.truth["citizen_id"].where(~ls.truth["citizen_id"].isin(gone), None)
    return citizens, dict(zip(ls.truth["record_id"], truth))


def _precision(result, truth: dict) -> float:
    auto = result.links[result.links["status"] == "auto"]
    return float(np.mean([truth.get(r) == c for r, c in zip(auto["record_id"], auto["citizen_id"])]))


@pytest.mark.parametrize("share", [0.0, 0.6])
def test_expected_precision_is_close_to_the_real_one(linkage, share):
    citizens, truth = _without_citizens(linkage, share)
    result = link_frames(linkage.records, citizens)
    assert result.expected_precision is not None
    assert abs(result.expected_precision - _precision(result, truth)) <= 0.01
    assert result.model.to_json()["thresholds"]["expected_precision"] == round(result.expected_precision, 5)


def test_a_posterior_alone_would_promise_far_too_much(linkage):
    """Why calibration.py exists: the posteriors promise (almost) no wrong link."""
    citizens, truth = _without_citizens(linkage, 0.9)
    result = link_frames(linkage.records, citizens, thresholds=Thresholds())
    auto = result.links[result.links["status"] == "auto"]
    posterior_wrong = float((1 - auto["probability"]).sum())
    real_wrong = (1 - _precision(result, truth)) * len(auto)
    assert round(real_wrong) >= 2 and real_wrong > 5 * posterior_wrong


def test_many_lookalikes_raise_the_auto_threshold_and_keep_precision(linkage):
    citizens, truth = _without_citizens(linkage, 0.9)
    chosen = link_frames(linkage.records, citizens)
    fixed = link_frames(linkage.records, citizens, thresholds=Thresholds())
    assert math.isinf(fixed.thresholds.min_score)
    assert not math.isinf(chosen.thresholds.min_score)
    assert _precision(chosen, truth) > _precision(fixed, truth)


def test_on_data_like_the_generators_the_rule_is_left_as_it_is(linkage):
    result = link_frames(linkage.records, linkage.citizens)
    assert math.isinf(result.thresholds.min_score)
    assert result.model.to_json()["thresholds"]["min_score"] is None


def test_a_stored_model_reproduces_its_thresholds(linkage):
    citizens, _ = _without_citizens(linkage, 0.9)
    first = link_frames(linkage.records, citizens)
    again = link_frames(linkage.records, citizens, model=first.model)
    assert again.thresholds.min_score == pytest.approx(first.thresholds.min_score, abs=1e-3)
    cols = ["record_id", "citizen_id", "status"]
    pd.testing.assert_frame_equal(first.links[cols], again.links[cols])


def test_a_degenerate_em_fit_falls_back_to_the_prior():
    m = {"sex": [0.3, 0.7], "birth_place": [0.6, 0.2, 0.1, 0.1]}
    u = {"sex": [0.5, 0.5], "birth_place": [0.1, 0.2, 0.3, 0.4]}
    guarded, replaced = guard_m(m, u)
    assert replaced == ["sex"]
    assert guarded["sex"][0] > u["sex"][0]  # agreement counts for a link again
    assert guarded["birth_place"] == m["birth_place"]


def test_docstring_examples():
    result = doctest.testmod(calibration, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0

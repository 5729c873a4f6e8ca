"""Issue 15, part 5: every record left unlinked whose best candidate is plausible is queued
with its candidates, the record a reviewer's click is worth most first."""

from __future__ import annotations

import doctest

import numpy as np
import pytest

import pipeline.match.review_band as review_band
from pipeline.match.engine import REVIEW_PROBABILITY, link_frames
from pipeline.match.review_band import review_queue
from pipeline.samplegen.linkage_noise import generate_families


@pytest.fixture(scope="module")
def run():
    data = generate_families(3000, 30000, seed=9)
    result = link_frames(data.records, data.citizens)
    return data, result, review_queue(result.links)


def test_every_unlinked_record_with_a_plausible_best_candidate_is_queued(run):
    _, result, queue = run
    best = result.best
    auto = set(result.links.loc[result.links["status"] == "auto", "record_id"])
    plausible = set(best.loc[best["probability"] >= REVIEW_PROBABILITY, "record_id"]) - auto
    assert len(plausible) > 50
    assert set(queue["record_id"]) == plausible
    assert not set(queue["record_id"]) & auto


def test_a_queued_record_brings_its_candidates_best_first(run):
    _, result, queue = run
    several = queue.groupby("record_id").size()
    assert (several <= 3).all() and (several > 1).any()
    for _, part in queue.groupby("record_id"):
        assert list(part["rank"]) == list(range(1, len(part) + 1))
        assert part["score"].is_monotonic_decreasing
    assert queue["queue"].is_monotonic_increasing


def test_clicks_at_the_head_of_the_queue_are_worth_more(run):
    """The records first in the queue find their citizen among the candidates more often."""
    data, _, queue = run
    truth = dict(zip(data.truth["record_id"], data.truth["citizen_id"]))
    found = queue.groupby("queue").apply(
        lambda part: truth.get(part["record_id"].iat[0]) in set(part["citizen_id"]),
        include_groups=False).to_numpy()
    half = len(found) // 2
    assert found[:half].mean() > found[half:].mean() + 0.1
    worth = queue.drop_duplicates("record_id")["worth"].to_numpy()
    assert (np.diff(worth) <= 1e-9).all()
    fifth = len(found) // 5
    assert found[:fifth].mean() > 2 * found[half:].mean()


def test_docstring_examples():
    result = doctest.testmod(review_band, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_relatives_are_counted_in_the_population_at_hand(run):
    """Siblings (same parents) in the population say how often a relative shares a date."""
    _, result, _ = run
    u = result.model.u_relatives
    assert u and u["birth_date"][0] < 0.1  # twins only
    weights = result.model.relative_weights()
    assert weights["birth_date"][0] > 3 and weights["birth_date"][-1] < 0
    assert "u_relatives" in result.model.to_json()

"""The linkage generator (records, citizens, truth) and the benchmark's metrics function."""

from __future__ import annotations

import importlib.util
import math
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from pipeline.samplegen.linkage import (CITIZEN_COLUMNS, KINDS, NO_COUNTERPART_KINDS, RATES,
                                        RECORD_COLUMNS, generate_linkage)

ROOT = Path(__file__).resolve().parents[2]


def _bench():
    spec = importlib.util.spec_from_file_location("bench_match", ROOT / "bench" / "match.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("bench_match", module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def ls():
    return generate_linkage(6_000, 60_000, seed=11)


def test_same_seed_same_data_other_seed_other_data():
    a, b = generate_linkage(500, 5_000, seed=3), generate_linkage(500, 5_000, seed=3)
    pd.testing.assert_frame_equal(a.records, b.records)
    pd.testing.assert_frame_equal(a.citizens, b.citizens)
    pd.testing.assert_frame_equal(a.truth, b.truth)
    c = generate_linkage(500, 5_000, seed=4)
    assert not a.records["full_name"].equals(c.records["full_name"])


def test_shapes_and_columns(ls):
    assert len(ls.records) == 6_000 and len(ls.citizens) == 60_000 and len(ls.truth) == 6_000
    assert list(ls.records.columns) == RECORD_COLUMNS
    assert list(ls.citizens.columns) == CITIZEN_COLUMNS
    assert ls.records["record_id"].is_unique
    assert set(ls.truth["kind"]) <= set(KINDS)
    assert ls.citizens["citizen_id"].str.fullmatch(r"04[02][0-3]\d{8}").all()
    assert set(ls.records["sex"]) <= {"M", "F", ""} and set(ls.citizens["sex"]) == {"M", "F"}
    dates = ls.records["birth_date"]
    assert dates.str.fullmatch(r"\d{4}(-\d{2}(-\d{2})?)?").all()
    assert dates.str[:4].astype(int).between(1954, 1990).all()  # lunar dates of early January


def test_citizen_id_encodes_sex_and_birth_year(ls):
    c = ls.citizens
    digit = c["citizen_id"].str[3].astype(int)
    assert ((digit % 2 == 1) == (c["sex"] == "F")).all()
    linked = ls.truth.dropna(subset=["citizen_id"]).merge(ls.records, on="record_id")
    true_year = linked["citizen_id"].str[4:6]
    assert (true_year == linked["birth_date"].str[2:4]).mean() > 0.9  # lunar/early-Jan aside


def test_truth_is_consistent(ls):
    t = ls.truth
    linked = t["citizen_id"].dropna()
    assert linked.isin(set(ls.citizens["citizen_id"])).all()   # every linked citizen exists
    assert linked.is_unique                                    # no citizen linked twice
    assert (t["citizen_id"].isna() == t["kind"].isin(NO_COUNTERPART_KINDS)).all()
    assert set(t["record_id"]) == set(ls.records["record_id"])


def test_stated_rates(ls):
    t = ls.truth
    no_cp = t["kind"].isin(NO_COUNTERPART_KINDS).mean()
    assert 0.12 <= no_cp <= 0.18                                # about 15 %
    dead = t["kind"].isin(["dead_child", "dead_child_renamed_sibling"]).mean()
    assert abs(dead - RATES["died_young"]) < 0.02
    renamed = (t["kind"] == "dead_child_renamed_sibling").sum() / max(1, t["kind"].str.startswith("dead").sum())
    assert abs(renamed - RATES["renamed_after_dead"]) < 0.06
    assert 0.02 <= (t["hard"] == "twin").mean() <= 0.08
    assert 0.04 <= (t["hard"] == "cousin").mean() <= 0.15
    has = t.dropna(subset=["citizen_id"])
    tags = has["noise"].str.split(",").explode()
    share = tags.value_counts() / len(has)
    for tag, rate in (("year_only", RATES["rec_year_only"]), ("lunar", RATES["rec_lunar"]),
                      ("cit_stripped", RATES["cit_stripped"]),
                      ("cit_placeholder", RATES["cit_placeholder"])):
        assert abs(share.get(tag, 0) - rate) < 0.015, tag
    assert share.get("ocr", 0) > 0.05 and share.get("merged", 0) > 0.005
    assert share.get("cit_changed_given", 0) > 0.003 and share.get("nghe_tinh", 0) > 0.2


def test_names_have_realistic_frequencies(ls):
    surnames = ls.citizens["full_name"].str.split().str[0]
    nguyen = surnames.isin(["Nguyễn", "Nguyen"]).mean()
    assert 0.33 <= nguyen <= 0.43
    words = ls.citizens["full_name"].str.split()
    middle = words[words.str.len() >= 3].str[1]
    assert middle.isin(["Văn", "Thị", "Van", "Thi"]).mean() > 0.6
    assert words.str[-1].nunique() >= 200


def test_dead_child_and_renamed_sibling_who_is_a_citizen(ls):
    t = ls.truth.merge(ls.records, on="record_id")
    dead = t[t["kind"] == "dead_child_renamed_sibling"]
    assert len(dead) > 50
    cit = ls.citizens
    found = 0
    for _, r in dead.head(60).iterrows():
        # a citizen with the same parents and given name, born 1-5 years later
        given = r["full_name"].split()[-1]
        year = int(r["birth_date"][:4])
        cand = cit[(cit["citizen_id"].str[4:6].astype(int) - year % 100) % 100 <= 6]
        cand = cand[cand["full_name"].str.split().str[-1] == given]
        cand = cand[cand["mother_name"] == r["mother_name"]]
        found += len(cand) > 0
    assert found / 60 > 0.6   # most; parents' and names' spelling noise hides the rest


def test_twins_share_parents_and_birth_date(ls):
    t = ls.truth.merge(ls.records, on="record_id")
    twins = t[t["hard"] == "twin"]
    pairs = twins.groupby(["book_id", "registration_date"])
    both = [g for _, g in pairs if len(g) >= 2]
    assert len(both) > 10
    for g in both:
        assert g["birth_date"].str[:4].nunique() == 1 or g["noise"].str.contains("lunar|swap|days_off").any()


def test_place_names_of_the_time_on_records_today_on_citizens(ls):
    assert ls.records["birth_place"].str.contains("Nghệ Tĩnh").any()
    assert not ls.citizens["birth_place"].str.contains("Nghệ Tĩnh").any()
    assert ls.citizens["birth_place"].str.contains("Hà Tĩnh").any()
    assert ls.citizens["birth_place"].str.contains("Thị xã Cửa Lò|Thị xã Hoàng Mai|Huyện Lộc Hà").any()


def test_200k_citizens_generated_quickly():
    t0 = time.perf_counter()
    big = generate_linkage(20_000, 200_000, seed=5)
    seconds = time.perf_counter() - t0
    assert len(big.citizens) == 200_000
    assert seconds < 20, seconds   # measured ~3 s on the 2-core dev box


def test_too_few_citizens_is_an_error():
    with pytest.raises(ValueError, match="too small"):
        generate_linkage(1_000, 500, seed=1)


# --- the benchmark's metrics ---------------------------------------------------------------

def test_link_metrics_on_a_hand_made_example():
    truth = pd.DataFrame({
        "record_id": ["r1", "r2", "r3", "r4", "r5"],
        "citizen_id": ["c1", "c2", "c3", None, ""],   # r4, r5: no counterpart
    })
    links = pd.DataFrame({
        "record_id": ["r1", "r2", "r3", "r3", "r4", "r5"],
        "citizen_id": ["c1", "c9", "c7", "c3", "c4", "c5"],
        "score": [0.99, 0.98, 0.7, 0.6, 0.97, 0.5],
        "status": ["auto", "auto", "needs_review", "needs_review", "auto", "needs_review"],
    })
    m = _bench().link_metrics(links, truth)
    assert m["auto_precision"] == pytest.approx(1 / 3)     # r1 right; r2, r4 wrong
    assert m["auto_recall"] == pytest.approx(1 / 3)        # of c1, c2, c3
    assert m["auto_f1"] == pytest.approx(1 / 3)
    assert m["review_precision"] == pytest.approx(1 / 3)   # r3-c3 of three review links
    assert m["review_recall"] == pytest.approx(1 / 2)      # r2, r3 missed; r3 in review
    assert m["no_counterpart_linked"] == pytest.approx(1 / 2)  # r4 of r4, r5


def test_link_metrics_without_links():
    truth = pd.DataFrame({"record_id": ["r1"], "citizen_id": ["c1"]})
    links = pd.DataFrame(columns=["record_id", "citizen_id", "score", "status"])
    m = _bench().link_metrics(links, truth)
    assert math.isnan(m["auto_precision"]) and m["auto_recall"] == 0

"""Issue 15, part 4: the generator's noise families, each switchable, and the matcher on the
records each one touched; the leave-one-family-out bench prints its table."""

from __future__ import annotations

import doctest
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import pipeline.samplegen.linkage_noise as linkage_noise
from pipeline.clean.book_names import clean_name_text
from pipeline.clean.syllables import is_valid_syllable
from pipeline.match.engine import link_frames
from pipeline.samplegen.linkage_noise import FAMILIES, generate_families, touched

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def noisy():
    return generate_families(3000, 30000, seed=5)


def test_every_family_touches_records_and_switched_off_touches_none(noisy):
    for fam in FAMILIES:
        assert touched(noisy, fam.name).sum() >= 10, fam.name
    for fam in FAMILIES:
        without = generate_families(1000, 10000, seed=5, without=(fam.name,))
        assert touched(without, fam.name).sum() == 0, fam.name


def test_same_seed_same_set(noisy):
    again = generate_families(3000, 30000, seed=5)
    pd.testing.assert_frame_equal(noisy.records, again.records)
    pd.testing.assert_frame_equal(noisy.citizens, again.citizens)
    pd.testing.assert_frame_equal(noisy.truth, again.truth)


def test_switching_one_added_family_off_leaves_the_others_as_they_were(noisy):
    without = generate_families(3000, 30000, seed=5, without=("year_shifts",))
    for col in ("full_name", "father_name", "mother_name", "sex", "birth_place"):
        assert (noisy.records[col] == without.records[col]).all(), col
    shifted = touched(noisy, "year_shifts")
    differs = (noisy.records["birth_date"] != without.records["birth_date"]).to_numpy()
    assert (differs == shifted).all()


def test_the_added_families_write_what_the_issue_shows(noisy):
    rec = noisy.records
    ages = rec.loc[touched(noisy, "age_suffixes"), ["father_name", "mother_name"]].stack()
    with_age = ages[ages.str.contains(r"\d")]
    assert len(with_age) > 20
    assert all(clean_name_text(v)[1] is not None for v in with_age)  # the clean stage finds the age
    slipped = rec.loc[touched(noisy, "glyph_slips"), ["full_name", "father_name", "mother_name"]].stack()
    invalid = [v for v in slipped if not all(is_valid_syllable(w) for w in v.split())]
    assert len(invalid) > 0.3 * len(slipped)
    caps = rec.loc[touched(noisy, "upper_case"), "full_name"]
    assert (caps == caps.str.upper()).all()
    shifted = touched(noisy, "year_shifts")
    clean = generate_families(3000, 30000, seed=5, without=("year_shifts",)).records
    years = rec.loc[shifted, "birth_date"].str[:4].astype(int) - clean.loc[shifted, "birth_date"].str[:4].astype(int)
    assert set(years.abs()) == {1}
    assert (rec.loc[shifted, "birth_date"].str[5:] == clean.loc[shifted, "birth_date"].str[5:]).all()


def test_minority_names_are_spelt_another_way_in_the_population(noisy):
    pick = touched(noisy, "minority_names")
    cit = noisy.citizens.set_index("citizen_id")["full_name"]
    pairs = [(r, cit[c]) for r, c in zip(noisy.records.loc[pick, "full_name"],
                                         noisy.truth.loc[pick, "citizen_id"])]
    assert len(pairs) > 30
    assert all(r != c for r, c in pairs)
    assert all(c.split()[0] in linkage_noise._MINORITY_SURNAMES for _, c in pairs)


@pytest.mark.parametrize("family,least", [("age_suffixes", 0.9), ("tagging", 0.9),
                                          ("merged_parents", 0.9), ("upper_case", 0.9),
                                          ("glyph_slips", 0.8), ("minority_names", 0.7),
                                          ("year_shifts", 0.6)])
def test_records_the_family_touched_are_linked(noisy, family, least):
    result = _links(noisy)
    auto = result[result["status"] == "auto"]
    got = set(zip(auto["record_id"], auto["citizen_id"]))
    part = noisy.truth[touched(noisy, family) & noisy.truth["citizen_id"].notna().to_numpy()]
    recall = np.mean([(r, c) in got for r, c in zip(part["record_id"], part["citizen_id"])])
    assert recall >= least, (family, recall)


_CACHE: dict = {}


def _links(ls) -> pd.DataFrame:
    if "links" not in _CACHE:
        _CACHE["links"] = link_frames(ls.records, ls.citizens).links
    return _CACHE["links"]


def test_leave_one_family_out_prints_held_out_rows_beside_the_tuned_ones():
    run = subprocess.run([sys.executable, str(ROOT / "bench" / "match.py"), "--families", "--quick",
                          "--family", "year_shifts"],
                         capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-2000:]
    lines = run.stdout.splitlines()
    tuned = next(line for line in lines if "tuned on all families" in line)
    held = next(line for line in lines if "year_shifts" in line and "│" in line)
    for row in (tuned, held):
        precision = float(re.findall(r"(\d+\.\d+) %", row)[1])
        assert precision >= 99.5, row
    assert "Splink" in run.stdout


def test_docstring_examples():
    result = doctest.testmod(linkage_noise, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0

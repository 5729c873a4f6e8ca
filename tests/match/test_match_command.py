"""`hotich match` prints the expected precision of its auto links, from the model it learned on
the data at hand, and stores each review link's worth for the queue (issue 15, parts 3, 5)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from pipeline.samplegen.linkage import generate_linkage
from pipeline.storage.db import make_engine, session_scope
from pipeline.storage.models import Link


@pytest.fixture(scope="module")
def data():
    return generate_linkage(1000, 10000, seed=21)


def test_match_prints_the_expected_precision_and_stores_review_worth(run, workspace, data, tmp_path):
    assert run("init").exit_code == 0
    records = tmp_path / "records.csv"
    typed = data.records.head(600).drop(columns=["book_id"])
    typed.insert(1, "registration_no", [str(i) for i in range(1, len(typed) + 1)])
    typed.to_csv(records, index=False)
    citizens = tmp_path / "population.csv"
    wanted = set(data.truth.head(600)["citizen_id"].dropna()) | set(data.citizens["citizen_id"][:4000])
    data.citizens[data.citizens["citizen_id"].isin(wanted)].to_csv(citizens, index=False)
    result = run("records", "import", records, "--book-type", "birth", "--book-id", "KS-1",
                 "--commune", "Kim Liên", "--district", "Nam Đàn", "--province", "Nghệ An",
                 "--year", "1970", "--volume", "1")
    assert result.exit_code == 0, result.output
    assert run("population", "import", citizens).exit_code == 0
    result = run("match")
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())  # rich wraps long lines
    found = re.search(r"Độ chính xác ước tính của liên kết tự động .*?: (\d+,\d+) %", out)
    assert found, out
    share = float(found.group(1).replace(",", "."))
    assert 99.0 <= share <= 100.0
    engine = make_engine(f"sqlite:///{workspace / 'hotich.db'}")
    with session_scope(engine) as s:
        review = s.scalars(select(Link).where(Link.status == "needs_review")).all()
        auto = s.scalars(select(Link).where(Link.status == "auto")).all()
    assert len(auto) > 300 and review
    assert all(0 <= link.explanation["review_worth"] <= 1 for link in review)
    assert all("review_worth" not in link.explanation for link in auto)
    # the worth is a column too, and the review app's queue is in its order (highest first)
    assert all(link.review_worth == link.explanation["review_worth"] for link in review)
    assert all(link.review_worth is None for link in auto)
    from pipeline.review.auth import Principal
    from pipeline.review.queue import queued_records

    worth = {link.record_id: link.review_worth for link in review}
    with session_scope(engine) as s:
        queue = queued_records(s, Principal(user_id=0, name="lan", role="reviewer", csrf_token="t",
                                            session_id=0))
    in_band = [rid for rid in queue if rid in worth]
    assert set(in_band) == set(worth)
    assert [worth[r] for r in in_band] == sorted(worth.values(), reverse=True)
    assert queue[:len(in_band)] == in_band  # records with a queued link come first

"""The matcher on the project's generated registers and population, and its database run."""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import func, select

from pipeline.match.engine import link_frames
from pipeline.match.run import match_books
from pipeline.samplegen.linkage import generate_linkage
from pipeline.storage.db import session_scope
from pipeline.storage.models import Book, Citizen, FieldValue, Link, Record, StageRun
from pipeline.storage.seed import page_without_scan


@pytest.fixture(scope="module")
def linkage():
    data = generate_linkage(2000, 20000, seed=11)
    return data, link_frames(data.records, data.citizens)


def test_auto_links_are_precise_and_find_most_people(linkage):
    data, result = linkage
    truth = data.truth.set_index("record_id")["citizen_id"].fillna("").astype(str)
    auto = result.links[result.links["status"] == "auto"]
    right = auto["citizen_id"].astype(str).to_numpy() == truth.loc[auto["record_id"]].to_numpy()
    assert right.mean() >= 0.995
    assert right.sum() / (truth != "").sum() >= 0.90
    no_counterpart = truth.index[truth == ""]
    assert auto["record_id"].isin(no_counterpart).mean() <= 0.03
    assert auto["record_id"].is_unique and auto["citizen_id"].is_unique  # one-to-one


def test_renamed_siblings_are_not_auto_linked(linkage):
    data, result = linkage
    kinds = data.truth.set_index("record_id")["kind"]
    dead = kinds.index[kinds == "dead_child"]
    assert len(dead) > 20
    auto = result.links[result.links["status"] == "auto"]
    assert auto["record_id"].isin(dead).sum() <= max(1, len(dead) // 50)


def test_every_link_explains_itself_in_vietnamese(linkage):
    _, result = linkage
    link = result.links.iloc[0]
    parts = {p["comparison"]: p for p in link["explanation"]}
    assert set(parts) >= {"given_name", "surname", "middle_name", "birth_date", "mother_name"}
    assert all(isinstance(p["label"], str) and p["label"] for p in parts.values())
    labels = {p["label"] for links in result.links["explanation"] for p in links}
    assert "ngày sinh đảo ngày/tháng" in labels and "một bên không có tên đệm" in labels
    model = result.model.to_json()
    assert model["comparisons"]["birth_date"]["weight_bits"][0] > 8  # an exact date counts


def test_same_input_same_links(linkage):
    data, result = linkage
    again = link_frames(data.records, data.citizens)
    cols = ["record_id", "citizen_id", "status", "rank"]
    pd.testing.assert_frame_equal(result.links[cols], again.links[cols])


def _store(engine, data, n: int = 300):
    """The first ``n`` generated records as one birth book, and the citizens, in the database."""
    records = data.records.head(n)
    with session_scope(engine) as s:
        book = Book(book_code="MATCH-1", book_type="birth", template="birth_form", commune="Kim Liên",
                    district="Nam Đàn", province="Nghệ An", year_from=1970, year_to=1970, volume="1")
        s.add(book)
        s.flush()
        page = page_without_scan(s, book, 1)
        keys = {}
        for i, row in enumerate(records.itertuples(index=False), start=1):
            rec = Record(record_key=str(row.record_id), book_id=book.id, page_id=page.id, row=i,
                         record_type="birth")
            s.add(rec)
            s.flush()
            keys[rec.id] = row.record_id
            for field in ("full_name", "sex", "birth_date", "birth_place", "father_name", "mother_name"):
                value = getattr(row, field) or None
                s.add(FieldValue(record_id=rec.id, field=field, raw=value or "", value=value,
                                 status="read", confidence=0.99))
        wanted = set(data.truth.head(n)["citizen_id"].dropna()) | set(data.citizens["citizen_id"][:3000])
        for row in data.citizens[data.citizens["citizen_id"].isin(wanted)].itertuples(index=False):
            s.add(Citizen(citizen_id=row.citizen_id, full_name=row.full_name, name_key="", name_folded="",
                          sex=row.sex or None, birth_date=row.birth_date or None, birth_place=row.birth_place,
                          father_name=row.father_name or None, mother_name=row.mother_name or None))
    return keys


def test_database_run_keeps_reviewers_decisions(engine, linkage, tmp_path):
    data, _ = linkage
    keys = _store(engine, data)
    first = match_books(engine, home=tmp_path)
    assert first.auto > 200 and (tmp_path / "match" / f"run-{first.stage_run_id}.json").exists()
    with session_scope(engine) as s:
        links = {(l.record_id, l.citizen_pk, l.status) for l in s.scalars(select(Link))}
        auto = s.scalars(select(Link).where(Link.status == "auto").order_by(Link.id)).all()
        confirmed, rejected = auto[0], auto[1]
        confirmed.status, confirmed.decided_by = "confirmed", "lan"
        rejected.status, rejected.decided_by = "rejected", "lan"
        kept = {(confirmed.record_id, confirmed.citizen_pk, "confirmed"),
                (rejected.record_id, rejected.citizen_pk, "rejected")}
        run = s.get(StageRun, first.stage_run_id)
        assert run.params["model"]["comparisons"]["birth_date"]["levels"][1] == "ngày sinh đảo ngày/tháng"
    second = match_books(engine, home=tmp_path)
    assert second.kept_decisions == 2
    with session_scope(engine) as s:
        after = {(l.record_id, l.citizen_pk, l.status) for l in s.scalars(select(Link))}
        assert kept <= after
        # the rest is what the first run gave: same input, same links
        assert {x for x in after if x[0] not in {k[0] for k in kept}} == \
            {x for x in links if x[0] not in {k[0] for k in kept}}
        assert s.scalar(select(func.count()).select_from(Link).where(
            Link.record_id == confirmed.record_id)) == 1
    assert len(keys) == 300

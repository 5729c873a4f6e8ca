"""Search on both back-ends: diacritics, marks, years, parents, places, index kept in sync."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from pipeline.errors import BadInput
from pipeline.search import refresh_index, reindex, search_records
from pipeline.storage.search_index import index_is_empty, record_terms
from pipeline.storage.models import Record, SearchTerm
from pipeline.storage.versions import add_field_version

from .conftest import add_book, add_page, add_record


def keys(result):
    return [h.record_key for h in result.hits]


def names(result):
    return [h.name for h in result.hits]


def test_name_without_diacritics_finds_the_marked_records(session, people):
    result = search_records(session, "nguyen van an")
    assert names(result)[:2] == ["Nguyễn Văn An", "Nguyễn Văn An"]
    # Ties go by book then page: HD before HL.
    assert keys(result)[:2] == ["HD-KS-1968-p0001-r01", "HL-KS-1968-p0001-r01"]
    # A father named An ranks below a child named An.
    assert "HL-KS-1968-p0001-r02" in keys(result)[2:]
    assert result.complete


def test_case_and_tone_style_do_not_matter(session, people):
    a = names(search_records(session, "PHAN THI THUY"))
    b = names(search_records(session, "Phan Thị Thủy"))  # the record is written Thuỷ
    assert a[0] == b[0] == "Phan Thị Thuỷ"


def test_marked_query_ranks_the_same_marks_first(session, people):
    assert names(search_records(session, "Hùng"))[:2] == ["Nguyễn Văn Hùng", "Nguyễn Văn Hưng"]
    assert names(search_records(session, "Hưng"))[:2] == ["Nguyễn Văn Hưng", "Nguyễn Văn Hùng"]
    hits = search_records(session, "hung").hits  # no marks typed: the two tie, by page
    assert [h.name for h in hits[:2]] == ["Nguyễn Văn Hùng", "Nguyễn Văn Hưng"]
    assert hits[0].score == hits[1].score


def test_year_picks_the_record_and_a_near_year_ranks_lower(session, people):
    result = search_records(session, "nguyen van an 1968")
    assert keys(result)[0] == "HD-KS-1968-p0001-r01"
    assert result.hits[0].score > result.hits[1].score
    near = search_records(session, "Trần Thị An 1968")  # born 1969
    assert keys(near)[0] == "HD-KS-1968-p0002-r02"
    exact = search_records(session, "Trần Thị An 1969")
    assert exact.hits[0].score > near.hits[0].score
    assert keys(search_records(session, "an 12/3/1968"))[0] == "HD-KS-1968-p0001-r01"


def test_parents_after_cha_and_me(session, people):
    result = search_records(session, "an cha nguyen van son")
    assert keys(result)[0] == "HL-KS-1968-p0001-r01"
    result = search_records(session, "me le thi hoa")
    assert keys(result)[0] == "HD-KS-1968-p0001-r01"
    # "cha an": records whose father is An, not children named An.
    assert keys(search_records(session, "cha an"))[0] == "HL-KS-1968-p0001-r02"


def test_commune_after_xa_and_by_name_alone(session, people):
    result = search_records(session, "nguyen van an xã Hưng Lộc")
    assert keys(result)[0] == "HL-KS-1968-p0001-r01"
    result = search_records(session, "nguyen van an hung loc")
    assert keys(result)[0] == "HL-KS-1968-p0001-r01"
    assert result.hits[0].commune == "Hưng Lộc"
    only_place = search_records(session, "xa hung dung", limit=50)
    assert {h.book_code for h in only_place.hits} == {"HD-KS-1968"} and len(only_place.hits) == 4
    district = search_records(session, "huyện Nghi Lộc", limit=50)
    assert {h.book_code for h in district.hits} == {"HL-KS-1968"}


def test_hit_carries_what_a_result_list_shows(session, people):
    hit = search_records(session, "Hồ Văn Hòa").hits[0]
    assert (hit.record_key, hit.book_code, hit.page, hit.row) == ("HL-KS-1968-p0002-r02", "HL-KS-1968", 2, 2)
    assert (hit.name, hit.birth_date, hit.father_name, hit.mother_name, hit.commune) == (
        "Hồ Văn Hòa", "1968", "Hồ Văn Lâm", "Đặng Thị Hường", "Hưng Lộc")
    assert hit.score > 0


def test_limit_nothing_found_and_bad_limit(session, people):
    assert len(search_records(session, "nguyen", limit=3).hits) == 3
    assert search_records(session, "xyzzy").hits == []
    assert search_records(session, "   ").hits == []
    with pytest.raises(BadInput):
        search_records(session, "an", limit=0)


def test_index_follows_a_correction(session, people):
    rec = people[("HD", 2, 2)]  # Trần Thị An
    assert "HD-KS-1968-p0002-r02" in keys(search_records(session, "tran thi an"))
    add_field_version(session, rec.id, "full_name", raw="Trần Thị An", value="Trần Thị Ánh",
                      status="read", confidence=1.0, source="review", changed_by="lan",
                      reason="sửa theo bản gốc", expected_version=1)
    refresh_index(session, [rec.id])  # add_field_version did it already; twice is harmless
    session.commit()
    assert keys(search_records(session, "tran thi anh"))[0] == "HD-KS-1968-p0002-r02"
    assert search_records(session, "tran thi an").hits[0].name != "Trần Thị Ánh" or \
        search_records(session, "tran thi an").hits[0].score < search_records(session, "tran thi anh").hits[0].score
    terms = session.execute(select(SearchTerm.token).where(SearchTerm.record_id == rec.id,
                                                           SearchTerm.role == "name")).scalars().all()
    assert sorted(terms) == ["anh", "thi", "tran"]


def test_refresh_and_reindex_are_idempotent(session, people):
    before = sorted(session.execute(select(SearchTerm.token, SearchTerm.role, SearchTerm.record_id,
                                           SearchTerm.marked)).all())
    ids = [r.id for r in people.values()]
    refresh_index(session, ids)
    refresh_index(session, ids)
    assert sorted(session.execute(select(SearchTerm.token, SearchTerm.role, SearchTerm.record_id,
                                         SearchTerm.marked)).all()) == before
    assert reindex(session) == len(before)
    assert reindex(session) == len(before)
    session.commit()
    assert sorted(session.execute(select(SearchTerm.token, SearchTerm.role, SearchTerm.record_id,
                                         SearchTerm.marked)).all()) == before


def test_reindex_builds_an_index_that_was_never_built(session, engine):
    book = add_book(session, "X-1", "Hưng Dũng")
    add_record(session, book, 1, 1, refresh=False, full_name="Võ Văn Kiệt", birth_date="1968-01-01")
    session.commit()
    assert index_is_empty(session)
    assert search_records(session, "kiet").hits == []
    session.rollback()  # end the read: PostgreSQL's rebuild waits for searches in progress
    assert reindex(engine) == 4
    assert not index_is_empty(session)
    assert names(search_records(session, "kiet")) == ["Võ Văn Kiệt"]


def test_deleting_a_record_removes_its_postings(session, people):
    rec = people[("HD", 1, 1)]
    session.delete(session.get(Record, rec.id))
    session.commit()
    assert session.scalar(select(func.count()).select_from(SearchTerm)
                          .where(SearchTerm.record_id == rec.id)) == 0


def test_ocr_records_are_indexed_when_a_page_is_persisted(engine, session):
    """persist_result (the one place OCR output is written) refreshes the page's records."""
    from pipeline.process import persist_result
    from pipeline.types import ExtractedRecord, FieldValue, PageResult

    book = add_book(session, "OCR-1", "Hưng Dũng")
    page = add_page(session, book, 1, status="pending")
    session.commit()
    fields = {"full_name": FieldValue("full_name", "NGUYỄN VĂN TÝ", "Nguyễn Văn Tý", "read", 0.9),
              "birth_date": FieldValue("birth_date", "1/2/1971", "1971-02-01", "read", 0.9)}
    result = PageResult(page_id=page.id, records=[ExtractedRecord(row=1, fields=fields)])
    assert persist_result(engine, result, None) == 1
    session.expire_all()
    hit = search_records(session, "nguyen van ti 1971").hits[0]
    assert (hit.name, hit.birth_date, hit.page, hit.row) == ("Nguyễn Văn Tý", "1971-02-01", 1, 1)


def test_record_terms_fold_and_keep_marks():
    terms = record_terms({"full_name": "Lý Thị Hoà", "father_name": "ĐẶNG VĂN LÍ",
                          "birth_date": "1968-03", "notes": "không tính"})
    assert ("li", "name", "lí") in terms and ("hoa", "name", "hòa") in terms
    assert ("dang", "father", "đặng") in terms and ("li", "father", "lí") in terms
    assert ("1968", "year", "1968") in terms
    assert not any(role == "notes" for _, role, _ in terms)

"""The query parser: what each kind of word becomes, and no crash on any text."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.search.query import parse_query


def tokens(words):
    return [w.token for w in words]


def test_names_years_parents_places():
    q = parse_query("Nguyễn Văn An sinh 1968 cha Nguyễn Văn Bình mẹ Lê Thị Hoà xã Hưng Dũng huyện Hưng Nguyên")
    assert tokens(q.words) == ["nguyen", "van", "an"]
    assert q.years == (1968,)
    assert tokens(q.father) == ["nguyen", "van", "binh"]
    assert tokens(q.mother) == ["le", "thi", "hoa"] and q.mother[2].marked == "hòa"
    assert tokens(q.commune) == ["hung", "dung"] and tokens(q.district) == ["hung", "nguyen"]
    assert q.marked


def test_unmarked_query_and_dates():
    q = parse_query("nguyen van an 12/03/1968")
    assert not q.marked and q.years == (1968,) and tokens(q.words) == ["nguyen", "van", "an"]
    assert parse_query("an 3-1970").years == (1970,)
    assert parse_query("an 123 45678 0999").years == ()  # not years


def test_a_year_ends_a_parent_part():
    q = parse_query("me hoa 1968 lan")
    assert tokens(q.mother) == ["hoa"] and tokens(q.words) == ["lan"]


def test_folding_keys():
    q = parse_query("ĐẶNG THỊ LÝ")
    assert tokens(q.words) == ["dang", "thi", "li"]
    assert parse_query("").empty and parse_query(" ,;: ").empty


@settings(max_examples=400, deadline=None)
@given(st.text())
def test_any_text_parses(text):
    q = parse_query(text)
    for w in (*q.words, *q.father, *q.mother, *q.commune, *q.district):
        assert w.token and w.token.isascii() and " " not in w.token
    assert all(1800 <= y <= 2100 for y in q.years)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["cha", "mẹ", "me", "xã", "huyện", "1968", "12/3/1970", "Nguyễn",
                                 "văn", "An", "thị trấn", ";", "'", "-", "Đ", "\u0301", "ǅ"]))
       .map(" ".join))
def test_keyword_soup_parses(text):
    parse_query(text)

"""How a candidate citizen is described to a reviewer (issue 19 §2), without a browser."""

from __future__ import annotations

from pipeline.review.links import Candidate, _part_label, _same, strength_words


def _candidate(score: float, probability: float) -> Candidate:
    return Candidate(1, 1, "040073000101", 1, "needs_review", score, probability, {}, {})


def test_two_near_certain_candidates_are_told_apart():
    a, b = _candidate(30.4, 0.99999), _candidate(22.0, 0.9997)
    assert a.probability_text == b.probability_text == "trên 99,9 %"  # never "100,0 %"
    assert (a.score_text, b.score_text) == ("30,4 điểm", "22,0 điểm")
    assert (a.strength, b.strength) == ("rất mạnh", "mạnh")
    assert _candidate(3.0, 0.0001).probability_text == "dưới 0,1 %"
    assert [strength_words(s) for s in (26, 16, 9, 1, -3)] == ["rất mạnh", "mạnh", "trung bình", "yếu", "rất yếu"]


def test_a_comparison_named_by_its_code_is_said_in_words():
    assert _part_label("thiếu birth_place", "birth_place") == "thiếu nơi sinh ở một bên, không so được"
    assert _part_label("tên trùng khớp", "given_name") == "tên trùng khớp"


def test_born_at_home_is_the_books_commune():
    assert _same("birth_place", "Tại nhà", "Xã Khánh Sơn, Huyện Nam Đàn", home="Khánh Sơn")
    assert not _same("birth_place", "Tại nhà", "Xã Nam Hưng, Huyện Nam Đàn", home="Khánh Sơn")
    assert not _same("birth_place", "Tại nhà", "Xã Khánh Sơn, Huyện Nam Đàn")  # commune unknown
    assert not _same("birth_place", "Bệnh viện Vinh", "Xã Khánh Sơn", home="Khánh Sơn")

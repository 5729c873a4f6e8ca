"""No single field vetoes a link (issue 15, part 2), and twins still never auto-link.

Hand-made people are slipped into a generated population, so the model is learned from the
population as a user's run would learn it, and the people under test meet real namesakes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.match.blocking import candidate_pairs
from pipeline.match.engine import link_frames
from pipeline.match.keys import encode_pair, person_keys
from pipeline.match.model import CAP_BITS, MatchModel
from pipeline.samplegen.linkage import generate_linkage

DIEN_MY = "Xã Diễn Mỹ, Huyện Diễn Châu, Tỉnh Nghệ An"
KIM_LIEN = "Xã Kim Liên, Huyện Nam Đàn, Tỉnh Nghệ An"
FIELDS = ["full_name", "sex", "birth_date", "birth_place", "father_name", "mother_name"]


def _person(key: str, name: str, sex: str, date: str, place: str, father: str, mother: str) -> dict:
    return {"id": key, "full_name": name, "sex": sex, "birth_date": date, "birth_place": place,
            "father_name": father, "mother_name": mother}


# (record, citizen) pairs of one person; a citizen of None: the record's person has no citizen
PEOPLE = [
    # issue 15 row 3: the book wrote the year one later (lunar year, or worked back from an age)
    (_person("r-tien", "Vũ Đức Tiến", "M", "1944-12-20", DIEN_MY, "Vũ Đức Khang", "Phạm Thị Lụa"),
     _person("c-tien", "Vũ Đức Tiến", "M", "1943-12-20", DIEN_MY, "Vũ Đức Khang", "Phạm Thị Lụa")),
    # issue 15 rows 1, 2 and 4 as typed: ages in parents' names, glued words, glyph slips
    (_person("r-dung", "Chu Minh Dũng", "M", "1983-04-03", "X. Diễn Mỹ, H. Diễn Châu",
             "Chu Quang Hưng (45t)", "LưuThị Thanh, 33 tuổi"),
     _person("c-dung", "Chu Minh Dũng", "M", "1983-04-03", "Xã Diễn Mỹ, Huyện Diễn Châu",
             "Chu Quang Hưng", "Lưu Thị Thanh")),
    (_person("r-binh", "NGUYỄN VĂN BÌNH", "M", "1963-11-15", KIM_LIEN, "NGUYỄNVĂN HỮU THỌ", "Trần Thị Lành"),
     _person("c-binh", "Nguyễn Văn Bình", "M", "1963-11-15", KIM_LIEN, "Nguyễn Văn Thọ", "Trần Thị Lành")),
    (_person("r-hoa", "NGUYỄU THI HOA", "F", "1959-09-17", "X. THANH KHAI", "NGUYCN VĂN THÀNH (28t)", "24 tuổi"),
     _person("c-hoa", "Nguyễn Thị Hoa", "F", "1959-09-17", "Xã Thanh Khai", "", "")),
    # a year off by one that is not one digit off (1949 → 1950)
    (_person("r-quyen", "Trương Thị Quyên", "F", "1950-06-05", KIM_LIEN, "Trương Văn Cừ", "Đậu Thị Mai"),
     _person("c-quyen", "Trương Thị Quyên", "F", "1949-06-05", KIM_LIEN, "Trương Văn Cừ", "Đậu Thị Mai")),
    # day and month swapped
    (_person("r-man", "Lê Thị Mận", "F", "1967-04-09", KIM_LIEN, "Lê Văn Tuyển", "Hồ Thị Nhàn"),
     _person("c-man", "Lê Thị Mận", "F", "1967-09-04", KIM_LIEN, "Lê Văn Tuyển", "Hồ Thị Nhàn")),
    # day and month swapped, and the father's surname read as another surname
    (_person("r-vinh", "Nguyễn Văn Vinh", "M", "1958-03-11", DIEN_MY, "Lò Văn Thành", "Cao Thị Huệ"),
     _person("c-vinh", "Nguyễn Văn Vinh", "M", "1958-11-03", DIEN_MY, "Nguyễn Văn Thành", "Cao Thị Huệ")),
    # twins A: only Tuấn is a citizen (Đức died young); Đức's record must not take Tuấn
    (_person("r-duc-a", "Hoàng Minh Đức", "M", "1970-05-14", KIM_LIEN, "Hoàng Minh Chiến", "Võ Thị Lài"),
     None),
    # twins B: both are citizens; each record finds its own
    (_person("r-son-b", "Phan Văn Sơn", "M", "1972-08-21", DIEN_MY, "Phan Văn Kỷ", "Thái Thị Lan"),
     _person("c-son-b", "Phan Văn Sơn", "M", "1972-08-21", DIEN_MY, "Phan Văn Kỷ", "Thái Thị Lan")),
    (_person("r-thuy-b", "Phan Văn Thủy", "M", "1972-08-21", DIEN_MY, "Phan Văn Kỷ", "Thái Thị Lan"),
     _person("c-thuy-b", "Phan Văn Thủy", "M", "1972-08-21", DIEN_MY, "Phan Văn Kỷ", "Thái Thị Lan")),
]
TWIN_A_CITIZEN = _person("c-tuan-a", "Hoàng Minh Tuấn", "M", "1970-05-14", KIM_LIEN, "Hoàng Minh Chiến",
                         "Võ Thị Lài")


def _frames(records: list[dict], citizens: list[dict], base=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    rec = pd.DataFrame(records).rename(columns={"id": "record_id"})
    cit = pd.DataFrame(citizens).rename(columns={"id": "citizen_id"})
    if base is not None:
        rec = pd.concat([base.records[["record_id", *FIELDS]], rec], ignore_index=True)
        cit = pd.concat([base.citizens[["citizen_id", *FIELDS]], cit], ignore_index=True)
    return rec, cit


@pytest.fixture(scope="module")
def links() -> pd.DataFrame:
    base = generate_linkage(1000, 10000, seed=5)
    records = [r for r, _ in PEOPLE]
    citizens = [c for _, c in PEOPLE if c is not None] + [TWIN_A_CITIZEN]
    rec, cit = _frames(records, citizens, base)
    return link_frames(rec, cit).links


def _auto(links: pd.DataFrame, record_id: str) -> str | None:
    row = links[(links["record_id"] == record_id) & (links["status"] == "auto")]
    return row["citizen_id"].iloc[0] if len(row) else None


@pytest.mark.parametrize("record_id,citizen_id", [("r-tien", "c-tien"), ("r-quyen", "c-quyen")])
def test_a_year_off_by_one_with_the_same_day_links(links, record_id, citizen_id):
    assert _auto(links, record_id) == citizen_id


@pytest.mark.parametrize("record_id,citizen_id", [("r-dung", "c-dung"), ("r-binh", "c-binh"),
                                                  ("r-hoa", "c-hoa")])
def test_the_other_rows_of_the_issue_still_link(links, record_id, citizen_id):
    assert _auto(links, record_id) == citizen_id


@pytest.mark.parametrize("record_id,citizen_id", [("r-man", "c-man"), ("r-vinh", "c-vinh")])
def test_day_and_month_swapped_links_even_with_a_misread_parent(links, record_id, citizen_id):
    assert _auto(links, record_id) == citizen_id


def test_a_twin_is_never_auto_linked_to_the_other_twin(links):
    assert _auto(links, "r-duc-a") is None
    # a person still sees the pair, with its reason
    review = links[(links["record_id"] == "r-duc-a") & (links["citizen_id"] == "c-tuan-a")]
    assert len(review) == 1 and review["status"].iloc[0] == "needs_review"
    given = {p["comparison"]: p for p in review["explanation"].iloc[0]}["given_name"]
    assert given["label"] == "tên khác nhau" and given["bits"] >= -CAP_BITS


def test_when_both_twins_are_citizens_each_record_gets_its_own(links):
    assert _auto(links, "r-son-b") == "c-son-b"
    assert _auto(links, "r-thuy-b") == "c-thuy-b"


def test_a_far_level_costs_a_bounded_weight():
    model = MatchModel(m={"surname": [0.9, 0.05, 0.03, 0.02, 0.0]},
                       u={"surname": [0.1, 0.01, 0.01, 0.05, 0.83]}, prior=0.1)
    weights = model.weights()["surname"]
    assert weights[-1] == -CAP_BITS  # m of 0 would be -19 bits through the floor
    assert weights[0] == pytest.approx(np.log2(9), abs=1e-3)  # agreement is not bounded


@pytest.mark.parametrize("record,citizen", [
    # date and parents, the name misread past recognition
    (_person("r1", "Đặng Thị Hoa", "F", "1962-03-08", "", "", "Lê Thị Sen"),
     _person("c1", "Đinh Thị Huệ", "F", "1962-03-08", "", "", "Lê Thị Sen")),
    # date and commune, the name misread and no parents written
    (_person("r2", "Phạm Thị Hằng", "F", "1966-10-02", DIEN_MY, "", ""),
     _person("c2", "Lâm Thị Nguyệt", "F", "1966-10-02", DIEN_MY, "", "")),
    # given name and parents, the surname misread and the year wrong
    (_person("r3", "Trịnh Văn Quý", "M", "1960", KIM_LIEN, "Triệu Văn Thân", "Bùi Thị Hiền"),
     _person("c3", "Triệu Văn Quý", "M", "1963-02-01", KIM_LIEN, "Triệu Văn Thân", "Bùi Thị Hiền")),
], ids=["date+mother", "date+commune", "given+parents"])
def test_two_strong_fields_are_enough_to_be_a_candidate(record, citizen):
    rec, cit = _frames([record], [citizen])
    rk, ck, _ = encode_pair(person_keys(rec, population=False), person_keys(cit, population=True))
    ri, ci, _, _ = candidate_pairs(rk, ck)
    assert list(zip(ri, ci)) == [(0, 0)]

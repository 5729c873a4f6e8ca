"""Places in the books resolved against the shipped gazetteer of Nghệ An and Hà Tĩnh."""

from __future__ import annotations

import doctest
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.clean import gazetteer as gazetteer_module
from pipeline.clean import places as places_module
from pipeline.clean.gazetteer import GAZETTEER_FILE, load_gazetteer
from pipeline.clean.places import BookPlace, parse_place, resolve_places, split_parts
from pipeline.templates import load_template
from pipeline.types import FieldValue

GAZ = load_gazetteer()


@pytest.mark.parametrize("text, when, code, path", [
    ("xã Kim Liên, huyện Nam Đàn, tỉnh Nghệ An", "1968", "17971",
     "xã Kim Liên, huyện Nam Đàn, tỉnh Nghệ An"),
    ("X. Kim Liên - H. Nam Đàn", "1968", "17971", "xã Kim Liên, huyện Nam Đàn, tỉnh Nghệ An"),
    ("Kim Liên, Nam Đàn, Nghệ Tĩnh", "1980", "17971", "xã Kim Liên, huyện Nam Đàn, tỉnh Nghệ Tĩnh"),
    ("Kim Lien, Nam Dan, Nghe An", "1995", "17971", "xã Kim Liên, huyện Nam Đàn, tỉnh Nghệ An"),
    ("Kim Liên Nam Đàn Nghệ An", None, "17971", "xã Kim Liên, huyện Nam Đàn, tỉnh Nghệ An"),
    ("xã Kim Liên huyện Nam Đàn tỉnh Nghệ Tĩnh", "1980", "17971",
     "xã Kim Liên, huyện Nam Đàn, tỉnh Nghệ Tĩnh"),
    ("Xóm 6, xã Võ Liệt", "1970", "17791", "xã Võ Liệt, huyện Thanh Chương, tỉnh Nghệ An"),
    ("TP. Vinh", "1985", "412", "thành phố Vinh, tỉnh Nghệ Tĩnh"),
    ("Thị xã Hà Tĩnh", "1970", "436", "thành phố Hà Tĩnh, tỉnh Hà Tĩnh"),
    ("Nghệ Tỉnh", "1980", None, "tỉnh Nghệ Tĩnh"),  # ĩ read as ỉ: still the province
    ("huyện Hưng Nguyên", "1970", "431", "huyện Hưng Nguyên, tỉnh Nghệ An"),
])
def test_administrative_places_resolve(text, when, code, path):
    reading = parse_place(text, when)
    assert reading.kind == "unit", reading.note
    assert reading.code == code
    assert GAZ.path(reading.unit, when) == path
    assert not reading.unmatched


def test_today_successor_follows_the_2025_merger():
    # NQ 1678/NQ-UBTVQH15 item 37: Hùng Tiến, Nam Cát, Nam Giang, Xuân Hồng, Kim Liên → xã Kim Liên
    reading = parse_place("xã Nam Giang, huyện Nam Đàn", "1975")
    assert [u.label for u in reading.today] == ["xã Kim Liên"]
    assert reading.today[0].exists_today and reading.today[0].parent == "40"


def test_a_district_today_is_the_communes_it_became():
    today = parse_place("huyện Nam Đàn").today
    assert {u.name for u in today} >= {"Kim Liên", "Vạn An", "Nam Đàn", "Đại Huệ", "Thiên Nhẫn"}
    assert all(u.exists_today for u in today)


def test_home_and_facilities():
    book = BookPlace("Kim Liên", "Nam Đàn", "Nghệ Tĩnh")
    home = parse_place("Tại nhà", "1980", book)
    assert home.kind == "home" and home.from_context and home.code == "17971"
    assert parse_place("Tại nhà").unit is None  # no book: nothing to infer from
    vinh = parse_place("Bệnh viện Vinh", "1980")
    assert (vinh.kind, vinh.code, vinh.facility) == ("facility", "412", "Bệnh viện Vinh")
    assert parse_place("Bệnh viện huyện Nam Đàn").code == "430"
    other = parse_place("Bệnh viện Hữu nghị Việt Đức")
    assert other.kind == "facility" and other.unit is None and other.note is None


def test_unknown_and_ambiguous_places_say_so():
    unknown = parse_place("Hà Nội")
    assert unknown.kind == "unknown" and "Không có trong danh mục" in unknown.note
    # Bình Sơn: a commune of Anh Sơn and one of Quỳnh Lưu; nothing tells which
    twice = parse_place("Bình Sơn", "1970")
    assert twice.unit is None and len(twice.candidates) >= 2 and "Tên trùng" in twice.note
    # a part the gazetteer cannot place inside the others is reported, not dropped
    partial = parse_place("xã Hưng Dũng, huyện Hưng Nguyên")
    assert partial.code == "431" and partial.unmatched == ("Hưng Dũng",)


def test_bare_name_read_inside_the_books_district():
    # Nghi Lộc and Diễn Châu both have a commune named like the book's neighbour? Use one that
    # exists once in the book's district and elsewhere too: pick it from the data.
    by_name: dict[str, list] = {}
    for unit in GAZ.units.values():
        if unit.level == "commune" and not unit.id.startswith("2025:") and unit.parent in GAZ.units \
                and GAZ[unit.parent].level == "district":
            by_name.setdefault(unit.name, []).append(unit)
    name, units = next((n, us) for n, us in sorted(by_name.items())
                       if len({u.parent for u in us}) == len(us) >= 2)
    target = units[1]
    district = GAZ[target.parent]
    province = GAZ.province_of(target)
    assert parse_place(name, "1970").unit is None
    reading = parse_place(name, "1970", BookPlace(None, district.name, province.name))
    assert reading.unit == target


def test_split_parts_knows_abbreviations():
    parts = split_parts("X.Kim Liên-H.Nam Đàn-T.Nghệ An")
    assert [(p.text, p.level) for p in parts] == [
        ("Kim Liên", "commune"), ("Nam Đàn", "district"), ("Nghệ An", "province")]
    assert [p.text for p in split_parts("Hà Tĩnh")] == ["Hà Tĩnh"]  # not "Hà" + tỉnh


def test_periods_follow_nghe_tinh():
    nt = GAZ["NT"]
    assert nt.valid_on("1980") and not nt.valid_on("1970") and not nt.valid_on("1995")
    assert GAZ["40"].valid_on("1970") and not GAZ["40"].valid_on("1985")
    kim_lien = GAZ["17971"]
    assert GAZ.province_of(kim_lien, "1985").name == "Nghệ Tĩnh"
    assert GAZ.province_of(kim_lien, "1995").name == "Nghệ An"


def test_resolve_places_adds_the_unit_without_touching_the_status():
    template = load_template("birth_form")
    fields = {"birth_place": FieldValue("birth_place", "Xã Kim Liên", "Xã Kim Liên", "read", 0.97),
              "full_name": FieldValue("full_name", "Lê Văn An", "Lê Văn An", "read", 0.97)}
    out = resolve_places(fields, template, 1970, BookPlace("Kim Liên", "Nam Đàn", "Nghệ An"))
    assert out["birth_place"].unit == "17971" and out["birth_place"].status == "read"
    assert out["full_name"].unit is None
    unknown = resolve_places({"birth_place": FieldValue("birth_place", "Xã Hưng Xá", "Xã Hưng Xá",
                                                        "read", 0.97)}, template, 1970)
    assert unknown["birth_place"].unit is None and unknown["birth_place"].status == "read"


def test_the_shipped_gazetteer_is_consistent():
    data = json.loads(GAZETTEER_FILE.read_text(encoding="utf-8"))
    ids = [u["id"] for u in data["units"]]
    assert len(ids) == len(set(ids))
    for unit in GAZ.units.values():
        assert unit.parent is None or unit.parent in GAZ.units
        assert all(s in GAZ.units for s in unit.successors)
    communes_2025 = [u for u in GAZ.units.values() if u.level == "commune" and u.exists_today]
    assert len([u for u in communes_2025 if u.parent == "40"]) == 130  # NQ 1678/NQ-UBTVQH15
    assert len([u for u in communes_2025 if u.parent == "42"]) == 69  # NQ 1665/NQ-UBTVQH15
    old = [u for u in GAZ.units.values() if u.level == "commune" and not u.exists_today]
    assert sum(1 for u in old if GAZ.today(u)) / len(old) > 0.8


@pytest.mark.parametrize("module", [places_module, gazetteer_module], ids=lambda m: m.__name__)
def test_docstring_examples(module):
    assert doctest.testmod(module).failed == 0


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("xã huyện tỉnh,.-–Kim Liên Nam Đàn Nghệ An TPXH0123 ")),
               max_size=60))
def test_parser_never_crashes(text):
    reading = parse_place(text, "1975", BookPlace("Kim Liên", "Nam Đàn", "Nghệ An"))
    assert reading.kind in ("unit", "facility", "home", "unknown", "blank")
    if reading.unit is not None:
        assert reading.unit.id in GAZ.units


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(sorted(u.id for u in GAZ.units.values()
                              if u.level == "commune" and GAZ[u.parent].level == "district")))
def test_a_units_own_full_path_resolves_back_to_it(unit_id):
    """Round trip: the path the gazetteer writes for a unit is read back as that unit."""
    unit = GAZ[unit_id]
    reading = parse_place(GAZ.path(unit, "2010"), "2010")
    assert reading.unit == unit
    again = parse_place(GAZ.path(reading.unit, "2010"), "2010")  # idempotent
    assert again.unit == reading.unit

"""The name lexicon learned from the imported population (issue 15 part 1): counted on
`population import`, stored, idempotent, blended with the shipped list, used by cleaning and
matching; citizens' names stored as imported and in one tone style."""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.clean.book_names import clean_name_text, split_word
from pipeline.clean.lexicon import (
    SHIPPED_PSEUDO_COUNT,
    install_name_lexicon,
    learned_name_lexicon,
    name_lexicon,
    shipped_name_lexicon,
    using_name_lexicon,
)
from pipeline.match import run as match_run
from pipeline.match.keys import person_keys, population_lexicon
from pipeline.match.population import import_population, load_name_lexicon
from pipeline.storage.models import Citizen, NameFrequency

HEADER = "citizen_id,full_name,sex,birth_date,birth_place,father_name,mother_name"
# Tèo, Hến and Ròm are not in the shipped list (data/lexicon/names.json); Hoà is written with
# the old tone placement.
ROWS = [
    ("040078001234", "Lê Đình Tèo", "Nam", "1978-03-12", "Xã Hưng Dũng", "Lê Văn Bình", "Lê Thị Hoà"),
    ("040080002345", "Trần Đình Tèo", "Nam", "1980-01-05", "Xã Nghi Phú", "Trần Văn Cường", "Phạm Thị Dung"),
    ("040166003456", "Nguyễn Thị Hoà", "Nữ", "1966-02-03", "Xã Nghi Phú", "Nguyễn Văn Ẩn", "Hồ Thị Ước"),
    ("040175004567", "NGUYỄN   THỊ HẾN", "Nữ", "1975-12-30", "Xã Hưng Lộc", "", "Vũ Thị Thắm"),
    ("040076005678", "Phan Văn Ròm", "Nam", "1976-07-07", "Xã Hưng Lộc", "", ""),
]


@pytest.fixture(autouse=True)
def _shipped_lexicon_after():
    """Tests here install lexicons; other tests expect the shipped one."""
    yield
    install_name_lexicon(None)


def _write(tmp_path, rows=ROWS, name="dan_cu.csv"):
    path = tmp_path / name
    path.write_text("\n".join([HEADER, *(",".join(r) for r in rows)]) + "\n", encoding="utf-8")
    return path


def _frequencies(engine) -> dict[tuple[str, str], int]:
    with Session(engine) as s:
        return {(f.role, f.word): f.count for f in s.scalars(select(NameFrequency))}


def test_import_counts_family_middle_and_given_names(engine, tmp_path):
    import_population(engine, _write(tmp_path))
    freq = _frequencies(engine)
    assert freq[("given", "Tèo")] == 2
    assert freq[("middle", "Đình")] == 2 and freq[("middle", "Thị")] == 2
    assert freq[("family", "Nguyễn")] == 2  # "NGUYỄN   THỊ HẾN" counted in its cleaned form
    assert freq[("given", "Hòa")] == 1 and ("given", "Hoà") not in freq  # one tone style
    assert freq[("given", "Hến")] == 1
    # only citizens' own names are counted, not their parents'
    assert ("given", "Ước") not in freq and ("given", "Bình") not in freq
    assert sum(n for (role, _), n in freq.items() if role == "given") == len(ROWS)


def test_reimporting_the_same_file_gives_the_same_lexicon(engine, tmp_path):
    path = _write(tmp_path)
    import_population(engine, path)
    first = _frequencies(engine)
    outcome = import_population(engine, path)
    assert outcome.unchanged == len(ROWS)
    assert _frequencies(engine) == first
    # a newer extract that renames a person moves the count, it does not add one
    renamed = [ROWS[0][:1] + ("Lê Đình Hến",) + ROWS[0][2:], *ROWS[1:]]
    import_population(engine, _write(tmp_path, renamed, "moi.csv"))
    after = _frequencies(engine)
    assert after[("given", "Tèo")] == 1 and after[("given", "Hến")] == 2


def test_names_are_kept_as_imported_and_stored_cleaned_beside(engine, tmp_path):
    import_population(engine, _write(tmp_path))
    with Session(engine) as s:
        people = {c.citizen_id: c for c in s.scalars(select(Citizen))}
    hoa = people["040166003456"]
    assert (hoa.full_name, hoa.name_clean) == ("Nguyễn Thị Hoà", "Nguyễn Thị Hòa")
    first = people["040078001234"]
    assert (first.mother_name, first.mother_name_clean) == ("Lê Thị Hoà", "Lê Thị Hòa")
    assert people["040175004567"].name_clean == "Nguyễn Thị Hến"  # single spaces
    assert people["040076005678"].father_name_clean is None


def test_stored_lexicon_is_the_learned_one_blended_with_the_shipped_list(engine, tmp_path):
    assert load_name_lexicon(engine) is None  # nothing imported: callers use the shipped list
    import_population(engine, _write(tmp_path))
    learned = load_name_lexicon(engine)
    assert learned.source == "population" and learned.citizens == len(ROWS)
    assert "Tèo" in learned.given and "Tèo" not in shipped_name_lexicon().given
    # seen once among five citizens: a slip as likely as a name, kept out
    assert "Hến" not in learned.given and "Ròm" not in learned.given
    # a tiny population does not replace the shipped list: every shipped word is still there,
    # and a shipped name no citizen has costs little more than one they all have
    shipped = shipped_name_lexicon()
    assert set(shipped.given.words) <= set(learned.given.words)
    assert set(shipped.surnames.words) <= set(learned.surnames.words)
    assert learned.given.prior["khuê"] - learned.given.prior["tèo"] < 0.05
    # the import does not change this process's lexicon: a stage loads it for its run
    assert name_lexicon() is shipped
    with using_name_lexicon(load_name_lexicon(engine)) as lex:
        assert name_lexicon() is lex and clean_name_text("LÊ ĐÌNHTÈO")[0] == "LÊ ĐÌNH TÈO"
    assert name_lexicon() is shipped


def test_a_large_population_decides_the_frequencies():
    """With many citizens the counts, not the shipped list, set a name's prior cost."""
    n = int(SHIPPED_PSEUDO_COUNT * 40)
    counts = {"family": {"Nguyễn": n}, "middle": {"Văn": n},
              "given": {"Hùng": n // 2, "Tèo": n // 2 - 50, "Khuê": 50}}
    lex = learned_name_lexicon(counts)
    assert lex.given.prior["hùng"] == pytest.approx(lex.given.prior["tèo"], abs=0.01)
    assert lex.given.prior["khuê"] > lex.given.prior["hùng"] + 0.2  # rare in this province
    tiny = learned_name_lexicon({"family": {"Nguyễn": 3}, "middle": {"Văn": 3},
                                 "given": {"Hùng": 2, "Khuê": 1}})
    assert abs(tiny.given.prior["khuê"] - tiny.given.prior["hùng"]) < 0.02  # shipped dominates


def test_cleaning_splits_glued_words_with_the_learned_lexicon():
    learned = learned_name_lexicon({"family": {"Lê": 3}, "middle": {"Đình": 3}, "given": {"Tèo": 3}})
    assert split_word("ĐÌNHTÈO") == ("ĐÌNHTÈO",)  # shipped list: Tèo is no name, left glued
    assert split_word("ĐÌNHTÈO", learned) == ("ĐÌNH", "TÈO")
    assert clean_name_text("LÊ ĐÌNHTÈO", learned)[0] == "LÊ ĐÌNH TÈO"
    install_name_lexicon(learned)
    assert clean_name_text("LÊ ĐÌNHTÈO")[0] == "LÊ ĐÌNH TÈO"  # the installed one by default
    install_name_lexicon(None)
    assert clean_name_text("LÊ ĐÌNHTÈO")[0] == "LÊ ĐÌNHTÈO"  # no stale cache of the other


def test_the_same_counts_given_again_reuse_the_first_lexicon():
    """A worker is given the lexicon with every page task: the same counts reuse the object
    seen first, whose caches (split words, register vocabulary) stay warm."""
    counts = {"family": {"Lê": 3}, "middle": {"Đình": 3}, "given": {"Tèo": 3}}
    first, again = learned_name_lexicon(counts), learned_name_lexicon(counts)
    assert first is not again
    with using_name_lexicon(first) as seen:
        pass
    with using_name_lexicon(again) as used:
        assert used is seen
    other = learned_name_lexicon({**counts, "given": {"Tèo": 4}})
    with using_name_lexicon(other) as used:
        assert used is other
    assert name_lexicon() is shipped_name_lexicon()


def test_matching_keys_use_the_lexicon_learned_from_the_citizens():
    citizens = pd.DataFrame({"full_name": ["Lê Đình Tèo", "Trần Đình Tèo", "Hồ Văn Tèo"]})
    lexicon = population_lexicon(citizens["full_name"])
    records = pd.DataFrame({"full_name": ["LÊ ĐÌNHTÈO"]})
    shipped = person_keys(records, population=False, lexicon=shipped_name_lexicon())
    learned = person_keys(records, population=False, lexicon=lexicon)
    assert (shipped.loc[0, "n_mid"], shipped.loc[0, "n_giv"]) == ("", "đìnhtèo")
    assert (learned.loc[0, "n_mid"], learned.loc[0, "n_giv"]) == ("đình", "tèo")


def test_match_loads_the_stored_lexicon_once_per_run(engine, tmp_path, monkeypatch):
    from pipeline.storage.db import session_scope
    from pipeline.storage.models import Book, Record, StageRun
    from pipeline.storage.versions import add_field_version

    import_population(engine, _write(tmp_path))
    with session_scope(engine) as s:
        book = Book(book_code="KS-1", book_type="birth", template="birth_form", commune="Hưng Dũng",
                    district="Vinh", province="Nghệ Tĩnh", year_from=1978, year_to=1978, volume="1")
        s.add(book)
        s.flush()
        for i, (name, date) in enumerate([("LÊ ĐÌNHTÈO", "1978-03-12"), ("Trần Đình Tèo", "1980-01-05"),
                                          ("Nguyễn Thị Hòa", "1966-02-03")]):
            record = Record(record_key=f"KS-1-{i}", book_id=book.id, row=i + 1, record_type="birth",
                            status="extracted")
            s.add(record)
            s.flush()
            for field, value in (("full_name", name), ("birth_date", date)):
                add_field_version(s, record, field, raw=value, value=value, status="read",
                                  confidence=0.95, source="import")
    calls = []
    real = match_run.load_name_lexicon

    def counted(db):
        calls.append(db)
        return real(db)

    monkeypatch.setattr(match_run, "load_name_lexicon", counted)
    used = []
    from pipeline.match import keys

    real_name_columns = keys.name_columns

    def spy(names, prefix, lexicon=None):
        used.append(lexicon)
        return real_name_columns(names, prefix, lexicon)

    monkeypatch.setattr(keys, "name_columns", spy)
    summary = match_run.match_books(engine)
    assert summary.records == 3 and len(calls) == 1
    assert used and all(lex is used[0] for lex in used) and used[0].source == "population"
    with session_scope(engine) as s:
        run = s.get(StageRun, summary.stage_run_id)
        assert run.params["name_lexicon"] == "population"


def test_names_typed_without_marks_teach_the_lexicon_nothing(engine, tmp_path):
    """``Nguyen Van Ong`` is Nguyễn Văn Ông without its marks: learning ``Ong`` as a name would
    let the cleaner cut the slip ``Dưong`` (Dương) into ``Dư`` + ``ong``."""
    rows = [(f"0400780{i:05d}", name, "Nam", "1978-03-12", "", "", "")
            for i, name in enumerate(["Nguyen Van Ong", "Tran Van Ong", "Le Van Ong",
                                      "Lê Văn Tèo", "Hồ Văn Tèo"])]
    import_population(engine, _write(tmp_path, rows))
    freq = _frequencies(engine)
    assert ("given", "Ong") not in freq and ("family", "Nguyen") not in freq
    assert freq[("given", "Tèo")] == 2
    learned = load_name_lexicon(engine)
    assert "ong" not in learned.given.words
    assert split_word("Dưong", learned) == ("Dưong",)
    lexicon = population_lexicon(pd.Series([r[1] for r in rows]))
    assert "ong" not in lexicon.given.words and "Tèo" in lexicon.given


def test_citizens_imported_before_the_lexicon_was_stored_still_teach_the_run(engine, tmp_path):
    from sqlalchemy import delete

    from pipeline.storage.db import session_scope

    import_population(engine, _write(tmp_path))
    with session_scope(engine) as s:
        s.execute(delete(NameFrequency))  # as a database upgraded to 0010 without a new import
    citizens = pd.DataFrame({"full_name": ["Lê Đình Tèo", "Trần Đình Tèo"]})
    lexicon = match_run._run_lexicon(engine, citizens)
    assert lexicon.source == "population" and "Tèo" in lexicon.given
    assert match_run._run_lexicon(engine, citizens.iloc[:0]) is shipped_name_lexicon()

"""Field values are versioned: corrections add versions, old raw values survive, races conflict."""

from __future__ import annotations

import threading
import unicodedata

import pytest
from sqlalchemy.orm import Session

from pipeline.storage import versions
from pipeline.storage.models import FieldValue
from pipeline.storage.versions import (
    VersionConflict,
    add_field_version,
    current_values,
    field_history,
)

OCR = dict(raw="Nguyen Van Ann", value="Nguyen Van Ann", status="uncertain", confidence=0.55,
           source="ocr", box=(10, 20, 300, 60), note="mực nhòe")
FIX = dict(raw="Nguyen Van Ann", value="Nguyễn Văn An", status="read", confidence=1.0,
           source="review", changed_by="lan", reason="sửa theo bản gốc")


def test_first_version_then_correction(session, record):
    v1 = add_field_version(session, record, "full_name", **OCR)
    add_field_version(session, record, "sex", raw="Nam", value="M", status="read",
                      confidence=0.9, source="ocr")
    session.commit()
    assert (v1.version, v1.is_current) == (1, True)
    assert (v1.box_x0, v1.box_y0, v1.box_x1, v1.box_y1) == (10, 20, 300, 60)

    v2 = add_field_version(session, record.id, "full_name", **FIX)
    session.commit()
    session.expire_all()
    assert (v2.version, v2.is_current) == (2, True)

    history = field_history(session, record.id, "full_name")
    assert [(h.version, h.is_current, h.value, h.source) for h in history] == [
        (1, False, "Nguyen Van Ann", "ocr"),
        (2, True, "Nguyễn Văn An", "review"),
    ]
    assert history[0].raw == "Nguyen Van Ann" and history[0].note == "mực nhòe"
    assert (history[1].changed_by, history[1].reason) == ("lan", "sửa theo bản gốc")

    current = current_values(session, record.id)
    assert sorted(current) == ["full_name", "sex"]
    assert current["full_name"].version == 2 and current["sex"].value == "M"


def test_text_is_stored_nfc(session, record):
    nfd = unicodedata.normalize("NFD", "Trần Thị Thuỷ")
    fv = add_field_version(session, record, "mother_name", raw=nfd, value=nfd, status="read",
                           confidence=0.8, source="ocr")
    session.commit()
    session.expire_all()
    assert fv.raw == unicodedata.normalize("NFC", nfd) and unicodedata.is_normalized("NFC", fv.value)


def test_bad_arguments_are_refused(session, record):
    with pytest.raises(ValueError):
        add_field_version(session, record, "sex", **{**OCR, "status": "guess"})
    with pytest.raises(ValueError):
        add_field_version(session, record, "sex", **{**OCR, "confidence": 1.5})
    with pytest.raises(ValueError):
        add_field_version(session, record, "sex", **{**OCR, "source": "magic"})


def test_expected_version_detects_a_stale_editor(engine, session, record):
    add_field_version(session, record, "full_name", **OCR)
    session.commit()
    # Two reviewers opened the record at version 1; the first one saves.
    with Session(engine) as other:
        add_field_version(other, record.id, "full_name", **FIX, expected_version=1)
        other.commit()
    with pytest.raises(VersionConflict) as info:
        add_field_version(session, record, "full_name", **{**FIX, "value": "Nguyễn Văn Ân"},
                          expected_version=1)
    assert "full_name" in str(info.value) and "\n" not in str(info.value)
    session.rollback()
    assert [h.value for h in field_history(session, record.id, "full_name")] == [
        "Nguyen Van Ann", "Nguyễn Văn An"]


def test_lost_race_raises_conflict_and_keeps_the_transaction(engine, session, record, monkeypatch):
    """Another writer committed version 2 after we computed our next version."""
    add_field_version(session, record, "full_name", **OCR)
    session.commit()
    with Session(engine) as other:
        add_field_version(other, record.id, "full_name", **FIX)
        other.commit()

    add_field_version(session, record, "sex", raw="Nữ", value="F", status="read",
                      confidence=0.9, source="ocr")
    monkeypatch.setattr(versions, "_latest_version", lambda *a: 1)  # stale view
    with pytest.raises(VersionConflict):
        add_field_version(session, record, "full_name", **{**FIX, "value": "X"})
    monkeypatch.undo()
    session.commit()  # the savepoint kept the rest of the transaction (the `sex` value)

    session.expire_all()
    history = field_history(session, record.id, "full_name")
    assert [(h.version, h.is_current, h.value) for h in history] == [
        (1, False, "Nguyen Van Ann"), (2, True, "Nguyễn Văn An")]
    assert current_values(session, record.id)["sex"].value == "F"


def test_two_concurrent_writers_never_make_two_currents(engine, session, record, monkeypatch):
    """Both writers read version 1 at the same moment; exactly one may win."""
    add_field_version(session, record, "full_name", **OCR)
    session.commit()
    record_id = record.id

    barrier = threading.Barrier(2, timeout=20)
    real_latest = versions._latest_version

    def latest_then_wait(*args):
        n = real_latest(*args)
        barrier.wait()
        return n

    monkeypatch.setattr(versions, "_latest_version", latest_then_wait)
    outcomes: dict[str, object] = {}

    def writer(name: str) -> None:
        try:
            with Session(engine) as s:
                add_field_version(s, record_id, "full_name", **{**FIX, "value": name})
                s.commit()
            outcomes[name] = "ok"
        except VersionConflict as exc:
            outcomes[name] = exc
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            outcomes[name] = repr(exc) + str(getattr(getattr(exc, "orig", None), "sqlite_errorname", ""))

    threads = [threading.Thread(target=writer, args=(n,)) for n in ("A", "B")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    monkeypatch.undo()

    assert sorted(str(type(o).__name__) if o != "ok" else "ok" for o in outcomes.values()) == [
        "VersionConflict", "ok"], outcomes
    session.expire_all()
    history = field_history(session, record_id, "full_name")
    assert [h.version for h in history] == [1, 2]
    assert sum(h.is_current for h in history) == 1
    winner = next(n for n, o in outcomes.items() if o == "ok")
    assert current_values(session, record_id)["full_name"].value == winner


def test_one_current_per_field_is_enforced_by_the_database(session, record):
    add_field_version(session, record, "sex", raw="Nam", value="M", status="read",
                      confidence=0.9, source="ocr")
    session.commit()
    session.add(FieldValue(record_id=record.id, field="sex", version=7, is_current=True,
                           raw="Nữ", value="F", status="read", confidence=1.0))
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError):
        session.flush()

"""`hotich export national` sends each record version exactly once, whenever a run is killed.

The kills are real: the export runs in a child process that SIGKILLs itself from the progress
callback (``on_step``, which the CLI uses to label its progress bar) when the batch reaches a
given point, so no ``except``, ``finally`` or ``atexit`` of the export runs. The re-run then
finds what a dead process leaves: a database row, folders on disk, nothing else.
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import delete, select, text

from national_helpers import ExportBook, seed_export_book
from pipeline.export.national import (
    COMPLETE, MANIFEST, PENDING, SET_ASIDE, STEPS, ExportConflict, export_national, verify_export,
)
from pipeline.settings import get_settings
from pipeline.storage import db
from pipeline.storage.db import init_db, make_engine, session_scope
from pipeline.storage.models import AuditEntry, ExportBatch, ExportItem
from pipeline.storage.versions import add_field_version

REPO = Path(__file__).resolve().parents[2]

KILL_AT = """
import os, signal, sys
from pathlib import Path

from pipeline.export.national import export_national
from pipeline.settings import Settings
from pipeline.storage.db import make_engine

url, home, out, stop = sys.argv[1:]


def on_step(step):
    if step == stop:
        os.kill(os.getpid(), signal.SIGKILL)


export_national(make_engine(url), Settings(home=Path(home)), Path(out), actor="an", on_step=on_step)
raise SystemExit("not killed")
"""


@pytest.fixture
def export_book(engine, tmp_path) -> ExportBook:
    return seed_export_book(engine, tmp_path / "ws")


def _export_killed_at(engine, home: Path, out: Path, step: str) -> None:
    """A real ``export_national`` in a child process, SIGKILLed when the batch reaches ``step``."""
    assert step in STEPS
    url = engine.url.render_as_string(hide_password=False)
    done = subprocess.run([sys.executable, "-c", KILL_AT, url, str(home), str(out), step],
                          cwd=REPO, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == -signal.SIGKILL, done.stderr


def _batches(engine) -> list[ExportBatch]:
    with session_scope(engine) as s:
        return list(s.scalars(select(ExportBatch).order_by(ExportBatch.id)))


def _items_per_record(engine) -> Counter:
    with session_scope(engine) as s:
        return Counter(s.scalars(select(ExportItem.record_id)))


def _audit(engine, action: str) -> list[AuditEntry]:
    with session_scope(engine) as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def _visible(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir())


def _assert_exactly_once(engine, book: ExportBook, out: Path, *, set_aside: bool = False) -> None:
    """Each approved record in exactly one complete batch, and the package verifies clean."""
    assert _items_per_record(engine) == Counter(book.record_ids[:2])
    batches = _batches(engine)
    assert [b.state for b in batches] == [COMPLETE]
    assert _visible(out) == sorted([batches[0].batch_key] + ([SET_ASIDE] if set_aside else []))
    checks = verify_export(out)
    assert [(c.batch_id, c.ok) for c in checks] == [(batches[0].batch_key, True)], checks[0].problems
    assert len(_audit(engine, "export.national")) == 1


# --- killed at each point of the batch, then run again -------------------------------------------


def test_killed_after_the_files_leaves_a_partial_folder_the_rerun_removes(engine, export_book, tmp_path):
    out = tmp_path / "nop"
    _export_killed_at(engine, export_book.settings.home, out, "written")
    [partial] = list(out.iterdir())
    assert partial.name.endswith(".partial") and (partial / MANIFEST).is_file()
    assert _batches(engine) == []

    lines: list[str] = []
    outcome = export_national(engine, export_book.settings, out, actor="an", on_reconcile=lines.append)
    assert lines == outcome.reconciled == [f"Thư mục tạm {partial.name} do một lần xuất bị dừng để lại: đã xóa."]
    assert outcome.new == 2 and not partial.exists()
    _assert_exactly_once(engine, export_book, out)
    [entry] = _audit(engine, "export.reconcile")
    assert (entry.actor, entry.detail["outcome"], entry.detail["message"]) == ("an", "removed", lines[0])


def test_killed_while_pending_before_the_rename_removes_the_batch_and_exports_again(engine, export_book,
                                                                                    tmp_path):
    out = tmp_path / "nop"
    _export_killed_at(engine, export_book.settings.home, out, "pending")
    [killed] = _batches(engine)
    assert killed.state == PENDING
    assert _visible(out) == [f".{killed.batch_key}.partial"]
    assert _items_per_record(engine) == Counter(export_book.record_ids[:2])  # counted as out while pending

    outcome = export_national(engine, export_book.settings, out, actor="an")
    assert outcome.reconciled == [
        (f"Lô {killed.batch_key}: lần xuất trước bị dừng trước khi thư mục vào chỗ: đã xóa lô dang dở và "
         f"thư mục tạm .{killed.batch_key}.partial; các bản ghi của lô sẽ được xuất lại.")]
    assert outcome.batch_key != killed.batch_key and outcome.new == 2
    _assert_exactly_once(engine, export_book, out)
    [entry] = _audit(engine, "export.reconcile")
    assert (entry.detail["outcome"], entry.entity_id) == ("removed", str(killed.id))


def test_killed_between_rename_and_commit_the_batch_is_adopted_not_sent_again(engine, export_book, tmp_path):
    out = tmp_path / "nop"
    _export_killed_at(engine, export_book.settings.home, out, "renamed")
    [killed] = _batches(engine)
    assert killed.state == PENDING and _visible(out) == [killed.batch_key]
    assert [c.ok for c in verify_export(out)] == [True]  # a complete, hash-valid folder
    assert _audit(engine, "export.national") == []

    outcome = export_national(engine, export_book.settings, out, actor="an")
    assert outcome.reconciled == [
        (f"Lô {killed.batch_key}: thư mục đã đủ và khớp mã băm nhưng lô chưa được ghi nhận xong (lần xuất "
         f"trước bị dừng): đã ghi nhận lô, 2 bản ghi của lô tính là đã xuất.")]
    assert outcome.batch_key is None and outcome.unchanged == 2  # nothing went out again
    _assert_exactly_once(engine, export_book, out)
    [national_entry] = _audit(engine, "export.national")
    assert (national_entry.actor, national_entry.detail["adopted_by"]) == ("an", "an")
    [entry] = _audit(engine, "export.reconcile")
    assert (entry.detail["outcome"], entry.entity_id) == ("adopted", str(killed.id))

    again = export_national(engine, export_book.settings, out, actor="an")
    assert (again.batch_key, again.reconciled) == (None, [])


def test_killed_after_the_commit_needs_nothing_settled(engine, export_book, tmp_path):
    out = tmp_path / "nop"
    _export_killed_at(engine, export_book.settings.home, out, "complete")
    outcome = export_national(engine, export_book.settings, out, actor="an")
    assert (outcome.batch_key, outcome.reconciled) == (None, [])
    _assert_exactly_once(engine, export_book, out)


@pytest.mark.backends("sqlite")
def test_cli_rerun_says_what_it_settled(run, workspace, tmp_path):
    engine = make_engine(get_settings().database_url)
    book = seed_export_book(engine, workspace)
    out = tmp_path / "nop"
    _export_killed_at(engine, workspace, out, "renamed")
    [killed] = _batches(engine)

    result = run("export", "national", out)
    assert result.exit_code == 0, result.output
    assert f"ĐỐI SOÁT Lô {killed.batch_key}: thư mục đã đủ và khớp mã băm" in result.output
    assert "Không xuất gì" in result.output
    ok = run("export", "verify", out)
    assert ok.exit_code == 0 and "Gói xuất toàn vẹn: 1 lô." in ok.output
    _assert_exactly_once(engine, book, out)


# --- folders the database has no batch for (left by a killed run of an older version) ----------------


def _forget_batch(engine, batch_key: str) -> None:
    """What an older version killed between its rename and its commit left: the folder; no batch,
    items or audit entry (they were to be committed together)."""
    with session_scope(engine) as s:
        batch = s.scalar(select(ExportBatch).where(ExportBatch.batch_key == batch_key))
        s.execute(delete(AuditEntry).where(AuditEntry.action == "export.national",
                                           AuditEntry.entity_id == str(batch.id)))
        s.delete(batch)


def test_an_unrecorded_folder_matching_the_records_is_adopted(engine, export_book, tmp_path):
    out = tmp_path / "nop"
    first = export_national(engine, export_book.settings, out, actor="an")
    with session_scope(engine) as s:
        sent = sorted(s.execute(select(ExportItem.record_id, ExportItem.fingerprint, ExportItem.change)).all())
    _forget_batch(engine, first.batch_key)

    outcome = export_national(engine, export_book.settings, out, actor="an")
    assert outcome.reconciled == [
        (f"Thư mục {first.batch_key}: không có lô nào trong cơ sở dữ liệu nhưng khớp mã băm và đúng là 2 bản "
         f"ghi hiện tại chưa xuất: đã ghi nhận thành lô {first.batch_key}, không xuất lại.")]
    assert outcome.batch_key is None
    [batch] = _batches(engine)
    assert (batch.batch_key, batch.created_by, batch.record_count, batch.state) == (first.batch_key, "an", 2, COMPLETE)
    assert batch.manifest_sha256 == first.manifest_sha256
    with session_scope(engine) as s:
        assert sorted(s.execute(select(ExportItem.record_id, ExportItem.fingerprint, ExportItem.change)).all()) == sent
    _assert_exactly_once(engine, export_book, out)


def test_an_unrecorded_folder_is_compared_with_its_cells_as_written(engine, export_book, tmp_path):
    """A formula-like value goes into the sheet quoted (pipeline.cells): still the same record."""
    with session_scope(engine) as s:
        add_field_version(s, export_book.record_ids[0], "birth_place", raw="=Bệnh viện Vinh",
                          value="=Bệnh viện Vinh", status="read", confidence=1.0, source="review",
                          changed_by="minh", reason="giá trị thử")
    out = tmp_path / "nop"
    first = export_national(engine, export_book.settings, out, actor="an")
    _forget_batch(engine, first.batch_key)
    outcome = export_national(engine, export_book.settings, out, actor="an")
    assert outcome.batch_key is None and "đã ghi nhận thành lô" in outcome.reconciled[0]
    _assert_exactly_once(engine, export_book, out)


def test_an_unrecorded_folder_the_records_no_longer_match_is_set_aside(engine, export_book, tmp_path):
    out = tmp_path / "nop"
    first = export_national(engine, export_book.settings, out, actor="an")
    _forget_batch(engine, first.batch_key)
    with session_scope(engine) as s:
        add_field_version(s, export_book.record_ids[0], "birth_place", raw="Bệnh viện Vinh", value="Bệnh viện Vinh",
                          status="read", confidence=1.0, source="review", changed_by="minh", reason="cải chính")

    outcome = export_national(engine, export_book.settings, out, actor="an")
    aside = out / SET_ASIDE / first.batch_key
    assert outcome.reconciled == [
        (f"Thư mục {first.batch_key}: không có lô nào trong cơ sở dữ liệu và nội dung khác bản ghi hiện tại: "
         f"đã chuyển sang {aside.resolve()}; bản ghi chưa xuất của nó sẽ được xuất lại.")]
    assert (aside / MANIFEST).is_file() and outcome.new == 2  # kept, not deleted; both records go out
    _assert_exactly_once(engine, export_book, out, set_aside=True)
    [entry] = _audit(engine, "export.reconcile")
    assert entry.detail["outcome"] == "set_aside"


def test_an_unrecorded_copy_of_a_batch_already_sent_is_set_aside(engine, export_book, tmp_path):
    out, elsewhere = tmp_path / "nop", tmp_path / "nop-khac"
    first = export_national(engine, export_book.settings, out, actor="an")
    _forget_batch(engine, first.batch_key)
    # Exported again into another folder, where the row-less folder is not seen: as the old bug did.
    second = export_national(engine, export_book.settings, elsewhere, actor="an")
    assert second.new == 2

    outcome = export_national(engine, export_book.settings, out, actor="an")
    assert outcome.batch_key is None
    [line] = outcome.reconciled
    assert "bản ghi của nó đã được xuất y như vậy trong lô khác" in line and "đã chuyển sang" in line
    assert _visible(out) == [SET_ASIDE]
    assert _items_per_record(engine) == Counter(export_book.record_ids[:2])


# --- export verify ---------------------------------------------------------------------------------


def test_verify_flags_the_same_record_version_in_two_batches(engine, export_book, tmp_path, run):
    out = tmp_path / "nop"
    first = export_national(engine, export_book.settings, out, actor="an")
    with session_scope(engine) as s:  # the dedupe bypassed: the database forgets what went out
        s.execute(delete(ExportItem))
    second = export_national(engine, export_book.settings, out, actor="an")
    assert second.new == 2 and len(_batches(engine)) == 2

    checks = verify_export(out)
    # The later batch is flagged; within one second, names cannot tell which came first.
    [flagged] = [c for c in checks if not c.ok]
    [other] = {first.batch_key, second.batch_key} - {flagged.batch_id}
    code = export_book.book_code
    assert flagged.problems == [(f"2 bản ghi đã có y hệt trong lô {other} (xuất hai lần): "
                                f"{code}-p0001-r01, {code}-p0001-r02")]
    assert all(c.ok for c in verify_export(out / second.batch_key))  # one batch alone is intact

    result = run("export", "verify", out)
    assert result.exit_code == 1
    assert f"LỖI {flagged.batch_id}: 2 bản ghi đã có y hệt trong lô {other}" in result.output
    assert "Gói xuất KHÔNG toàn vẹn: 1/2 lô có lỗi." in result.output


# --- one run per folder; a live run elsewhere is left alone ---------------------------------------------


def test_a_second_run_into_the_same_folder_is_refused_while_one_runs(engine, export_book, tmp_path):
    out = tmp_path / "nop"
    out.mkdir()
    fd = os.open(out, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as a live run holds it
        with pytest.raises(ExportConflict, match="đang ghi vào thư mục"):
            export_national(engine, export_book.settings, out, actor="an")
        assert _batches(engine) == [] and list(out.iterdir()) == []
    finally:
        os.close(fd)
    assert export_national(engine, export_book.settings, out, actor="an").new == 2


def test_a_pending_batch_in_a_folder_another_run_holds_is_left_and_its_records_not_resent(
        engine, export_book, tmp_path):
    out, other = tmp_path / "nop", tmp_path / "nop-khac"
    _export_killed_at(engine, export_book.settings.home, other, "renamed")
    assert [b.state for b in _batches(engine)] == [PENDING]
    fd = os.open(other, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as a live run into that folder would
        held = export_national(engine, export_book.settings, out, actor="an")
        assert (held.batch_key, held.reconciled, held.unchanged) == (None, [], 2)
        assert _batches(engine)[0].state == PENDING
    finally:
        os.close(fd)
    settled = export_national(engine, export_book.settings, out, actor="an")
    assert settled.batch_key is None and "đã ghi nhận lô" in settled.reconciled[0]
    assert [b.state for b in _batches(engine)] == [COMPLETE]
    assert _items_per_record(engine) == Counter(export_book.record_ids[:2])
    assert [c.ok for c in verify_export(other)] == [True]


def test_a_failure_before_the_commit_in_a_live_run_leaves_nothing(engine, export_book, tmp_path):
    """Not a kill: the run is alive to undo its pending batch and its folder itself."""
    out = tmp_path / "nop"

    def fail(step: str) -> None:
        if step == "renamed":
            raise OSError("đĩa đầy")

    with pytest.raises(OSError):
        export_national(engine, export_book.settings, out, actor="an", on_step=fail)
    assert _batches(engine) == [] and list(out.iterdir()) == []
    assert _items_per_record(engine) == Counter()
    assert export_national(engine, export_book.settings, out, actor="an").new == 2


# --- migration -------------------------------------------------------------------------------------


def test_batches_from_before_the_state_column_count_as_complete(db_url):
    engine = make_engine(db_url)
    with engine.begin() as conn:
        command.upgrade(db.alembic_config(conn), "0006")
        conn.execute(text("INSERT INTO export_batches (batch_key, kind, created_at, created_by, out_dir, "
                          "record_count, signed) VALUES ('cu', 'national', :at, 'an', '/tmp/cu', 3, false)"),
                     {"at": datetime(2026, 12, 1, tzinfo=timezone.utc)})
    init_db(engine)
    with session_scope(engine) as s:
        assert s.scalar(select(ExportBatch.state).where(ExportBatch.batch_key == "cu")) == COMPLETE
        s.add(ExportBatch(batch_key="moi", created_by="an", out_dir="/tmp/moi"))
    with session_scope(engine) as s:
        assert s.scalar(select(ExportBatch.state).where(ExportBatch.batch_key == "moi")) == COMPLETE
    engine.dispose()

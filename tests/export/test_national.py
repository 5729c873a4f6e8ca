"""`hotich export national` / `export verify`: the package for the national database, on both back-ends."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import openpyxl
import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from national_helpers import ILLEGIBLE_NOTE, ExportBook, seed_export_book
from pipeline.errors import NotAllowed
from pipeline.export import national
from pipeline.export.layout import EXPORT_LAYOUTS_DIR, format_value, load_layout
from pipeline.export.national import (
    MANIFEST, NOTHING_NEW, SIGNATURE, export_national, resolve_exporter, verify_export,
)
from pipeline.export.signing import load_signer
from pipeline.settings import get_settings
from pipeline.storage.db import make_engine, session_scope
from pipeline.storage.models import AuditEntry, Book, ExportBatch, ExportItem, FieldValue, Page, Record
from pipeline.storage.versions import add_field_version
from pipeline.templates import load_template

GOLDEN = Path(__file__).parent / "golden"
HEX64 = re.compile(r"^[0-9a-f]{64}$")


def _current(engine, record_id: int) -> dict[str, FieldValue]:
    with session_scope(engine) as s:
        return {fv.field: fv for fv in s.scalars(select(FieldValue).where(
            FieldValue.record_id == record_id, FieldValue.is_current.is_(True)))}


def _dmy(iso: str) -> str:
    y, m, d = iso.split("-")
    return f"{d}/{m}/{y}"


def _sheet(path: Path) -> tuple[list[str], list[dict]]:
    rows = list(openpyxl.load_workbook(path, read_only=True).active.iter_rows(values_only=True))
    header = list(rows[0])
    return header, [dict(zip(header, row)) for row in rows[1:]]


def _batches(engine) -> list[ExportBatch]:
    with session_scope(engine) as s:
        return list(s.scalars(select(ExportBatch).order_by(ExportBatch.id)))


@pytest.fixture
def export_book(engine, tmp_path) -> ExportBook:
    return seed_export_book(engine, tmp_path / "ws")


# --- layout ---------------------------------------------------------------------------------


def test_every_layout_names_fields_its_book_type_has():
    fields = {"birth": load_template("birth_form"), "marriage": load_template("marriage_form"),
              "death": load_template("death_form")}
    for book_type, template in fields.items():
        layout = load_layout(book_type)
        known = set(template.fields) | {"notes"}
        used = {c.source.split(":", 1)[1] for c in layout.columns if c.source.startswith("field:")}
        assert used <= known, (book_type, used - known)
        assert layout.file == f"national_{book_type}_v{layout.version}.json"
        assert layout.headers[-1] == "Ghi chú"


def test_values_are_written_as_the_ministry_expects():
    assert format_value("1968-03-12", "date") == "12/03/1968"
    assert format_value("1968-03", "date") == "03/1968"
    assert format_value("1968", "date") == "1968"
    assert format_value("F", "sex") == "Nữ" and format_value("M", "sex") == "Nam"
    assert format_value("34", "int") == 34 and format_value("", "text") is None


def test_a_newer_layout_file_is_picked_without_code(tmp_path):
    for path in EXPORT_LAYOUTS_DIR.glob("national_birth_v1.json"):
        shutil.copy(path, tmp_path / path.name)
    data = json.loads((tmp_path / "national_birth_v1.json").read_text(encoding="utf-8"))
    data["version"] = 2
    data["columns"][1]["header"] = "Số"
    (tmp_path / "national_birth_v2.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    layout = load_layout("birth", tmp_path)
    assert (layout.file, layout.headers[1]) == ("national_birth_v2.json", "Số")


# --- the export against the database ------------------------------------------------------------


def test_export_matches_the_database_and_golden_header(engine, export_book, tmp_path):
    out = tmp_path / "nop"
    outcome = export_national(engine, export_book.settings, out, actor="an")
    assert outcome.batch_key and outcome.folder == out / outcome.batch_key
    assert (outcome.new, outcome.changed) == (2, 0)
    code = export_book.book_code
    assert sorted(p.name for p in outcome.folder.iterdir()) == sorted([f"{code}.xlsx", f"{code}.zip", MANIFEST])

    header, rows = _sheet(outcome.folder / f"{code}.xlsx")
    assert header == json.loads((GOLDEN / "birth_header.json").read_text(encoding="utf-8"))
    assert [r["Mã bản ghi"] for r in rows] == [f"{code}-p0001-r01", f"{code}-p0001-r02"]  # not row 3
    with session_scope(engine) as s:
        book = s.scalar(select(Book).where(Book.book_code == code))
        volume, place = book.volume, f"{book.commune}, {book.district}, {book.province}"
    for seq, (row, record_id) in enumerate(zip(rows, export_book.record_ids[:2]), start=1):
        db = _current(engine, record_id)
        assert row["STT"] == seq
        assert row["Số đăng ký"] == db["registration_no"].value
        assert row["Họ và tên"] == db["full_name"].value
        assert row["Giới tính"] == {"M": "Nam", "F": "Nữ"}[db["sex"].value]
        assert row["Ngày, tháng, năm sinh"] == _dmy(db["birth_date"].value)
        assert row["Ngày đăng ký"] == _dmy(db["registration_date"].value)
        assert row["Họ và tên mẹ"] == db["mother_name"].value
        assert row["Tuổi cha"] == int(db["father_age"].value)
        assert row["Quyển số"] == volume and row["Nơi đăng ký"] == place
        assert row["Tệp ảnh"] == f"{code}_{db['registration_no'].value}.pdf"
    assert rows[0]["Dân tộc"] == _current(engine, export_book.record_ids[0])["ethnicity"].value
    assert rows[1]["Dân tộc"] is None  # illegible: blank, the reason in the notes
    # Row 2 was approved with its OCR'd mother's name still uncertain (as `records approve
    # --include-pending` does): the receiving office is told (issue 19 §4).
    assert rows[1]["Ghi chú"] == (f"Dân tộc: không đọc được ({ILLEGIBLE_NOTE}); "
                                  "Họ và tên mẹ: còn nghi ngờ khi phê duyệt, chưa ai đối chiếu bản gốc")
    assert rows[0]["Ghi chú"] == ("Họ và tên: còn nghi ngờ khi phê duyệt, chưa ai đối chiếu bản gốc; "
                                  "Ngày, tháng, năm sinh: còn nghi ngờ khi phê duyệt, chưa ai đối chiếu bản gốc")

    with zipfile.ZipFile(outcome.folder / f"{code}.zip") as archive:
        assert archive.namelist() == [r["Tệp ảnh"] for r in rows]
        for name in archive.namelist():
            pdf = archive.read(name)
            assert 5_000 < len(pdf) < 100_000
            page = PdfReader(io.BytesIO(pdf)).pages[0]
            images = [obj.get_object() for obj in page["/Resources"]["/XObject"].values()]
            assert [(i["/Filter"], i["/ColorSpace"]) for i in images] == [("/DCTDecode", "/DeviceRGB")]

    batches = _batches(engine)
    assert len(batches) == 1 and batches[0].batch_key == outcome.batch_key
    assert (batches[0].created_by, batches[0].record_count, batches[0].signed) == ("an", 2, False)
    assert batches[0].manifest_sha256 == outcome.manifest_sha256
    with session_scope(engine) as s:
        items = s.execute(select(ExportItem.record_id, ExportItem.change)).all()
        entry = s.scalar(select(AuditEntry).where(AuditEntry.action == "export.national"))
        statuses = set(s.scalars(select(Record.status).where(Record.id.in_(export_book.record_ids[:2]))))
    assert sorted(items) == sorted((rid, "new") for rid in export_book.record_ids[:2])
    assert (entry.actor, entry.entity_id, entry.detail["records"]) == ("an", str(batches[0].id), 2)
    assert "Pham" not in json.dumps(entry.detail, ensure_ascii=False)  # ids only, no names
    assert statuses == {"approved"}


def test_manifest_lists_every_file_and_matches_golden_structure(engine, export_book, tmp_path):
    outcome = export_national(engine, export_book.settings, tmp_path / "nop", actor="an")
    manifest = json.loads((outcome.folder / MANIFEST).read_text(encoding="utf-8"))
    for item in manifest["files"]:
        path = outcome.folder / item["name"]
        assert item["size"] == path.stat().st_size and HEX64.match(item["sha256"])
    assert manifest["batch_id"] == outcome.batch_key
    assert datetime.strptime(manifest["created_at"], "%Y-%m-%dT%H:%M:%SZ")
    assert manifest["software"]["version"] == national.pipeline.__version__

    def normalized(value, key=""):
        if isinstance(value, dict):
            return {k: normalized(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [normalized(v) for v in value]
        if key in ("sha256", "batch_id", "created_at", "version") and isinstance(value, str):
            return f"<{key}>"
        if key == "size":
            return "<size>"
        if isinstance(value, str):
            return value.replace(export_book.book_code, "<book>")
        return value

    golden = json.loads((GOLDEN / "manifest_birth.json").read_text(encoding="utf-8"))
    assert normalized(manifest) == golden


def test_second_run_exports_exactly_the_changed_record(engine, export_book, tmp_path):
    out = tmp_path / "nop"
    first = export_national(engine, export_book.settings, out, actor="an")
    changed_id = export_book.record_ids[0]
    with session_scope(engine) as s:
        add_field_version(s, changed_id, "birth_place", raw="Bệnh viện Vinh", value="Bệnh viện Vinh",
                          status="read", confidence=1.0, source="review", changed_by="minh",
                          reason="cải chính")
    second = export_national(engine, export_book.settings, out, actor="an")
    assert second.batch_key != first.batch_key and (second.new, second.changed, second.unchanged) == (0, 1, 1)
    assert (first.folder / MANIFEST).is_file()  # the first batch is kept as it was
    _, rows = _sheet(second.folder / f"{export_book.book_code}.xlsx")
    assert [(r["Mã bản ghi"], r["Nơi sinh"], r["STT"]) for r in rows] == [
        (f"{export_book.book_code}-p0001-r01", "Bệnh viện Vinh", 1)]
    with zipfile.ZipFile(second.folder / f"{export_book.book_code}.zip") as archive:
        assert archive.namelist() == [rows[0]["Tệp ảnh"]]
    with session_scope(engine) as s:
        items = s.execute(select(ExportItem.record_id, ExportItem.change)
                          .join(ExportBatch).where(ExportBatch.batch_key == second.batch_key)).all()
    assert items == [(changed_id, "changed")]

    # nothing new: no batch, no folder
    third = export_national(engine, export_book.settings, out, actor="an")
    assert third.batch_key is None and third.unchanged == 2
    assert len(_batches(engine)) == 2
    assert sorted(p.name for p in out.iterdir()) == sorted([first.batch_key, second.batch_key])

    # a record approved later goes out as new
    with session_scope(engine) as s:
        s.get(Record, export_book.record_ids[2]).status = "approved"
    fourth = export_national(engine, export_book.settings, out, actor="an")
    assert (fourth.new, fourth.changed) == (1, 0)
    assert len(verify_export(out)) == 3 and all(c.ok for c in verify_export(out))


def test_whole_page_when_the_entry_region_is_unknown(engine, export_book, tmp_path):
    with session_scope(engine) as s:
        record = s.get(Record, export_book.record_ids[0])
        record.box_x0 = record.box_y0 = record.box_x1 = record.box_y1 = None
        page = s.get(Page, record.page_id)
        aspect = page.height / page.width
    outcome = export_national(engine, export_book.settings, tmp_path / "nop", actor="an")
    with zipfile.ZipFile(outcome.folder / f"{export_book.book_code}.zip") as archive:
        whole, entry = (archive.read(n) for n in archive.namelist())
    box = PdfReader(io.BytesIO(whole)).pages[0].mediabox
    assert float(box.height) / float(box.width) == pytest.approx(aspect, rel=0.01)
    assert float(box.height) / 72 == pytest.approx(11.69, rel=0.05)  # an A4 page at 150 dpi
    assert 30_000 < len(whole) <= 100_000  # "about 100 kB for an A4 page"
    assert len(entry) < len(whole)


def test_export_is_deterministic_for_the_same_input(engine, export_book, tmp_path):
    when = datetime(2027, 3, 1, 10, 15, tzinfo=timezone.utc)
    first = export_national(engine, export_book.settings, tmp_path / "a", actor="an", now=when)
    with session_scope(engine) as s:  # forget the batch so the same records go out again
        s.delete(s.get(ExportBatch, _batches(engine)[0].id))
    second = export_national(engine, export_book.settings, tmp_path / "b", actor="an", now=when)
    name = f"{export_book.book_code}.zip"
    assert (first.folder / name).read_bytes() == (second.folder / name).read_bytes()


# --- killed midway -----------------------------------------------------------------------------


def test_a_failure_midway_leaves_no_batch_and_a_rerun_completes(engine, export_book, tmp_path, monkeypatch):
    out = tmp_path / "nop"
    real, calls = national.entry_pdf, []

    def crash_on_second(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("killed")
        return real(*args, **kwargs)

    monkeypatch.setattr(national, "entry_pdf", crash_on_second)
    with pytest.raises(RuntimeError):
        export_national(engine, export_book.settings, out, actor="an")
    assert _batches(engine) == [] and list(out.iterdir()) == []
    with session_scope(engine) as s:
        assert s.scalar(select(func.count()).select_from(ExportItem)) == 0

    # killed after the files, before the commit: the folder is removed, no batch
    monkeypatch.setattr(national, "entry_pdf", real)
    monkeypatch.setattr(national, "audit", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        export_national(engine, export_book.settings, out, actor="an")
    assert _batches(engine) == [] and list(out.iterdir()) == []

    monkeypatch.undo()
    outcome = export_national(engine, export_book.settings, out, actor="an")
    assert (outcome.new, len(_batches(engine))) == (2, 1)
    assert [c.ok for c in verify_export(out)] == [True]


def test_an_unreadable_scan_skips_its_records_only(engine, export_book, tmp_path):
    with session_scope(engine) as s:
        page = s.get(Page, s.get(Record, export_book.record_ids[0]).page_id)
        (export_book.settings.home / page.source_file.stored_path).unlink()
    outcome = export_national(engine, export_book.settings, tmp_path / "nop", actor="an")
    assert outcome.batch_key is None and len(outcome.skipped) == 2
    assert "Không tìm thấy tệp quét" in outcome.skipped[0]
    assert _batches(engine) == []


# --- who may export ------------------------------------------------------------------------------


def test_only_an_admin_may_export(engine, export_book):
    with session_scope(engine) as s:
        assert resolve_exporter(s, "an") == "an"
        with pytest.raises(NotAllowed):
            resolve_exporter(s, "minh")
        assert resolve_exporter(s, None).startswith("cli:")


# --- signature -------------------------------------------------------------------------------


def _make_p12(folder: Path, password: str) -> tuple[Path, Path]:
    """A self-signed certificate and its key in a PKCS#12 file, and the certificate as PEM."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import pkcs12
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "So Tu phap thu nghiem"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "hotich test")])
    now = datetime.now(timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    p12 = folder / "ky.p12"
    p12.write_bytes(pkcs12.serialize_key_and_certificates(
        b"ky", key, cert, None, serialization.BestAvailableEncryption(password.encode())))
    pem = folder / "ca.pem"
    pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return p12, pem


def _openssl_verify(folder: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(["openssl", "cms", "-verify", "-binary", "-inform", "DER",
                           "-in", str(folder / SIGNATURE), "-content", str(folder / MANIFEST),
                           "-out", "/dev/null", *extra], capture_output=True, text=True, check=False)


def test_signed_manifest_is_accepted_by_openssl(engine, export_book, tmp_path):
    p12, ca = _make_p12(tmp_path, "mật-khẩu-ký")
    with pytest.raises(Exception, match="sai mật khẩu"):
        load_signer(p12, "sai")
    signer = load_signer(p12, "mật-khẩu-ký")
    outcome = export_national(engine, export_book.settings, tmp_path / "nop", actor="an", signer=signer)
    assert outcome.signed and _batches(engine)[0].signed
    assert json.loads((outcome.folder / MANIFEST).read_text(encoding="utf-8"))["signer"] == signer.subject
    done = _openssl_verify(outcome.folder, "-noverify")
    assert done.returncode == 0, done.stderr
    assert "Verification successful" in done.stderr
    done = _openssl_verify(outcome.folder, "-CAfile", str(ca), "-purpose", "any")
    assert done.returncode == 0, done.stderr
    [check] = verify_export(outcome.folder, ca_file=ca)
    assert (check.ok, check.signature) == (True, "valid")

    # a manifest edited after signing: hashes of the files still match, the signature does not
    manifest = outcome.folder / MANIFEST
    manifest.write_bytes(manifest.read_bytes().replace(b'"new": 2', b'"new": 3', 1))
    assert _openssl_verify(outcome.folder, "-noverify").returncode != 0
    [check] = verify_export(outcome.folder)
    assert check.signature == "invalid" and any(SIGNATURE in p for p in check.problems)


# --- the command line ------------------------------------------------------------------------


@pytest.mark.backends("sqlite")
def test_cli_export_national_and_verify(run, workspace, tmp_path, monkeypatch):
    engine = make_engine(get_settings().database_url)
    book = seed_export_book(engine, workspace)
    out = tmp_path / "nop"

    refused = run("export", "national", out, "--as", "minh")
    assert refused.exit_code == 6 and "quản trị" in refused.output
    assert run("export", "national", out, "--as", "ghost").exit_code == 4
    assert not out.exists() and _batches(engine) == []

    p12, _ = _make_p12(tmp_path, "ky-thu")
    monkeypatch.setenv("HOTICH_SIGN_PASSWORD", "sai-mat-khau")
    wrong = run("export", "national", out, "--as", "an", "--sign", p12)
    assert wrong.exit_code == 2 and "sai mật khẩu" in wrong.output and not out.exists()
    monkeypatch.delenv("HOTICH_SIGN_PASSWORD")
    result = run("export", "national", out, "--as", "an", "--sign", p12, input="ky-thu\n")
    assert result.exit_code == 0, result.output
    assert f"Sổ {book.book_code}: 2 mới, 0 thay đổi" in result.output
    assert "đã xuất 2 bản ghi" in result.output and "đã ký" in result.output
    folder = Path(re.search(r"Thư mục: (\S+)", result.output)[1])
    assert (folder / SIGNATURE).is_file()

    again = run("export", "national", out)
    assert again.exit_code == 0 and NOTHING_NEW in again.output
    assert len(_batches(engine)) == 1 and _batches(engine)[0].created_by == "an"

    ok = run("export", "verify", folder)
    assert ok.exit_code == 0, ok.output
    assert "2 tệp khớp mã băm" in ok.output and "chữ ký hợp lệ" in ok.output
    assert run("export", "verify", out).exit_code == 0  # the parent folder: every batch in it

    xlsx = folder / f"{book.book_code}.xlsx"
    xlsx.write_bytes(xlsx.read_bytes() + b"\0")
    (folder / f"{book.book_code}.zip").unlink()
    bad = run("export", "verify", folder)
    assert bad.exit_code == 1
    assert f"{book.book_code}.xlsx: mã SHA-256 không khớp" in bad.output
    assert f"{book.book_code}.zip: thiếu tệp" in bad.output
    assert "KHÔNG toàn vẹn" in bad.output

    assert run("export", "verify", tmp_path / "khong-co").exit_code == 4


@pytest.mark.backends("sqlite")
def test_cli_without_as_records_the_os_account(run, workspace, tmp_path):
    engine = make_engine(get_settings().database_url)
    seed_export_book(engine, workspace)
    result = run("export", "national", tmp_path / "nop")
    assert result.exit_code == 0, result.output
    [batch] = _batches(engine)
    assert batch.created_by.startswith("cli:")
    with session_scope(engine) as s:
        assert s.scalar(select(AuditEntry.actor).where(AuditEntry.action == "export.national")) == batch.created_by

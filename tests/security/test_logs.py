"""SPEC §7 over a whole small chain, run once: no personal data in the logs, and every change and
every export in the audit log.

ingest → process (real Tesseract, in-process so every log line lands here) → population import →
match → a reviewer's correction through the web app → supervisor approval → records export →
national export, with the root logger at DEBUG writing into a file. Then the file is searched
for the names on the processed page, with and without diacritics.
"""

from __future__ import annotations

import csv
import logging
import re
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.clean.text import strip_marks

# the place and volume the book is ingested under, printed in its pages' header (which
# `process` checks against the book's)
HEADER = {"commune": "Hưng Dũng", "district": "Hưng Nguyên", "volume": 1}

BOOK_ID = "HD-KS-1978-LOG"
BOOK = ["--template", "birth_form", "--commune", "Hưng Dũng", "--district", "Hưng Nguyên",
        "--province", "Nghệ Tĩnh", "--year", "1978", "--volume", "1", "--book-id", BOOK_ID]
PASSWORDS = {"lan": "matkhau-lan-01", "minh": "matkhau-minh-03", "an": "matkhau-an-004"}
ROLES = {"lan": "reviewer", "minh": "supervisor", "an": "admin"}
PERSON_FIELDS = ("full_name", "father_name", "mother_name", "declarant")
#: What the reviewer types over the first record's name: a name no other step could produce.
CORRECTED = "Phạm Thị Tuyết Nhung"


def _cli(*args, input: str | None = None):
    from cli import app

    result = CliRunner().invoke(app, [str(a) for a in args], input=input, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def _review_correction(home: Path, record_id: int) -> None:
    """Lan logs in and corrects the first record's name, as in the browser (form, CSRF token)."""
    from starlette.testclient import TestClient

    from pipeline.review.app import create_app
    from pipeline.review.config import ReviewSettings
    from pipeline.settings import Settings
    from pipeline.storage.db import make_engine

    engine = make_engine()
    with TestClient(create_app(engine, Settings(home=home), ReviewSettings())) as client:
        client.get("/login")
        answer = client.post("/login", data={"name": "lan", "password": PASSWORDS["lan"], "next": "/queue",
                                             "csrf_token": client.cookies.get("hotich_login_csrf")},
                             follow_redirects=False)
        assert answer.status_code == 303
        page = client.get(f"/records/{record_id}")
        assert page.status_code == 200
        token = re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)
        version = re.search(r'name="version\.full_name" value="(\d+)"', page.text).group(1)
        saved = client.post(f"/records/{record_id}/fields/full_name",
                            data={"action": "accept", "value": CORRECTED, "version": version},
                            headers={"X-CSRF-Token": token, "HX-Request": "true"})
        assert saved.status_code == 200, saved.text
        client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    engine.dispose()


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    from pipeline.samplegen import BookSpec, generate_book

    tmp = tmp_path_factory.mktemp("chain")
    home = tmp / "ws"
    log_file = tmp / "debug.log"
    handler = logging.FileHandler(log_file, encoding="utf-8")
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    saved_levels = {name: logging.getLogger(name).level for name in ("", "hotich", "hotich.review", "sqlalchemy.engine")}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOTICH_HOME", str(home))
        mp.delenv("HOTICH_DB_URL", raising=False)
        root.addHandler(handler)
        for name in saved_levels:
            logging.getLogger(name).setLevel(logging.DEBUG)
        try:
            truth = generate_book(BookSpec(**HEADER, seed=5, template="birth_form", pages=1, degradation="clean",
                                           face="typewriter"), tmp / "book")
            for name, role in ROLES.items():
                _cli("users", "add", name, "--role", role, "--password-stdin", input=PASSWORDS[name] + "\n")
            _cli("ingest", tmp / "book" / "book.pdf", *BOOK)
            _cli("process", "--workers", "0")
            population = tmp / "dan_cu.csv"
            with population.open("w", newline="", encoding="utf-8") as fh:
                out = csv.writer(fh)
                out.writerow(["citizen_id", "full_name", "sex", "birth_date", "birth_place",
                              "father_name", "mother_name"])
                for i, rec in enumerate(truth.records):
                    v = {k: f.value or "" for k, f in rec.fields.items()}
                    out.writerow([f"04007800{i:04d}", v["full_name"], v.get("sex", ""), v.get("birth_date", ""),
                                  v.get("birth_place", ""), v.get("father_name", ""), v.get("mother_name", "")])
            _cli("population", "import", population)
            _cli("match")
            with sqlite3.connect(home / "hotich.db") as conn:
                first = conn.execute("select min(id) from records").fetchone()[0]
            _review_correction(home, first)
            _cli("records", "approve", "--book", BOOK_ID, "--as", "minh", "--include-pending", "--yes")
            _cli("records", "export", tmp / "out" / "records.csv")
            _cli("export", "national", tmp / "nop", "--as", "an")
        finally:
            root.removeHandler(handler)
            handler.close()
            for name, level in saved_levels.items():
                logging.getLogger(name).setLevel(level)
    names = {CORRECTED}
    for rec in truth.records:
        names |= {rec.fields[f].value for f in PERSON_FIELDS if f in rec.fields and rec.fields[f].value}
    return {"home": home, "log": log_file.read_text(encoding="utf-8"), "names": sorted(names),
            "first": first, "exports": tmp / "out" / "records.csv"}


def test_debug_logs_of_the_whole_chain_hold_no_names(chain):
    log = chain["log"]
    # The premise: logging was on, at DEBUG, and heard the review server.
    assert re.search(rf"INFO hotich\.review: POST /records/{chain['first']}/fields/full_name 200", log)
    assert "DEBUG " in log
    # The names really went through: the export holds them (so their absence from the log means something).
    exported = chain["exports"].read_text(encoding="utf-8")
    assert CORRECTED in exported
    folded_log = strip_marks(log).lower()
    leaks = [name for name in chain["names"]
             if name in log or (len(name.split()) > 1 and strip_marks(name).lower() in folded_log)]
    assert leaks == [], [line for line in log.splitlines() if any(n in line for n in leaks)][:5]


def test_every_change_and_export_of_the_chain_is_audited(chain):
    with sqlite3.connect(chain["home"] / "hotich.db") as conn:
        rows = conn.execute("select actor, action, entity, entity_id from audit_log order by id").fetchall()
    seen = {(actor, action) for actor, action, _, _ in rows}
    expected = {
        ("system:cli", "user.add"),                # users add ×3
        ("system:ingest", "book.create"),          # ingest
        ("system:ingest", "file.ingest"),
        ("system:population", "population.import"),
        ("system:match", "match.run"),
        ("lan", "login"),                          # the review correction
        ("lan", "field.accept"),
        ("lan", "logout"),
        ("minh", "book.approve"),                  # records approve
        ("minh", "record.approve"),
        ("system:cli", "export.records"),          # records export
        ("an", "export.national"),                 # export national
    }
    assert expected <= seen, sorted(expected - seen)
    assert sum(1 for r in rows if r[1] == "user.add") == 3
    assert ("lan", "field.accept", "record", str(chain["first"])) in rows
    assert ("system:cli", "export.records", "book", None) in rows

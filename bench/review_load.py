"""Load on the review server: "next record" response time under concurrent reviewers, PostgreSQL.

    .venv/bin/python bench/review_load.py [--reviewers 20] [--records 2000] [--seconds 60]
                                          [--pg-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

A fresh database ``hotich_load_<random>`` is created on the server (dropped at the end unless
``--keep``), migrated with ``init_db`` and seeded through the storage models: ``--records``
birth records in the review queue (20 books of 10-row pages, every field read, the name
uncertain), then ``--reviewers`` reviewer accounts. The real app then runs as a separate
process — ``hotich review serve`` on a free local port, the production code path with its
own connection pool — and each reviewer is a thread with its own httpx client that logs in
through the login form and, until the time is up, asks for the next record and confirms it
as shown (what a reviewer does with Ctrl+Enter when the OCR was right):

    next record   GET /review/next (the queue query, 303) + GET /records/{id} (the record
                  screen: fields, suggestions, link panel, prefetch of the next record):
                  what a reviewer waits for between two records
    confirm       POST /records/{id}/confirm (versions written, 303)

No scans are on disk, so the crops (separate, cached image requests) are not part of the
figures; the HTML of the record screen is. The clients run on the same machine as the server
and PostgreSQL: on a small PC they compete for the same cores, so the figures are an upper
bound of what a reviewer on another PC would wait.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from html import unescape
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.review.auth import add_user  # noqa: E402
from pipeline.storage.db import init_db, make_engine, session_scope  # noqa: E402
from pipeline.storage.models import Book, FieldValue, Record  # noqa: E402
from pipeline.storage.seed import page_without_scan  # noqa: E402

PASSWORD = "bench-load-password"
SURNAMES = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Phan", "Võ", "Đặng", "Bùi", "Hồ")
MIDDLE = ("Văn", "Thị", "Hữu", "Đình", "Xuân", "Thanh", "Ngọc", "Minh")
GIVEN = ("An", "Bình", "Cường", "Dũng", "Hùng", "Hoa", "Lan", "Mai", "Nam", "Tâm", "Thủy", "Sơn",
         "Hà", "Hải", "Long", "Phúc", "Quang", "Thắng", "Trung", "Yến")
VILLAGES = ("Xóm 1", "Xóm 2", "Xóm 3", "Xóm Đông", "Xóm Tây", "Làng Vạn Lộc", "Làng Hồng Sơn",
            "Xóm Chợ", "Xóm Bến", "Xóm Mới")


def _name(rng: random.Random, middle: str | None = None) -> str:
    return f"{rng.choice(SURNAMES)} {middle or rng.choice(MIDDLE)} {rng.choice(GIVEN)}"


def _values(rng: random.Random, row: int) -> dict[str, str]:
    """A birth entry with values that vary as a commune's do (places repeat, names less)."""
    father, mother = _name(rng, "Văn"), _name(rng, "Thị")
    day, month = rng.randint(1, 28), rng.randint(1, 12)
    place = f"{rng.choice(VILLAGES)}, Hưng Dũng"
    return {"registration_no": str(row), "full_name": _name(rng), "sex": rng.choice("MF"),
            "birth_date": f"1978-{month:02d}-{day:02d}", "birth_place": place, "ethnicity": "Kinh",
            "nationality": "Việt Nam", "father_name": father, "father_age": str(rng.randint(20, 50)),
            "mother_name": mother, "mother_age": str(rng.randint(18, 45)),
            "residence": place, "declarant": father,
            "registration_date": f"1978-{month:02d}-{min(28, day + 5):02d}"}


VALUE_RE = re.compile(r'name="value\.(\w+)"[^>]*?\svalue="([^"]*)"', re.S)
VERSION_RE = re.compile(r'name="version\.(\w+)" value="(\d+)"')
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
LOCK_RE = re.compile(r'name="lock_version" value="(\d+)"')


def seed(engine, records: int, reviewers: int, rows_per_page: int = 10, books: int = 20) -> None:
    """Books, pages and queued records written straight through the models (bulk, a few s)."""
    init_db(engine)
    rng = random.Random(1978)
    per_book = max(1, -(-records // books))
    made = 0
    with session_scope(engine) as s:
        for b in range(books):
            if made >= records:
                break
            book = Book(book_code=f"TAI-{b + 1:02d}", book_type="birth", template="birth_form",
                        commune="Hưng Dũng", district="Vinh", province="Nghệ Tĩnh",
                        year_from=1978, year_to=1978, volume=str(b + 1))
            s.add(book)
            s.flush()
            pages = -(-min(per_book, records - made) // rows_per_page)
            for p in range(1, pages + 1):
                page = page_without_scan(s, book, p, status="done", width=2480, height=3508)
                batch = []
                for row in range(1, rows_per_page + 1):
                    if made >= records:
                        break
                    made += 1
                    batch.append(Record(record_key=f"{book.book_code}-p{p:04d}-r{row:02d}",
                                        book_id=book.id, page_id=page.id, row=row,
                                        record_type="birth", status="needs_review"))
                s.add_all(batch)
                s.flush()
                values = []
                for record in batch:
                    for i, (name, value) in enumerate(_values(rng, record.row).items()):
                        doubt = name == "full_name"
                        y = 100 + 200 * i
                        values.append(FieldValue(
                            record_id=record.id, field=name, version=1, is_current=True, raw=value,
                            value=value, status="uncertain" if doubt else "read",
                            confidence=0.55 if doubt else 0.97, source="ocr",
                            note="Độ tin cậy thấp" if doubt else None,
                            box_x0=300, box_y0=y, box_x1=1800, box_y1=y + 60))
                s.add_all(values)
        for i in range(reviewers):
            add_user(s, f"duyet{i + 1:02d}", "reviewer", PASSWORD, actor="bench")


@dataclass
class Stats:
    next_ms: list[float] = field(default_factory=list)
    screen_ms: list[float] = field(default_factory=list)
    confirm_ms: list[float] = field(default_factory=list)
    errors: int = 0
    conflicts: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def reviewer(base: str, name: str, clock: dict, stats: Stats, start: threading.Barrier) -> None:
    with httpx.Client(base_url=base, follow_redirects=False, timeout=60) as client:
        page = client.get("/login")
        token = CSRF_RE.search(page.text).group(1)
        login = client.post("/login", data={"name": name, "password": PASSWORD, "csrf_token": token,
                                            "next": "/queue"})
        if login.status_code != 303:
            with stats.lock:
                stats.errors += 1
            start.wait()
            return
        start.wait()
        while time.monotonic() < clock["deadline"]:
            t0 = time.perf_counter()
            try:
                nxt = client.get("/review/next")
                where = nxt.headers.get("location", "")
                if nxt.status_code != 303 or not where.startswith("/records/"):
                    if "done=1" in where:
                        return  # the queue is empty
                    raise httpx.HTTPError(f"next: {nxt.status_code}")
                t1 = time.perf_counter()
                screen = client.get(where)
                t2 = time.perf_counter()
                if screen.status_code != 200:
                    raise httpx.HTTPError(f"screen: {screen.status_code}")
                html = screen.text
                form = {"csrf_token": CSRF_RE.search(html).group(1),
                        "lock_version": LOCK_RE.search(html).group(1)}
                form.update({f"value.{k}": unescape(v) for k, v in VALUE_RE.findall(html)})
                form.update({f"version.{k}": v for k, v in VERSION_RE.findall(html)})
                t3 = time.perf_counter()
                done = client.post(f"{where}/confirm", data=form)
                t4 = time.perf_counter()
            except (httpx.HTTPError, AttributeError):
                with stats.lock:
                    stats.errors += 1
                continue
            with stats.lock:
                stats.next_ms.append((t2 - t0) * 1000)
                stats.screen_ms.append((t2 - t1) * 1000)
                stats.confirm_ms.append((t4 - t3) * 1000)
                if done.status_code == 409:
                    stats.conflicts += 1  # two reviewers on one record: the versions refused one
                elif done.status_code != 303:
                    stats.errors += 1


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(pg_url: str, reviewers: int, records: int, seconds: float, keep: bool = False) -> dict:
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT", pool_size=1)
    name = f"hotich_load_{secrets.token_hex(4)}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(pg_url).set(database=name).render_as_string(hide_password=False)
    server = None
    try:
        t = time.perf_counter()
        engine = make_engine(url)
        seed(engine, records, reviewers)
        engine.dispose()
        print(f"Seeded {records} queued records and {reviewers} reviewers in "
              f"{time.perf_counter() - t:.1f} s (database {name}).", flush=True)
        home = Path(tempfile.mkdtemp(prefix="hotich-load-"))
        port = _free_port()
        env = {**os.environ, "HOTICH_DB_URL": url, "HOTICH_HOME": str(home)}
        server = subprocess.Popen([sys.executable, str(ROOT / "cli.py"), "review", "serve",
                                   "--port", str(port)], env=env, cwd=ROOT,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        up = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/login", timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > up or server.poll() is not None:
                    raise SystemExit("the review server did not start") from None
                time.sleep(0.1)
        stats = Stats()
        clock: dict[str, float] = {}

        def go() -> None:  # run once when every reviewer is logged in (argon2 not measured)
            clock["began"] = time.monotonic()
            clock["deadline"] = clock["began"] + seconds

        start = threading.Barrier(reviewers, action=go)
        threads = [threading.Thread(target=reviewer, args=(base, f"duyet{i + 1:02d}", clock, stats, start),
                                    daemon=True) for i in range(reviewers)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        began = clock["began"]
        elapsed = time.monotonic() - began
        return {"stats": stats, "elapsed": elapsed, "reviewers": reviewers, "records": records}
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
        if not keep:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def table(result: dict) -> str:
    s: Stats = result["stats"]
    elapsed = result["elapsed"]
    lines = [f"{result['reviewers']} concurrent reviewers, {result['records']} queued records, "
             f"PostgreSQL, {elapsed:.0f} s",
             f"{'request':<44} {'n':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8} {'per s':>7}"]
    for label, values in (("next record (GET /review/next + screen)", s.next_ms),
                          ("  of which the record screen", s.screen_ms),
                          ("confirm (POST /records/{id}/confirm)", s.confirm_ms)):
        lines.append(f"{label:<44} {len(values):>6} {_pct(values, 50):>8.0f} {_pct(values, 95):>8.0f} "
                     f"{_pct(values, 99):>8.0f} {max(values, default=float('nan')):>8.0f} "
                     f"{len(values) / elapsed if elapsed else 0:>7.1f}")
    lines.append(f"errors: {s.errors}; confirmations refused by a version conflict: {s.conflicts}; "
                 f"records confirmed per minute: {60 * (len(s.confirm_ms) - s.conflicts) / elapsed:.0f}"
                 + (f"; mean next record {statistics.fmean(s.next_ms):.0f} ms" if s.next_ms else ""))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pg-url", default=os.environ.get(
        "HOTICH_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"),
        help="a PostgreSQL server where a throw-away database may be created")
    parser.add_argument("--reviewers", type=int, default=20)
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    result = run(args.pg_url, args.reviewers, args.records, args.seconds, args.keep)
    print(table(result))
    if result["stats"].errors:
        sys.exit(1)


if __name__ == "__main__":
    main()

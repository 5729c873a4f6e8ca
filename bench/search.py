"""Search benchmark: a million generated birth records, the index built, 50 queries timed; one table.

    .venv/bin/python bench/search.py [--records 1000000] [--only sqlite|postgresql]
                                     [--pg-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

Records are drawn like the sample books' (names from data/samplegen/names.json through
pipeline.samplegen.content, communes from places.json: 500 records a book, 10 a page) and
written straight into the tables (sqlite3 executemany / PostgreSQL COPY) of a fresh SQLite
file and a fresh PostgreSQL database (``hotich_bench_search``, dropped first). Then
``pipeline.search.reindex`` builds the index (timed) and ``search_records`` runs 50 queries
of ten kinds (full names with and without diacritics, with year, parents, commune, a bare
given name, broad ones), each in its own session, timed from call to hits. ``found`` counts
the queries aimed at one generated record whose record is among the 20 hits.
Target (issue, point 4): under 1 s per query on a million records.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sqlite3
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from pipeline.samplegen.content import draw_book_context, draw_person_name  # noqa: E402
from pipeline.search import reindex, search_records  # noqa: E402
from pipeline.storage.search_index import vacuum_index  # noqa: E402
from pipeline.storage.db import init_db, make_engine, session_scope  # noqa: E402

PER_BOOK, PER_PAGE = 500, 10
STAMP = "2027-01-01 00:00:00+00:00"
PG_DB = "hotich_bench_search"


@dataclass
class Data:
    books: list[tuple]  # (id, code, commune, district, province, year)
    records: list[tuple]  # (id, key, book_id, page_id, row)
    values: list[tuple]  # (record_id, field, value)
    people: list[dict]  # per record: full_name, father, mother, birth, commune


def generate(n: int, seed: int) -> Data:
    """``n`` records in ``n / 500`` books; names from pools drawn by the sample generator."""
    rng = np.random.default_rng(seed)
    men = [draw_person_name(rng, "M") for _ in range(20_000)]
    women = [draw_person_name(rng, "F") for _ in range(20_000)]
    men_rest = [m.split(" ", 1)[1] for m in men]
    women_rest = [w.split(" ", 1)[1] for w in women]
    n_books = max(1, -(-n // PER_BOOK))
    books = []
    for b in range(n_books):
        ctx = draw_book_context(rng)
        books.append((b + 1, f"BENCH-{b + 1:05d}", ctx.commune, ctx.district, ctx.province, ctx.year))
    father_i = rng.integers(0, len(men), n)
    mother_i = rng.integers(0, len(women), n)
    sex_f = rng.random(n) < 0.48
    child_i = rng.integers(0, len(men), n)
    no_father = rng.random(n) < 0.03
    years = rng.integers(1960, 1990, n)
    days = rng.integers(0, 365, n)
    records, values, people = [], [], []
    for i in range(n):
        book = books[i // PER_BOOK]
        in_book = i % PER_BOOK
        page_no, row = in_book // PER_PAGE + 1, in_book % PER_PAGE + 1
        page_id = (i // PER_BOOK) * (PER_BOOK // PER_PAGE) + page_no
        father = men[father_i[i]]
        mother = women[mother_i[i]]
        surname = (mother if no_father[i] else father).split(" ", 1)[0]
        child = f"{surname} {(women_rest if sex_f[i] else men_rest)[child_i[i]]}"
        birth = (dt.date(int(years[i]), 1, 1) + dt.timedelta(days=int(days[i]))).isoformat()
        rid = i + 1
        records.append((rid, f"{book[1]}-p{page_no:04d}-r{row:02d}", book[0], page_id, row))
        values += [(rid, "full_name", child), (rid, "sex", "F" if sex_f[i] else "M"),
                   (rid, "birth_date", birth), (rid, "birth_place", f"Xã {book[2]}"),
                   (rid, "father_name", None if no_father[i] else father),
                   (rid, "mother_name", mother)]
        people.append({"name": child, "father": None if no_father[i] else father,
                       "mother": mother, "year": int(years[i]), "commune": book[2]})
    return Data(books, records, values, people)


def _pages(data: Data):
    for book in data.books:
        for p in range(PER_BOOK // PER_PAGE):
            yield ((book[0] - 1) * (PER_BOOK // PER_PAGE) + p + 1, book[0], book[0], p, p + 1)


def load_sqlite(path: Path, data: Data) -> None:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA synchronous=OFF")
    with conn:
        conn.executemany("INSERT INTO books (id, book_code, book_type, template, commune, district, province,"
                         " year_from, year_to, volume, created_at) VALUES (?,?,'birth','birth_ledger',?,?,?,?,?,'1',?)",
                         [(b[0], b[1], b[2], b[3], b[4], b[5], b[5], STAMP) for b in data.books])
        conn.executemany("INSERT INTO source_files (id, book_id, position, sha256, original_name, stored_path,"
                         " media_type, size_bytes, page_count, status, created_at)"
                         " VALUES (?,?,1,?,'scan.pdf','scans/x.pdf','application/pdf',1,50,'ok',?)",
                         [(b[0], b[0], f"{b[0]:064x}", STAMP) for b in data.books])
        conn.executemany("INSERT INTO pages (id, book_id, source_file_id, index_in_file, page_no, status,"
                         " attempts, updated_at) VALUES (?,?,?,?,?,'done',1,?)",
                         [(*p, STAMP) for p in _pages(data)])
        conn.executemany("INSERT INTO records (id, record_key, book_id, page_id, row, record_type, source, status,"
                         " confidence, created_at, updated_at, lock_version)"
                         " VALUES (?,?,?,?,?,'birth','ocr','extracted',0.9,?,?,0)",
                         [(*r, STAMP, STAMP) for r in data.records])
        conn.executemany("INSERT INTO field_values (record_id, field, version, is_current, raw, value, status,"
                         " confidence, source, created_at) VALUES (?,?,1,1,coalesce(?3,''),?3,"
                         " CASE WHEN ?3 IS NULL THEN 'blank' ELSE 'read' END,0.9,'ocr',?)",
                         [(*v, STAMP) for v in data.values])
    conn.close()


def _copy(cur, sql: str, rows) -> None:
    with cur.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)


def load_pg(url: str, data: Data) -> None:
    import psycopg

    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        _copy(cur, "COPY books (id, book_code, book_type, template, commune, district, province, year_from,"
                   " year_to, volume, created_at) FROM STDIN",
              ((b[0], b[1], "birth", "birth_ledger", b[2], b[3], b[4], b[5], b[5], "1", STAMP) for b in data.books))
        _copy(cur, "COPY source_files (id, book_id, position, sha256, original_name, stored_path, media_type,"
                   " size_bytes, page_count, status, created_at) FROM STDIN",
              ((b[0], b[0], 1, f"{b[0]:064x}", "scan.pdf", "scans/x.pdf", "application/pdf", 1, 50, "ok", STAMP)
               for b in data.books))
        _copy(cur, "COPY pages (id, book_id, source_file_id, index_in_file, page_no, status, attempts,"
                   " updated_at) FROM STDIN", ((*p, "done", 1, STAMP) for p in _pages(data)))
        _copy(cur, "COPY records (id, record_key, book_id, page_id, row, record_type, source, status, confidence,"
                   " created_at, updated_at, lock_version) FROM STDIN",
              ((*r, "birth", "ocr", "extracted", 0.9, STAMP, STAMP, 0) for r in data.records))
        _copy(cur, "COPY field_values (record_id, field, version, is_current, raw, value, status, confidence,"
                   " source, created_at) FROM STDIN",
              ((rid, f, 1, True, v or "", v, "read" if v else "blank", 0.9, "ocr", STAMP)
               for rid, f, v in data.values))
        for table in ("books", "source_files", "pages", "records", "field_values"):
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        conn.commit()
        conn.autocommit = True
        cur.execute("VACUUM ANALYZE")


def _fold(s: str) -> str:
    from pipeline.clean.text import folded_key

    return folded_key(s)


def queries(data: Data, rng: np.random.Generator) -> list[tuple[str, str, str | None]]:
    """(kind, query, record key it aims at or None): 5 of each of ten kinds."""
    out = []
    for _ in range(5):
        for kind in ("tên không dấu + năm", "tên có dấu", "tên có dấu + năm", "tên + cha", "tên + mẹ",
                     "tên + xã", "tên + xã (không từ khóa)", "tên gọi có dấu", "rộng: họ + đệm",
                     "rộng: họ + năm"):
            i = int(rng.integers(len(data.people)))
            p, key = data.people[i], data.records[i][1]
            if kind.startswith("tên + cha") and not p["father"]:
                p, key = data.people[i + 1 if i + 1 < len(data.people) else i - 1], None
            name, year = p["name"], p["year"]
            given = name.split()[-1]
            q = {
                "tên không dấu + năm": f"{_fold(name)} {year}",
                "tên có dấu": name,
                "tên có dấu + năm": f"{name} {year}",
                "tên + cha": f"{_fold(name)} cha {_fold(p['father'] or '')}",
                "tên + mẹ": f"{name} mẹ {p['mother']}",
                "tên + xã": f"{_fold(name)} {year} xã {p['commune']}",
                "tên + xã (không từ khóa)": f"{_fold(name)} {_fold(p['commune'])}",
                "tên gọi có dấu": f"{given} {year}",
                "rộng: họ + đệm": " ".join(_fold(name).split()[:2]),
                "rộng: họ + năm": f"{_fold(name).split()[0]} {year}",
            }[kind]
            aimed = key if kind in ("tên + cha", "tên + mẹ", "tên + xã") else None
            out.append((kind, q, aimed))
    return out


def run_backend(name: str, url: str, data: Data, qs, console: Console) -> dict:
    engine = make_engine(url)
    init_db(engine)
    engine.dispose()
    t0 = time.perf_counter()
    if name == "sqlite":
        load_sqlite(Path(make_url(url).database), data)
    else:
        load_pg(url, data)
    load_s = time.perf_counter() - t0
    console.print(f"{name}: {len(data.records)} bản ghi nạp trong {load_s:.0f} s; lập chỉ mục…")
    engine = make_engine(url)
    t0 = time.perf_counter()
    postings = reindex(engine)
    vacuum_index(engine)  # what `hotich search --reindex` does after the rebuild
    build_s = time.perf_counter() - t0
    console.print(f"{name}: chỉ mục {postings} mục trong {build_s:.0f} s; chạy {len(qs)} truy vấn…")
    times, found, aimed, incomplete = [], 0, 0, 0
    by_kind: dict[str, list[float]] = {}
    for kind, q, key in qs:
        t = time.perf_counter()
        with session_scope(engine) as session:
            result = search_records(session, q, 20)
        ms = (time.perf_counter() - t) * 1000
        times.append(ms)
        by_kind.setdefault(kind, []).append(ms)
        incomplete += not result.complete
        if key is not None:
            aimed += 1
            found += key in {h.record_key for h in result.hits}
    engine.dispose()
    times.sort()
    return {"backend": name, "records": len(data.records), "postings": postings, "load_s": load_s,
            "build_s": build_s, "p50": statistics.median(times),
            "p95": times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))], "max": times[-1],
            "found": f"{found}/{aimed}", "incomplete": incomplete,
            "by_kind": {k: max(v) for k, v in by_kind.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    parser.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
                        help="a database on the server to create the benchmark database from")
    args = parser.parse_args()
    console = Console(highlight=False, width=max(Console().width, 150))
    t0 = time.perf_counter()
    data = generate(args.records, args.seed)
    console.print(f"Sinh {len(data.records)} bản ghi trong {time.perf_counter() - t0:.0f} s")
    qs = queries(data, np.random.default_rng(args.seed + 1))
    results = []
    with tempfile.TemporaryDirectory(prefix="hotich-bench-search-") as tmp:
        if args.only in (None, "sqlite"):
            results.append(run_backend("sqlite", f"sqlite:///{Path(tmp) / 'hotich.db'}", data, qs, console))
        if args.only in (None, "postgresql"):
            admin = create_engine(args.pg_url, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)'))
                conn.execute(text(f'CREATE DATABASE "{PG_DB}"'))
            url = make_url(args.pg_url).set(database=PG_DB).render_as_string(hide_password=False)
            try:
                results.append(run_backend("postgresql", url, data, qs, console))
            finally:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)'))
                admin.dispose()
    table = Table(title="hotich search: 50 truy vấn, 20 kết quả mỗi truy vấn")
    for col in ("Back-end", "Bản ghi", "Mục chỉ mục", "Nạp (s)", "Lập chỉ mục (s)", "p50 (ms)", "p95 (ms)",
                "max (ms)", "Đúng bản ghi trong top 20", "Truy vấn rộng bị cắt"):
        table.add_column(col, justify="left" if col == "Back-end" else "right")
    for r in results:
        table.add_row(r["backend"], f"{r['records']:,}", f"{r['postings']:,}", f"{r['load_s']:.0f}",
                      f"{r['build_s']:.0f}", f"{r['p50']:.0f}", f"{r['p95']:.0f}", f"{r['max']:.0f}",
                      r["found"], str(r["incomplete"]))
    console.print(table)
    kinds = Table(title="max ms theo loại truy vấn")
    kinds.add_column("Loại")
    for r in results:
        kinds.add_column(r["backend"], justify="right")
    for kind in results[0]["by_kind"] if results else ():
        kinds.add_row(kind, *(f"{r['by_kind'][kind]:.0f}" for r in results))
    console.print(kinds)


if __name__ == "__main__":
    main()

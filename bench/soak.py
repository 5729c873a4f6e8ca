"""Soak: `hotich process` on a long book by two drivers at once while Dask workers are killed.

    .venv/bin/python bench/soak.py [--pages 200] [--workers 2] [--kills 6] [--kill-window 400]
                                   [--seed 14] [--pg-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres]
                                   [--keep]

What a province's scanning centre does on a bad day: two operators start `hotich process` on
the same book (or one on each of two PCs against the central PostgreSQL), sharing a Dask
cluster whose worker processes die now and then (out of memory, a machine rebooted).

1. A book of ``--pages`` pages is generated from ``--seed`` (birth_form, clean, typewriter:
   the point is the plumbing, not OCR accuracy) and its page images ingested.
2. Clean run: a fresh database, one driver, the cluster left alone. Its field values, records
   and pages are hashed: the reference.
3. Soak run: another fresh database, the same scans, two drivers started together on the same
   cluster (``--scheduler``); meanwhile this script SIGKILLs a random worker process at
   ``--kills`` random moments (seeded) within the first ``--kill-window`` seconds. Each
   worker runs under a nanny, which starts a new one; the scheduler hands the dead worker's
   tasks to the others.
4. Checks on the soak database: every page final and stored once (one attempt, its values
   written by one run, the drivers' counts adding up to the book), the same hash as the clean
   run, no orphan row (field values, search postings or records without their parent, records
   without values, pages still claimed, runs left ``running``, PAGE XML half-written; the
   search index is part of the hash), and no traceback in the drivers' output. The exit
   status is 1 when a check fails.

Both databases (``hotich_soak_<random>_clean`` / ``_soak``) are created on ``--pg-url``'s
server and dropped at the end unless ``--keep``. Everything runs on this machine: on a small
PC the drivers, the workers and PostgreSQL compete for the same cores, so the wall times say
more about the overhead of the kills than about throughput.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import random
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("OMP_THREAD_LIMIT", "1")  # the workers inherit it (one Tesseract thread)

from sqlalchemy import create_engine, func, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.samplegen import BookSpec, generate_book  # noqa: E402
from pipeline.storage.db import make_engine, session_scope  # noqa: E402
from pipeline.storage.models import FieldValue, Page, Record, StageRun  # noqa: E402

HOTICH = str(Path(sys.executable).parent / "hotich")
BOOK_ARGS = ["--template", "birth_form", "--commune", "Hưng Dũng", "--district", "Hưng Nguyên",
             "--province", "Nghệ Tĩnh", "--year", "1978", "--volume", "1", "--book-id", "SOAK-1"]
#: The orphan checks: (what, SQL counting rows that should not exist).
ORPHANS = (
    ("field values without their record",
     "SELECT count(*) FROM field_values f LEFT JOIN records r ON r.id = f.record_id WHERE r.id IS NULL"),
    ("field values of an unknown run",
     "SELECT count(*) FROM field_values f LEFT JOIN stage_runs s ON s.id = f.stage_run_id "
     "WHERE f.stage_run_id IS NOT NULL AND s.id IS NULL"),
    ("search postings without their record",
     "SELECT count(*) FROM search_terms t LEFT JOIN records r ON r.id = t.record_id WHERE r.id IS NULL"),
    ("records without their page, or of a page not stored",
     "SELECT count(*) FROM records r LEFT JOIN pages p ON p.id = r.page_id "
     "WHERE p.id IS NULL OR p.status NOT IN ('done', 'needs_attention')"),
    ("records without a field value",
     "SELECT count(*) FROM records r WHERE NOT EXISTS (SELECT 1 FROM field_values f WHERE f.record_id = r.id)"),
    ("pages still claimed", "SELECT count(*) FROM pages WHERE claimed_by IS NOT NULL OR lease_until IS NOT NULL"),
    ("runs left 'running'", "SELECT count(*) FROM stage_runs WHERE outcome = 'running'"),
)


@dataclass
class Phase:
    """One run of the book: its drivers' outcome and what it left in its database."""

    name: str
    url: str
    drivers: int
    seconds: float = 0.0
    exit_codes: list[int] = field(default_factory=list)
    tracebacks: int = 0
    by_driver: list[int] = field(default_factory=list)  # pages each driver stored
    elsewhere: int = 0  # pages a driver read but another stored first
    kills: list[float] = field(default_factory=list)  # seconds into the run
    pages: dict[str, int] = field(default_factory=dict)  # by status
    records: int = 0
    digest: str = ""
    stored_once: bool = False
    orphans: dict[str, int] = field(default_factory=dict)
    xml_files: int = 0
    xml_partial: int = 0


def _database(admin, pg_url: str, name: str) -> str:
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    return make_url(pg_url).set(database=name).render_as_string(hide_password=False)


def _env(url: str, home: Path) -> dict[str, str]:
    return {**os.environ, "HOTICH_DB_URL": url, "HOTICH_HOME": str(home), "OMP_THREAD_LIMIT": "1"}


def run_phase(phase: Phase, pages_dir: Path, work: Path, scheduler: str, client, *,
              kills: int = 0, kill_window: float = 0.0, seed: int = 0) -> None:
    """Ingest the scans into ``phase.url``, run its drivers (killing workers if asked), wait."""
    home = work / phase.name
    env = _env(phase.url, home)
    subprocess.run([HOTICH, "ingest", str(pages_dir), *BOOK_ARGS], env=env, check=True,
                   capture_output=True)
    logs = [work / f"{phase.name}-driver{n + 1}" for n in range(phase.drivers)]
    started = time.monotonic()
    drivers = []
    for log in logs:
        with open(f"{log}.out", "w") as out, open(f"{log}.err", "w") as err:
            drivers.append(subprocess.Popen([HOTICH, "process", "--scheduler", scheduler],
                                            env=env, stdout=out, stderr=err))
    chaos = None
    if kills:
        chaos = threading.Thread(target=_kill_workers, daemon=True,
                                 args=(client, drivers, started, kills, kill_window, seed, phase.kills))
        chaos.start()
    phase.exit_codes = [d.wait() for d in drivers]
    phase.seconds = time.monotonic() - started
    if chaos is not None:
        chaos.join()
    for log in logs:
        phase.tracebacks += sum(Path(f"{log}.{kind}").read_text().count("Traceback")
                                for kind in ("out", "err"))
    _inspect(phase, home)


def _kill_workers(client, drivers, started: float, kills: int, window: float, seed: int,
                  record: list[float]) -> None:
    """SIGKILL a random worker process at ``kills`` random moments (seeded) in ``window``."""
    rng = random.Random(seed)
    moments = sorted(rng.uniform(5.0, max(window, 6.0)) for _ in range(kills))
    for moment in moments:
        while time.monotonic() - started < moment:
            if all(d.poll() is not None for d in drivers):
                return
            time.sleep(0.2)
        try:
            pids = client.run(os.getpid, wait=True)  # {worker address: pid}; restarting ones absent
        except Exception:  # noqa: BLE001 - every worker restarting at once: try the next moment
            continue
        if not pids:
            continue
        pid = pids[rng.choice(sorted(pids))]
        try:
            os.kill(pid, signal.SIGKILL)
            record.append(time.monotonic() - started)
        except ProcessLookupError:
            pass


def _inspect(phase: Phase, home: Path) -> None:
    engine = make_engine(phase.url)
    with session_scope(engine) as s:
        phase.pages = dict(s.execute(select(Page.status, func.count()).group_by(Page.status)).all())
        phase.records = s.scalar(select(func.count()).select_from(Record)) or 0
        runs = s.scalars(select(StageRun).where(StageRun.stage == "process").order_by(StageRun.id)).all()
        phase.by_driver = [(r.counts or {}).get("succeeded", 0) + (r.counts or {}).get("attention", 0)
                           for r in runs]
        phase.elsewhere = sum((r.counts or {}).get("elsewhere", 0) for r in runs)
        total = sum(phase.pages.values())
        writers = s.execute(
            select(Page.id, func.count(func.distinct(FieldValue.stage_run_id)))
            .join(Record, Record.page_id == Page.id).join(FieldValue, FieldValue.record_id == Record.id)
            .group_by(Page.id)).all()
        attempts = set(s.scalars(select(Page.attempts).distinct()))
        final = phase.pages.get("done", 0) + phase.pages.get("needs_attention", 0)
        phase.stored_once = (final == total and attempts == {1} and all(n == 1 for _, n in writers)
                             and sum(phase.by_driver) == total)
        phase.orphans = {what: s.scalar(text(sql)) for what, sql in ORPHANS}
        phase.digest = _digest(s)
    engine.dispose()
    phase.xml_files = len(list((home / "ocr").rglob("*.xml")))
    phase.xml_partial = len(list((home / "ocr").rglob("*.tmp")))


def _digest(session) -> str:
    """SHA-256 of what the runs produced, in an order that does not depend on who wrote it:
    every field value version, every record, every page's stored reading, the search index."""
    h = hashlib.sha256()
    values = session.execute(
        select(Record.record_key, FieldValue.field, FieldValue.version, FieldValue.is_current,
               FieldValue.raw, FieldValue.value, FieldValue.status, FieldValue.confidence,
               FieldValue.source, FieldValue.box_x0, FieldValue.box_y0, FieldValue.box_x1,
               FieldValue.box_y1, FieldValue.note, FieldValue.unit, FieldValue.reason)
        .join(Record, Record.id == FieldValue.record_id)
        .order_by(Record.record_key, FieldValue.field, FieldValue.version))
    records = session.execute(
        select(Record.record_key, Page.page_no, Record.row, Record.status, Record.confidence,
               Record.box_x0, Record.box_y0, Record.box_x1, Record.box_y1)
        .join(Page, Page.id == Record.page_id).order_by(Record.record_key))
    pages = session.execute(
        select(Page.page_no, Page.status, Page.attention, Page.fit_score, Page.width, Page.height,
               Page.dpi, Page.ocr_words).order_by(Page.page_no))
    postings = session.execute(text(
        "SELECT r.record_key, t.token, t.role, t.marked FROM search_terms t "
        "JOIN records r ON r.id = t.record_id ORDER BY 1, 2, 3, 4"))
    for rows in (values, records, pages, postings):
        for row in rows:
            h.update(json.dumps(list(row), ensure_ascii=False, default=str).encode())
            h.update(b"\n")
        h.update(b"--\n")
    return h.hexdigest()


def table(book: str, workers: int, clean: Phase, soak: Phase) -> tuple[str, bool]:
    same = clean.digest == soak.digest
    no_orphans = not any(soak.orphans.values()) and soak.xml_partial == 0
    checks = [
        ("every page stored once (one attempt, one writer, counts add up)", soak.stored_once),
        (f"field values identical to the clean run (sha256 {soak.digest[:12]}…)", same),
        ("no orphan rows, no claim or run left, no half-written PAGE XML", no_orphans),
        ("PAGE XML for every page", soak.xml_files == sum(soak.pages.values())),
        ("no traceback in the drivers' output", soak.tracebacks == 0 and clean.tracebacks == 0),
        ("every driver exited 0", set(soak.exit_codes + clean.exit_codes) == {0}),
    ]
    kills = ", ".join(f"{k:.0f}" for k in soak.kills) or "none"
    rows = [
        ("drivers", str(clean.drivers), str(soak.drivers)),
        ("wall time, s", f"{clean.seconds:.0f}", f"{soak.seconds:.0f}"),
        ("pages stored (done / needs attention)",
         f"{clean.pages.get('done', 0)} / {clean.pages.get('needs_attention', 0)}",
         f"{soak.pages.get('done', 0)} / {soak.pages.get('needs_attention', 0)}"),
        ("  by driver", " / ".join(map(str, clean.by_driver)), " / ".join(map(str, soak.by_driver))),
        ("pages read twice (another driver stored first)", str(clean.elsewhere), str(soak.elsewhere)),
        ("records", str(clean.records), str(soak.records)),
        ("worker processes killed", "0", f"{len(soak.kills)} (at {kills} s)"),
        ("exit codes", ", ".join(map(str, clean.exit_codes)), ", ".join(map(str, soak.exit_codes))),
        ("tracebacks in output", str(clean.tracebacks), str(soak.tracebacks)),
    ]
    lines = [f"hotich soak — {book}, PostgreSQL, Dask: {workers} single-threaded workers under nannies",
             f"{'':<48} {'clean run':>12} {'soak run':>24}"]
    lines += [f"{label:<48} {a:>12} {b:>24}" for label, a, b in rows]
    lines.append("orphan rows (soak): " + "; ".join(f"{what} {n}" for what, n in soak.orphans.items()))
    lines.append("checks:")
    lines += [f"  {'✓' if ok else '✗'} {what}" for what, ok in checks]
    return "\n".join(lines), all(ok for _, ok in checks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pg-url", default=os.environ.get(
        "HOTICH_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"),
        help="a PostgreSQL server where throw-away databases may be created")
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2, help="Dask worker processes")
    parser.add_argument("--kills", type=int, default=6, help="worker processes killed, at most")
    parser.add_argument("--kill-window", type=float, default=400.0,
                        help="seconds from the start of the soak run within which kills happen")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--keep", action="store_true", help="keep the databases and the work folder")
    args = parser.parse_args()

    from distributed import Client, LocalCluster

    work = Path(tempfile.mkdtemp(prefix="hotich-soak-"))
    t = time.perf_counter()
    # printed with the place, year and volume it is ingested under (process checks the header)
    generate_book(BookSpec(seed=args.seed, template="birth_form", pages=args.pages, degradation="clean",
                           face="typewriter", commune="Hưng Dũng", district="Hưng Nguyên",
                           year=1978, volume=1), work / "book")
    print(f"Generated {args.pages} pages in {time.perf_counter() - t:.0f} s ({work}).", flush=True)
    admin = create_engine(args.pg_url, isolation_level="AUTOCOMMIT", pool_size=1)
    prefix = f"hotich_soak_{secrets.token_hex(4)}"
    names = []
    cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                           memory_limit="1.5GiB", dashboard_address=None, silence_logs=logging.CRITICAL,
                           scheduler_kwargs={"dashboard_address": "127.0.0.1:0"})
    client = Client(cluster)
    try:
        phases = []
        for name, drivers in (("clean", 1), ("soak", 2)):
            names.append(f"{prefix}_{name}")
            phase = Phase(name, _database(admin, args.pg_url, names[-1]), drivers)
            soak = name == "soak"
            run_phase(phase, work / "book" / "pages", work, cluster.scheduler_address, client,
                      kills=args.kills if soak else 0, kill_window=args.kill_window, seed=args.seed)
            print(f"{name} run: {phase.seconds:.0f} s, exit codes {phase.exit_codes}.", flush=True)
            phases.append(phase)
        report, ok = table(f"{args.pages} pages (birth_form, clean, seed {args.seed})", args.workers, *phases)
        print(report)
    finally:
        client.close()
        cluster.close()
        if not args.keep:
            with admin.connect() as conn:
                for name in names:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            import shutil

            shutil.rmtree(work, ignore_errors=True)
        admin.dispose()
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()

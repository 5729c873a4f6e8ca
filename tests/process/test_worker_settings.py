"""Settings that change what a page yields travel with the page (issue 17 §3): a Dask worker
whose own environment says otherwise still reads and accepts as the driver asked, and the
run's stored parameters name them."""

from __future__ import annotations

import pytest
from distributed import LocalCluster
from sqlalchemy import select

from pipeline.ingest import BookInfo, ingest_files
from pipeline.process import page_xml_path, process_books
from pipeline.samplegen import BookSpec, generate_book
from pipeline.settings import Settings
from pipeline.storage.db import session_scope
from pipeline.storage.models import FieldValue, StageRun

pytestmark = pytest.mark.backends("sqlite")  # the worker's settings, not the database, matter

# What a worker machine set up differently would have: the other model, nothing accepted.
WORKER_ENV = {"HOTICH_OCR_MODEL": "best", "HOTICH_ACCEPT_PROBABILITY": "1.0",
              "OMP_THREAD_LIMIT": "1"}


@pytest.fixture(scope="module")
def other_worker():
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None,
                      env=WORKER_ENV) as cluster:
        yield cluster


def test_a_worker_reads_with_the_drivers_settings_not_its_own(engine, tmp_path, other_worker):
    assert other_worker.scheduler_address
    env = other_worker.get_client().run(lambda: __import__("os").environ["HOTICH_OCR_MODEL"])
    assert set(env.values()) == {"best"}  # the worker really lives in another environment
    generate_book(BookSpec(seed=21, template="birth_form", pages=1, degradation="clean",
                           face="typewriter", commune="Hưng Dũng", district="Hưng Nguyên",
                           year=1978, volume=1), tmp_path / "book")
    settings = Settings(home=tmp_path / "ws", ocr_model="fast", accept_probability=0.0)
    info = BookInfo("birth_form", "Hưng Dũng", "Hưng Nguyên", "Nghệ Tĩnh", "1978", "1", "ENV-1")
    ingest_files(engine, settings, info, [tmp_path / "book" / "book.pdf"])
    summary = process_books(engine, settings, scheduler=other_worker.scheduler_address)
    assert (summary.succeeded, summary.failed) == (1, 0)
    with session_scope(engine) as session:
        statuses = list(session.scalars(select(FieldValue.status).where(FieldValue.is_current)))
        run = session.scalars(select(StageRun).where(StageRun.stage == "process")).one()
        params = dict(run.params)
    # accepted at the driver's threshold (0: every value read), not the worker's (1: none)
    assert statuses.count("read") >= 0.8 * len([s for s in statuses if s != "blank"])
    # read with the driver's fast model: the page's provenance names no "best"
    xml = page_xml_path(settings.home, "ENV-1", 1).read_text(encoding="utf-8")
    assert "tesseract-" in xml and "-best" not in xml
    assert params["ocr_model"] == "fast" and params["accept_probability"] == 0.0

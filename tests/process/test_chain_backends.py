"""The chain on both database back-ends, with pages sent to an existing Dask scheduler."""

from __future__ import annotations

from pathlib import Path

import pytest
from distributed import LocalCluster
from lxml import etree
from sqlalchemy import func, select

from pipeline.evaluate import score_book
from pipeline.export.records import records_frame
from pipeline.ingest import BookInfo, ingest_files
from pipeline.match.population import import_population
from pipeline.match.run import match_books
from pipeline.process import page_xml_path, process_books
from pipeline.samplegen import BookSpec, generate_book, generate_population
from pipeline.settings import Settings
from pipeline.storage.db import session_scope
from pipeline.storage.models import FieldValue, Link, Page, Record, StageRun

# the place and volume the book is ingested under, printed in its pages' header (which
# `process` checks against the book's)
HEADER = {"commune": "Hưng Dũng", "district": "Hưng Nguyên", "volume": 1}


XSD = Path(__file__).parents[1] / "ocr" / "data" / "xsd"


@pytest.fixture(scope="module")
def scheduler():
    """A scheduler this test did not start through hotich, as IT staff would run one."""
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        yield cluster.scheduler_address


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    out = tmp_path_factory.mktemp("sample")
    truth = generate_book(BookSpec(**HEADER, seed=77, template="birth_ledger", pages=1, degradation="clean",
                                   face="typewriter"), out / "book")
    generate_population([truth], out / "population", seed=77, extra_citizens=50)
    return out, truth


def test_chain_on_remote_scheduler(engine, tmp_path, scheduler, sample):
    out, truth = sample
    settings = Settings(home=tmp_path / "ws")
    info = BookInfo("birth_ledger", "Hưng Dũng", "Hưng Nguyên", "Nghệ Tĩnh", str(truth.book["year"]), "1", "SCHED-1")
    ingest_files(engine, settings, info, [out / "book" / "book.pdf"])
    summary = process_books(engine, settings, scheduler=scheduler)
    assert (summary.succeeded, summary.failed) == (1, 0)
    assert summary.executor.startswith("bộ điều phối Dask")
    accuracy = score_book(engine, "SCHED-1", truth)
    assert accuracy.records_found == len(truth.records) and accuracy.field_accuracy >= 0.85
    import_population(engine, out / "population" / "population.csv")
    matched = match_books(engine)
    assert matched.auto >= len(truth.records) // 2
    frame = records_frame(engine, book_code="SCHED-1")
    assert len(frame) == len(truth.records) and frame["citizen_id"].notna().sum() == matched.auto
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(Page).where(Page.status == "done")) == 1
        runs = {r.stage: r for r in session.scalars(select(StageRun))}
        assert runs["process"].outcome == "ok" and runs["match"].params["model"]["thresholds"]["auto_probability"] > 0.99
        assert session.scalar(select(func.count()).select_from(Link).where(Link.explanation.is_not(None))) > 0
    # The page's PAGE XML is beside the database, valid, and holds what was stored.
    xml = page_xml_path(settings.home, "SCHED-1", 1)
    schema = etree.XMLSchema(etree.parse(str(XSD / "pagecontent-2019-07-15.xsd")))
    doc = etree.parse(str(xml))
    schema.assertValid(doc)
    with session_scope(engine) as session:
        raw = session.scalar(select(FieldValue.raw).join(Record).where(
            Record.row == 1, FieldValue.field == "full_name"))
    texts = doc.xpath("//pc:TextLine[contains(@custom, 'full_name')]/pc:TextEquiv/pc:Unicode/text()",
                      namespaces={"pc": doc.getroot().nsmap[None]})
    assert raw and raw in texts
    # Matching again keeps the same links (idempotent).
    again = match_books(engine)
    assert (again.auto, again.review, again.no_match) == (matched.auto, matched.review, matched.no_match)

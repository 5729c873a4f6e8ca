"""Migration 0010 on a database made before it: queued links get their ``review_worth``
column filled from the explanation the match stage kept, so the queue keeps its order."""

from __future__ import annotations

from alembic import command
from sqlalchemy import select, text

from pipeline.storage import db
from pipeline.storage.db import init_db, make_engine, session_scope
from pipeline.storage.models import Book, Citizen, Link, NameFrequency, Record


def test_upgrade_fills_review_worth_from_the_explanation(db_url):
    engine = make_engine(db_url)
    with engine.begin() as conn:
        command.upgrade(db.alembic_config(conn), "0009")
    with session_scope(engine) as s:
        book = Book(book_code="KS-1", book_type="birth", template="birth_form", commune="Hưng Dũng",
                    district="Vinh", province="Nghệ Tĩnh", year_from=1978, year_to=1978, volume="1")
        s.add(book)
        s.flush()
        records = []
        for row in (1, 2):
            record = Record(record_key=f"KS-1-{row}", book_id=book.id, row=row, record_type="birth")
            s.add(record)
            s.flush()
            records.append(record.id)
    with engine.begin() as conn:
        for i, given in enumerate(("Hùng", "Hưng", "An")):
            conn.execute(text("INSERT INTO citizens (id, citizen_id, full_name, name_key, name_folded, "
                              "updated_at) VALUES (:id, :cid, :n, :k, :f, CURRENT_TIMESTAMP)"),
                         {"id": i + 1, "cid": f"04007800{i:04d}", "n": f"Nguyễn Văn {given}",
                          "k": "k", "f": "f"})
        links = [(1, records[0], 1, "needs_review", '{"probability": 0.9, "review_worth": 0.75}'),
                 (2, records[0], 2, "candidate", '{"probability": 0.4, "review_worth": 0.75}'),
                 (3, records[1], 3, "auto", '{"probability": 0.9999}')]
        for link_id, record_id, citizen, status, explanation in links:
            conn.execute(text("INSERT INTO links (id, record_id, citizen_pk, score, status, rank, "
                              "explanation, created_at) VALUES (:i, :r, :c, 10.0, :s, 1, :e, "
                              "CURRENT_TIMESTAMP)"),
                         {"i": link_id, "r": record_id, "c": citizen, "s": status, "e": explanation})
    init_db(engine)  # to head
    with session_scope(engine) as s:
        worth = {link.id: link.review_worth for link in s.scalars(select(Link))}
        assert worth == {1: 0.75, 2: 0.75, 3: None}
        assert s.scalar(select(Citizen.name_clean).where(Citizen.id == 1)) is None  # until re-imported
        assert s.scalars(select(NameFrequency)).all() == []
    engine.dispose()

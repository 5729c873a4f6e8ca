"""The search index: each record's current names (folded words) and birth year, one row per posting.

Kept by storage, not by the search package that reads it: every correction updates it in its
own transaction (``storage.versions``), and storage imports no room above it.

Rows live in ``search_terms`` (see ``models.SearchTerm``) and are derived data: every writer of
field values calls ``refresh_index`` for the records it touched (``persist_result`` after OCR,
``add_field_version`` for every correction), and ``reindex`` rebuilds everything from the
current field values (``hotich search --reindex``). Both are idempotent.

The words are made by ``pipeline.clean.text`` (``name_key`` then ``folded_key``), the same
keys the matcher uses, so ``Hoà``/``Hòa`` and ``Lý``/``Lí`` are one word, and
``Nguyễn`` / ``NGUYEN`` / ``nguyen`` all index as ``nguyen``.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Callable, Iterable, Iterator, Mapping

from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from pipeline.clean.text import folded_key, name_key, nfc
from pipeline.storage.db import session_scope
from pipeline.storage.models import FieldValue, Record, SearchTerm

ROLE_NAME = "name"  # the registered person: child, deceased, husband or wife
ROLE_FATHER = "father"
ROLE_MOTHER = "mother"
ROLE_YEAR = "year"  # birth year, from an ISO (possibly partial) date

#: Field → role of its words. Marriage books have two registered people; both are "the name".
NAME_FIELDS: dict[str, str] = {
    "full_name": ROLE_NAME,
    "deceased_name": ROLE_NAME,
    "husband_name": ROLE_NAME,
    "wife_name": ROLE_NAME,
    "father_name": ROLE_FATHER,
    "mother_name": ROLE_MOTHER,
}
YEAR_FIELDS = ("birth_date", "husband_birth", "wife_birth")
#: A change to any of these fields changes what the record is found by.
INDEXED_FIELDS = frozenset(NAME_FIELDS) | frozenset(YEAR_FIELDS)

_MAX_WORD = 64  # column width; a longer "word" is OCR noise and is cut
_PIECES = re.compile(r"[\W_]+")
_YEAR = re.compile(r"^(\d{4})(?:-|$)")
_CHUNK = 500  # record ids per statement in refresh_index


@lru_cache(maxsize=100_000)
def word_tokens(word: str) -> tuple[tuple[str, str], ...]:
    """The (folded, marked) pairs of one written word; names have a few thousand distinct words.

    >>> word_tokens("Hoà")
    (('hoa', 'hòa'),)
    >>> word_tokens("H'Mông")
    (('h', 'h'), ('mong', 'mông'))
    """
    out: list[tuple[str, str]] = []
    for piece in _PIECES.split(name_key(word)):
        if not piece:
            continue
        for folded in folded_key(piece).split():
            out.append((folded[:_MAX_WORD], piece[:_MAX_WORD]))
    return tuple(out)


def name_tokens(text_: str | None) -> list[tuple[str, str]]:
    """(folded, marked) pairs of a name, in order.

    >>> name_tokens("NGUYỄN Văn  Hùng")
    [('nguyen', 'nguyễn'), ('van', 'văn'), ('hung', 'hùng')]
    """
    if not text_:
        return []
    return [pair for word in nfc(text_).split() for pair in word_tokens(word)]


def year_of(value: str | None) -> int | None:
    """The year of a normalized (ISO, partial allowed) date; None for an age or nothing.

    >>> year_of("1968-03-12"), year_of("1968"), year_of("25")
    (1968, 1968, None)
    """
    if not value:
        return None
    m = _YEAR.match(value.strip())
    return int(m.group(1)) if m else None


def record_terms(values: Mapping[str, str | None]) -> set[tuple[str, str, str]]:
    """The postings (token, role, marked) of one record from its current values by field.

    >>> sorted(record_terms({"full_name": "Lê Thị Lệ", "birth_date": "1968-03-12"}))
    [('1968', 'year', '1968'), ('le', 'name', 'lê'), ('le', 'name', 'lệ'), ('thi', 'name', 'thị')]
    """
    terms: set[tuple[str, str, str]] = set()
    for field, value in values.items():
        role = NAME_FIELDS.get(field)
        if role is not None:
            terms.update((token, role, marked) for token, marked in name_tokens(value))
        elif field in YEAR_FIELDS:
            year = year_of(value)
            if year is not None:
                terms.add((str(year), ROLE_YEAR, str(year)))
    return terms


def _chunks(ids: list[int], size: int) -> Iterator[list[int]]:
    for i in range(0, len(ids), size):
        yield ids[i:i + size]


def _current_values(conn, ids: list[int] | None = None, id_range: tuple[int, int] | None = None
                    ) -> dict[int, dict[str, str | None]]:
    fv = FieldValue.__table__
    query = select(fv.c.record_id, fv.c.field, fv.c.value).where(
        fv.c.is_current.is_(True), fv.c.field.in_(sorted(INDEXED_FIELDS)))
    if ids is not None:
        query = query.where(fv.c.record_id.in_(ids))
    if id_range is not None:
        query = query.where(fv.c.record_id.between(*id_range))
    out: dict[int, dict[str, str | None]] = {}
    for record_id, field, value in conn.execute(query):
        out.setdefault(record_id, {})[field] = value
    return out


def _rows(values: dict[int, dict[str, str | None]]) -> list[tuple[str, str, int, str]]:
    return [(token, role, record_id, marked)
            for record_id, fields in values.items()
            for token, role, marked in record_terms(fields)]


def refresh_index(session: Session, record_ids: Iterable[int]) -> int:
    """Make the postings of these records match their current field values; returns rows written.

    Call it in the transaction that changed the values (it flushes the session first), so the
    index never disagrees with a committed record. Running it twice changes nothing.

        >>> refresh_index(session, [record.id])
        11
    """
    ids = sorted({int(i) for i in record_ids if i is not None})
    if not ids:
        return 0
    session.flush()
    table = SearchTerm.__table__
    written = 0
    for chunk in _chunks(ids, _CHUNK):
        # Two transactions refreshing one record (two reviewers saving two of its fields)
        # take turns on the record's row; the second then replaces what the first wrote
        # instead of colliding with it or leaving its stale words behind (PostgreSQL; SQLite
        # has one writer at a time anyway).
        session.execute(select(Record.id).where(Record.id.in_(chunk)).order_by(Record.id)
                        .with_for_update())
        session.execute(delete(table).where(table.c.record_id.in_(chunk)))
        rows = _rows(_current_values(session, ids=chunk))
        if rows:
            session.execute(insert(table), [dict(zip(("token", "role", "record_id", "marked"), r))
                                            for r in rows])
            written += len(rows)
    return written


def refresh_page_index(session: Session, page_id: int) -> int:
    """``refresh_index`` for every record of one page (what OCR writes in one transaction)."""
    session.flush()
    ids = session.scalars(select(Record.id).where(Record.page_id == page_id)).all()
    return refresh_index(session, ids)


def index_is_empty(session: Session) -> bool:
    """True when records exist but no posting does: a database upgraded to the search schema
    (0004) whose index was never built."""
    if session.scalar(select(SearchTerm.record_id).limit(1)) is not None:
        return False
    return session.scalar(select(Record.id).limit(1)) is not None


def reindex(bind: Engine | Connection | Session, *, batch: int = 20_000,
            on_progress: Callable[[int, int], None] | None = None) -> int:
    """Rebuild the whole index from the current field values, in one transaction; returns rows.

    Made for a million records: the secondary index is dropped and built again at the end
    (PostgreSQL: the primary key too, and rows go in with COPY), and each batch reads the
    field values of a range of record ids. Readers keep seeing the old index until commit on
    SQLite; on PostgreSQL searches wait for the rebuild (it holds the table's lock).
    ``on_progress(done, total)`` is called after each batch with records done.

        >>> reindex(engine)
        10213456
    """
    if isinstance(bind, Engine):
        with bind.begin() as conn:
            return reindex(conn, batch=batch, on_progress=on_progress)
    conn = bind.connection() if isinstance(bind, Session) else bind
    if isinstance(bind, Session):
        bind.flush()
    pg = conn.dialect.name == "postgresql"
    records = Record.__table__
    total = conn.scalar(select(func.count()).select_from(records)) or 0
    _drop_indexes(conn, pg)
    raw = conn.connection.driver_connection
    written = done = 0
    last = 0
    # No try/finally: on an error the transaction rolls back, DDL included, on both back-ends.
    while True:
        ids = conn.scalars(select(records.c.id).where(records.c.id > last)
                           .order_by(records.c.id).limit(batch)).all()
        if not ids:
            break
        rows = _rows(_current_values(conn, id_range=(ids[0], ids[-1])))
        _bulk_insert(raw, rows, pg)
        written += len(rows)
        done += len(ids)
        last = ids[-1]
        if on_progress is not None:
            on_progress(done, total)
    _create_indexes(conn, pg)
    return written


def index_missing(engine: Engine) -> bool:
    """``index_is_empty`` in its own transaction: asked before a search."""
    with session_scope(engine) as session:
        return index_is_empty(session)


def rebuild_index(engine: Engine, *,
                  on_progress: Callable[[int, int], None] | None = None) -> int:
    """The whole index rebuilt in one write transaction, then vacuumed (``hotich search
    --reindex``); returns its rows."""
    with session_scope(engine, write_lock=True) as session:
        rows = reindex(session, on_progress=on_progress)
    vacuum_index(engine)
    return rows


def vacuum_index(engine: Engine) -> None:
    """After a full rebuild on PostgreSQL: VACUUM sets the visibility map, without which every
    index lookup of a search also reads the table (several times slower until autovacuum
    comes by). It cannot run inside a transaction, hence its own call. No-op on SQLite."""
    if engine.dialect.name != "postgresql":
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM (ANALYZE) search_terms"))


def _drop_indexes(conn: Connection, pg: bool) -> None:
    if pg:
        # TRUNCATE and rebuilding the B-trees from sorted data are far faster than deleting
        # and inserting ten million postings one by one into live indexes.
        conn.execute(text("TRUNCATE search_terms"))
        conn.execute(text("ALTER TABLE search_terms DROP CONSTRAINT pk_search_terms"))
        conn.execute(text("DROP INDEX ix_search_terms_record_id"))
    else:
        conn.execute(text("DELETE FROM search_terms"))
        conn.execute(text("DROP INDEX ix_search_terms_record_id"))
        # The WITHOUT ROWID primary key cannot be dropped; a large page cache keeps its
        # random inserts in memory (per connection, reset in _create_indexes).
        conn.execute(text("PRAGMA cache_size=-524288"))


def _create_indexes(conn: Connection, pg: bool) -> None:
    if pg:
        conn.execute(text("SET LOCAL maintenance_work_mem = '512MB'"))
        conn.execute(text("ALTER TABLE search_terms ADD CONSTRAINT pk_search_terms "
                          "PRIMARY KEY (token, role, record_id, marked)"))
    conn.execute(text("CREATE INDEX ix_search_terms_record_id ON search_terms "
                      "(record_id, token, role, marked)"))
    if pg:
        conn.execute(text("ANALYZE search_terms"))
    else:
        conn.execute(text("PRAGMA cache_size=-2000"))


def _bulk_insert(raw, rows: list[tuple[str, str, int, str]], pg: bool) -> None:
    """Rows straight through the driver: SQLAlchemy's per-row work would double the time."""
    if not rows:
        return
    if pg:
        with raw.cursor() as cur:
            with cur.copy("COPY search_terms (token, role, record_id, marked) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        return
    rows.sort()  # key order: appends to the primary key B-tree are cheap
    cur = raw.cursor()
    try:
        cur.executemany("INSERT INTO search_terms (token, role, record_id, marked) VALUES (?, ?, ?, ?)",
                        rows)
    finally:
        cur.close()

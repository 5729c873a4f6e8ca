"""The database schema of hotich, as SQLAlchemy 2 declarative models.

The schema is changed only through Alembic migrations (pipeline/storage/migrations); these
models and the newest migration must describe the same tables, which a test checks.

Design notes:
* A scan is stored once by content hash (``SourceFile.sha256``) and never modified.
* A page is a position in a book; its image is re-rendered from the stored scan when needed.
* ``FieldValue`` rows are versions: nothing overwrites a raw OCR value; a correction adds a
  version with who, when and why, and only the newest one has ``is_current`` set.
* ``StageRun`` records which stage, version and parameters produced what, so a re-run can
  tell what is already done.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """``DateTime(timezone=True)`` that returns aware UTC datetimes on every back-end.

    SQLite keeps no time zone and would hand back naive datetimes where PostgreSQL gives
    aware ones; comparing the two raises TypeError, so code tested on one breaks on the
    other. Naive input is taken to be UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


#: Explicit constraint names, so that later migrations can drop or alter a constraint by name
#: on both back-ends (SQLite batch mode cannot address an unnamed constraint).
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Book(Base):
    __tablename__ = "books"

    id: Mapped[int] = mapped_column(primary_key=True)
    book_code: Mapped[str] = mapped_column(String(64), unique=True)  # `book_id` of exports
    book_type: Mapped[str] = mapped_column(String(16))  # birth / marriage / death
    template: Mapped[str] = mapped_column(String(64))
    commune: Mapped[str] = mapped_column(String(128))
    district: Mapped[str] = mapped_column(String(128))
    province: Mapped[str] = mapped_column(String(128))
    year_from: Mapped[int | None] = mapped_column(Integer)
    year_to: Mapped[int | None] = mapped_column(Integer)
    volume: Mapped[str] = mapped_column(String(32), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    # The database's ON DELETE CASCADE removes children; passive_deletes keeps the ORM from
    # first trying to NULL their (non-nullable) foreign keys.
    files: Mapped[list[SourceFile]] = relationship(
        back_populates="book", order_by="SourceFile.position", cascade="all, delete-orphan",
        passive_deletes=True,
    )
    pages: Mapped[list[Page]] = relationship(
        back_populates="book", order_by="Page.page_no", cascade="all, delete-orphan",
        passive_deletes=True,
    )


class SourceFile(Base):
    """One scan file as ingested: kept unchanged in the scan store under its SHA-256."""

    __tablename__ = "source_files"
    __table_args__ = (UniqueConstraint("book_id", "sha256"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    book_id: Mapped[int] = mapped_column(ForeignKey("books.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)  # order of ingestion within the book
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    original_name: Mapped[str] = mapped_column(String(512))
    stored_path: Mapped[str] = mapped_column(String(1024))  # relative to the workspace
    media_type: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(Integer)
    page_count: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="ok")  # ok / failed
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    book: Mapped[Book] = relationship(back_populates="files")


class Page(Base):
    __tablename__ = "pages"
    __table_args__ = (
        UniqueConstraint("book_id", "page_no"),
        UniqueConstraint("source_file_id", "index_in_file"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    book_id: Mapped[int] = mapped_column(ForeignKey("books.id", ondelete="CASCADE"), index=True)
    source_file_id: Mapped[int] = mapped_column(ForeignKey("source_files.id", ondelete="CASCADE"))
    index_in_file: Mapped[int] = mapped_column(Integer)  # 0-based frame / PDF page
    page_no: Mapped[int] = mapped_column(Integer)  # 1-based position in the book
    width: Mapped[int | None] = mapped_column(Integer)  # of the rendered image boxes refer to
    height: Mapped[int | None] = mapped_column(Integer)
    dpi: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    # pending / done / needs_attention / failed; `stage` is the last stage reached, `error`
    # the one-line reason a page failed. needs_attention: read and stored, but its entries
    # are not accounted for (pipeline.clean.accounting); final for `process` like done.
    stage: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)
    attention: Mapped[str | None] = mapped_column(Text)  # why needs_attention, Vietnamese
    fit_score: Mapped[float | None] = mapped_column(Float)  # LayoutFit.score, when the reader gave one
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    ocr_words: Mapped[str | None] = mapped_column(Text)  # Tesseract word TSV of the page
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    # The `process` run working on the page (migration 0008, pipeline.storage.leases): held
    # until lease_until, which a live run keeps renewing; an expired lease is taken over.
    claimed_by: Mapped[str | None] = mapped_column(String(128), index=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())

    book: Mapped[Book] = relationship(back_populates="pages")
    source_file: Mapped[SourceFile] = relationship()
    records: Mapped[list[Record]] = relationship(
        back_populates="page", order_by="Record.row", cascade="all, delete-orphan",
        passive_deletes=True,
    )


class Record(Base):
    """One registered entry (a birth, marriage or death), from OCR or from an import."""

    __tablename__ = "records"
    __table_args__ = (UniqueConstraint("page_id", "row"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    record_key: Mapped[str] = mapped_column(String(128), unique=True)  # exported `record_id`
    book_id: Mapped[int] = mapped_column(ForeignKey("books.id", ondelete="CASCADE"), index=True)
    page_id: Mapped[int | None] = mapped_column(ForeignKey("pages.id", ondelete="CASCADE"))
    row: Mapped[int | None] = mapped_column(Integer)
    record_type: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(16), default="ocr")  # ocr / import
    # extracted / needs_review / reviewed / approved / exported
    status: Mapped[str] = mapped_column(String(16), default="extracted", index=True)
    confidence: Mapped[float | None] = mapped_column(Float)
    box_x0: Mapped[int | None] = mapped_column(Integer)
    box_y0: Mapped[int | None] = mapped_column(Integer)
    box_x1: Mapped[int | None] = mapped_column(Integer)
    box_y1: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    # Review state (migration 0003). ``lock_version`` grows with every record-level review
    # action (confirm, postpone, approve, reassign), so two reviewers acting on one record
    # find out instead of overwriting each other; field values have their own versions.
    lock_version: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    assigned_to: Mapped[str | None] = mapped_column(String(64))  # reviewer; NULL: anyone
    review_note: Mapped[str | None] = mapped_column(Text)  # why it was postponed
    reviewed_by: Mapped[str | None] = mapped_column(String(64))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    approved_by: Mapped[str | None] = mapped_column(String(64))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    page: Mapped[Page | None] = relationship(back_populates="records")
    values: Mapped[list[FieldValue]] = relationship(
        back_populates="record", order_by="FieldValue.id", cascade="all, delete-orphan",
        passive_deletes=True,
    )


class FieldValue(Base):
    """One version of one field of a record. Only the newest version is current."""

    __tablename__ = "field_values"
    __table_args__ = (
        UniqueConstraint("record_id", "field", "version"),
        Index("ix_field_values_current", "record_id", "is_current"),
        # At most one current version per field, whatever the writers do (partial index).
        Index(
            "uq_field_values_one_current",
            "record_id",
            "field",
            unique=True,
            sqlite_where=text("is_current"),
            postgresql_where=text("is_current"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id", ondelete="CASCADE"))
    field: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, default=1)
    is_current: Mapped[bool] = mapped_column(Boolean, default=True)
    raw: Mapped[str] = mapped_column(Text, default="")
    value: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))  # read / uncertain / illegible / blank
    confidence: Mapped[float] = mapped_column(Float, default=0.0)
    source: Mapped[str] = mapped_column(String(16), default="ocr")  # ocr/review/import/population
    box_x0: Mapped[int | None] = mapped_column(Integer)
    box_y0: Mapped[int | None] = mapped_column(Integer)
    box_x1: Mapped[int | None] = mapped_column(Integer)
    box_y1: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(Text)  # why uncertain, for the reviewer
    unit: Mapped[str | None] = mapped_column(String(64))  # places: gazetteer unit id
    # OCR read by two readers: each one's text and confidence ({"asterocr": [text, conf]})
    readings: Mapped[dict | None] = mapped_column(JSON)
    changed_by: Mapped[str | None] = mapped_column(String(64))  # user name; NULL for a stage
    reason: Mapped[str | None] = mapped_column(Text)  # why this version was made
    stage_run_id: Mapped[int | None] = mapped_column(ForeignKey("stage_runs.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    record: Mapped[Record] = relationship(back_populates="values")


class Citizen(Base):
    """A person of the population database extract."""

    __tablename__ = "citizens"

    id: Mapped[int] = mapped_column(primary_key=True)
    citizen_id: Mapped[str] = mapped_column(String(12), unique=True)
    full_name: Mapped[str] = mapped_column(String(256))
    name_key: Mapped[str] = mapped_column(String(256), index=True)  # comparison key
    name_folded: Mapped[str] = mapped_column(String(256), index=True)  # no diacritics
    sex: Mapped[str | None] = mapped_column(String(1))
    birth_date: Mapped[str | None] = mapped_column(String(10))  # ISO, partial allowed
    birth_year: Mapped[int | None] = mapped_column(Integer, index=True)
    birth_place: Mapped[str | None] = mapped_column(Text)
    father_name: Mapped[str | None] = mapped_column(String(256))
    mother_name: Mapped[str | None] = mapped_column(String(256))
    # The names above keep their tone placement as imported; these are the same names in one
    # tone style (pipeline.clean.names.clean_name), what is compared and counted. NULL on rows
    # imported before migration 0010 until the extract is imported again.
    name_clean: Mapped[str | None] = mapped_column(String(256))
    father_name_clean: Mapped[str | None] = mapped_column(String(256))
    mother_name_clean: Mapped[str | None] = mapped_column(String(256))
    source_file: Mapped[str | None] = mapped_column(String(512))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class NameFrequency(Base):
    """How many citizens carry a word as family, middle or given name: the name lexicon
    learned from the population (pipeline.match.population, pipeline.clean.lexicon).

    Recounted from the whole citizens table after every import, so importing the same
    file again gives the same rows.
    """

    __tablename__ = "name_frequencies"

    role: Mapped[str] = mapped_column(String(8), primary_key=True)  # family / middle / given
    word: Mapped[str] = mapped_column(String(128), primary_key=True)  # as spelt, one tone style
    count: Mapped[int] = mapped_column(Integer)


class Link(Base):
    """A candidate or decided link between a record and a citizen."""

    __tablename__ = "links"
    __table_args__ = (UniqueConstraint("record_id", "citizen_pk"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id", ondelete="CASCADE"), index=True)
    citizen_pk: Mapped[int] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"), index=True)
    score: Mapped[float] = mapped_column(Float)
    # auto / needs_review / candidate / confirmed / rejected; confirmed and rejected are a
    # person's decision and are never changed by a later `hotich match`
    status: Mapped[str] = mapped_column(String(16))
    rank: Mapped[int] = mapped_column(Integer, default=1)
    explanation: Mapped[list | dict | None] = mapped_column(JSON)
    # what a reviewer's click on the record is worth (pipeline.match.review_band), on links
    # the matcher left to review; the review queue's order
    review_worth: Mapped[float | None] = mapped_column(Float)
    stage_run_id: Mapped[int | None] = mapped_column(ForeignKey("stage_runs.id"))
    decided_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    citizen: Mapped[Citizen] = relationship()


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))  # reviewer / supervisor / admin
    password_hash: Mapped[str | None] = mapped_column(String(256))
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))


class UserSession(Base):
    """A login to the review app. Only a hash of the cookie's token is stored, so reading
    the database does not let anyone take over a session."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship()


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(64))  # user name, or "system:<stage>"
    action: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str | None] = mapped_column(String(128))
    detail: Mapped[dict | None] = mapped_column(JSON)


class StageRun(Base):
    """One run of one stage: what version with which parameters produced what outcome."""

    __tablename__ = "stage_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    stage: Mapped[str] = mapped_column(String(32), index=True)
    version: Mapped[str] = mapped_column(String(32))
    params_hash: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict | None] = mapped_column(JSON)
    book_id: Mapped[int | None] = mapped_column(ForeignKey("books.id", ondelete="SET NULL"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    outcome: Mapped[str] = mapped_column(String(16), default="running")  # running/ok/partial/failed
    counts: Mapped[dict | None] = mapped_column(JSON)
    message: Mapped[str | None] = mapped_column(Text)


class SearchTerm(Base):
    """One posting of the search index: a folded word of one record in one role (migration 0004).

    An inverted index kept in plain B-trees so that it works the same on SQLite and
    PostgreSQL: the primary key (token, role, record_id, marked) is the posting list of a
    word, ``ix_search_terms_record_id`` finds a record's postings to replace them. ``marked`` is
    the word as in the comparison key (diacritics kept), so a query typed with marks ranks
    ``Hùng`` above ``Hưng`` without a second lookup; the record index holds every column, so
    scoring candidates reads no table rows on PostgreSQL either (on SQLite the key columns are
    in every index of a WITHOUT ROWID table anyway). Rows are derived data: rebuilt from the
    current field values by ``pipeline.storage.search_index`` (``hotich search --reindex``). Places are
    not here: they belong to the book and are matched against ``books``.
    """

    __tablename__ = "search_terms"
    __table_args__ = (
        Index("ix_search_terms_record_id", "record_id", "token", "role", "marked"),
        {"sqlite_with_rowid": False},
    )

    token: Mapped[str] = mapped_column(String(64), primary_key=True)  # folded: no marks, đ→d
    role: Mapped[str] = mapped_column(String(8), primary_key=True)  # name / father / mother / year
    record_id: Mapped[int] = mapped_column(
        ForeignKey("records.id", ondelete="CASCADE"), primary_key=True
    )
    marked: Mapped[str] = mapped_column(String(64), primary_key=True)  # comparison-key word


class ExportBatch(Base):
    """One run of the national export (migration 0005): what went out, when, by whom, signed or not.

    Written ``pending``, with its items, once its files are complete in a hidden ``.partial``
    folder; ``complete`` once that folder has been renamed into place (migration 0007). A run
    killed in between leaves a pending row the next run settles from what is on disk, so a
    batch is neither lost nor sent twice. Its items count as exported while it is pending.
    """

    __tablename__ = "export_batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_key: Mapped[str] = mapped_column(String(64), unique=True)  # in manifest.json
    kind: Mapped[str] = mapped_column(String(16), default="national")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(64))
    out_dir: Mapped[str] = mapped_column(String(1024))
    record_count: Mapped[int] = mapped_column(Integer, default=0)
    signed: Mapped[bool] = mapped_column(Boolean, default=False)
    manifest_sha256: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict | None] = mapped_column(JSON)  # per-book counts and file names
    # pending / complete; rows from before migration 0007 were written after their folder
    state: Mapped[str] = mapped_column(String(16), default="complete", server_default="complete")

    items: Mapped[list[ExportItem]] = relationship(
        back_populates="batch", cascade="all, delete-orphan", passive_deletes=True
    )


class ExportItem(Base):
    """One record as it went out in one batch: ``fingerprint`` tells a later run what changed."""

    __tablename__ = "export_items"
    __table_args__ = (Index("ix_export_items_record_id", "record_id", "batch_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("export_batches.id", ondelete="CASCADE"), index=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id", ondelete="CASCADE"))
    book_id: Mapped[int] = mapped_column(ForeignKey("books.id", ondelete="CASCADE"))
    fingerprint: Mapped[str] = mapped_column(String(64))  # SHA-256 of the exported row
    change: Mapped[str] = mapped_column(String(8), default="new")  # new / changed

    batch: Mapped[ExportBatch] = relationship(back_populates="items")

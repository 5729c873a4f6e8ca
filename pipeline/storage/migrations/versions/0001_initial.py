"""Initial schema: books, scans, pages, records, versioned field values, citizens, links, users, audit, stage runs.

Revision ID: 0001
Revises:
Create Date: 2025-01-01

Written by hand against pipeline/storage/models.py (tests/storage/test_migrations.py checks
that they agree). Constraint names follow models.NAMING_CONVENTION so that later migrations
can address them by name on both back-ends.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "books",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("book_code", sa.String(64), nullable=False),
        sa.Column("book_type", sa.String(16), nullable=False),
        sa.Column("template", sa.String(64), nullable=False),
        sa.Column("commune", sa.String(128), nullable=False),
        sa.Column("district", sa.String(128), nullable=False),
        sa.Column("province", sa.String(128), nullable=False),
        sa.Column("year_from", sa.Integer(), nullable=True),
        sa.Column("year_to", sa.Integer(), nullable=True),
        sa.Column("volume", sa.String(32), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_books"),
        sa.UniqueConstraint("book_code", name="uq_books_book_code"),
    )

    op.create_table(
        "citizens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("citizen_id", sa.String(12), nullable=False),
        sa.Column("full_name", sa.String(256), nullable=False),
        sa.Column("name_key", sa.String(256), nullable=False),
        sa.Column("name_folded", sa.String(256), nullable=False),
        sa.Column("sex", sa.String(1), nullable=True),
        sa.Column("birth_date", sa.String(10), nullable=True),
        sa.Column("birth_year", sa.Integer(), nullable=True),
        sa.Column("birth_place", sa.Text(), nullable=True),
        sa.Column("father_name", sa.String(256), nullable=True),
        sa.Column("mother_name", sa.String(256), nullable=True),
        sa.Column("source_file", sa.String(512), nullable=True),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_citizens"),
        sa.UniqueConstraint("citizen_id", name="uq_citizens_citizen_id"),
    )
    op.create_index("ix_citizens_name_key", "citizens", ["name_key"])
    op.create_index("ix_citizens_name_folded", "citizens", ["name_folded"])
    op.create_index("ix_citizens_birth_year", "citizens", ["birth_year"])

    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(256), nullable=True),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("name", name="uq_users_name"),
    )

    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("entity", sa.String(32), nullable=False),
        sa.Column("entity_id", sa.String(128), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])

    op.create_table(
        "source_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("book_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("original_name", sa.String(512), nullable=False),
        sa.Column("stored_path", sa.String(1024), nullable=False),
        sa.Column("media_type", sa.String(64), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("page_count", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_source_files"),
        sa.ForeignKeyConstraint(
            ["book_id"], ["books.id"], name="fk_source_files_book_id_books", ondelete="CASCADE"
        ),
        sa.UniqueConstraint("book_id", "sha256", name="uq_source_files_book_id_sha256"),
    )
    op.create_index("ix_source_files_book_id", "source_files", ["book_id"])
    op.create_index("ix_source_files_sha256", "source_files", ["sha256"])

    op.create_table(
        "stage_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(32), nullable=False),
        sa.Column("version", sa.String(32), nullable=False),
        sa.Column("params_hash", sa.String(64), nullable=False),
        sa.Column("params", sa.JSON(), nullable=True),
        sa.Column("book_id", sa.Integer(), nullable=True),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("finished_at", TS, nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_stage_runs"),
        sa.ForeignKeyConstraint(
            ["book_id"], ["books.id"], name="fk_stage_runs_book_id_books", ondelete="SET NULL"
        ),
    )
    op.create_index("ix_stage_runs_stage", "stage_runs", ["stage"])

    op.create_table(
        "pages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("book_id", sa.Integer(), nullable=False),
        sa.Column("source_file_id", sa.Integer(), nullable=False),
        sa.Column("index_in_file", sa.Integer(), nullable=False),
        sa.Column("page_no", sa.Integer(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("dpi", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("stage", sa.String(32), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("ocr_words", sa.Text(), nullable=True),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_pages"),
        sa.ForeignKeyConstraint(
            ["book_id"], ["books.id"], name="fk_pages_book_id_books", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["source_file_id"],
            ["source_files.id"],
            name="fk_pages_source_file_id_source_files",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("book_id", "page_no", name="uq_pages_book_id_page_no"),
        sa.UniqueConstraint(
            "source_file_id", "index_in_file", name="uq_pages_source_file_id_index_in_file"
        ),
    )
    op.create_index("ix_pages_book_id", "pages", ["book_id"])
    op.create_index("ix_pages_status", "pages", ["status"])

    op.create_table(
        "records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_key", sa.String(128), nullable=False),
        sa.Column("book_id", sa.Integer(), nullable=False),
        sa.Column("page_id", sa.Integer(), nullable=True),
        sa.Column("row", sa.Integer(), nullable=True),
        sa.Column("record_type", sa.String(16), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("box_x0", sa.Integer(), nullable=True),
        sa.Column("box_y0", sa.Integer(), nullable=True),
        sa.Column("box_x1", sa.Integer(), nullable=True),
        sa.Column("box_y1", sa.Integer(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_records"),
        sa.ForeignKeyConstraint(
            ["book_id"], ["books.id"], name="fk_records_book_id_books", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["page_id"], ["pages.id"], name="fk_records_page_id_pages", ondelete="CASCADE"
        ),
        sa.UniqueConstraint("record_key", name="uq_records_record_key"),
        sa.UniqueConstraint("page_id", "row", name="uq_records_page_id_row"),
    )
    op.create_index("ix_records_book_id", "records", ["book_id"])
    op.create_index("ix_records_status", "records", ["status"])

    op.create_table(
        "field_values",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("is_current", sa.Boolean(), nullable=False),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("box_x0", sa.Integer(), nullable=True),
        sa.Column("box_y0", sa.Integer(), nullable=True),
        sa.Column("box_x1", sa.Integer(), nullable=True),
        sa.Column("box_y1", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("changed_by", sa.String(64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("stage_run_id", sa.Integer(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_field_values"),
        sa.ForeignKeyConstraint(
            ["record_id"], ["records.id"], name="fk_field_values_record_id_records", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["stage_run_id"], ["stage_runs.id"], name="fk_field_values_stage_run_id_stage_runs"
        ),
        sa.UniqueConstraint(
            "record_id", "field", "version", name="uq_field_values_record_id_field_version"
        ),
    )
    op.create_index("ix_field_values_current", "field_values", ["record_id", "is_current"])
    op.create_index(
        "uq_field_values_one_current",
        "field_values",
        ["record_id", "field"],
        unique=True,
        sqlite_where=sa.text("is_current"),
        postgresql_where=sa.text("is_current"),
    )

    op.create_table(
        "links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("citizen_pk", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("explanation", sa.JSON(), nullable=True),
        sa.Column("stage_run_id", sa.Integer(), nullable=True),
        sa.Column("decided_by", sa.String(64), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_links"),
        sa.ForeignKeyConstraint(
            ["record_id"], ["records.id"], name="fk_links_record_id_records", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["citizen_pk"], ["citizens.id"], name="fk_links_citizen_pk_citizens", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["stage_run_id"], ["stage_runs.id"], name="fk_links_stage_run_id_stage_runs"
        ),
        sa.UniqueConstraint("record_id", "citizen_pk", name="uq_links_record_id_citizen_pk"),
    )
    op.create_index("ix_links_record_id", "links", ["record_id"])
    op.create_index("ix_links_citizen_pk", "links", ["citizen_pk"])


def downgrade() -> None:
    for table in (
        "links",
        "field_values",
        "records",
        "pages",
        "stage_runs",
        "source_files",
        "audit_log",
        "users",
        "citizens",
        "books",
    ):
        op.drop_table(table)

"""National export: one row per export batch and one per record it carried.

Revision ID: 0005
Revises: 0004
Create Date: 2027-03-01

Written by hand against pipeline/storage/models.py (ExportBatch, ExportItem). A later export
compares each approved record's row fingerprint with the one it last went out with, so only
new or changed records are exported again.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    if not inspector.has_table("export_batches"):
        op.create_table(
            "export_batches",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("batch_key", sa.String(64), nullable=False),
            sa.Column("kind", sa.String(16), nullable=False),
            sa.Column("created_at", TS, nullable=False),
            sa.Column("created_by", sa.String(64), nullable=False),
            sa.Column("out_dir", sa.String(1024), nullable=False),
            sa.Column("record_count", sa.Integer(), nullable=False),
            sa.Column("signed", sa.Boolean(), nullable=False),
            sa.Column("manifest_sha256", sa.String(64), nullable=True),
            sa.Column("detail", sa.JSON(), nullable=True),
            sa.PrimaryKeyConstraint("id", name="pk_export_batches"),
            sa.UniqueConstraint("batch_key", name="uq_export_batches_batch_key"),
        )
    if not inspector.has_table("export_items"):
        op.create_table(
            "export_items",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("batch_id", sa.Integer(), nullable=False),
            sa.Column("record_id", sa.Integer(), nullable=False),
            sa.Column("book_id", sa.Integer(), nullable=False),
            sa.Column("fingerprint", sa.String(64), nullable=False),
            sa.Column("change", sa.String(8), nullable=False),
            sa.ForeignKeyConstraint(["batch_id"], ["export_batches.id"], ondelete="CASCADE",
                                    name="fk_export_items_batch_id_export_batches"),
            sa.ForeignKeyConstraint(["record_id"], ["records.id"], ondelete="CASCADE",
                                    name="fk_export_items_record_id_records"),
            sa.ForeignKeyConstraint(["book_id"], ["books.id"], ondelete="CASCADE",
                                    name="fk_export_items_book_id_books"),
            sa.PrimaryKeyConstraint("id", name="pk_export_items"),
        )
        op.create_index("ix_export_items_batch_id", "export_items", ["batch_id"])
        op.create_index("ix_export_items_record_id", "export_items", ["record_id", "batch_id"])


def downgrade() -> None:
    op.drop_index("ix_export_items_record_id", table_name="export_items")
    op.drop_index("ix_export_items_batch_id", table_name="export_items")
    op.drop_table("export_items")
    op.drop_table("export_batches")

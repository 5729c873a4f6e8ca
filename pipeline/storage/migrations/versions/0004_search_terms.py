"""Search index: one row per (folded word, role, record), for `hotich search`.

Revision ID: 0004
Revises: 0003
Create Date: 2027-02-01

Written by hand against pipeline/storage/models.py. On SQLite it is a WITHOUT ROWID table: the
primary key B-tree is the posting list itself. The table is derived data and this migration
only creates it: `hotich search` builds the index of records that are already there the first
time it finds it empty (or on ``--reindex``), so the migration needs no pipeline code.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if sa.inspect(bind).has_table("search_terms"):  # made by the interim create_all of a newer model
        return
    op.create_table(
        "search_terms",
        sa.Column("token", sa.String(64), nullable=False),
        sa.Column("role", sa.String(8), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("marked", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(["record_id"], ["records.id"], ondelete="CASCADE",
                                name="fk_search_terms_record_id_records"),
        sa.PrimaryKeyConstraint("token", "role", "record_id", "marked", name="pk_search_terms"),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_search_terms_record_id", "search_terms",
                    ["record_id", "token", "role", "marked"])


def downgrade() -> None:
    op.drop_index("ix_search_terms_record_id", table_name="search_terms")
    op.drop_table("search_terms")

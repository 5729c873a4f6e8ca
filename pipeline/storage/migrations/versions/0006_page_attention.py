"""Pages that were read but cannot be ``done``: the reason, and how well the layout fit.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07

Written by hand against pipeline/storage/models.py (Page.attention, Page.fit_score). A page
whose entries are not accounted for (none found, fewer than its registration numbers imply,
labels not found, a poor fit) is stored with its records and ``status = 'needs_attention'``;
``attention`` says why, in Vietnamese, for `hotich status`, the report and the review queue.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    have = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("pages")}
    with op.batch_alter_table("pages") as batch:
        if "attention" not in have:
            batch.add_column(sa.Column("attention", sa.Text(), nullable=True))
        if "fit_score" not in have:
            batch.add_column(sa.Column("fit_score", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("pages") as batch:
        batch.drop_column("fit_score")
        batch.drop_column("attention")

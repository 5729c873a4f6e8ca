"""Page leases: which `process` run is working on a page, and until when.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-09

Written by hand against pipeline/storage/models.py (Page.claimed_by, Page.lease_until). Two
`hotich process` runs on one book, on one machine or several against one PostgreSQL, used to
read every page twice and race to store it. A run now claims a page before reading it: the
claim holds until ``lease_until``, which the run keeps pushing forward while it is alive, so a
killed run's pages are taken over once their lease has run out. ``claimed_by`` names the run
(``<stage run id>@<host>:<pid>``); both are NULL when no run holds the page.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    insp = sa.inspect(op.get_bind())
    have = {c["name"] for c in insp.get_columns("pages")}
    indexes = {i["name"] for i in insp.get_indexes("pages")}
    with op.batch_alter_table("pages") as batch:
        if "claimed_by" not in have:
            batch.add_column(sa.Column("claimed_by", sa.String(128), nullable=True))
        if "lease_until" not in have:
            batch.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
        if "ix_pages_claimed_by" not in indexes:
            batch.create_index("ix_pages_claimed_by", ["claimed_by"])


def downgrade() -> None:
    with op.batch_alter_table("pages") as batch:
        batch.drop_index("ix_pages_claimed_by")
        batch.drop_column("lease_until")
        batch.drop_column("claimed_by")

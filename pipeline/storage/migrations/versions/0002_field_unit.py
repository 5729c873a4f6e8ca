"""Place fields keep the gazetteer unit their text resolved to.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A database made by the interim create_all of a newer model already has the column.
    if "unit" in {c["name"] for c in sa.inspect(op.get_bind()).get_columns("field_values")}:
        return
    with op.batch_alter_table("field_values") as batch:
        batch.add_column(sa.Column("unit", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("field_values") as batch:
        batch.drop_column("unit")

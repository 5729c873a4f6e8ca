"""Export batches are recorded as pending before their folder is renamed into place.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-08

Written by hand against pipeline/storage/models.py (ExportBatch.state). The national export
used to rename its finished ``.partial`` folder and only then write the batch row, so a kill
between the two left a complete batch the database did not know and the next run exported the
same records again. A batch is now written ``pending`` first, the folder renamed, then the row
marked ``complete``; the next run reconciles whatever a killed run left. Rows written before
this migration were only ever written after their folder was in place, so they are complete.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    have = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("export_batches")}
    with op.batch_alter_table("export_batches") as batch:
        if "state" not in have:
            # The server default fills the existing rows: they were written after their folder.
            batch.add_column(
                sa.Column("state", sa.String(16), nullable=False, server_default="complete")
            )


def downgrade() -> None:
    with op.batch_alter_table("export_batches") as batch:
        batch.drop_column("state")

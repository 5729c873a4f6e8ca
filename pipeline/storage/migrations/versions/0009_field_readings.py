"""OCR fields keep each reader's own text: ``field_values.readings``.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07

Written by hand against pipeline/storage/models.py (FieldValue.readings). With a second,
neural reader beside Tesseract (issue 16) the stored ``raw`` is the reading the clean stage
chose; what each reader saw ({"tesseract": [text, confidence], "asterocr": [...]}) is kept
beside it, so a reviewer sees which reading a value came from and nothing read is lost.
NULL for fields one reader read, typed imports and reviewers' versions.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if "readings" in {c["name"] for c in sa.inspect(op.get_bind()).get_columns("field_values")}:
        return
    with op.batch_alter_table("field_values") as batch:
        batch.add_column(sa.Column("readings", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("field_values") as batch:
        batch.drop_column("readings")

"""Review app: record review state, active users, login sessions.

Revision ID: 0003
Revises: 0002
Create Date: 2027-01-10

Written by hand against pipeline/storage/models.py. Each step is skipped when a database made
by the interim ``create_all`` of a newer model already has it (as 0002 does).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)

RECORD_COLUMNS = (
    ("lock_version", sa.Integer(), False, sa.text("0")),
    ("assigned_to", sa.String(64), True, None),
    ("review_note", sa.Text(), True, None),
    ("reviewed_by", sa.String(64), True, None),
    ("reviewed_at", TS, True, None),
    ("approved_by", sa.String(64), True, None),
    ("approved_at", TS, True, None),
)


def _columns(table: str) -> set[str]:
    return {c["name"] for c in sa.inspect(op.get_bind()).get_columns(table)}


def upgrade() -> None:
    present = _columns("records")
    missing = [c for c in RECORD_COLUMNS if c[0] not in present]
    if missing:
        with op.batch_alter_table("records") as batch:
            for name, type_, nullable, default in missing:
                batch.add_column(sa.Column(name, type_, nullable=nullable, server_default=default))
    if "is_active" not in _columns("users"):
        with op.batch_alter_table("users") as batch:
            batch.add_column(sa.Column("is_active", sa.Boolean(), nullable=False,
                                       server_default=sa.text("true")))
    if not sa.inspect(op.get_bind()).has_table("user_sessions"):
        op.create_table(
            "user_sessions",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("token_hash", sa.String(64), nullable=False),
            sa.Column("user_id", sa.Integer(), nullable=False),
            sa.Column("csrf_token", sa.String(64), nullable=False),
            sa.Column("created_at", TS, nullable=False),
            sa.Column("last_seen_at", TS, nullable=False),
            sa.Column("expires_at", TS, nullable=False),
            sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE",
                                    name="fk_user_sessions_user_id_users"),
            sa.PrimaryKeyConstraint("id", name="pk_user_sessions"),
            sa.UniqueConstraint("token_hash", name="uq_user_sessions_token_hash"),
        )
        op.create_index("ix_user_sessions_user_id", "user_sessions", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_user_sessions_user_id", table_name="user_sessions")
    op.drop_table("user_sessions")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("is_active")
    with op.batch_alter_table("records") as batch:
        for name, *_ in reversed(RECORD_COLUMNS):
            batch.drop_column(name)

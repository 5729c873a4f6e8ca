"""Name lexicon learned from the population, citizens' cleaned names, the review queue's order.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07

Written by hand against pipeline/storage/models.py (issue 15):

* ``name_frequencies``: per role (family / middle / given) and word, how many citizens carry
  it; recounted on every ``hotich population import``, read once per run by cleaning and
  matching (``pipeline.clean.lexicon.learned_name_lexicon``).
* ``citizens.name_clean`` / ``father_name_clean`` / ``mother_name_clean``: the names in one
  tone-placement style, beside the names as imported. Left NULL on existing rows (readers
  fall back to the stored name) until the extract is imported again: filling millions of
  rows here would hold the upgrade for minutes.
* ``links.review_worth``: what a reviewer's click is worth (pipeline.match.review_band),
  so the review queue can order by it in SQL; filled from the links' explanation, where the
  match stage already kept it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_CITIZEN_COLUMNS = ("name_clean", "father_name_clean", "mother_name_clean")


def upgrade() -> None:
    insp = sa.inspect(op.get_bind())
    if "name_frequencies" not in insp.get_table_names():
        op.create_table(
            "name_frequencies",
            sa.Column("role", sa.String(8), primary_key=True),
            sa.Column("word", sa.String(128), primary_key=True),
            sa.Column("count", sa.Integer(), nullable=False),
        )
    have = {c["name"] for c in insp.get_columns("citizens")}
    with op.batch_alter_table("citizens") as batch:
        for name in _CITIZEN_COLUMNS:
            if name not in have:
                batch.add_column(sa.Column(name, sa.String(256), nullable=True))
    if "review_worth" not in {c["name"] for c in insp.get_columns("links")}:
        with op.batch_alter_table("links") as batch:
            batch.add_column(sa.Column("review_worth", sa.Float(), nullable=True))
        _fill_review_worth()


def _fill_review_worth() -> None:
    """Copy the worth the match stage kept in ``explanation`` (only queued links have one)."""
    bind = op.get_bind()
    links = sa.table("links", sa.column("id", sa.Integer), sa.column("status", sa.String),
                     sa.column("explanation", sa.JSON), sa.column("review_worth", sa.Float))
    rows = bind.execute(sa.select(links.c.id, links.c.explanation)
                        .where(links.c.status.in_(("needs_review", "candidate")))).all()
    values = [{"link_id": i, "worth": float(e["review_worth"])} for i, e in rows
              if isinstance(e, dict) and e.get("review_worth") is not None]
    if values:
        bind.execute(links.update().where(links.c.id == sa.bindparam("link_id"))
                     .values(review_worth=sa.bindparam("worth")), values)


def downgrade() -> None:
    with op.batch_alter_table("links") as batch:
        batch.drop_column("review_worth")
    with op.batch_alter_table("citizens") as batch:
        for name in reversed(_CITIZEN_COLUMNS):
            batch.drop_column(name)
    op.drop_table("name_frequencies")

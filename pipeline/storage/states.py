"""Where each record stands, as SQL over the stored rows: in the review queue or not, and its
one progress state. The review app, `hotich status` and the report all count with these, so
their columns add up to the same record count (and none of them imports another to do so).
"""

from __future__ import annotations

from sqlalchemy import and_, case, exists, or_

from pipeline.statuses import (
    APPROVED, EXPORTED, EXTRACTED, LINK_REVIEW, NEEDS_REVIEW, POSTPONED, REVIEWED,
)
from pipeline.storage.models import Link, Record


def link_undecided():
    """SQL: the record has a link the match stage could not decide."""
    return exists().where(Link.record_id == Record.id, Link.status == LINK_REVIEW)


def needs_person():
    """SQL condition on ``Record``: in the review queue."""
    return or_(Record.status == NEEDS_REVIEW,
               and_(Record.status.in_((EXTRACTED, REVIEWED)), link_undecided()))


#: Where a record stands for a person counting progress: every record in exactly one, so the
#: columns of the supervisor page, `hotich status` and the report add up to the record count.
#: ``ready`` is extracted with nothing to doubt and no link to decide: waiting for approval
#: only, like ``reviewed`` (which a person confirmed).
RECORD_STATES = ("waiting", "postponed", "ready", "reviewed", "approved")
STATE_LABELS = {"waiting": "chờ duyệt", "postponed": "ngoại lệ", "ready": "đọc chắc, chờ phê duyệt",
                "reviewed": "đã duyệt, chờ phê duyệt", "approved": "đã phê duyệt"}


def record_state():
    """SQL expression on ``Record``: its state in ``RECORD_STATES`` (approved includes exported)."""
    return case((Record.status.in_((APPROVED, EXPORTED)), "approved"),
                (Record.status == POSTPONED, "postponed"),
                (needs_person(), "waiting"),
                (Record.status == REVIEWED, "reviewed"),
                else_="ready")

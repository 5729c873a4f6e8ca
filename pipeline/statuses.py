"""Where a record, a page and a link stand: one vocabulary on the ground floor.

Every room uses these words (the clean stage decides a record's first status, the review app
moves it, the exports select by it, the report counts it), so they live below all of them,
not in the review queue that moves records along.

Record (``records.status``):
    extracted     read and cleaned; nothing doubtful (may still wait on a citizen link)
    needs_review  a field or a rule finding needs a person
    postponed     a reviewer put it on the exceptions list
    reviewed      a reviewer confirmed it
    approved      a supervisor approved it: ready for the national export
    exported      sent to the national database
"""

from __future__ import annotations

EXTRACTED, NEEDS_REVIEW, POSTPONED = "extracted", "needs_review", "postponed"
REVIEWED, APPROVED, EXPORTED = "reviewed", "approved", "exported"
RECORD_STATUSES = (EXTRACTED, NEEDS_REVIEW, POSTPONED, REVIEWED, APPROVED, EXPORTED)
STATUS_LABELS = {
    EXTRACTED: "đã trích xuất", NEEDS_REVIEW: "cần duyệt", POSTPONED: "ngoại lệ (hoãn)",
    REVIEWED: "đã duyệt", APPROVED: "đã phê duyệt", EXPORTED: "đã xuất",
}
#: Statuses a reviewer may still change fields of; approved and exported records are closed.
OPEN_STATUSES = (EXTRACTED, NEEDS_REVIEW, POSTPONED, REVIEWED)
#: Records the national export sends: approved, and exported ones changed since.
EXPORTABLE = (APPROVED, EXPORTED)
#: Records no person has looked at yet.
UNREVIEWED = (EXTRACTED, NEEDS_REVIEW)

#: Page status (``pages.status``) of a page read but not accounted for (pipeline.process).
NEEDS_ATTENTION = "needs_attention"

#: Link statuses (``links.status``): the matcher's ``auto`` and ``needs_review`` (with its
#: runners-up as ``candidate``), a reviewer's ``confirmed`` and ``rejected``.
LINK_AUTO, LINK_REVIEW, LINK_CANDIDATE = "auto", "needs_review", "candidate"
LINK_CONFIRMED, LINK_REJECTED = "confirmed", "rejected"

"""Candidate citizens beside a record: values side by side, differences, each comparison's
part of the score in words; and the reviewer's decision, which `hotich match` never undoes."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.clean.text import folded_key, name_key
from pipeline.errors import BadInput, HotichError
from pipeline.storage.audit import audit
from pipeline.storage.models import Link

#: Record fields a citizen has, in the order they are shown.
LINK_FIELDS = ("full_name", "sex", "birth_date", "birth_place", "father_name", "mother_name")
#: Which record field each comparison of pipeline.match.compare looks at.
COMPARISON_FIELD = {"given_name": "full_name", "surname": "full_name", "middle_name": "full_name",
                    "birth_date": "birth_date", "sex": "sex", "father_name": "father_name",
                    "mother_name": "mother_name", "birth_place": "birth_place"}
DECIDED = ("confirmed", "rejected")


class LinkConflict(HotichError):
    """Someone else decided this record's link first."""


@dataclass
class Part:
    label: str  # the comparison's Vietnamese label, e.g. "tên trùng khớp"
    bits: float
    words: str  # how much it weighs, in words
    field: str | None


@dataclass
class Candidate:
    link_id: int
    citizen_pk: int
    citizen_id: str
    rank: int
    status: str
    score: float
    probability: float | None
    values: dict[str, str | None]
    differs: dict[str, bool]
    parts: list[Part] = field(default_factory=list)

    @property
    def probability_text(self) -> str:
        if self.probability is None:
            return ""
        return f"{self.probability * 100:.1f} %".replace(".", ",")


@dataclass
class LinkPanel:
    candidates: list[Candidate]
    needs_decision: bool  # an uncertain link waits for a person
    decided_by: str | None
    outcome: str  # "undecided" / "confirmed" / "rejected" / "auto"


def weight_words(bits: float) -> str:
    """A comparison's weight (log2 of the likelihood ratio) as a reviewer reads it."""
    if bits >= 4:
        return "ủng hộ mạnh là cùng người"
    if bits >= 1:
        return "ủng hộ là cùng người"
    if bits > -1:
        return "gần như không nói gì"
    if bits > -4:
        return "nghiêng về khác người"
    return "cho thấy mạnh là khác người"


def _same(field_name: str, a: str | None, b: str | None) -> bool:
    if not a or not b:
        return not a and not b
    if field_name in ("full_name", "father_name", "mother_name"):
        return name_key(a) == name_key(b)
    if field_name == "birth_place":
        return folded_key(a) == folded_key(b)
    return a.strip() == b.strip()


def link_panel(session: Session, record_id: int, record_values: dict[str, str | None]
               ) -> LinkPanel | None:
    """The record's candidates, best first; None when the match stage found none."""
    links = list(session.scalars(select(Link).where(Link.record_id == record_id)
                                 .order_by(Link.rank, Link.id)))
    if not links:
        return None
    candidates = []
    for link in links:
        c = link.citizen
        values = {"full_name": c.full_name, "sex": c.sex, "birth_date": c.birth_date,
                  "birth_place": c.birth_place, "father_name": c.father_name,
                  "mother_name": c.mother_name}
        differs = {f: not _same(f, record_values.get(f), values.get(f)) for f in LINK_FIELDS}
        explanation = link.explanation or {}
        parts = [Part(p.get("label", p.get("comparison", "")), float(p.get("bits") or 0.0),
                      weight_words(float(p.get("bits") or 0.0)),
                      COMPARISON_FIELD.get(p.get("comparison", "")))
                 for p in (explanation.get("parts") or [] if isinstance(explanation, dict) else [])]
        probability = explanation.get("probability") if isinstance(explanation, dict) else None
        candidates.append(Candidate(link.id, c.id, c.citizen_id, link.rank, link.status,
                                    link.score, probability, values, differs, parts))
    statuses = {link.status for link in links}
    if "confirmed" in statuses:
        outcome = "confirmed"
    elif statuses and statuses <= {"rejected"}:
        outcome = "rejected"
    elif "needs_review" in statuses:
        outcome = "undecided"
    else:
        outcome = "auto"
    decided_by = next((link.decided_by for link in links if link.status in DECIDED), None)
    return LinkPanel(candidates, outcome == "undecided", decided_by, outcome)


def decide_link(session: Session, record_id: int, choice: int | None, *, user: str) -> None:
    """Confirm the link to citizen ``choice`` (others rejected), or reject all (``None``).

    A decision is final for the match stage: ``hotich match`` leaves decided records alone.
    If someone else decided first, LinkConflict (unless they decided the same).
    """
    links = list(session.scalars(select(Link).where(Link.record_id == record_id)
                                 .with_for_update()))
    if not links:
        raise BadInput(f"Bản ghi {record_id} không có ứng viên nào để chọn")
    if choice is not None and choice not in {link.citizen_pk for link in links}:
        raise BadInput(f"Công dân {choice} không phải ứng viên của bản ghi {record_id}")
    decided = [link for link in links if link.status in DECIDED]
    if decided:
        confirmed = next((link.citizen_pk for link in links if link.status == "confirmed"), None)
        if confirmed == choice:
            return
        who = decided[0].decided_by or "người khác"
        raise LinkConflict(f"Liên kết của bản ghi {record_id} vừa được {who} quyết định",
                           hint="xem lại quyết định trên màn hình")
    for link in links:
        link.status = "confirmed" if link.citizen_pk == choice else "rejected"
        link.decided_by = user
    if choice is None:
        audit(session, user, "link.reject_all", "record", record_id, candidates=len(links))
    else:
        chosen = next(link for link in links if link.citizen_pk == choice)
        audit(session, user, "link.confirm", "record", record_id, link=chosen.id, rank=chosen.rank,
              score=chosen.score, candidates=len(links))
    session.flush()

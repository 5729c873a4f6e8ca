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
#: Each comparison's subject in words, for labels the match stage writes with its own name
#: ("thiếu birth_place" when one side has no value).
COMPARISON_WORDS = {"given_name": "tên", "surname": "họ", "middle_name": "tên đệm",
                    "birth_date": "ngày sinh", "sex": "giới tính", "father_name": "họ tên cha",
                    "mother_name": "họ tên mẹ", "birth_place": "nơi sinh"}


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

    lead: str = ""  # how far it stands above the next candidate, in words

    @property
    def probability_text(self) -> str:
        """``87,5 %``; never ``100,0 %`` for two candidates that differ: the ends are open."""
        if self.probability is None:
            return ""
        if self.probability >= 0.9995:
            return "trên 99,9 %"
        if self.probability <= 0.0005:
            return "dưới 0,1 %"
        return f"{self.probability * 100:.1f} %".replace(".", ",")

    @property
    def score_text(self) -> str:
        """The score (sum of the comparisons' weights) in Vietnamese style: ``30,4 điểm``."""
        return f"{self.score:.1f} điểm".replace(".", ",")

    @property
    def strength(self) -> str:
        """The score in words, so two near-certain candidates can still be told apart."""
        return strength_words(self.score)


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


def strength_words(score: float) -> str:
    """A candidate's score (log2 of how much likelier the same person is) in words."""
    if score >= 25:
        return "rất mạnh"
    if score >= 15:
        return "mạnh"
    if score >= 8:
        return "trung bình"
    if score >= 0:
        return "yếu"
    return "rất yếu"


def _part_label(label: str, comparison: str) -> str:
    if label == f"thiếu {comparison}" and comparison in COMPARISON_WORDS:
        return f"thiếu {COMPARISON_WORDS[comparison]} ở một bên, không so được"
    return label


def _same(field_name: str, a: str | None, b: str | None, home: str | None = None) -> bool:
    if not a or not b:
        return not a and not b
    if field_name in ("full_name", "father_name", "mother_name"):
        return name_key(a) == name_key(b)
    if field_name == "birth_place":
        if folded_key(a) == folded_key(b):
            return True
        # "Tại nhà" is a birth at home in the commune that keeps the book: the same place
        # as a citizen born in that commune, not a difference to mark red.
        return bool(home) and _born_at_home(a) and folded_key(home) in folded_key(b)
    return a.strip() == b.strip()


def _born_at_home(text: str) -> bool:
    from pipeline.clean.places import parse_place

    return parse_place(text).kind == "home"


def link_panel(session: Session, record_id: int, record_values: dict[str, str | None],
               home: str | None = None) -> LinkPanel | None:
    """The record's candidates, best first; None when the match stage found none. ``home``
    is the commune of the record's book, where a birth "Tại nhà" took place."""
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
        differs = {f: not _same(f, record_values.get(f), values.get(f), home) for f in LINK_FIELDS}
        explanation = link.explanation or {}
        parts = [Part(_part_label(p.get("label", p.get("comparison", "")), p.get("comparison", "")),
                      float(p.get("bits") or 0.0),
                      weight_words(float(p.get("bits") or 0.0)),
                      COMPARISON_FIELD.get(p.get("comparison", "")))
                 for p in (explanation.get("parts") or [] if isinstance(explanation, dict) else [])]
        probability = explanation.get("probability") if isinstance(explanation, dict) else None
        candidates.append(Candidate(link.id, c.id, c.citizen_id, link.rank, link.status,
                                    link.score, probability, values, differs, parts))
    for better, worse in zip(candidates, candidates[1:]):
        gap = better.score - worse.score
        better.lead = f"hơn ứng viên {worse.rank}: {gap:.1f} điểm".replace(".", ",")
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

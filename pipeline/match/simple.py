"""A first matcher: links records to citizens on name, birth date and sex.

Deliberately small and declared (STYLE.md, "declared matching"): three comparisons with
readable labels, fixed weights and thresholds stored with every run. The probabilistic
matcher with blocking passes, EM weights and term frequencies replaces it later; this one is
already precise enough to be useful because it demands a near-identical name *and* a
compatible date, and assigns each citizen to at most one record.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone

from rapidfuzz import fuzz
from sqlalchemy import delete, select
from sqlalchemy.engine import Engine

from pipeline.clean import folded_key, name_key
from pipeline.errors import NotFound
from pipeline.storage.audit import audit
from pipeline.storage.db import session_scope
from pipeline.storage.models import Book, Citizen, FieldValue, Link, Record, StageRun

MATCHER_VERSION = "simple-1"
MODEL = {
    "version": MATCHER_VERSION,
    "weights": {"name": 0.6, "birth_date": 0.3, "sex": 0.1},
    "auto_link": 0.90,
    "review": 0.70,
    "candidates_kept": 3,
    "blocking": ["birth year + folded given name", "birth year + folded surname"],
}
DECIDED = ("confirmed", "rejected")


@dataclass
class Candidate:
    citizen_pk: int
    score: float
    parts: list[dict] = field(default_factory=list)  # each: label, agreement (Vietnamese), weight


@dataclass
class MatchSummary:
    records: int = 0
    auto: int = 0
    review: int = 0
    no_match: int = 0
    kept_decisions: int = 0
    stage_run_id: int | None = None


def compare_names(a: str, b: str) -> tuple[float, str]:
    """Name similarity on comparison keys (tone placement and case ignored)."""
    ka, kb = name_key(a), name_key(b)
    if ka == kb:
        return 1.0, "họ tên trùng khớp"
    fa, fb = folded_key(a), folded_key(b)
    if fa == fb:
        return 0.92, "họ tên khớp khi bỏ dấu"
    ta, tb = ka.split(), kb.split()
    if len(ta) >= 2 and len(tb) >= 2 and ta[0] == tb[0] and ta[-1] == tb[-1]:
        return 0.9, "tên đệm khác nhau hoặc thiếu"
    ratio = fuzz.ratio(ka, kb) / 100
    return ratio * 0.9, f"họ tên gần giống ({ratio:.0%})"


def compare_dates(a: str | None, b: str | None) -> tuple[float, str]:
    if not a or not b:
        return 0.4, "thiếu ngày sinh"
    if a == b:
        return 1.0, "ngày sinh trùng khớp"
    if len(a) == 10 and len(b) == 10 and a[:4] == b[:4] and a[5:7] == b[8:10] and a[8:10] == b[5:7]:
        return 0.8, "ngày sinh đảo ngày/tháng"
    if a[:4] == b[:4] and (len(a) == 4 or len(b) == 4):
        return 0.75, "chỉ khớp năm sinh"
    if a[:7] == b[:7]:
        return 0.6, "khớp tháng và năm sinh, khác ngày"
    if a[:4] == b[:4]:
        return 0.4, "cùng năm sinh, khác ngày tháng"
    return 0.0, "ngày sinh khác nhau"


def compare_sex(a: str | None, b: str | None) -> tuple[float, str]:
    if not a or not b:
        return 0.5, "thiếu giới tính"
    return (1.0, "giới tính trùng khớp") if a == b else (0.0, "giới tính khác nhau")


def score_pair(record: dict, citizen: Citizen) -> Candidate:
    weights = MODEL["weights"]
    parts, total = [], 0.0
    for key, (agreement, label) in {
        "name": compare_names(record["full_name"], citizen.full_name),
        "birth_date": compare_dates(record.get("birth_date"), citizen.birth_date),
        "sex": compare_sex(record.get("sex"), citizen.sex),
    }.items():
        total += weights[key] * agreement
        parts.append({"comparison": key, "agreement": round(agreement, 3), "weight": weights[key], "label": label})
    return Candidate(citizen.id, round(total, 4), parts)


def _record_values(session, book_ids: list[int]) -> dict[int, dict]:
    rows = session.execute(
        select(FieldValue.record_id, FieldValue.field, FieldValue.value)
        .join(Record, Record.id == FieldValue.record_id)
        .where(Record.book_id.in_(book_ids), FieldValue.is_current.is_(True),
               FieldValue.field.in_(["full_name", "birth_date", "sex"]))
    )
    values: dict[int, dict] = defaultdict(dict)
    for record_id, name, value in rows:
        values[record_id][name] = value
    return {rid: v for rid, v in values.items() if v.get("full_name")}


def match_books(db: Engine, *, book_code: str | None = None) -> MatchSummary:
    """Link birth records of the book(s) to citizens; person-made decisions are kept."""
    summary = MatchSummary()
    params_hash = hashlib.sha256(json.dumps(MODEL, sort_keys=True).encode()).hexdigest()
    with session_scope(db) as session:
        books = select(Book.id).where(Book.book_type == "birth")
        if book_code:
            if session.scalar(select(Book.id).where(Book.book_code == book_code)) is None:
                raise NotFound(f"Không có sổ '{book_code}'")
            books = books.where(Book.book_code == book_code)
        book_ids = list(session.scalars(books))
        run = StageRun(stage="match", version=MATCHER_VERSION, params_hash=params_hash, params=MODEL)
        session.add(run)
        session.flush()
        summary.stage_run_id = run.id
        records = _record_values(session, book_ids)
        summary.records = len(records)
        decided = {rid for rid in session.scalars(
            select(Link.record_id).where(Link.record_id.in_(list(records)), Link.status.in_(DECIDED))
        )}
        taken = set(session.scalars(select(Link.citizen_pk).where(Link.status == "confirmed")))
        summary.kept_decisions = len(decided)
        # Blocking: only citizens sharing a birth year and a folded surname or given name.
        index: dict[tuple, list[Citizen]] = defaultdict(list)
        years = {int(v["birth_date"][:4]) for v in records.values() if v.get("birth_date")}
        for citizen in session.scalars(select(Citizen).where(Citizen.birth_year.in_(years))):
            tokens = citizen.name_folded.split()
            if tokens:
                index[(citizen.birth_year, "surname", tokens[0])].append(citizen)
                index[(citizen.birth_year, "given", tokens[-1])].append(citizen)
        scored: list[tuple[float, int, Candidate]] = []
        per_record: dict[int, list[Candidate]] = {}
        for record_id, values in records.items():
            if record_id in decided or not values.get("birth_date"):
                continue
            tokens = folded_key(values["full_name"]).split()
            year = int(values["birth_date"][:4])
            pool = {c.id: c for key in ((year, "surname", tokens[0]), (year, "given", tokens[-1]))
                    for c in index.get(key, [])}
            candidates = sorted((score_pair(values, c) for c in pool.values()), key=lambda c: -c.score)
            candidates = [c for c in candidates if c.score >= MODEL["review"]][: MODEL["candidates_kept"]]
            per_record[record_id] = candidates
            scored.extend((c.score, record_id, c) for c in candidates)
        # One-to-one: best pairs first; a citizen linked to one record is not offered to another.
        assigned: dict[int, Candidate] = {}
        for score, record_id, candidate in sorted(scored, key=lambda t: -t[0]):
            if record_id in assigned or candidate.citizen_pk in taken:
                continue
            assigned[record_id] = candidate
            taken.add(candidate.citizen_pk)
        undecided = [rid for rid in records if rid not in decided]
        if undecided:
            session.execute(delete(Link).where(Link.record_id.in_(undecided), Link.status.notin_(DECIDED)))
        for record_id in undecided:
            best = assigned.get(record_id)
            if best is None:
                summary.no_match += 1
                continue
            status = "auto" if best.score >= MODEL["auto_link"] else "needs_review"
            summary.auto += status == "auto"
            summary.review += status == "needs_review"
            session.add(Link(record_id=record_id, citizen_pk=best.citizen_pk, score=best.score,
                             status=status, rank=1, explanation=best.parts, stage_run_id=run.id))
            for rank, other in enumerate((c for c in per_record[record_id] if c.citizen_pk != best.citizen_pk), start=2):
                session.add(Link(record_id=record_id, citizen_pk=other.citizen_pk, score=other.score,
                                 status="candidate", rank=rank, explanation=other.parts, stage_run_id=run.id))
        run.finished_at = datetime.now(timezone.utc)
        run.outcome = "ok"
        run.counts = {"records": summary.records, "auto": summary.auto, "review": summary.review,
                      "no_match": summary.no_match}
        audit(session, "system:match", "match.run", "stage_run", str(run.id), **run.counts)
    return summary

"""``hotich match``: link the birth records of the database to its citizens and store why.

The records' current values and the citizens are read into frames, ``engine.link_frames``
decides, and the links are written with their score and explanation. The model used
(weights, thresholds, blocking) is stored with the stage run and as JSON beside the results
(``$HOTICH_HOME/match/run-<id>.json``). A link a reviewer confirmed or rejected is never
touched: its record is left out of the run, and a confirmed citizen is not offered again.

Names are cleaned with the name lexicon the population import learned (loaded once per run,
``population.load_name_lexicon``; learned from the citizens read when none is stored), and
the citizens' names are read in their cleaned form (one tone style) where the import stored it.
Each queued link keeps what a reviewer's click on its record is worth (``review_worth``):
the review app's queue is ordered by it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
from sqlalchemy import delete, func, select
from sqlalchemy.engine import Engine

from pipeline.clean.lexicon import shipped_name_lexicon
from pipeline.match.engine import ENGINE_VERSION, link_frames
from pipeline.match.keys import population_lexicon
from pipeline.match.population import load_name_lexicon
from pipeline.storage.audit import audit
from pipeline.storage.books import find_book
from pipeline.storage.db import session_scope
from pipeline.storage.models import Book, Citizen, FieldValue, Link, Record
from pipeline.storage.runs import start_stage_run

DECIDED = ("confirmed", "rejected")
RECORD_FIELDS = ["full_name", "sex", "birth_date", "birth_place", "father_name", "mother_name"]


@dataclass
class MatchSummary:
    records: int = 0
    auto: int = 0
    review: int = 0
    no_match: int = 0
    kept_decisions: int = 0
    stage_run_id: int | None = None
    model_file: str | None = None
    # the fitted model's estimate of the share of right auto links (calibration.py), and the
    # lowest auto score it chose from the run's own scores (None: the rule's default held)
    expected_precision: float | None = None
    min_score: float | None = None


def _records(session, book_ids: list[int], decided: set[int]) -> pd.DataFrame:
    rows = session.execute(
        select(FieldValue.record_id, FieldValue.field, FieldValue.value)
        .join(Record, Record.id == FieldValue.record_id)
        .where(Record.book_id.in_(book_ids), FieldValue.is_current.is_(True),
               FieldValue.field.in_(RECORD_FIELDS))
    ).all()
    frame = pd.DataFrame(rows, columns=["record_id", "field", "value"])
    if frame.empty:
        return pd.DataFrame(columns=["record_id", *RECORD_FIELDS])
    wide = frame.pivot(index="record_id", columns="field", values="value").reset_index()
    for col in RECORD_FIELDS:
        if col not in wide:
            wide[col] = None
    wide = wide[~wide["record_id"].isin(decided) & wide["full_name"].notna()]
    return wide[["record_id", *RECORD_FIELDS]].reset_index(drop=True)


def _citizens(session, excluded: set[int]) -> pd.DataFrame:
    """Citizens as the matcher reads them: names in their cleaned form where stored."""
    rows = session.execute(select(Citizen.id, func.coalesce(Citizen.name_clean, Citizen.full_name),
                                  Citizen.sex, Citizen.birth_date, Citizen.birth_place,
                                  func.coalesce(Citizen.father_name_clean, Citizen.father_name),
                                  func.coalesce(Citizen.mother_name_clean, Citizen.mother_name)))
    frame = pd.DataFrame(rows.all(), columns=["citizen_id", *RECORD_FIELDS])
    return frame[~frame["citizen_id"].isin(excluded)].reset_index(drop=True)


def _run_lexicon(db: Engine, citizens: pd.DataFrame):
    """The name lexicon of the whole run, loaded once: the one the population import stored;
    for citizens imported before it was stored, learned from them as the import would."""
    stored = load_name_lexicon(db)
    if stored is not None:
        return stored
    return population_lexicon(citizens["full_name"]) if len(citizens) else shipped_name_lexicon()


def match_books(db: Engine, *, book_code: str | None = None, home: Path | None = None
                ) -> MatchSummary:
    """Link birth records of the book(s) to citizens; person-made decisions are kept."""
    summary = MatchSummary()
    with session_scope(db) as session:
        books = select(Book.id).where(Book.book_type == "birth")
        if book_code:
            find_book(session, book_code)
            books = books.where(Book.book_code == book_code)
        book_ids = list(session.scalars(books))
        record_ids = select(Record.id).where(Record.book_id.in_(book_ids))
        decided = set(session.scalars(select(Link.record_id).where(
            Link.record_id.in_(record_ids), Link.status.in_(DECIDED))))
        confirmed = set(session.scalars(select(Link.citizen_pk).where(Link.status == "confirmed")))
        records = _records(session, book_ids, decided)
        citizens = _citizens(session, confirmed)
    summary.kept_decisions = len(decided)
    summary.records = len(records)
    lexicon = _run_lexicon(db, citizens)
    result = link_frames(records, citizens, lexicon=lexicon) if len(records) and len(citizens) \
        else None
    model = result.model.to_json() if result else {}
    if result is not None:
        summary.expected_precision = result.expected_precision
        summary.min_score = result.model.thresholds.get("min_score")
    params = {"engine": ENGINE_VERSION, "model": model, "name_lexicon": lexicon.source}
    with session_scope(db) as session:
        run = start_stage_run(session, "match", ENGINE_VERSION, params)
        summary.stage_run_id = run.id
        undecided = [int(r) for r in records["record_id"]]
        if undecided:
            session.execute(delete(Link).where(Link.record_id.in_(undecided), Link.status.notin_(DECIDED)))
        linked: set[int] = set()
        if result is not None:
            for row in result.links.itertuples(index=False):
                status = row.status if row.rank == 1 or row.status == "auto" else "candidate"
                worth = float(row.worth) if row.status == "needs_review" else None
                session.add(Link(record_id=int(row.record_id), citizen_pk=int(row.citizen_id),
                                 score=float(row.score), status=status, rank=int(row.rank),
                                 review_worth=worth,
                                 explanation={"probability": row.probability, "parts": row.explanation,
                                              # review_band.py: the review queue's order
                                              **({"review_worth": worth} if worth is not None
                                                 else {})},
                                 stage_run_id=run.id))
                if row.rank == 1:
                    linked.add(int(row.record_id))
                    summary.auto += row.status == "auto"
                    summary.review += row.status == "needs_review"
        summary.no_match = summary.records - len(linked)
        run.finished_at = datetime.now(timezone.utc)
        run.outcome = "ok"
        run.counts = {"records": summary.records, "auto": summary.auto, "review": summary.review,
                      "no_match": summary.no_match, **({"candidate_pairs": result.counts["candidate_pairs"]}
                                                      if result else {})}
        audit(session, "system:match", "match.run", "stage_run", str(run.id), **run.counts)
    if home is not None and result is not None:
        target = home / "match" / f"run-{summary.stage_run_id}.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(params, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
        summary.model_file = str(target)
    return summary

"""A stage run's row: what ran, at which version, with which parameters (their hash too).

Every stage driver starts one the same way, so provenance reads alike whichever stage made
a value, and two runs with the same parameters have the same hash.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

from sqlalchemy.orm import Session

from pipeline.storage.models import StageRun


def params_hash(params: dict) -> str:
    """SHA-256 of the parameters as sorted JSON (values JSON cannot hold as their ``str``)."""
    return hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()


def start_stage_run(session: Session, stage: str, version: str, params: dict, *,
                    book_id: int | None = None, started_at: datetime | None = None) -> StageRun:
    """A new ``stage_runs`` row (outcome ``running`` until the driver closes it), flushed so
    its id can be stored with what the run writes."""
    run = StageRun(stage=stage, version=version, params=params, params_hash=params_hash(params),
                   book_id=book_id, **({"started_at": started_at} if started_at else {}))
    session.add(run)
    session.flush()
    return run

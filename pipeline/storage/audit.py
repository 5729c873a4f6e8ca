"""The audit log: who did what to which entity, written in the same transaction as the change."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.orm import Session

from pipeline.storage.models import AuditEntry


def _json_safe(detail: dict[str, Any]) -> dict[str, Any]:
    # Dates, paths, Decimals and the like become strings now rather than failing at flush.
    return json.loads(json.dumps(detail, ensure_ascii=False, default=str))


def audit(
    session: Session,
    actor: str,
    action: str,
    entity: str,
    entity_id: Any = None,
    **detail: Any,
) -> AuditEntry:
    """Add one audit entry to ``session`` (flushed, so it has an id) and return it.

    Going through the caller's session means the change and its audit row commit or roll
    back together. ``actor`` is a user name or ``"system:<stage>"``; ``entity_id`` is
    stored as text so book codes and numeric ids share the column. ``detail`` becomes
    JSON (dates, paths → strings); keep personal data out of it and refer to records and
    citizens by id — the audit log is read by more people than the data.

        >>> audit(session, "lan", "approve", "record", record.id, previous_status="reviewed")
    """
    entry = AuditEntry(
        actor=actor,
        action=action,
        entity=entity,
        entity_id=None if entity_id is None else str(entity_id),
        detail=_json_safe(detail) if detail else None,
    )
    session.add(entry)
    session.flush()
    return entry

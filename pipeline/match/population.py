"""Import a population extract (CSV or XLSX) into the citizens table, in bounded memory.

Rows are read in chunks; a bad row is reported with its line number and skipped, good rows are
kept. Citizens are keyed by ``citizen_id``: importing the same file again changes nothing, and
a newer extract updates people in place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import pandas as pd
from sqlalchemy import select
from sqlalchemy.engine import Engine

from pipeline.clean import folded_key, name_key, parse_date
from pipeline.clean.fields import normalize_sex
from pipeline.clean.names import normalize_name
from pipeline.errors import BadInput, UnreadableFile
from pipeline.storage.audit import audit
from pipeline.storage.db import session_scope
from pipeline.storage.models import Citizen

COLUMNS = ["citizen_id", "full_name", "sex", "birth_date", "birth_place", "father_name", "mother_name"]
REQUIRED = ["citizen_id", "full_name"]
CHUNK_ROWS = 20_000
MAX_REPORTED_ERRORS = 1000


@dataclass
class PopulationImport:
    file: str
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[str] = field(default_factory=list)  # "<file> dòng N: reason"
    error_count: int = 0
    encoding: str = "utf-8"


def parse_mapping(pairs: list[str]) -> dict[str, str]:
    """``["CCCD=citizen_id", "Ho ten=full_name"]`` → source header → canonical field."""
    mapping = {}
    for pair in pairs:
        source, sep, target = pair.partition("=")
        if not sep or target.strip() not in COLUMNS:
            raise BadInput(f"--map '{pair}' không hợp lệ", hint=f"dạng COT=truong, truong là một trong {', '.join(COLUMNS)}")
        mapping[source.strip()] = target.strip()
    return mapping


def _detect_encoding(path: Path) -> str:
    head = path.read_bytes()[: 1 << 20]
    if head.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    try:
        head.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start > len(head) - 4:  # a character cut by our 1 MiB window
            return "utf-8"
        raise UnreadableFile(
            f"{path.name}: không phải UTF-8 (byte lạ ở vị trí {exc.start})",
            hint="lưu lại tệp dưới dạng CSV UTF-8",
        ) from None


def _chunks(path: Path, encoding: str) -> Iterator[pd.DataFrame]:
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        try:
            frame = pd.read_excel(path, dtype=str, keep_default_na=False)
        except Exception as exc:  # noqa: BLE001 - openpyxl raises many types for a bad file
            raise UnreadableFile(f"{path.name}: tệp Excel hỏng, không đọc được") from exc
        for start in range(0, len(frame), CHUNK_ROWS):
            yield frame.iloc[start:start + CHUNK_ROWS]
        return
    try:
        yield from pd.read_csv(path, dtype=str, keep_default_na=False, chunksize=CHUNK_ROWS,
                               encoding=encoding)
    except pd.errors.ParserError as exc:
        raise UnreadableFile(f"{path.name}: CSV hỏng ({str(exc).splitlines()[0]})") from None


def _clean_row(row: dict[str, str]) -> tuple[dict[str, object] | None, str | None]:
    citizen_id = re.sub(r"\s", "", row.get("citizen_id", ""))
    if not re.fullmatch(r"\d{12}", citizen_id):
        return None, "số định danh không phải 12 chữ số"
    name, _note = normalize_name(row.get("full_name", ""))
    if not name:
        return None, "thiếu họ tên"
    birth_date, _ = parse_date(row.get("birth_date", "")) if row.get("birth_date") else (None, None)
    sex = normalize_sex(row.get("sex", ""))[0] if row.get("sex") else None
    father = normalize_name(row.get("father_name", ""))[0]
    mother = normalize_name(row.get("mother_name", ""))[0]
    return {
        "citizen_id": citizen_id, "full_name": name, "name_key": name_key(name),
        "name_folded": folded_key(name), "sex": sex, "birth_date": birth_date,
        "birth_year": int(birth_date[:4]) if birth_date else None,
        "birth_place": (row.get("birth_place") or "").strip() or None,
        "father_name": father, "mother_name": mother,
    }, None


def import_population(
    db: Engine, path: Path, *, mapping: dict[str, str] | None = None,
    on_chunk: Callable[[int], None] | None = None,
) -> PopulationImport:
    """Import citizens; returns counts and the bad rows (file and line) that were skipped."""
    if not path.is_file():
        raise UnreadableFile(f"{path}: không tìm thấy tệp")
    encoding = _detect_encoding(path) if path.suffix.lower() not in (".xlsx", ".xlsm") else "xlsx"
    outcome = PopulationImport(file=path.name, encoding=encoding)
    mapping = mapping or {}
    line = 1  # the header line
    for chunk in _chunks(path, encoding):
        chunk = chunk.rename(columns={k: v for k, v in mapping.items()})
        chunk.columns = [str(c).strip() for c in chunk.columns]
        missing = [c for c in REQUIRED if c not in chunk.columns]
        if missing:
            raise BadInput(f"{path.name}: thiếu cột {', '.join(missing)}",
                           hint="dùng --map TEN_COT=truong để ánh xạ tiêu đề")
        good: dict[str, dict] = {}
        for row in chunk.to_dict("records"):
            line += 1
            clean, error = _clean_row({k: str(v) for k, v in row.items() if k in COLUMNS})
            if error:
                outcome.error_count += 1
                if len(outcome.errors) < MAX_REPORTED_ERRORS:
                    outcome.errors.append(f"{path.name} dòng {line}: {error}")
                continue
            good[clean["citizen_id"]] = clean
        outcome.rows += len(chunk)
        _upsert(db, good, path.name, outcome)
        if on_chunk:
            on_chunk(len(chunk))
    with session_scope(db) as session:
        audit(session, "system:population", "population.import", "file", path.name,
              rows=outcome.rows, inserted=outcome.inserted, updated=outcome.updated,
              errors=outcome.error_count)
    return outcome


def _upsert(db: Engine, rows: dict[str, dict], source: str, outcome: PopulationImport) -> None:
    fields = [c for c in next(iter(rows.values()), {}) if c != "citizen_id"]
    with session_scope(db) as session:
        existing = {
            c.citizen_id: c for c in session.scalars(
                select(Citizen).where(Citizen.citizen_id.in_(list(rows)))
            )
        } if rows else {}
        for citizen_id, row in rows.items():
            current = existing.get(citizen_id)
            if current is None:
                session.add(Citizen(**row, source_file=source))
                outcome.inserted += 1
            elif any(getattr(current, f) != row[f] for f in fields):
                for f in fields:
                    setattr(current, f, row[f])
                current.source_file = source
                outcome.updated += 1
            else:
                outcome.unchanged += 1

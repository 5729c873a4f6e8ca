"""Import a population extract (CSV or XLSX) into the citizens table, in bounded memory.

Rows are streamed and written in chunks; the file's encoding (UTF-8 or a legacy Vietnamese
one, see ``pipeline.encodings``) is detected from its first bytes. A bad row — broken
CSV (an unclosed quote), unreadable characters, a cell over its size limit, a wrong
``citizen_id`` (digits other than ASCII 0-9 included), an id already seen earlier in the
file — is reported with its line number and skipped; good rows are kept. A ``citizen_id`` whose
century/sex or year digits disagree with the row is kept with a warning. Citizens are keyed
by ``citizen_id``: importing the same file again changes nothing, and a newer extract updates
people in place (only the columns it has).

Names are stored as imported (NFC, leader dots gone, capitalised; tone placement as written)
and, beside them, in one tone-placement style (``*_clean``), which is what is compared and
counted. After every import the family, middle and given names of all citizens are counted
again (``learn_name_frequencies``) into ``name_frequencies``: the name lexicon learned from
the population, which cleaning and matching use instead of the shipped list
(``load_name_lexicon``; ``pipeline.clean.lexicon.learned_name_lexicon`` blends the two).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Engine

from pipeline.clean import folded_key, name_key, parse_date
from pipeline.clean.fields import normalize_sex
from pipeline.clean.lexicon import (
    NAME_ROLES,
    NameLexicon,
    count_name_words,
    learned_name_lexicon,
)
from pipeline.clean.names import clean_name, normalize_name
from pipeline.errors import BadInput
from pipeline.storage.audit import audit
from pipeline.storage.db import session_scope
from pipeline.storage.models import Citizen, NameFrequency
from pipeline.tables import cell_text as _cell_text
from pipeline.tables import open_table

COLUMNS = ["citizen_id", "full_name", "sex", "birth_date", "birth_place", "father_name", "mother_name"]
REQUIRED = ["citizen_id", "full_name"]
CHUNK_ROWS = 20_000
MAX_REPORTED_ERRORS = 1000
SAMPLE_BYTES = 256 * 1024  # enough rows to tell encodings apart, read once
SELECT_BATCH = 900  # ids per IN (...) query: under every SQLite's host-parameter limit

# Official province codes (the first three digits of a citizen_id), Nghị định 137/2015/NĐ-CP
# and Thông tư 59/2021/TT-BCA.
PROVINCE_CODES = frozenset(
    "001 002 004 006 008 010 011 012 014 015 017 019 020 022 024 025 026 027 030 031 033 034 "
    "035 036 037 038 040 042 044 045 046 048 049 051 052 054 056 058 060 062 064 066 067 068 "
    "070 072 074 075 077 079 080 082 083 084 086 087 089 091 092 093 094 095 096".split()
)

# Which stored columns each input column feeds: a file without a column leaves it alone.
_FEEDS = {
    "full_name": ("full_name", "name_key", "name_folded", "name_clean"), "sex": ("sex",),
    "birth_date": ("birth_date", "birth_year"), "birth_place": ("birth_place",),
    "father_name": ("father_name", "father_name_clean"),
    "mother_name": ("mother_name", "mother_name_clean"),
}


@dataclass
class PopulationImport:
    file: str
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[str] = field(default_factory=list)  # "<file> dòng N: reason" — rows skipped
    error_count: int = 0
    encoding: str = "utf-8"  # see pipeline.encodings: "utf-8", "tcvn3", "xlsx:vni", ...
    warnings: list[str] = field(default_factory=list)  # "<file> dòng N: reason" — rows kept
    warning_count: int = 0

    def skip(self, line: int, reason: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(f"{self.file} dòng {line}: {reason}")

    def warn(self, line: int, reason: str) -> None:
        self.warning_count += 1
        if len(self.warnings) < MAX_REPORTED_ERRORS:
            self.warnings.append(f"{self.file} dòng {line}: {reason}")


def parse_mapping(pairs: list[str]) -> dict[str, str]:
    """``["CCCD=citizen_id", "Ho ten=full_name"]`` → source header → canonical field."""
    mapping = {}
    for pair in pairs:
        source, sep, target = pair.partition("=")
        if not sep or target.strip() not in COLUMNS:
            raise BadInput(f"--map '{pair}' không hợp lệ", hint=f"dạng COT=truong, truong là một trong {', '.join(COLUMNS)}")
        mapping[source.strip()] = target.strip()
    return mapping


# --- checking ---------------------------------------------------------------------------------

def _columns(header: list[str], mapping: dict[str, str], path: Path) -> list[str | None]:
    """Canonical field of each column (None: ignored); refuses a header without the required ones."""
    names = [mapping.get(h, h) for h in header]
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise BadInput(f"{path.name}: thiếu cột {', '.join(missing)} (dòng tiêu đề)",
                       hint="dùng --map TEN_COT=truong để ánh xạ tiêu đề; chưa nhập dòng nào")
    seen: set[str] = set()
    out: list[str | None] = []
    for name in names:
        out.append(name if name in COLUMNS and name not in seen else None)
        seen.add(name)
    return out


def _citizen_id(value: object) -> str:
    """Digits of an id; an Excel number lost the leading zeros every province code has."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _cell_text(value).zfill(12)
    return re.sub(r"[\s.\-]", "", str(value or ""))


def check_citizen_id(citizen_id: str, sex: str | None, birth_year: int | None) -> list[str]:
    """Warnings for a 12-digit id that disagrees with itself or the row (Thông tư 59/2021/TT-BCA).

    Digits 1-3 are the province of birth registration, digit 4 the century and sex (0/1: 1900s
    male/female, 2/3: 2000s, 4/5: 2100s … 8/9: 2300s), digits 5-6 the year of birth within the
    century. The id is the state's, so a disagreement is reported, not corrected.

    >>> check_citizen_id("040078001234", "M", 1978), check_citizen_id("040178001234", "M", 1979)
    ([], ['số định danh ghi giới tính nữ, cột giới tính ghi nam', 'năm sinh trong số định danh khác ngày sinh'])
    """
    warnings = []
    if citizen_id[:3] not in PROVINCE_CODES:
        warnings.append("3 chữ số đầu của số định danh không phải mã tỉnh")
    century_sex = int(citizen_id[3])
    id_sex = "F" if century_sex % 2 else "M"
    if sex and sex != id_sex:
        warnings.append("số định danh ghi giới tính " + ("nữ, cột giới tính ghi nam" if id_sex == "F"
                                                           else "nam, cột giới tính ghi nữ"))
    id_year = 1900 + 100 * (century_sex // 2) + int(citizen_id[4:6])
    if birth_year is not None and birth_year != id_year:
        warnings.append("năm sinh trong số định danh khác ngày sinh")
    elif birth_year is None and id_year > dt.date.today().year:
        warnings.append("năm sinh trong số định danh ở tương lai")
    return warnings


# Names, dates and sexes repeat a lot across a million citizens; cleaning each distinct value
# once makes the import several times faster. The caches are bounded, so memory stays flat.
@lru_cache(maxsize=1 << 16)
def _name(raw: str) -> tuple[str | None, str | None, str | None, str | None]:
    """(stored name, comparison key, folded key, cleaned name)."""
    name = normalize_name(raw)[0]
    return (name, name_key(name), folded_key(name), clean_name(name)) if name \
        else (None, None, None, None)


_ISO_DATE = re.compile(r"\d{4}(?:-\d{2}-\d{2})?")
#: Only ASCII digits: ``\d`` also takes full-width and other scripts' digits, and int() reads
#: them, so ``04007166091８`` would be stored and collide with ``040071660918``.
_ASCII_ID = re.compile(r"[0-9]{12}")
#: The longest text a column may bring: the width of the citizens column it fills (names), or
#: far more than a sex or a date is written with; other cells are bounded by
#: ``pipeline.tables.MAX_CELL_CHARS``. Checked before cleaning, whose caches hold what they see.
MAX_CHARS = {"full_name": 256, "father_name": 256, "mother_name": 256, "sex": 32, "birth_date": 64}


@lru_cache(maxsize=1 << 16)
def _date(raw: str) -> str | None:
    """ISO date (partial allowed); extracts are mostly ISO already, checked without parse_date."""
    raw = raw.strip()
    if _ISO_DATE.fullmatch(raw):
        try:
            return dt.date.fromisoformat(raw).isoformat() if len(raw) == 10 else raw
        except ValueError:
            return None
    return parse_date(raw)[0] if raw else None


@lru_cache(maxsize=256)
def _sex(raw: str) -> str | None:
    return normalize_sex(raw)[0] if raw else None


def _clean_row(row: dict[str, object]) -> tuple[dict[str, object] | None, str | None, list[str]]:
    """(stored values, None, warnings) for a good row, (None, reason, []) for a bad one."""
    citizen_id = _citizen_id(row.get("citizen_id"))
    if not _ASCII_ID.fullmatch(citizen_id):
        if re.fullmatch(r"\d{12}", citizen_id):  # digits of another script: 04007166091８
            return None, "số định danh có chữ số ngoài 0-9 (chữ số toàn khổ?)", []
        return None, "số định danh không phải 12 chữ số", []
    text = {k: _cell_text(v) for k, v in row.items() if k != "citizen_id"}
    for column, limit in MAX_CHARS.items():
        if len(text.get(column, "")) > limit:
            return None, f"cột {column} dài {len(text[column])} ký tự, tối đa {limit}", []
    if any("\ufffd" in v for v in text.values()):
        return None, "có ký tự không đọc được (sai bảng mã?)", []
    name, key, folded, cleaned = _name(text.get("full_name", ""))
    if not name:
        return None, "thiếu họ tên", []
    birth_date = _date(text.get("birth_date", ""))
    sex = _sex(text.get("sex", ""))
    birth_year = int(birth_date[:4]) if birth_date else None
    father, mother = _name(text.get("father_name", "")), _name(text.get("mother_name", ""))
    return {
        "citizen_id": citizen_id, "full_name": name, "name_key": key, "name_folded": folded,
        "name_clean": cleaned, "sex": sex, "birth_date": birth_date, "birth_year": birth_year,
        "birth_place": (text.get("birth_place") or "").strip() or None,
        "father_name": father[0], "father_name_clean": father[3],
        "mother_name": mother[0], "mother_name_clean": mother[3],
    }, None, check_citizen_id(citizen_id, sex, birth_year)


# --- the stage --------------------------------------------------------------------------------

def import_population(
    db: Engine, path: Path, *, mapping: dict[str, str] | None = None,
    on_chunk: Callable[[int], None] | None = None, encoding: str | None = None,
) -> PopulationImport:
    """Import citizens; returns counts, the skipped rows and the warnings, each with its line.

    ``encoding`` overrides detection (any name ``pipeline.encodings`` knows).

    >>> outcome = import_population(engine, Path("dan_cu.csv"), mapping={"CCCD": "citizen_id"})
    >>> outcome.inserted, outcome.encoding, outcome.errors[:1]
    (998, 'tcvn3', ['dan_cu.csv dòng 7: số định danh không phải 12 chữ số'])
    """
    path = Path(path)
    table = open_table(path, encoding, sample_bytes=SAMPLE_BYTES)
    name = table.encoding
    outcome = PopulationImport(file=path.name, encoding=name)
    columns = _columns(table.header, mapping or {}, path)
    fields = [f for c in columns if c for f in _FEEDS.get(c, ())]
    first_line: dict[int, int] = {}  # citizen_id → line of its first occurrence in this file
    chunk: dict[str, dict] = {}
    reported = 0
    for line, cells in table.rows:
        outcome.rows += 1
        clean = _row(line, cells, columns, outcome)
        if clean is None:
            continue
        first = first_line.setdefault(int(clean["citizen_id"]), line)
        if first != line:
            outcome.skip(line, f"số định danh trùng với dòng {first}, giữ dòng {first}")
            continue
        chunk[clean["citizen_id"]] = clean
        if len(chunk) >= CHUNK_ROWS:
            _upsert(db, chunk, fields, path.name, outcome)
            chunk.clear()
            if on_chunk:
                on_chunk(outcome.rows - reported)
                reported = outcome.rows
    if chunk:
        _upsert(db, chunk, fields, path.name, outcome)
    if on_chunk:
        on_chunk(outcome.rows - reported)
    counts = learn_name_frequencies(db)
    with session_scope(db) as session:
        audit(session, "system:population", "population.import", "file", path.name,
              rows=outcome.rows, inserted=outcome.inserted, updated=outcome.updated,
              errors=outcome.error_count, warnings=outcome.warning_count, encoding=name,
              name_words=sum(len(c) for c in counts.values()))
    return outcome


def _row(line: int, cells: list[object] | str, columns: list[str | None],
         outcome: PopulationImport) -> dict[str, object] | None:
    """A checked row ready to store, or None after reporting why it was skipped."""
    if isinstance(cells, str):
        outcome.skip(line, cells)
        return None
    extra = cells[len(columns):]
    if len(cells) < len(columns) or any(_cell_text(v).strip() for v in extra):
        outcome.skip(line, f"có {len(cells)} trường, dòng tiêu đề có {len(columns)} cột")
        return None
    row = {c: v for c, v in zip(columns, cells) if c}
    clean, error, warnings = _clean_row(row)
    if error:
        outcome.skip(line, error)
        return None
    for warning in warnings:
        outcome.warn(line, warning)
    return clean


def _upsert(db: Engine, rows: dict[str, dict], fields: list[str], source: str,
            outcome: PopulationImport) -> None:
    """Insert new citizens, update changed ones (only ``fields``), count the unchanged."""
    new, changed = [], []
    with session_scope(db) as session:
        ids = list(rows)
        for start in range(0, len(ids), SELECT_BATCH):
            batch = ids[start:start + SELECT_BATCH]
            query = select(Citizen.id, Citizen.citizen_id, *[getattr(Citizen, f) for f in fields])
            for current in session.execute(query.where(Citizen.citizen_id.in_(batch))):
                row = rows[current.citizen_id]
                row["_pk"] = current.id
                if any(getattr(current, f) != row[f] for f in fields):
                    changed.append({"id": current.id, "source_file": source, **{f: row[f] for f in fields}})
                else:
                    outcome.unchanged += 1
        new = [{**row, "source_file": source} for row in rows.values() if "_pk" not in row]
        if new:
            session.execute(insert(Citizen), new)
        if changed:
            session.execute(update(Citizen), changed)
    outcome.inserted += len(new)
    outcome.updated += len(changed)


# --- the name lexicon learned from the citizens ---------------------------------------------

STREAM_ROWS = 20_000  # distinct names fetched at a time while counting


def _distinct_names(db: Engine):
    """(cleaned full name, citizens carrying it), streamed: the database groups the rows, so
    memory holds one batch of distinct names, never the citizens. Rows imported before the
    cleaned column existed are cleaned here, once per distinct name."""
    queries = [
        (select(Citizen.name_clean, func.count()).where(Citizen.name_clean.is_not(None))
         .group_by(Citizen.name_clean), False),
        (select(Citizen.full_name, func.count()).where(Citizen.name_clean.is_(None))
         .group_by(Citizen.full_name), True),
    ]
    with db.connect() as conn:
        for query, clean in queries:
            result = conn.execution_options(stream_results=True, yield_per=STREAM_ROWS).execute(query)
            for name, n in result:
                name = clean_name(name) if clean else name
                if name:
                    yield name, int(n)


def count_citizen_names(db: Engine) -> dict[str, dict[str, int]]:
    """Per role (family / middle / given), how many citizens carry each word.

    Only citizens' own names are counted, not their parents': a father of five would count
    five times, and the lexicon's frequencies are those of people. Memory grows with the
    distinct words (tens of thousands in a province), not with the citizens.
    """
    counts: dict[str, dict[str, int]] = {role: {} for role in NAME_ROLES}
    for name, n in _distinct_names(db):
        count_name_words(name, counts, n)
    return counts


def learn_name_frequencies(db: Engine) -> dict[str, dict[str, int]]:
    """Count the citizens' names again and store the counts (``name_frequencies``).

    The whole table is replaced from the whole citizens table, so importing the same file
    twice, or two extracts in either order, leaves the same counts. Returns the counts.
    """
    counts = count_citizen_names(db)
    rows = [{"role": role, "word": word, "count": n}
            for role, words in counts.items() for word, n in words.items()]
    with session_scope(db) as session:
        session.execute(delete(NameFrequency))
        for start in range(0, len(rows), CHUNK_ROWS):
            session.execute(insert(NameFrequency), rows[start:start + CHUNK_ROWS])
    return counts


def load_name_lexicon(db: Engine) -> NameLexicon | None:
    """The name lexicon learned from the imported population, or None when none was imported.

    One query; whoever needs it loads it once per run and passes it down.
    """
    counts: dict[str, dict[str, int]] = {role: {} for role in NAME_ROLES}
    with session_scope(db) as session:
        for role, word, n in session.execute(select(NameFrequency.role, NameFrequency.word,
                                                    NameFrequency.count)):
            counts.setdefault(role, {})[word] = n
    if not any(counts.values()):
        return None
    return learned_name_lexicon(counts)

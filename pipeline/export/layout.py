"""The national export's column layouts: versioned data files under data/export/.

A layout names each column's Vietnamese header, where its value comes from and how the
Ministry wants it written. A new official template is a new file
(``national_birth_v2.json``); the highest version for a book type is used, and its name and
version go into the manifest.

Sources:

    field:<name>        the current normalized value of that field of the record
    book:volume         the book's volume (quyển số); ``book:place`` commune, district, province
    record:record_key   the record's id in hotich (kept by `records import`)
    link:citizen_id     the citizen the record is linked to (auto or confirmed)
    export:seq          the row's number in the sheet (STT)
    export:image        the name of the entry's PDF in ``<book>.zip``
    export:notes        the record's notes, then why each illegible field is blank, then each
                        field approved while a stage still doubted it (never seen by a person)

Formats: ``text`` (as stored), ``date`` (ISO → dd/mm/yyyy, mm/yyyy or yyyy), ``sex``
(M/F → Nam/Nữ), ``int`` (a whole number when the value is one).
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError

from pipeline.errors import BadInput, TemplateNotFound
from pipeline.paths import REFERENCE_DATA

EXPORT_LAYOUTS_DIR = REFERENCE_DATA / "export"
_FILE = re.compile(r"^national_(?P<type>[a-z]+)_v(?P<version>\d+)\.json$")
_SOURCE = re.compile(r"^(field:[a-z_]+|book:(volume|place)|record:record_key|link:citizen_id|"
                     r"export:(seq|image|notes))$")
SEX_WORDS = {"M": "Nam", "F": "Nữ"}


class Column(BaseModel):
    header: str = Field(description="Vietnamese header as the Ministry's template prints it.")
    source: str
    format: Literal["text", "date", "sex", "int"] = "text"
    width: float = Field(default=14, description="Excel column width, in characters.")


class Layout(BaseModel):
    name: str
    version: int
    book_type: Literal["birth", "marriage", "death"]
    description: str = ""
    sheet: str
    columns: list[Column]
    file: str = ""  # file name it was read from, set by the loader

    @property
    def headers(self) -> list[str]:
        return [c.header for c in self.columns]

    def header_of(self, field: str) -> str:
        """The header of the column showing ``field`` (the field name if none does)."""
        for c in self.columns:
            if c.source == f"field:{field}":
                return c.header
        return field


def _read(path: Path) -> Layout:
    try:
        layout = Layout.model_validate({**json.loads(path.read_text(encoding="utf-8")), "file": path.name})
    except (OSError, ValueError, ValidationError) as exc:
        raise BadInput(f"{path.name}: tệp mẫu xuất không hợp lệ ({type(exc).__name__})") from exc
    bad = [c.source for c in layout.columns if not _SOURCE.match(c.source)]
    if bad:
        raise BadInput(f"{path.name}: nguồn cột không hợp lệ: {', '.join(bad)}")
    if len(set(layout.headers)) != len(layout.headers):
        raise BadInput(f"{path.name}: hai cột trùng tiêu đề")
    return layout


@lru_cache(maxsize=16)
def _layouts(folder: Path) -> dict[str, Layout]:
    newest: dict[str, Layout] = {}
    for path in sorted(folder.glob("national_*_v*.json")):
        match = _FILE.match(path.name)
        if not match:
            continue
        layout = _read(path)
        if layout.book_type != match["type"] or layout.version != int(match["version"]):
            raise BadInput(f"{path.name}: loại sổ hoặc phiên bản trong tệp khác tên tệp")
        if layout.book_type not in newest or layout.version > newest[layout.book_type].version:
            newest[layout.book_type] = layout
    return newest


def load_layout(book_type: str, folder: Path = EXPORT_LAYOUTS_DIR) -> Layout:
    """The newest layout for ``book_type``.

    >>> load_layout("birth").file
    'national_birth_v1.json'
    """
    layout = _layouts(folder).get(book_type)
    if layout is None:
        raise TemplateNotFound(f"Không có mẫu xuất CSDL hộ tịch cho loại sổ '{book_type}'",
                               hint=f"thêm tệp national_{book_type}_v1.json vào {folder}")
    return layout


_ISO = re.compile(r"^(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?$")


def format_value(value: str | None, fmt: str) -> str | int | None:
    """A stored normalized value as the Ministry's sheet wants it.

    >>> format_value("1968-03-12", "date"), format_value("1968-03", "date"), format_value("F", "sex")
    ('12/03/1968', '03/1968', 'Nữ')
    """
    if value is None or value == "":
        return None
    if fmt == "date":
        match = _ISO.match(value)
        if not match:
            return value
        year, month, day = match.groups()
        return "/".join(part for part in (day, month, year) if part)
    if fmt == "sex":
        return SEX_WORDS.get(value, value)
    if fmt == "int":
        return int(value) if value.isdigit() else value
    return value

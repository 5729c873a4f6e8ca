"""Book layout templates: data files under data/templates/, selectable by name.

A new template is a new JSON file; no code change. The form layout lists the printed lines of
one entry, each with its labels in reading order; the ledger layout lists the ruled columns.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from pipeline.errors import TemplateNotFound
from pipeline.paths import TEMPLATES_DIR

FieldKind = Literal["text", "name", "sex", "date", "age", "place"]


class FormLabel(BaseModel):
    field: str
    label: str = Field(description="Exact printed text of the label, NFC.")
    kind: FieldKind = "text"


class LedgerColumn(BaseModel):
    field: str
    header: str
    kind: FieldKind = "text"
    width: float = Field(description="Share of the table's width, for the generator.")


class Template(BaseModel):
    name: str
    version: int
    book_type: Literal["birth", "marriage", "death"]
    layout: Literal["form", "ledger"]
    title: str
    entries_per_page: int
    lines: list[list[FormLabel]] = Field(default_factory=list)
    columns: list[LedgerColumn] = Field(default_factory=list)
    required: list[str] = Field(
        default_factory=list,
        description="Fields every entry of such a book has; an empty one is sent to review.")

    @property
    def fields(self) -> list[str]:
        """Field names in reading order."""
        if self.layout == "form":
            return [label.field for line in self.lines for label in line]
        return [column.field for column in self.columns]

    def kind_of(self, field: str) -> FieldKind:
        for line in self.lines:
            for label in line:
                if label.field == field:
                    return label.kind
        for column in self.columns:
            if column.field == field:
                return column.kind
        raise KeyError(field)


def available_templates(directory: Path = TEMPLATES_DIR) -> list[str]:
    return sorted(p.stem for p in directory.glob("*.json"))


def load_template(name: str, directory: Path = TEMPLATES_DIR) -> Template:
    """Load a template by name, e.g. ``load_template("birth_form").fields[0] == "registration_no"``."""
    path = directory / f"{name}.json"
    if not path.is_file():
        known = ", ".join(available_templates(directory)) or "không có"
        raise TemplateNotFound(
            f"Không có mẫu sổ '{name}'", hint=f"các mẫu hiện có: {known}"
        )
    return Template.model_validate(json.loads(path.read_text(encoding="utf-8")))

"""Book layout templates: data files under data/templates/, selectable by name.

A template says what a register holds, not where: its fields, the printed labels (form) or
column headers (ledger) each field goes by, with the variants used by different provinces and
decades, and each field's kind. Readers find the labels on the page wherever the printing put
them; a new printing needs at most a new label variant, as data. Where labels stand on the
classic printings is the sample generator's business (data/samplegen/printings/).
"""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from pipeline.errors import TemplateNotFound
from pipeline.paths import TEMPLATES_DIR

FieldKind = Literal["text", "name", "sex", "date", "age", "place"]


class TemplateField(BaseModel):
    """One field of an entry and the printed words that announce it."""

    field: str
    kind: FieldKind = "text"
    labels: list[str] = Field(
        min_length=1,
        description="Printed label (form, usually ending in ':') or column header (ledger), "
                    "NFC; the most common printing first, then the variants.")
    of: str | None = Field(
        None, description="For a label printed for several fields (`Tuổi:` after each "
                          "parent, `Dân tộc:` for each spouse): the field whose label comes "
                          "before it in the same entry.")

    @property
    def label(self) -> str:
        """The label of the most common printing, for people (review screen, reports)."""
        return self.labels[0]


class Template(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    name: str
    version: int
    book_type: Literal["birth", "marriage", "death"]
    layout: Literal["form", "ledger"]
    title: str
    entries_per_page: int = Field(description="Usual entries per page; pages may hold fewer.")
    specs: list[TemplateField] = Field(alias="fields")
    required: list[str] = Field(
        default_factory=list,
        description="Fields every entry of such a book has; an empty one is sent to review.")
    starts_entry: str = Field(
        "registration_no", description="The field whose label opens an entry on a form.")

    @property
    def fields(self) -> list[str]:
        """Field names in the register's usual order."""
        return [spec.field for spec in self.specs]

    @cached_property
    def _by_field(self) -> dict[str, TemplateField]:
        return {spec.field: spec for spec in self.specs}

    def spec(self, field: str) -> TemplateField:
        return self._by_field[field]

    def kind_of(self, field: str):
        return self._by_field[field].kind

    def label_of(self, field: str) -> str:
        """The field's usual printed label, without its colon."""
        return self._by_field[field].label.rstrip(":").strip()


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


BOOK_TYPES = ("birth", "marriage", "death")
#: What a clerk calls each book type ("sổ khai sinh"); ``.capitalize()`` for a heading.
BOOK_TYPE_NAMES = {"birth": "khai sinh", "marriage": "kết hôn", "death": "khai tử"}
#: Columns of `records export` that say where an entry is (SPEC §4), before the register's own.
KEY_COLUMNS = ("record_id", "book_id", "page", "row")
#: Who in an entry is linked to a citizen of the population data: a role is the prefix of its
#: fields (``husband_`` → ``husband_citizen_id``), ``""`` the entry's one subject (the child,
#: the deceased), whose link columns close the row. A birth's parents are evidence for the
#: child's link, not people linked. This is the one thing per type the fields cannot say.
LINKED_ROLES = {"birth": ("",), "marriage": ("husband", "wife"), "death": ("",)}


def templates_of(book_type: str, directory: Path = TEMPLATES_DIR) -> list[Template]:
    """Every template of a book type, forms before ledgers (then by name)."""
    found = [load_template(name, directory) for name in available_templates(directory)]
    return sorted((t for t in found if t.book_type == book_type),
                  key=lambda t: (t.layout != "form", t.name))


def register_fields(book_type: str, directory: Path = TEMPLATES_DIR) -> list[str]:
    """The fields a register of this type holds, whatever its printing: the form's in order,
    then what only a ledger has (``notes``), so a new template's new field is a new column.

        >>> register_fields("death")[:3]
        ['registration_no', 'deceased_name', 'sex']
    """
    out: list[str] = []
    for template in templates_of(book_type, directory):
        out += [name for name in template.fields if name not in out]
    return out


def record_columns(book_type: str, directory: Path = TEMPLATES_DIR) -> list[str]:
    """The canonical record columns of SPEC §4 for a book type, built from its templates.

    Where the entry is, the registration (number, volume, date), the people's fields in the
    register's order with each linked spouse's ``<role>_citizen_id, <role>_match_score``
    after that spouse's fields, then notes, status, confidence and the subject's link.

        >>> record_columns("marriage")[7:10]
        ['husband_name', 'husband_birth', 'husband_ethnicity']
        >>> record_columns("birth")[-4:]
        ['status', 'confidence', 'citizen_id', 'match_score']
    """
    fields = register_fields(book_type, directory)
    framing = ("registration_no", "registration_date", "notes")
    body = [name for name in fields if name not in framing]
    for role in (r for r in LINKED_ROLES[book_type] if r):
        own = [i for i, name in enumerate(body) if name.startswith(f"{role}_")]
        at = own[-1] + 1 if own else len(body)
        body[at:at] = [f"{role}_citizen_id", f"{role}_match_score"]
    columns = [*KEY_COLUMNS, "registration_no", "volume", "registration_date", *body]
    columns += [name for name in ("notes",) if name in fields] + ["status", "confidence"]
    if "" in LINKED_ROLES[book_type]:
        columns += ["citizen_id", "match_score"]
    return columns

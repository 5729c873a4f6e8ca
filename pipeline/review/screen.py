"""What the record screen shows: each field with its value, raw reading, reason and suggestions.

Values are shown the way the books write them (``12/03/1968``, ``Nữ``) and typed back the same
way; the clean stage's normalizers turn them into the stored form, so the screen and the
database never disagree on what a value means.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from sqlalchemy.orm import Session

from pipeline.clean.correct import correct_closed, correct_name, correct_text
from pipeline.errors import NotFound
from pipeline.review.links import LINK_FIELDS, LinkPanel, link_panel
from pipeline.review.queue import OPEN_STATUSES, STATUS_LABELS
from pipeline.storage.models import Book, FieldValue, Page, Record
from pipeline.storage.versions import current_values
from pipeline.templates import Template, load_template

#: Fields where the population database's value is offered: places are written too
#: differently there (a district for a clinic) to be a useful suggestion.
CITIZEN_SUGGESTS = ("full_name", "sex", "birth_date", "father_name", "mother_name")
FIELD_LABELS = {"father_age": "Tuổi cha", "mother_age": "Tuổi mẹ", "notes": "Ghi chú"}
STATUS_WORDS = {"read": "đã đọc", "uncertain": "chưa chắc", "illegible": "không đọc được",
                "blank": "để trống"}
SOURCE_WORDS = {"ocr": "OCR", "review": "người duyệt", "import": "nhập từ tệp",
                "population": "dữ liệu dân cư"}


@dataclass
class Suggestion:
    value: str  # as shown and typed
    source: str  # "lexicon" / "population"
    label: str


@dataclass
class FieldView:
    field: str
    label: str
    kind: str
    version: int
    fv_id: int | None
    value: str | None
    display: str
    raw: str
    status: str
    confidence: float
    note: str | None
    source: str
    changed_by: str | None
    box: tuple[int, int, int, int] | None
    suggestions: list[Suggestion] = field(default_factory=list)

    @property
    def needs_attention(self) -> bool:
        return self.status in ("uncertain", "illegible") or bool(self.note and self.status != "blank")

    @property
    def status_words(self) -> str:
        return STATUS_WORDS.get(self.status, self.status)


@dataclass
class RecordScreen:
    record: Record
    book: Book
    page: Page | None
    fields: list[FieldView]
    links: LinkPanel | None
    editable: bool

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.record.status, self.record.status)

    @property
    def attention(self) -> int:
        return sum(f.needs_attention for f in self.fields)


def field_label(template: Template, name: str) -> str:
    if name in FIELD_LABELS:
        return FIELD_LABELS[name]
    if name in template.fields:
        return template.label_of(name)
    return name


def display_value(kind: str, value: str | None) -> str:
    """The stored value as a reviewer types it: ``1968-03-12`` → ``12/03/1968``, ``F`` → ``Nữ``."""
    if value is None:
        return ""
    if kind == "sex":
        return {"M": "Nam", "F": "Nữ"}.get(value, value)
    if kind == "date" and value[:4].isdigit():
        parts = value.split("-")
        if len(parts) == 3:
            return f"{parts[2]}/{parts[1]}/{parts[0]}"
        if len(parts) == 2:
            return f"{parts[1]}/{parts[0]}"
    return value


@lru_cache(maxsize=20_000)
def _lexicon_suggestion(name: str, kind: str, value: str | None) -> str | None:
    """What the lexicons would make of the value if the OCR had been unsure of it.

    Cached: the corrector's OCR distances are the costliest part of a record screen (about
    300 ms a record measured under load), and queues repeat the same places and names.
    """
    if not value:
        return None
    try:
        if kind == "name":
            fix = correct_name(value, 0.0)
        elif name in ("ethnicity", "nationality"):
            fix = correct_closed(name, value)
        elif kind in ("place", "text") and name != "registration_no":
            fix = correct_text(value, 0.0, place=kind == "place")
        else:
            return None
    except Exception:  # noqa: BLE001 - a suggestion is a help, never a reason to fail a page
        return None
    return fix.value if fix and fix.value != value else None


def _kind(template: Template, name: str) -> str:
    try:
        return template.kind_of(name)
    except KeyError:
        return "text"


def _view(template: Template, name: str, fv: FieldValue | None) -> FieldView:
    kind = _kind(template, name)
    if fv is None:
        return FieldView(name, field_label(template, name), kind, 0, None, None, "", "", "blank",
                         0.0, None, "ocr", None, None)
    box = (fv.box_x0, fv.box_y0, fv.box_x1, fv.box_y1)
    return FieldView(name, field_label(template, name), kind, fv.version, fv.id, fv.value,
                     display_value(kind, fv.value), fv.raw, fv.status, fv.confidence, fv.note,
                     fv.source, fv.changed_by, box if None not in box else None)


def record_screen(session: Session, record_id: int) -> RecordScreen:
    """Everything the record screen shows, in the template's reading order."""
    record = session.get(Record, record_id)
    if record is None:
        raise NotFound(f"Không có bản ghi {record_id}")
    book = session.get(Book, record.book_id)
    template = load_template(book.template)
    current = current_values(session, record.id)
    names = list(template.fields) + sorted(set(current) - set(template.fields))
    fields = [_view(template, name, current.get(name)) for name in names]
    values = {f: current[f].value if f in current else None for f in LINK_FIELDS}
    links = link_panel(session, record.id, values, home=book.commune)
    citizen = _suggesting_citizen(links)
    for fv in fields:
        if fv.status == "blank" and not fv.raw:
            continue
        # a field the clean stage read with confidence needs no dictionary second opinion
        lexicon = _lexicon_suggestion(fv.field, fv.kind, fv.value) if fv.status != "read" else None
        if lexicon:
            fv.suggestions.append(Suggestion(display_value(fv.kind, lexicon), "lexicon", "Từ điển"))
        if citizen is not None and fv.field in CITIZEN_SUGGESTS:
            theirs = citizen.values.get(fv.field)
            if theirs and citizen.differs.get(fv.field):
                label = f"Công dân {'đã liên kết' if citizen.status in ('auto', 'confirmed') else 'ứng viên 1'}"
                shown = display_value(fv.kind, theirs)
                same = next((g for g in fv.suggestions if g.value == shown), None)
                if same:
                    same.label += f" · {label}"
                else:
                    fv.suggestions.append(Suggestion(shown, "population", label))
    return RecordScreen(record, book, record.page, fields, links, record.status in OPEN_STATUSES)


def _suggesting_citizen(panel: LinkPanel | None):
    """The citizen whose values are offered: the linked one, else the best candidate."""
    if panel is None or panel.outcome == "rejected":
        return None
    for status in ("confirmed", "auto"):
        for c in panel.candidates:
            if c.status == status:
                return c
    return next((c for c in panel.candidates if c.status == "needs_review"), None)

"""Validation rules over one record: facts that cannot all be true at once.

Each rule has an id (kept stable: reviewers and reports cite it), a severity and a Vietnamese
message. An ``error`` is a contradiction (born after being registered); a ``warning`` is
unusual but possible (a late registration, a father of 81). Either sends the record to a
reviewer: the finding is added to the note of the fields it concerns, which become uncertain.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import Literal

from pipeline.clean.syllables import is_valid_syllable
from pipeline.templates import Template
from pipeline.types import FieldValue

Severity = Literal["error", "warning"]
PARENT_AGES = (12, 80)
LATE_REGISTRATION_DAYS = 365


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: Severity
    message: str
    fields: tuple[str, ...]

    @property
    def note(self) -> str:
        return f"[{self.rule}] {self.message}"


def full_date(fv: FieldValue | None) -> date | None:
    """A full ISO date value, or None (partial dates are not compared)."""
    if fv is None or not fv.value or len(fv.value) != 10:
        return None
    try:
        return date.fromisoformat(fv.value)
    except ValueError:
        return None


def _year(fv: FieldValue | None) -> int | None:
    return int(fv.value[:4]) if fv is not None and fv.value and fv.value[:4].isdigit() else None


def check_record(fields: dict[str, FieldValue], template: Template,
                 book_year: int | None = None) -> list[Finding]:
    """Every rule that one cleaned record breaks.

        >>> from pipeline.templates import load_template
        >>> f = {"birth_date": FieldValue("birth_date", "", "1969-05-02", "read", 0.9),
        ...      "registration_date": FieldValue("registration_date", "", "1968-03-20", "read", 0.9)}
        >>> [(x.rule, x.message) for x in check_record(f, load_template("birth_form"), 1968)][:2]
        [('R01', 'Ngày sinh sau ngày đăng ký'), ('R08', 'Trường bắt buộc bị trống')]
    """
    out: list[Finding] = []
    born, registered = full_date(fields.get("birth_date")), full_date(fields.get("registration_date"))
    if born and registered and born > registered:
        out.append(Finding("R01", "error", "Ngày sinh sau ngày đăng ký",
                           ("birth_date", "registration_date")))
    reg_year = _year(fields.get("registration_date"))
    if book_year and reg_year and reg_year not in (book_year, book_year + 1):
        out.append(Finding("R02", "warning", f"Năm đăng ký {reg_year} khác năm của sổ {book_year}",
                           ("registration_date",)))
    if template.book_type == "birth" and born and registered \
            and (registered - born).days > LATE_REGISTRATION_DAYS:
        out.append(Finding("R03", "warning", "Đăng ký khai sinh quá hạn (sau hơn một năm)",
                           ("birth_date", "registration_date")))
    for name in ("father_age", "mother_age"):
        fv = fields.get(name)
        if fv is not None and fv.value and fv.value.isdigit() \
                and not PARENT_AGES[0] <= int(fv.value) <= PARENT_AGES[1]:
            out.append(Finding("R04", "warning",
                               f"Tuổi của {'cha' if name == 'father_age' else 'mẹ'} "
                               f"({fv.value}) ngoài khoảng {PARENT_AGES[0]}–{PARENT_AGES[1]}",
                               (name,)))
    out += _sex_and_middle_name(fields)
    for name, fv in fields.items():
        if fv.value and template_kind(template, name) == "name":
            bad = [t for t in fv.value.split() if not is_valid_syllable(t.strip("'-"))
                   and "'" not in t and "-" not in t]
            if bad:
                out.append(Finding("R06", "warning",
                                   f"Tên có âm tiết không hợp lệ: {' '.join(bad)}", (name,)))
            if _lacks_surname(fv.value):
                out.append(Finding("R09", "warning", "Họ tên có thể thiếu họ (bắt đầu bằng tên đệm)",
                                   (name,)))
    for name in template.required:
        fv = fields.get(name)
        if fv is None or fv.status == "blank":
            out.append(Finding("R08", "warning", "Trường bắt buộc bị trống", (name,)))
    return out


# Middle names that are never surnames: a full name starting with one lost its surname (the
# first word cut off by a crop, a stain or a fold).
_MIDDLE_ONLY = {"văn", "thị"}


def _lacks_surname(name: str) -> bool:
    """``Văn Hiển`` for ``Hà Văn Hiển``: the surname is missing.

        >>> _lacks_surname("Văn Hiển"), _lacks_surname("Hà Văn Hiển")
        (True, False)
    """
    words = name.split()
    return len(words) >= 2 and words[0].casefold() in _MIDDLE_ONLY


def template_kind(template: Template, field: str) -> str:
    try:
        return template.kind_of(field)
    except KeyError:
        return "text"


def _sex_and_middle_name(fields: dict[str, FieldValue]) -> list[Finding]:
    """R05: a boy called ``… Thị …`` or a girl called ``… Văn …`` (middle names that mark sex)."""
    sex = fields.get("sex")
    name = fields.get("full_name") or fields.get("deceased_name")
    if sex is None or name is None or not sex.value or not name.value:
        return []
    middle = name.value.split()[1:-1]
    if (sex.value == "M" and "Thị" in middle) or (sex.value == "F" and "Văn" in middle):
        return [Finding("R05", "warning", "Giới tính không khớp với tên đệm",
                        ("sex", name.field))]
    return []


def apply_findings(fields: dict[str, FieldValue], findings: list[Finding]
                   ) -> dict[str, FieldValue]:
    """The record with each finding noted on the fields it concerns (made uncertain)."""
    out = dict(fields)
    for finding in findings:
        for name in finding.fields:
            fv = out.get(name)
            if fv is None:
                continue
            note = "; ".join(n for n in (fv.note, finding.note) if n)
            out[name] = replace(fv, status="uncertain", note=note)
    return out

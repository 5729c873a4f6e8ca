"""One page's OCR result as archive XML: PAGE (2019-07-15) and ALTO 4.4, from Jinja templates."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from statistics import fmean
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from pipeline import __version__
from pipeline.types import Box, ExtractedRecord, OcrWord

if TYPE_CHECKING:
    from pipeline.ocr.read_page import PageRead

# Characters XML 1.0 cannot carry at all, not even escaped (Tesseract emits form feeds).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_NOT_NCNAME = re.compile(r"[^A-Za-z0-9_.-]")
#: How a corrected field text came to be, by its source, for the processing step naming it.
_SOURCE_STEPS = {
    "review": "field values corrected or confirmed by a reviewer",
    "population": "field values taken from the population database by a reviewer",
    "import": "field values typed by the commune (records import)",
}


@dataclass
class ArchivePage:
    """What one page's archive XML is made of: the image, what OCR read, and who read it.

    ``corrected`` maps ``(row, field)`` to a reviewer's text; it replaces ``FieldValue.raw`` as
    the text of that field (written without an OCR confidence, marked as corrected), so the
    archive copy can carry approved values while the OCR words stay as read. ``sources`` says
    where a corrected text came from (``review``, the default, ``population``, ``import``): it
    is written beside the line as a processing step of its own. ``created`` (when the page was
    read) defaults to now (UTC), ``changed`` (the newest correction) to ``created``; pass them
    for byte-identical output.

        >>> page = ArchivePage.from_read(read, "page-001.png", 2480, 3508)  # doctest: +SKIP
    """

    image_filename: str
    width: int
    height: int
    words: Sequence[OcrWord]
    records: Sequence[ExtractedRecord]
    ocr_version: str
    corrected: Mapping[tuple[int, str], str] = field(default_factory=dict)
    sources: Mapping[tuple[int, str], str] = field(default_factory=dict)
    page_number: int = 1  # ALTO's PHYSICAL_IMG_NR: the page's position in the book
    software: str = "hotich"
    software_version: str = __version__
    created: datetime | None = None
    changed: datetime | None = None

    @classmethod
    def from_read(cls, read: PageRead, image_filename: str, width: int, height: int,
                  **kwargs: Any) -> ArchivePage:
        """The page as ``read_page`` returned it (its boxes are already in image pixels)."""
        return cls(image_filename, width, height, read.words, read.records, read.ocr_version,
                   **kwargs)


def page_xml(page: ArchivePage) -> str:
    """PAGE XML (PRImA 2019-07-15) of one page.

        >>> page = ArchivePage.from_read(read, "page-001.png", 2480, 3508)  # doctest: +SKIP
        >>> page_xml(page).count("<TextRegion")                            # doctest: +SKIP
        4

    Two kinds of TextRegion, in two ``Layers`` because they overlap on the page:

    * one per record (``custom="structure {type:record;} record {row:N;}"``), holding one
      TextLine per field with a box (``structure {type:<field>;}``, the Transkribus tag
      convention), its text the corrected value or the raw read;
    * one per Tesseract block, its TextLines and Words as the page was read, each Word with
      its own box and confidence.

    Words are not nested in the field lines because a field's text is not the words under its
    box: fields are re-read from their crops (digits by another model) or corrected, and PAGE
    expects a line's TextEquiv to be its words joined. Separate layers keep each level
    consistent, validate, and let a viewer show either the entries or the raw page read.
    A corrected line's TextEquiv has no ``conf`` and ``comments="corrected"``, its ``custom``
    adds ``source {type:review;}`` (or ``population``, ``import``), and the Metadata holds one
    ``processingStep`` item per source dated ``changed`` (also the ``LastChange``).
    Blank fields are left out: there is no text to archive (and ALTO allows no empty line).
    The string declares UTF-8: write it encoded as UTF-8 (lxml parses it only as bytes).
    """
    return _render("page.xml.j2", page)


def alto_xml(page: ArchivePage) -> str:
    """ALTO 4.4 of one page, in pixels: a TextBlock per record, a TextLine per field.

        >>> Path("page-001.alto.xml").write_text(alto_xml(page), encoding="utf-8")  # doctest: +SKIP

    ALTO has no layers, so records and Tesseract blocks are both TextBlocks of the PrintSpace,
    told apart by ``TAGREFS`` to StructureTags (``record``, ``field_<name>``, ``page read``).
    A field's words have no boxes of their own (its text may be a re-read or a correction), so
    its Strings share the field box in proportion to their length: good enough to highlight,
    not a measurement. The page-read blocks carry the real word boxes. Corrected fields get
    ``CS="true"``, no ``WC``, and ``PROCESSINGREFS`` to a ``Processing`` step per source
    (``processing_review`` …, category ``contentModification``, dated ``changed``).
    """
    return _render("alto.xml.j2", page)


@dataclass
class _Word:
    id: str
    text: str
    conf: float | None
    box: Box


@dataclass
class _Line:
    id: str
    box: Box
    text: str
    conf: float | None
    strings: list[_Word]  # ALTO Strings: the page words, or a field's text split
    words: list[_Word] = field(default_factory=list)  # PAGE Words: page-read lines only
    name: str = ""  # the field (record lines only)
    corrected: bool = False
    source: str = ""  # where a corrected text came from, as an NCName (review, population …)


@dataclass
class _Block:
    id: str
    box: Box
    lines: list[_Line]
    row: int | None = None  # None for a block of the page read


class _Ids:
    """Unique NCNames: a field name from a template may hold anything, rows may repeat."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def new(self, base: str) -> str:
        base = _ncname(base)
        name, n = base, 1
        while name in self.seen:
            n += 1
            name = f"{base}_{n}"
        self.seen.add(name)
        return name


def _render(template: str, page: ArchivePage) -> str:
    ids = _Ids()
    records = _record_blocks(page, ids)
    read = _read_blocks(page, ids)
    created = (page.created or datetime.now(timezone.utc)).astimezone(timezone.utc)
    changed = max(created, (page.changed or created).astimezone(timezone.utc))
    corrections = [(source, _SOURCE_STEPS.get(source, f"field values from {source}"))
                   for source in sorted({line.source for block in records
                                         for line in block.lines if line.corrected})]
    return _env().get_template(template).render(
        page=page, records=records, read=read,
        image_filename=_text(page.image_filename), ocr_version=_text(page.ocr_version),
        software=_text(page.software), software_version=_text(page.software_version),
        created=created.strftime("%Y-%m-%dT%H:%M:%SZ"),
        changed=changed.strftime("%Y-%m-%dT%H:%M:%SZ"),
        field_tags=sorted({line.name for block in records for line in block.lines}),
        corrections=corrections,
    )


def _record_blocks(page: ArchivePage, ids: _Ids) -> list[_Block]:
    blocks = []
    for record in page.records:
        block_id = ids.new(f"r{record.row}")
        lines = []
        for name, value in record.fields.items():
            corrected = (record.row, name) in page.corrected
            text = _text(page.corrected[(record.row, name)] if corrected else value.raw)
            box = _clip(value.box, page)
            if not text or box is None:
                continue
            line_id = ids.new(f"{block_id}_{name}")
            conf = None if corrected else _conf(value.confidence)
            source = _ncname(page.sources.get((record.row, name)) or "review") if corrected else ""
            lines.append(_Line(line_id, box, text, conf, _spread(text, box, conf, line_id, ids),
                               name=_ncname(name), corrected=corrected, source=source))
        # Form field boxes run past the entry's box (to the page margin): a region holds its lines.
        box = _union([b for b in [_clip(record.box, page), *(ln.box for ln in lines)] if b])
        if box is not None:
            blocks.append(_Block(block_id, box, lines, record.row))
    return blocks


def _read_blocks(page: ArchivePage, ids: _Ids) -> list[_Block]:
    grouped: dict[int, dict[tuple[int, int, int], list[tuple[str, float, Box]]]] = {}
    for word in page.words:
        text, box = _text(word.text), _clip(word.box, page)
        if text and box is not None:
            grouped.setdefault(word.line[0], {}).setdefault(word.line, []).append(
                (text, word.confidence, box))
    blocks = []
    for block_no, lines in grouped.items():
        block_id = ids.new(f"ocr_b{block_no}")
        out = []
        for key, words in lines.items():
            line_id = ids.new("ocr_l" + "_".join(map(str, key)))
            items = [_Word(ids.new(f"{line_id}_w{i}"), t, _conf(c), b)
                     for i, (t, c, b) in enumerate(words, 1)]
            out.append(_Line(line_id, _union([w.box for w in items]),
                             " ".join(w.text for w in items),
                             _conf(fmean(w.conf for w in items)), items, items))
        blocks.append(_Block(block_id, _union([ln.box for ln in out]), out))
    return blocks


def _spread(text: str, box: Box, conf: float | None, line_id: str, ids: _Ids) -> list[_Word]:
    tokens = text.split(" ")
    x0, y0, x1, y1 = box
    unit = (x1 - x0) / (len(text) or 1)
    words, x = [], float(x0)
    for i, token in enumerate(tokens, 1):
        end = min(x + len(token) * unit, x1)
        words.append(_Word(ids.new(f"{line_id}_s{i}"), token, conf,
                           (round(x), y0, max(round(end), round(x)), y1)))
        x = end + unit
    return words


def _text(value: str | None) -> str:
    """NFC, XML-safe, one line with single spaces (a ledger value wrapped in its cell)."""
    value = _NOT_XML.sub("", unicodedata.normalize("NFC", value or ""))
    return " ".join(value.split())


def _ncname(value: str) -> str:
    value = _NOT_NCNAME.sub("_", value)
    return value if value[:1].isalpha() or value[:1] == "_" else f"x{value}"


def _conf(value: float) -> float:
    return round(min(max(float(value), 0.0), 1.0), 4)


def _clip(box: Box | None, page: ArchivePage) -> Box | None:
    """The box inside the image, or None when nothing of it is: a deskewed page's boxes can
    poke past the edge, and PAGE allows no negative coordinate."""
    if box is None:
        return None
    x0, x1 = (min(max(int(v), 0), page.width - 1) for v in sorted((box[0], box[2])))
    y0, y1 = (min(max(int(v), 0), page.height - 1) for v in sorted((box[1], box[3])))
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None


def _union(boxes: Sequence[Box]) -> Box | None:
    if not boxes:
        return None
    return (min(b[0] for b in boxes), min(b[1] for b in boxes),
            max(b[2] for b in boxes), max(b[3] for b in boxes))


def _points(box: Box) -> str:
    x0, y0, x1, y1 = box
    return f"{x0},{y0} {x1},{y0} {x1},{y1} {x0},{y1}"


@lru_cache(maxsize=1)
def _env() -> Environment:
    env = Environment(loader=PackageLoader("pipeline.ocr", "templates"), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                      keep_trailing_newline=True)
    env.filters["points"] = _points
    return env

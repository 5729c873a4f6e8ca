"""Plain data passed between stages: picklable, so a page can be processed on any worker.

Nouns for data (STYLE.md): an ``OcrWord`` is what the engine saw, a ``FieldValue`` what the
extract and clean stages made of one field, an ``ExtractedRecord`` one entry of a page, and a
``PageResult`` everything a worker returns for one page for the driver to persist.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 in pixels of the stored page image
FieldStatus = Literal["read", "uncertain", "illegible", "blank"]
FieldSource = Literal["ocr", "review", "import", "population"]


@dataclass(frozen=True)
class OcrWord:
    text: str
    confidence: float  # 0..1
    box: Box
    line: tuple[int, int, int] = (0, 0, 0)  # Tesseract block, paragraph, line numbers


@dataclass
class FieldValue:
    field: str
    raw: str  # verbatim text read, NFC
    value: str | None  # normalized value (None when blank or not understood)
    status: FieldStatus
    confidence: float
    source: FieldSource = "ocr"
    box: Box | None = None
    note: str | None = None  # why it is uncertain, in Vietnamese, for the reviewer
    unit: str | None = None  # places: the gazetteer unit the text resolved to
    # each reader's own text and confidence ({"tesseract": (raw, 0.91), "asterocr": ...}),
    # kept beside the chosen ``raw`` when more than one reader read the region
    readings: dict[str, tuple[str, float]] | None = None


@dataclass
class ExtractedRecord:
    row: int  # 1-based position of the entry on its page, top to bottom
    fields: dict[str, FieldValue]
    box: Box | None = None  # the entry's region of the page


@dataclass
class LayoutFit:
    """How well a page's printing was understood, as the reader saw it.

    ``score`` is 1 when every label (form) or column header (ledger) of the template was found
    where the entries' structure says it should be, and falls with each one missing, each
    entry that had to be guessed and each line that fits no label; ``problems`` says what, in
    Vietnamese, one item each, for the page's ``needs_attention`` reason.
    """

    score: float = 1.0
    entries: int = 0  # entries the reader found on the page
    labels_expected: int = 0  # labels / headers the template says the found entries have
    labels_found: int = 0
    problems: list[str] = field(default_factory=list)


@dataclass
class PageResult:
    page_id: int
    records: list[ExtractedRecord] = field(default_factory=list)
    words: list[OcrWord] = field(default_factory=list)
    error: str | None = None  # one-line reason when the page failed
    stage_versions: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    width: int | None = None  # of the rendered image that boxes refer to
    height: int | None = None
    #: why the page cannot be ``done`` although it was read (no entry, fewer entries than its
    #: registration numbers imply, labels not found, a poor fit): Vietnamese, one line
    attention: str | None = None
    fit: LayoutFit | None = None

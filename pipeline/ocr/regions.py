"""Shared by the form and ledger extractors: lines of words, reading one page region, tidy text."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import cv2
import numpy as np

from pipeline.ocr.engine import OcrEngine
from pipeline.types import Box, FieldValue, OcrWord

# Leader dots and rules come out as runs of these; a single '.' may be an abbreviation or date.
_LEADER = re.compile(r"[.…·•_‥,:;'`~\-]{3,}|[…‥_]+")
_EDGE = re.compile(r"^[\s.,:;…·•_|'`~\-]+|[\s,:;…·•_|'`~\-]+$|(?<=\D)\.+$")
DATE_CHARS = "0123456789/-."
DIGITS = "0123456789"


@dataclass
class Line:
    """Words on one visual text line, left to right."""

    words: list[OcrWord]

    @property
    def box(self) -> Box:
        return union([w.box for w in self.words])

    @property
    def height(self) -> int:
        return int(np.median([w.box[3] - w.box[1] for w in self.words]))


def union(boxes: list[Box]) -> Box:
    return (min(b[0] for b in boxes), min(b[1] for b in boxes),
            max(b[2] for b in boxes), max(b[3] for b in boxes))


def group_lines(words: list[OcrWord]) -> list[Line]:
    """Cluster words into visual lines by vertical overlap, top to bottom.

    Tesseract's own line ids split one printed line into several blocks when a label and its
    value are far apart, so geometry is trusted instead.
    """
    lines: list[list[OcrWord]] = []
    for word in sorted(words, key=lambda w: (w.box[1] + w.box[3]) / 2):
        cy = (word.box[1] + word.box[3]) / 2
        h = word.box[3] - word.box[1]
        if lines:
            last = lines[-1]
            ly0 = np.median([w.box[1] for w in last])
            ly1 = np.median([w.box[3] for w in last])
            lcy = (ly0 + ly1) / 2
            if abs(cy - lcy) < 0.5 * max(min(h, ly1 - ly0), 1):
                last.append(word)
                continue
        lines.append([word])
    return [Line(sorted(ws, key=lambda w: w.box[0])) for ws in lines]


def clean_text(text: str) -> str:
    """NFC, leader dots and stray edge punctuation removed, single spaces.

        >>> clean_text(": Nguyễn Văn A.......... ")
        'Nguyễn Văn A'
    """
    text = unicodedata.normalize("NFC", text)
    text = _LEADER.sub(" ", text)
    text = " ".join(text.split())
    text = _EDGE.sub("", text)
    return " ".join(text.split())


def ink_ratio(binary: np.ndarray, box: Box) -> float:
    x0, y0, x1, y1 = box
    crop = binary[max(0, y0):y1, max(0, x0):x1]
    if crop.size == 0:
        return 0.0
    return float(np.count_nonzero(crop < 128)) / crop.size


def crop(image: np.ndarray, box: Box, border: int = 12) -> np.ndarray:
    """Crop with a white border: Tesseract reads glyphs touching the edge badly."""
    h, w = image.shape[:2]
    x0, y0, x1, y1 = max(0, box[0]), max(0, box[1]), min(w, box[2]), min(h, box[3])
    part = image[y0:y1, x0:x1]
    if part.size == 0:
        return part
    return cv2.copyMakeBorder(part, border, border, border, border, cv2.BORDER_CONSTANT, value=255)


def read_region(
    engine: OcrEngine, image: np.ndarray, box: Box, *, psm: int = 7,
    whitelist: str | None = None, border: int = 12,
) -> list[OcrWord]:
    """OCR one region; returned word boxes are in page pixels."""
    part = crop(image, box, border)
    if part.size == 0 or part.shape[0] < 8 or part.shape[1] < 8:
        return []
    dx, dy = max(0, box[0]) - border, max(0, box[1]) - border
    return [
        OcrWord(w.text, w.confidence, (w.box[0] + dx, w.box[1] + dy, w.box[2] + dx, w.box[3] + dy), w.line)
        for w in engine.recognize(part, psm=psm, whitelist=whitelist)
    ]


def words_text(words: list[OcrWord]) -> str:
    """Words in reading order (by line, then x) joined with spaces."""
    return " ".join(line_text(line.words) for line in group_lines(words))


def line_text(words: list[OcrWord]) -> str:
    return " ".join(w.text for w in sorted(words, key=lambda w: w.box[0]))


def confidence_of(words: list[OcrWord]) -> float:
    """Field confidence: the weakest word that carries text.

    One misread word makes the whole field wrong, so the minimum, not the mean, says how far
    the field can be trusted. Leader-dot 'words' are ignored.
    """
    scores = [w.confidence for w in words if clean_text(w.text)]
    return round(min(scores), 3) if scores else 0.0


def field_value(
    field: str, words: list[OcrWord], box: Box | None, binary: np.ndarray | None,
    *, min_ink: float = 0.004,
) -> FieldValue:
    """Build the extract stage's FieldValue: read, blank (no ink) or illegible (ink, no text)."""
    raw = clean_text(words_text(words)) if words else ""
    if raw:
        return FieldValue(field=field, raw=raw, value=None, status="read",
                          confidence=confidence_of(words), box=box)
    ink = ink_ratio(binary, box) if (binary is not None and box is not None) else 0.0
    if ink >= min_ink:
        return FieldValue(field=field, raw="", value=None, status="illegible", confidence=0.0,
                          box=box, note="Có nét chữ nhưng không đọc được")
    return FieldValue(field=field, raw="", value=None, status="blank",
                      confidence=round(1.0 - min(1.0, ink / min_ink), 3) if min_ink else 1.0, box=box)

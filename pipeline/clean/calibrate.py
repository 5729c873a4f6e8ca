"""Field confidence as a probability of being right, learned from generated pages.

Tesseract's word scores rank readings but are not probabilities: on hand-writing-like values
a right reading often scores 0.55, and the old rule (review everything under 0.80) sent nine
records in ten to a reviewer although most were right. What predicts a right field is the OCR
score together with what the clean stage knows: whether two independent reads agreed, whether
every word of the value is one the lexicon expects in that field, whether a correction was
needed. A logistic model over these, fitted by ``bench/calibrate.py`` on the benchmark's tune
split (never its holdout), turns them into P(right); the accept threshold is the lowest that
kept auto-accepted fields ≥ 99.5 % right there. Both live in data/calibration/fields.json with
their provenance, so refitting is a data change.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pipeline.clean.correct import in_closed_list
from pipeline.clean.lexicon import name_lexicon, register_words
from pipeline.types import FieldValue

CALIBRATION_FILE = Path(__file__).resolve().parents[2] / "data" / "calibration" / "fields.json"
#: The model for fields two readers read (Tesseract and the neural one, issue 16): fitted on
#: pages read that way, since agreement between readers means something only there.
TWO_READER_FILE = CALIBRATION_FILE.with_name("fields-two-readers.json")
# OCR score steps as well as the score: right reads bunch above 0.9, and the relation is far
# from linear (checked by two-fold cross-validation in bench/calibrate.py's samples).
OCR_STEPS = (0.5, 0.7, 0.8, 0.9, 0.95)
FEATURES = ("ocr", "agree", "known", "corrected", "numeric", "short",
            *(f"ocr_{round(step * 100)}" for step in OCR_STEPS), "fit", "placed", "partial",
            "one_char", "kind_name", "kind_date", "kind_place", "kind_closed")
#: Only in the two-reader model (``TWO_READER_FILE``).
READER_FEATURES = ("readers_agree", "readers_differ")
#: Fields whose values come from a short closed list: a slip there rarely makes another word.
CLOSED_FIELDS = {"sex", "ethnicity", "nationality"}
DISAGREE_NOTE = "Hai lần đọc khác nhau"
#: The form reader's note on a value whose label it placed from the other entries.
PLACED_NOTE = "Không đọc được nhãn in"
NUMERIC_KINDS = {"date", "age", "sex"}


@dataclass(frozen=True)
class Calibration:
    weights: dict[str, float]
    bias: float
    accept: float  # P(right) from which a field is accepted without a reviewer

    def probability(self, features: dict[str, float]) -> float:
        z = self.bias + sum(self.weights.get(k, 0.0) * v for k, v in features.items())
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


@lru_cache(maxsize=2)
def load_calibration(path: Path = CALIBRATION_FILE) -> Calibration | None:
    """The fitted model, or None when none is shipped (raw OCR confidence is used then)."""
    if not path.exists():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    return Calibration(data["weights"], data["bias"], data["accept"])


def calibration_for(two_readers: bool) -> Calibration | None:
    """The model for a field one reader read, or two (falling back to the one-reader model
    when no two-reader model is shipped)."""
    if two_readers:
        model = load_calibration(TWO_READER_FILE)
        if model is not None:
            return model
    return load_calibration(CALIBRATION_FILE)


def _known_words(value: str, field: str, kind: str) -> bool:
    """Every word of the value is one the lexicon expects in this field."""
    if kind in NUMERIC_KINDS or field == "registration_no":
        return True  # parsed, or it would have no value
    if field in ("ethnicity", "nationality"):
        return in_closed_list(field, value)
    words = value.replace(",", " ").replace("(", " ").replace(")", " ").split()
    if kind == "name":
        lex = name_lexicon()
        if not words or words[0] not in lex.surnames:
            return False
        return all(w in lex.middle or w in lex.given for w in words[1:])
    vocab = register_words()
    return all(w.isdigit() or w in vocab or w.lower() in vocab for w in words)


def doubt_reasons(features: dict[str, float]) -> list[str]:
    """Why the model doubts a reading, in words a reviewer can check against the crop.

    A probability alone ("0,98") beside a right value tells the reviewer nothing to look
    for; these name what pulled it down, strongest first.

        >>> doubt_reasons({"ocr": 0.6, "agree": 0.0, "known": 0.0, "kind_name": 1.0, "fit": 1.0})
        ['máy đọc chữ không chắc (60 %)', 'hai lần đọc cho kết quả khác nhau', 'có từ không có trong từ điển họ tên']
    """
    out = []
    if features.get("ocr", 1.0) < 0.9:
        out.append(f"máy đọc chữ không chắc ({features['ocr'] * 100:.0f} %)".replace(".", ","))
    if features.get("readers_differ") or not features.get("agree", 1.0):
        out.append("hai lần đọc cho kết quả khác nhau")
    if not features.get("known", 1.0):
        lexicon = ("họ tên" if features.get("kind_name") else "địa danh" if features.get("kind_place")
                   else None)
        if lexicon:
            out.append(f"có từ không có trong từ điển {lexicon}")
    if features.get("fit", 1.0) < 0.8:
        out.append("trang khớp mẫu sổ kém (bố cục lạ)")
    if features.get("placed"):
        out.append("không thấy nhãn in, vị trí trường được đoán theo mẫu")
    if features.get("partial"):
        out.append("ngày thiếu phần (chỉ có tháng hoặc năm)")
    if features.get("one_char"):
        out.append("giá trị chỉ có một ký tự")
    return out


def field_features(ocr: FieldValue, value: str, note: str | None, kind: str,
                   fit: float = 1.0, readers: str | None = None) -> dict[str, float]:
    """What the model looks at, from the OCR field, the clean stage's value and note, and how
    well the page fit its template (``LayoutFit.score``: a printing the reader half-understood
    is where confident wrong values come from, whatever each word's score says).

    ``readers`` says whether the two readers (Tesseract and the neural one) gave the same
    normalized value (``"agree"``), different ones (``"differ"``), or there was one reading
    (None): independent readers trained on different data are rarely wrong the same way.
    """
    return {
        "ocr": ocr.confidence,
        "agree": 0.0 if ocr.note == DISAGREE_NOTE else 1.0,
        "known": 1.0 if _known_words(value, ocr.field, kind) else 0.0,
        "corrected": 1.0 if note and "Sửa theo" in note else 0.0,
        "numeric": 1.0 if kind in NUMERIC_KINDS or ocr.field == "registration_no" else 0.0,
        "short": 1.0 if len(value) <= 3 else 0.0,
        **{f"ocr_{round(step * 100)}": float(ocr.confidence >= step) for step in OCR_STEPS},
        "fit": float(fit),
        "placed": 1.0 if ocr.note and ocr.note.startswith(PLACED_NOTE) else 0.0,
        # a date without its day, or a one-character value: what a lost part leaves behind
        "partial": 1.0 if kind == "date" and len(value) < 10 else 0.0,
        "one_char": 1.0 if len(value.strip()) == 1 else 0.0,
        # how often a reading of each kind is right differs: names and dates carry the slips
        "kind_name": 1.0 if kind == "name" else 0.0,
        "kind_date": 1.0 if kind == "date" else 0.0,
        "kind_place": 1.0 if kind == "place" else 0.0,
        "kind_closed": 1.0 if kind == "sex" or ocr.field in CLOSED_FIELDS else 0.0,
        "readers_agree": 1.0 if readers == "agree" else 0.0,
        "readers_differ": 1.0 if readers == "differ" else 0.0,
    }

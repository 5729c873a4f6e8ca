"""The OCR engine interface, and a recorded fake so tests and dev runs need no Tesseract.

Everything above this module (form/ledger extraction, read_page) talks to an ``OcrEngine``;
``TesseractEngine`` (in ``tesseract.py``) is the real one, ``RecordedEngine`` replays words that
were captured earlier (``RecordingEngine`` captures them), like httpx's ``MockTransport``.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.types import OcrWord


class OcrEngine(ABC):
    """Recognize the words of one image (a page or a crop of it).

    Boxes are in the pixel space of the image passed in; confidences are in [0, 1].
    """

    name: str = "abstract"

    @property
    @abstractmethod
    def version(self) -> str:
        """Engine and model version, stored with every result for provenance."""

    @abstractmethod
    def recognize(
        self, image: np.ndarray, *, psm: int = 6, whitelist: str | None = None
    ) -> list[OcrWord]:
        """Words of ``image`` (gray or RGB uint8) in reading order."""

    def for_numbers(self) -> OcrEngine:
        """The engine to read dates, ages and numbers with; the same one unless a subclass
        knows better (Tesseract: ``eng`` reads hand-written digits far better than ``vie``)."""
        return self


def image_key(image: np.ndarray, psm: int = 6, whitelist: str | None = None) -> str:
    """Stable key of one recognize() call: same pixels and settings → same key."""
    h = hashlib.sha1()
    h.update(str((image.shape, str(image.dtype), psm, whitelist or "")).encode())
    h.update(np.ascontiguousarray(image).tobytes())
    return h.hexdigest()[:20]


def _word_to_json(word: OcrWord) -> dict[str, Any]:
    return {"text": word.text, "confidence": word.confidence, "box": list(word.box),
            "line": list(word.line)}


def _word_from_json(data: dict[str, Any]) -> OcrWord:
    return OcrWord(
        text=data["text"],
        confidence=float(data["confidence"]),
        box=tuple(int(v) for v in data["box"]),  # type: ignore[arg-type]
        line=tuple(int(v) for v in data.get("line", (0, 0, 0))),  # type: ignore[arg-type]
    )


class RecordedEngine(OcrEngine):
    """Replays words captured earlier: by image key when known, else by call order.

    ``recording`` is ``{"version": str, "calls": [{"key": str, "words": [...]}, ...]}`` (the
    format ``RecordingEngine.save`` writes) or a path to such a JSON file. A call whose key is
    unknown gets the next unused recorded call, so a hand-written recording (keys left empty)
    replays in order; once exhausted, it returns no words, like a blank image.

        >>> engine = RecordedEngine({"calls": [{"key": "", "words": [
        ...     {"text": "Số:", "confidence": 0.9, "box": [0, 0, 40, 20]}]}]})
        >>> engine.recognize(np.zeros((20, 40), np.uint8))[0].text
        'Số:'
    """

    name = "recorded"

    def __init__(self, recording: dict[str, Any] | str | Path):
        if not isinstance(recording, dict):
            recording = json.loads(Path(recording).read_text(encoding="utf-8"))
        self._version = str(recording.get("version", "recorded"))
        self._calls = [
            (c.get("key") or "", [_word_from_json(w) for w in c.get("words", [])])
            for c in recording.get("calls", [])
        ]
        self._by_key = {key: i for i, (key, _) in enumerate(self._calls) if key}
        self._used: set[int] = set()
        self.misses = 0  # calls answered in order rather than by key

    @property
    def version(self) -> str:
        return self._version

    def recognize(
        self, image: np.ndarray, *, psm: int = 6, whitelist: str | None = None
    ) -> list[OcrWord]:
        index = self._by_key.get(image_key(image, psm, whitelist))
        if index is None:
            self.misses += 1
            index = next((i for i in range(len(self._calls)) if i not in self._used), None)
            if index is None:
                return []
        self._used.add(index)
        return list(self._calls[index][1])


class RecordingEngine(OcrEngine):
    """Wraps a real engine and keeps every call, to be saved and replayed by RecordedEngine."""

    def __init__(self, inner: OcrEngine, calls: list[dict[str, Any]] | None = None):
        self.inner = inner
        self.name = f"recording:{inner.name}"
        self.calls: list[dict[str, Any]] = [] if calls is None else calls

    def for_numbers(self) -> OcrEngine:
        # Same call log, so one recording replays both engines in call order.
        numbers = self.inner.for_numbers()
        return self if numbers is self.inner else RecordingEngine(numbers, self.calls)

    @property
    def version(self) -> str:
        return self.inner.version

    def recognize(
        self, image: np.ndarray, *, psm: int = 6, whitelist: str | None = None
    ) -> list[OcrWord]:
        words = self.inner.recognize(image, psm=psm, whitelist=whitelist)
        self.calls.append({"key": image_key(image, psm, whitelist),
                           "words": [_word_to_json(w) for w in words]})
        return words

    def recording(self) -> dict[str, Any]:
        return {"version": self.version, "calls": list(self.calls)}

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.recording(), ensure_ascii=False, indent=1),
                              encoding="utf-8")

"""The only module that talks to Tesseract (through pytesseract): page/crop → OcrWord list."""

from __future__ import annotations

import os
import unicodedata
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytesseract

from pipeline.errors import MissingDependency
from pipeline.ocr.engine import OcrEngine
from pipeline.settings import get_settings
from pipeline.types import OcrWord

INSTALL_HINT = "cài đặt bằng: apt-get install tesseract-ocr tesseract-ocr-vie"
BEST_HINT = "chạy lại scripts/install.sh để tải mô hình tessdata_best, hoặc đặt HOTICH_OCR_MODEL=fast"


def _tessdata_config(tessdata_dir: Path | None) -> str:
    return f'--tessdata-dir "{tessdata_dir}"' if tessdata_dir else ""


def check_tesseract(lang: str = "vie", tessdata_dir: Path | None = None) -> str:
    """Return the Tesseract version, or raise MissingDependency saying how to install it.

    Checked per ``tesseract_cmd`` (not once per process) so a changed path is seen.
    """
    return _check(pytesseract.pytesseract.tesseract_cmd, lang, tessdata_dir)


@lru_cache(maxsize=8)
def _check(cmd: str, lang: str, tessdata_dir: Path | None = None) -> str:
    try:
        version = str(pytesseract.get_tesseract_version())
    except (pytesseract.TesseractNotFoundError, OSError) as exc:
        raise MissingDependency(
            "Không tìm thấy chương trình Tesseract OCR", hint=INSTALL_HINT
        ) from exc
    try:
        langs = set(pytesseract.get_languages(config=_tessdata_config(tessdata_dir)))
    except pytesseract.TesseractError as exc:  # pragma: no cover - broken install
        raise MissingDependency("Tesseract OCR không chạy được", hint=INSTALL_HINT) from exc
    missing = [part for part in lang.split("+") if part not in langs]
    if missing:
        raise MissingDependency(
            f"Thiếu dữ liệu ngôn ngữ '{'+'.join(missing)}' của Tesseract"
            + (f" trong {tessdata_dir}" if tessdata_dir else ""),
            hint=BEST_HINT if tessdata_dir else INSTALL_HINT,
        )
    return version


class TesseractEngine(OcrEngine):
    """Tesseract 5 (LSTM) with the ``vie`` model: tessdata_fast from Debian, or tessdata_best
    (``model="best"`` or HOTICH_OCR_MODEL=best) from the folder scripts/install.sh fills.

    ``thresholding_method=2`` (Sauvola inside Tesseract) copes with uneven, yellowed paper better
    than its default Otsu; on images we already binarized it changes nothing. Tesseract's word
    confidences (0..100) become 0..1. OMP_THREAD_LIMIT=1 is set when unset: on 2-core PCs,
    parallel pages beat OpenMP threads inside one page.
    """

    name = "tesseract"

    def __init__(self, lang: str = "vie", *, thresholding_method: int = 2, extra_config: str = "",
                 model: str | None = None, tessdata_best_dir: Path | None = None):
        os.environ.setdefault("OMP_THREAD_LIMIT", "1")
        if model is None or (model == "best" and tessdata_best_dir is None):
            # only what the caller left out comes from this process's environment: a page
            # task carries both, so a remote worker reads with the driver's model
            settings = get_settings()
            model = model or settings.ocr_model
            tessdata_best_dir = tessdata_best_dir or settings.tessdata_best_dir
        self.model = model
        self.tessdata_dir = tessdata_best_dir if model == "best" else None
        self.lang = lang
        self.thresholding_method = thresholding_method
        self.extra_config = extra_config
        self._version = check_tesseract(lang, self.tessdata_dir)
        self._numbers: TesseractEngine | None = None

    @property
    def version(self) -> str:
        model = "-best" if self.model == "best" else ""
        return f"tesseract-{self._version}-{self.lang}{model}-t{self.thresholding_method}"

    def for_numbers(self) -> OcrEngine:
        """``eng`` alone: on generated hand-written pages (tune split, four hand fonts) it read
        the digits of 84 % of date and number fields right against 78 % for ``vie+eng`` (which
        itself beat ``vie``, 67 % against 20 % on ledgers), typed ones as well (99.7 % against
        98.9 %), and it is the faster model. It loses the diacritics of words around the
        digits ("ngay 5 thang 12"), so its reading is merged with the ``vie`` one
        (``regions.merge_number_read``) and it is used for numeric fields only."""
        if self.lang == "eng":
            return self
        if self._numbers is None:
            try:
                self._numbers = TesseractEngine(
                    "eng", thresholding_method=self.thresholding_method,
                    extra_config=self.extra_config, model=self.model,
                    tessdata_best_dir=self.tessdata_dir,
                )
            except MissingDependency:  # no 'eng' model: digits are read with vie alone
                self._numbers = self
        return self._numbers

    def recognize(
        self, image: np.ndarray, *, psm: int = 6, whitelist: str | None = None
    ) -> list[OcrWord]:
        if image.size == 0:
            return []
        config = f"--psm {psm} -c thresholding_method={self.thresholding_method}"
        if whitelist:
            # Tesseract 5's LSTM honours the whitelist (checked on 5.3); quotes keep spaces.
            config += f" -c tessedit_char_whitelist={_quote(whitelist)}"
        for extra in (_tessdata_config(self.tessdata_dir), self.extra_config):
            if extra:
                config += " " + extra
        try:
            data = pytesseract.image_to_data(
                np.ascontiguousarray(image), lang=self.lang, config=config,
                output_type=pytesseract.Output.DICT,
            )
        except pytesseract.TesseractNotFoundError as exc:
            raise MissingDependency(
                "Không tìm thấy chương trình Tesseract OCR", hint=INSTALL_HINT
            ) from exc
        return _words_from_data(data)


def detect_orientation(image: np.ndarray) -> tuple[int | None, float]:
    """Tesseract's orientation detection (OSD) on a page: degrees to turn it clockwise, and
    Tesseract's confidence. Too little text, or any Tesseract error, is "unknown" (None, 0):
    a page is then left as it is, never failed.
    """
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    try:
        osd = pytesseract.image_to_osd(np.ascontiguousarray(image),
                                       config="--psm 0 -c min_characters_to_try=30",
                                       output_type=pytesseract.Output.DICT)
    except (pytesseract.TesseractError, OSError, ValueError):
        return None, 0.0
    return int(osd.get("rotate", 0)), float(osd.get("orientation_conf", 0.0))


def _quote(text: str) -> str:
    if any(c.isspace() or c in "'\"" for c in text):
        raise ValueError("whitelist must not contain spaces or quotes")
    return text


def _words_from_data(data: dict[str, list]) -> list[OcrWord]:
    words = []
    for i, text in enumerate(data["text"]):
        conf = float(data["conf"][i])
        text = unicodedata.normalize("NFC", str(text)).strip()
        if conf < 0 or not text:
            continue
        x, y, w, h = (int(data[k][i]) for k in ("left", "top", "width", "height"))
        words.append(OcrWord(
            text=text,
            confidence=max(0.0, min(1.0, conf / 100.0)),
            box=(x, y, x + w, y + h),
            line=(int(data["block_num"][i]), int(data["par_num"][i]), int(data["line_num"][i])),
        ))
    return words


def words_to_tsv(words: list[OcrWord]) -> str:
    """A page's words as TSV (header + one line per word), the form stored beside a page.

        >>> words_to_tsv([OcrWord("Số:", 0.91, (10, 20, 50, 40), (1, 1, 1))]).splitlines()[1]
        'Số:\\t0.910\\t10\\t20\\t50\\t40\\t1\\t1\\t1'
    """
    lines = ["text\tconfidence\tx0\ty0\tx1\ty1\tblock\tpar\tline"]
    for w in words:
        text = w.text.replace("\t", " ").replace("\n", " ")
        lines.append("\t".join([text, f"{w.confidence:.3f}", *map(str, w.box), *map(str, w.line)]))
    return "\n".join(lines) + "\n"


def words_from_tsv(tsv: str) -> list[OcrWord]:
    """Inverse of ``words_to_tsv``."""
    words = []
    for row in tsv.splitlines()[1:]:
        if not row:
            continue
        parts = row.split("\t")
        words.append(OcrWord(parts[0], float(parts[1]),
                             tuple(int(v) for v in parts[2:6]),  # type: ignore[arg-type]
                             tuple(int(v) for v in parts[6:9])))  # type: ignore[arg-type]
    return words

"""The second reader: AsterOCR's neural line recognizer (CNN + BiLSTM + attention, CTC), run by
onnxruntime on one CPU thread, beside Tesseract.

Tesseract's LSTM was trained on print; register values are typed on worn ribbons or written
by hand. A second reader trained on other data fails in other ways, so where the two agree a
value is far more likely right than either's own confidence says, and where they disagree a
reviewer should look (``combine.py``). Its output is a CTC distribution per frame, which also
lets a crop be *scored* against candidate strings (``LineRead.log_likelihood``): a name read
against the few thousand real names it can be, instead of open text.

The model ships inside the ``asterocr`` wheel (MIT, pinned in pyproject.toml); nothing is
downloaded. Only the ONNX file and its alphabet are used, checked against the SHA-256 this
module was measured with, so a changed model is refused instead of silently trusted with a
calibration fitted on another. Without the package the pipeline reads with Tesseract alone.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from pipeline.errors import MissingDependency

MODEL_SHA256 = "10c96b533e1f64031d73edfddafd7d4b13595544f11891f0531bcd72cb29be80"
VOCAB_SHA256 = "82c6df018ceca8c10876947e0f7df798ed321825276ed7f3bb12ae3ed6dc647b"
PACKAGE_VERSION = "1.0.2"
INSTALL_HINT = f"cài đặt bằng: pip install asterocr=={PACKAGE_VERSION}"

NEURAL = "asterocr"  # its key in ``FieldValue.readings``
HEIGHT = 32  # the model's input height
BLANK = 0  # CTC blank's index in the alphabet
#: Crops are read in batches of similar width: padding a narrow crop to a wide one's width
#: costs time and feeds the BiLSTM frames of white it never saw in training. Four a batch:
#: the network keeps its feature maps wide, and 16 crops of 200 px cost 350 MB more than one
#: (4: +50 MB) while reading no faster per crop (measured 58 against 49 ms on one thread).
BATCH = 4
#: ... and at most this many columns in all: the feature maps grow with the batch's width
#: (~0.1 MB a column), and four long lines at once peaked at ~1 GB per worker.
BATCH_WIDTH = 1024
MAX_WIDTH_RATIO = 1.6  # widest / narrowest crop in one batch
MAX_FRAMES = 240  # the model's positional encoding holds 256 frames; a margin for rounding
LINE_GAP = 3  # blank pixel rows that separate two written lines inside one crop


@dataclass
class LineRead:
    """One crop as the neural reader saw it.

    ``confidence`` is the weakest emitted character's probability (one wrong letter makes the
    field wrong, as with Tesseract's weakest word); ``log_probs`` (frames × alphabet) stays
    for constrained reading and is dropped before results leave the worker.
    """

    text: str
    confidence: float
    log_probs: list[np.ndarray] | None = None  # one array per written line of the crop
    alphabet: dict[str, int] | None = None  # the model's characters, to score candidates

    def log_likelihood(self, candidate: str, alphabet: dict[str, int]) -> float:
        """log P(candidate | crop) under the model, the lines' texts joined by spaces.

        A candidate with a character the alphabet lacks is impossible (-inf). For a crop of
        several lines the candidate's words are split over the lines in the way that scores
        best (a name wrapped in a ledger cell).
        """
        if not self.log_probs:
            return -math.inf
        if len(self.log_probs) == 1:
            return ctc_log_likelihood(self.log_probs[0], encode(candidate, alphabet))
        words = candidate.split()
        best = -math.inf
        if len(self.log_probs) == 2:
            for cut in range(len(words) + 1):
                a, b = " ".join(words[:cut]), " ".join(words[cut:])
                score = (ctc_log_likelihood(self.log_probs[0], encode(a, alphabet))
                         + ctc_log_likelihood(self.log_probs[1], encode(b, alphabet)))
                best = max(best, score)
        return best


class AsterReader:
    """Reads one-line crops (gray or RGB uint8, dark text on light) into ``LineRead``s."""

    name = NEURAL

    def __init__(self, model_dir: Path | None = None):
        import onnxruntime as ort

        folder = model_dir or package_assets()
        model = folder / "asternet.onnx"
        vocab = folder / "vocab.json"
        for path, digest in ((model, MODEL_SHA256), (vocab, VOCAB_SHA256)):
            if _sha256(path) != digest:
                raise MissingDependency(
                    f"Mô hình đọc thứ hai {path.name} không đúng bản đã kiểm (SHA-256 khác)",
                    hint=INSTALL_HINT)
        self.chars: list[str] = json.loads(vocab.read_text(encoding="utf-8"))["chars"]
        self.alphabet = {c: i for i, c in enumerate(self.chars) if i != BLANK}
        options = ort.SessionOptions()
        # One thread: on 2-core PCs pages run in parallel processes, as Tesseract does.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        # Every batch has another width: an arena sized for the widest stays allocated, and
        # memory patterns planned for one shape do not fit the next (measured: +300 MB/worker).
        options.enable_cpu_mem_arena = False
        options.enable_mem_pattern = False
        self.session = ort.InferenceSession(str(model), options,
                                            providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name
        self.seconds = 0.0  # time spent reading, for benchmarks that weigh the reader's cost

    @property
    def version(self) -> str:
        return f"asterocr-{PACKAGE_VERSION}-{MODEL_SHA256[:12]}"

    def read(self, crops: list[np.ndarray], *, keep_log_probs: bool = False
             ) -> list[LineRead | None]:
        """One reading per crop (None for a crop without ink). A crop holding two written
        lines (a wrapped ledger cell) is cut into its lines, read apart and joined."""
        started = time.perf_counter()
        try:
            return self._read(crops, keep_log_probs)
        finally:
            self.seconds += time.perf_counter() - started

    def _read(self, crops: list[np.ndarray], keep_log_probs: bool) -> list[LineRead | None]:
        lines: list[tuple[int, np.ndarray]] = []
        for i, crop in enumerate(crops):
            for line in split_lines(_gray(crop)):
                lines += [(i, piece) for piece in split_wide(line)]
        decoded = self._run([line for _, line in lines])
        per_crop: list[list[tuple[str, float, np.ndarray]]] = [[] for _ in crops]
        for (i, _), got in zip(lines, decoded):
            per_crop[i].append(got)
        out: list[LineRead | None] = []
        for parts in per_crop:
            parts = [p for p in parts if p[0]]
            if not parts:
                out.append(None)
                continue
            out.append(LineRead(
                text=" ".join(p[0] for p in parts),
                confidence=round(min(p[1] for p in parts), 3),
                log_probs=[p[2] for p in parts] if keep_log_probs else None,
                alphabet=self.alphabet if keep_log_probs else None,
            ))
        return out

    def _run(self, lines: list[np.ndarray]) -> list[tuple[str, float, np.ndarray]]:
        tensors = [_tensor(line) for line in lines]
        order = sorted(range(len(tensors)), key=lambda i: tensors[i].shape[2])
        results: list[tuple[str, float, np.ndarray] | None] = [None] * len(tensors)
        start = 0
        while start < len(order):
            stop = start + 1
            narrow = tensors[order[start]].shape[2]
            while (stop < len(order) and stop - start < BATCH
                   and tensors[order[stop]].shape[2] <= narrow * MAX_WIDTH_RATIO
                   and (stop - start + 1) * tensors[order[stop]].shape[2] <= BATCH_WIDTH):
                stop += 1
            batch_idx = order[start:stop]
            width = max(tensors[i].shape[2] for i in batch_idx)
            batch = np.ones((len(batch_idx), 3, HEIGHT, width), np.float32)  # white
            for k, i in enumerate(batch_idx):
                batch[k, :, :, :tensors[i].shape[2]] = tensors[i]
            log_probs = self.session.run(None, {self.input_name: batch})[0]  # T × B × C
            frames_per_px = log_probs.shape[0] / width
            for k, i in enumerate(batch_idx):
                own = max(1, int(math.ceil(tensors[i].shape[2] * frames_per_px)))
                lp = np.ascontiguousarray(log_probs[:own, k, :])
                text, confidence = self._decode(lp)
                results[i] = (text, confidence, lp)
            start = stop
        return results  # type: ignore[return-value]

    def _decode(self, log_probs: np.ndarray) -> tuple[str, float]:
        """Greedy CTC: best class per frame, repeats collapsed, blanks dropped; each
        character's probability is its best frame's."""
        best = log_probs.argmax(axis=1)
        probs = np.exp(log_probs.max(axis=1))
        chars: list[str] = []
        scores: list[float] = []
        previous = BLANK
        for cls, p in zip(best, probs):
            cls = int(cls)
            if cls != BLANK and cls != previous:
                chars.append(self.chars[cls])
                scores.append(float(p))
            elif cls != BLANK and scores:
                scores[-1] = max(scores[-1], float(p))
            previous = cls
        text = " ".join("".join(chars).split())
        return text, (min(scores) if scores else 0.0)


def join_reads(parts: list[LineRead]) -> LineRead | None:
    """One reading of a value written over several crops (a value running onto the next
    line): texts joined, the weakest confidence, the lines' frames kept in order."""
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]
    log_probs = [lp for p in parts for lp in (p.log_probs or [])]
    return LineRead(" ".join(p.text for p in parts), min(p.confidence for p in parts),
                    log_probs if all(p.log_probs for p in parts) else None, parts[0].alphabet)


def ctc_log_likelihood(log_probs: np.ndarray, labels: list[int] | None) -> float:
    """log P(labels | frames) by the CTC forward algorithm (frames × classes log-probs).

        >>> lp = np.log(np.array([[0.1, 0.9], [0.9, 0.1]]))  # frame 1 says 'x', frame 2 blank
        >>> round(math.exp(ctc_log_likelihood(lp, [1])), 3)  # paths: x-, xx, -x
        0.91

    Summing over every alignment (not just the best path) is what makes the score of a
    candidate comparable with another's: a string the model spread over many frames is not
    penalised for it.
    """
    if labels is None:
        return -math.inf
    frames = log_probs.shape[0]
    ext = [BLANK]
    for label in labels:
        ext += [label, BLANK]
    n = len(ext)
    if frames < len(labels):
        return -math.inf
    ext_arr = np.array(ext)
    # a non-blank may be skipped to from two back when it differs from that label
    skip = np.zeros(n, bool)
    skip[2:] = (ext_arr[2:] != BLANK) & (ext_arr[2:] != ext_arr[:-2])
    emit = log_probs[:, ext_arr]  # frames × n
    alpha = np.full(n, -np.inf)
    alpha[0] = emit[0, 0]
    if n > 1:
        alpha[1] = emit[0, 1]
    for t in range(1, frames):
        stay = alpha
        step = np.concatenate(([-np.inf], alpha[:-1]))
        jump = np.where(skip, np.concatenate(([-np.inf, -np.inf], alpha[:-2])), -np.inf)
        alpha = np.logaddexp(np.logaddexp(stay, step), jump) + emit[t]
    tail = alpha[-1] if n == 1 else np.logaddexp(alpha[-1], alpha[-2])
    return float(tail)


def encode(text: str, alphabet: dict[str, int]) -> list[int] | None:
    """The alphabet indices of ``text`` (single spaces), or None if it has a character the
    model cannot emit."""
    out = []
    for ch in " ".join(text.split()):
        if ch not in alphabet:
            return None
        out.append(alphabet[ch])
    return out


def split_lines(gray: np.ndarray) -> list[np.ndarray]:
    """The written lines of a crop, top to bottom, each trimmed to its rows of ink.

    The model reads one line; a wrapped ledger cell holds two. Lines are bands of rows with
    ink separated by ``LINE_GAP`` blank rows; a band much thinner than the tallest (a
    diacritic row cut off, a speck) joins its nearer neighbour instead of being read alone.
    """
    if gray.size == 0:
        return []
    ink_rows = (gray < 128).sum(axis=1) > 0
    bands: list[list[int]] = []
    gap = LINE_GAP
    for y, inked in enumerate(ink_rows):
        if inked:
            if bands and gap < LINE_GAP:
                bands[-1][1] = y + 1
            else:
                bands.append([y, y + 1])
            gap = 0
        else:
            gap += 1
    if not bands:
        return []
    tallest = max(b - a for a, b in bands)
    merged: list[list[int]] = []
    for band in bands:
        if merged and (band[1] - band[0] < 0.45 * tallest
                       or merged[-1][1] - merged[-1][0] < 0.45 * tallest):
            merged[-1][1] = band[1]
        else:
            merged.append(band)
    pad = 3
    return [gray[max(0, a - pad):b + pad] for a, b in merged]


def split_wide(line: np.ndarray, max_frames: int = MAX_FRAMES) -> list[np.ndarray]:
    """A line too long for the model cut at word gaps into pieces it can read.

    The network's positional encoding stops at 256 frames (1024 px at 32 px high); longer
    input is refused. A line is cut at the widest blank column run near its middle, again
    while a piece is too long; a line without any gap is cut in the middle.
    """
    h, w = line.shape[:2]
    if w * HEIGHT / max(1, h) / 4 <= max_frames:
        return [line]
    ink_cols = (line < 128).sum(axis=0) > 0
    mid = w // 2
    best, best_score = mid, -1.0
    x = 0
    while x < w:
        if ink_cols[x]:
            x += 1
            continue
        start = x
        while x < w and not ink_cols[x]:
            x += 1
        if 0 < start and x < w:
            centre = (start + x) // 2
            score = (x - start) / (1 + abs(centre - mid) / w * 4)
            if score > best_score:
                best, best_score = centre, score
    return (split_wide(line[:, :best], max_frames) + split_wide(line[:, best:], max_frames))


def _gray(crop: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY) if crop.ndim == 3 else crop


def _tensor(gray: np.ndarray) -> np.ndarray:
    """3 × 32 × W, scaled as the package's own ONNX predictor does ((x/255 − 0.5) / 0.5)."""
    h, w = gray.shape[:2]
    width = max(32, int(round(w * HEIGHT / max(1, h))))
    width = (width + 3) // 4 * 4
    small = cv2.resize(gray, (width, HEIGHT), interpolation=cv2.INTER_AREA)
    arr = small.astype(np.float32) / 127.5 - 1.0
    return np.repeat(arr[None, :, :], 3, axis=0)


def package_assets() -> Path:
    """The folder of the installed ``asterocr`` package's model, found without importing the
    package (its import pulls in a hub client it does not need here)."""
    spec = importlib.util.find_spec("asterocr")
    if spec is None or spec.origin is None:
        raise MissingDependency("Chưa cài bộ đọc thứ hai (asterocr)", hint=INSTALL_HINT)
    return Path(spec.origin).parent / "assets"


@lru_cache(maxsize=4)
def _sha256_cached(path: str, size: int, mtime: float) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _sha256(path: Path) -> str:
    if not path.exists():
        raise MissingDependency(f"Thiếu tệp mô hình {path}", hint=INSTALL_HINT)
    stat = path.stat()
    return _sha256_cached(str(path), stat.st_size, stat.st_mtime)


_READER: AsterReader | None = None


def shared_reader() -> AsterReader | None:
    """The process's reader (loaded once: ~0.3 s and ~60 MB), or None when the package is not
    installed or its model is not the checked one: the pipeline then reads with Tesseract
    alone, as before."""
    global _READER
    if _READER is None:
        try:
            _READER = AsterReader()
        except (MissingDependency, ImportError):
            return None
    return _READER

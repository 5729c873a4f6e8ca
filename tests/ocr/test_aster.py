"""The second (neural) reader: the real ONNX model from the pinned asterocr wheel reads rendered
lines, scores candidates by CTC, and refuses a model that is not the checked one."""

from __future__ import annotations

import itertools
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from pipeline.errors import MissingDependency
from pipeline.ocr import aster
from pipeline.ocr.aster import (
    AsterReader, ctc_log_likelihood, package_assets, split_lines, split_wide,
)

FONTS = Path(__file__).resolve().parents[2] / "data" / "fonts"
SERIF = "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf"


def render(text: str, font: str = SERIF, size: int = 40) -> np.ndarray:
    face = ImageFont.truetype(font, size)
    image = Image.new("L", (int(size * 0.8 * len(text)) + 40, int(size * 1.8)), 255)
    ImageDraw.Draw(image).text((20, size * 0.2), text, font=face, fill=0)
    arr = np.array(image)
    ys, xs = np.nonzero(arr < 128)
    return arr[max(0, ys.min() - 8):ys.max() + 8, max(0, xs.min() - 8):xs.max() + 8]


@pytest.fixture(scope="module")
def reader() -> AsterReader:
    return AsterReader()


def test_reads_typed_and_hand_written_lines(reader):
    texts = ["Nguyễn Thị Hoa", "12/3/1968", "Xã Diễn Mỹ, Huyện Diễn Châu"]
    crops = [render(t) for t in texts]
    crops.append(render("Lưu Văn Thành", str(FONTS / "Itim_400Regular.ttf")))
    got = reader.read(crops)
    assert [r.text for r in got[:3]] == texts
    assert got[3].text == "Lưu Văn Thành"
    assert all(0.5 < r.confidence <= 1.0 for r in got)


def test_blank_crop_reads_as_nothing(reader):
    assert reader.read([np.full((40, 200), 255, np.uint8)]) == [None]


def test_candidate_scores_rank_the_written_name_first(reader):
    read = reader.read([render("Nguyễn Thị Hoa")], keep_log_probs=True)[0]
    scores = {c: read.log_likelihood(c, reader.alphabet)
              for c in ("Nguyễn Thị Hoa", "Nguyễn Thị Hòa", "Nguyên Thị Hoa", "Trần Thị Hoa")}
    assert max(scores, key=scores.get) == "Nguyễn Thị Hoa"
    assert scores["Nguyễn Thị Hoa"] - scores["Nguyễn Thị Hòa"] > 5
    assert read.log_likelihood("Nguyễn Thị Hoa ☃", reader.alphabet) == -math.inf


def test_two_written_lines_are_read_apart_and_joined(reader):
    first, second = render("Nguyễn Thị Hoa"), render("Lưu Văn Thành")
    width = max(first.shape[1], second.shape[1])
    pad = lambda a: np.pad(a, ((0, 0), (0, width - a.shape[1])), constant_values=255)  # noqa: E731
    cell = np.vstack([pad(first), np.full((12, width), 255, np.uint8), pad(second)])
    assert len(split_lines(cell)) == 2
    got = reader.read([cell], keep_log_probs=True)[0]
    assert got.text == "Nguyễn Thị Hoa Lưu Văn Thành"
    right = got.log_likelihood("Nguyễn Thị Hoa Lưu Văn Thành", reader.alphabet)
    assert right > got.log_likelihood("Nguyễn Thị Lưu Văn Thành", reader.alphabet)


def test_a_line_longer_than_the_model_takes_is_cut_at_word_gaps(reader):
    text = "Xã Diễn Mỹ, Huyện Diễn Châu, Tỉnh Nghệ Tĩnh, Đội 8, Hợp tác xã Diễn Mỹ"
    line = np.hstack([render(text)] * 2)  # ~2600 px: over the 256 frames the model encodes
    pieces = split_wide(line)
    assert len(pieces) >= 2 and sum(p.shape[1] for p in pieces) == line.shape[1]
    got = reader.read([line])[0]
    assert got.text.count("Diễn Mỹ") == 4


def test_ctc_forward_matches_summing_every_alignment():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(4), size=5)  # 5 frames, blank + 3 letters
    labels = [1, 1, 2]

    def collapse(path):
        out, prev = [], 0
        for c in path:
            if c != 0 and c != prev:
                out.append(c)
            prev = c
        return out

    brute = sum(np.prod([probs[t, c] for t, c in enumerate(path)])
                for path in itertools.product(range(4), repeat=5) if collapse(path) == labels)
    assert math.isclose(math.exp(ctc_log_likelihood(np.log(probs), labels)), brute,
                        rel_tol=1e-9)
    assert ctc_log_likelihood(np.log(probs[:2]), labels) == -math.inf  # too few frames


def test_a_changed_model_is_refused(tmp_path):
    for name in ("asternet.onnx", "vocab.json"):
        shutil.copy(package_assets() / name, tmp_path / name)
    with open(tmp_path / "asternet.onnx", "ab") as fh:
        fh.write(b"\0")
    with pytest.raises(MissingDependency, match="SHA-256"):
        AsterReader(tmp_path)


def test_without_the_model_the_pipeline_reads_with_tesseract_alone(tmp_path, monkeypatch):
    monkeypatch.setattr(aster, "_READER", None)
    monkeypatch.setattr(aster, "package_assets", lambda: tmp_path)  # an empty folder
    assert aster.shared_reader() is None


def test_a_slipped_reading_is_mended_by_scoring_lexicon_names_against_the_frames(reader):
    from pipeline.ocr.aster import LineRead
    from pipeline.ocr.constrained import lexicon_reading

    frames = reader.read([render("Nguyễn Thị Hòa")], keep_log_probs=True)[0]
    slipped = LineRead("Nguyen Thi Hoa", 0.4, frames.log_probs, reader.alphabet)
    text, confidence = lexicon_reading(slipped, reader.alphabet)
    assert text == "Nguyễn Thị Hòa"
    assert confidence > 0.9
    capitals = reader.read([render("TRẦN VĂN LỢI")], keep_log_probs=True)[0]
    slipped = LineRead("TRAN VAN LOI", 0.4, capitals.log_probs, reader.alphabet)
    assert lexicon_reading(slipped, reader.alphabet)[0] == "TRẦN VĂN LỢI"

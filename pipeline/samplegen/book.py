"""Builds a whole generated book (PNG pages, PDF, truth.json) from a seed, byte for byte repeatable."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from pipeline.errors import BadInput
from pipeline.samplegen.content import draw_book_context, draw_entry, pick
from pipeline.samplegen.capture import PointMapper, capture_page, parse_capture
from pipeline.samplegen.degrade import LEVELS
from pipeline.samplegen.fonts import HAND_FONTS, LABEL_FONT, TITLE_FONT, TYPEWRITER_FONTS
from pipeline.samplegen.printing import parse_printing, printing_dict
from pipeline.samplegen.registers import draw_death_entry, draw_marriage_entry
from pipeline.samplegen.render import (Hand, ValueWriter, render_form_page,
                                       render_ledger_page, write_margin_note)
from pipeline.samplegen.stamp import stamp_page
from pipeline.samplegen.truth import GENERATOR_VERSION, BookTruth, TruthField, TruthRecord
from pipeline.templates import load_template

FACES = ("typewriter", "hand")
#: Dark blue, purple and black-ish inks of fountain and ballpoint pens.
HAND_INKS = ((22, 38, 120), (52, 30, 105), (30, 30, 40), (18, 55, 140))
#: What is written in one entry, per book type. Births keep their own code path so a birth
#: book's random draws (and bytes) do not move when the other registers change.
ENTRY_DRAWERS = {"birth": draw_entry, "marriage": draw_marriage_entry, "death": draw_death_entry}
#: (size in px at 300 dpi is scaled by dpi/300.)
PNG_COMPRESS = 1


@dataclass(frozen=True)
class BookSpec:
    """What book to make. ``None`` place/year/volume are drawn from the seed.

    >>> BookSpec(seed=7, template="birth_ledger", pages=2, degradation="heavy", face="hand")

    ``stamps``: the commune's red seal over some entries of some aged (moderate, heavy) pages;
    clean pages never have one. ``stamps=False`` gives the same book without them, pixel for
    pixel, for measuring what a seal costs.

    ``printing``: ``"classic"`` (the layout the sample books always had) or ``"random:<n>"``,
    the n-th invented printing of the template (the same layout whatever the seed, so a
    benchmark can hold printings out by number). ``capture``: ``"flatbed"`` (the ageing
    level's dpi), ``"flatbed:<dpi>"`` (200–400) or ``"phone"`` (a photo on a table).
    """

    seed: int
    template: str = "birth_form"
    pages: int = 3
    degradation: str = "clean"
    face: str = "typewriter"
    commune: str | None = None
    district: str | None = None
    province: str | None = None
    year: int | None = None
    volume: int | str | None = None
    stamps: bool = True
    printing: str = "classic"
    capture: str = "flatbed"


def _rng(spec: BookSpec, *stream: int) -> np.random.Generator:
    # Independent streams: changing the degradation level must not change who is in the book.
    return np.random.default_rng([spec.seed, *stream])


def _writer(spec: BookSpec, layout_cfg: dict, dpi: int) -> ValueWriter:
    rng = _rng(spec, 1)
    if spec.face == "typewriter":
        font = pick(rng, TYPEWRITER_FONTS)
        ink = pick(rng, [(20, 20, 24), (34, 32, 40), (40, 30, 60)])
        return ValueWriter("typewriter", font, layout_cfg["typewriter_pt"] * dpi / 72, _rng(spec, 3),
                           ink=ink)
    font = pick(rng, HAND_FONTS)
    hand = Hand(slant=float(rng.uniform(0.05, 0.28)), size_jitter=float(rng.uniform(0.03, 0.06)),
                baseline_jitter=float(rng.uniform(0.02, 0.05)), ink=pick(rng, HAND_INKS))
    return ValueWriter("hand", font, layout_cfg["hand_pt"] * dpi / 72, _rng(spec, 3), hand=hand)


def _stamp_params(stamp, mapper: PointMapper) -> dict:
    """A seal as truth.json records it: where it landed on the final (captured) page."""
    cx, cy = stamp.center
    if mapper.curl is not None or mapper.homography is not None:
        cx, cy = mapper([[cx, cy]])[0]
    elif mapper.affine is not None:
        cx, cy = mapper.affine @ np.array([cx, cy, 1.0])
    return {"row": stamp.row, "center": [round(float(cx), 1), round(float(cy), 1)],
            "radius": round(stamp.radius, 1), "ink": list(stamp.ink)}


def _margin_note(spec: BookSpec, printing, img: Image.Image, page_no: int, layout: str,
                 dpi: int, year: int) -> dict | None:
    """Maybe a clerk's note in this page's margin (its own stream: it moves nothing else)."""
    if printing.margin_note_p <= 0:
        return None
    rng = _rng(spec, 6, page_no)
    if rng.random() >= printing.margin_note_p:
        return None
    return write_margin_note(img, rng, layout, dpi, pick(rng, HAND_FONTS), int(year))


def _save_pdf(images: list[Image.Image], path: Path, dpi: int) -> None:
    # Fixed metadata: Pillow would otherwise put the file name (and so the output folder) in it.
    first, rest = images[0], images[1:]
    first.save(path, "PDF", save_all=True, append_images=rest, resolution=float(dpi),
               title="hotich sample book", author="hotich samplegen", producer="hotich",
               creator="hotich", creationDate=None, modDate=None, quality=85)


def generate_book(spec: BookSpec, out_dir: Path) -> BookTruth:
    """Write ``book.pdf``, ``pages/page-NNN.png`` and ``truth.json`` under ``out_dir``.

    Any template under data/templates/ works: birth, marriage or death, form or ledger; the
    page header prints the template's title.

    >>> truth = generate_book(BookSpec(seed=7), Path("/tmp/book7"))
    >>> truth.records[0].fields["full_name"].value
    """
    from pipeline.samplegen.content import lexicon

    if spec.degradation not in LEVELS:
        raise BadInput(f"Mức xuống cấp không hợp lệ: {spec.degradation}", hint=", ".join(LEVELS))
    if spec.face not in FACES:
        raise BadInput(f"Kiểu chữ không hợp lệ: {spec.face}", hint=", ".join(FACES))
    if spec.pages < 1:
        raise BadInput(f"Số trang phải ≥ 1: {spec.pages}")
    template = load_template(spec.template)
    capture, dpi = parse_capture(spec.capture, spec.degradation)
    printing = parse_printing(template, spec.printing)
    per_page = printing.entries_per_page or template.entries_per_page
    layout_cfg = lexicon("layout")[template.layout]
    out_dir = Path(out_dir)
    (out_dir / "pages").mkdir(parents=True, exist_ok=True)
    for stale in (out_dir / "pages").glob("page-*.png"):  # a longer earlier run into this folder
        stale.unlink()

    content_rng = _rng(spec, 0)
    ctx = draw_book_context(content_rng, commune=spec.commune, district=spec.district,
                            province=spec.province, year=spec.year, volume=spec.volume,
                            typewriter=spec.face == "typewriter")
    book = {"commune": ctx.commune, "district": ctx.district, "province": ctx.province,
            "year": ctx.year, "volume": ctx.volume, "book_type": template.book_type,
            "template": template.name, "layout": template.layout}
    if template.book_type != "birth":
        ctx.extras["layout"] = template.layout  # a ledger's "Năm sinh" column gets years
    draw = ENTRY_DRAWERS[template.book_type]
    writer = _writer(spec, layout_cfg, dpi)
    ditto_rng = _rng(spec, 4)

    timings = []
    cleans, placed_pages, notes = [], [], []
    previous = None
    for page_no in range(1, spec.pages + 1):
        t0 = time.process_time()
        entries = []
        for _ in range(per_page):
            previous = draw(ctx, content_rng, previous)
            entries.append(previous)
        if template.layout == "form":
            img, placed = render_form_page(template, book, entries, page_no, dpi, writer, printing)
        else:
            img, placed = render_ledger_page(template, book, entries, page_no, dpi, writer,
                                             ditto_rng, printing)
        notes.append(_margin_note(spec, printing, img, page_no, template.layout, dpi, ctx.year))
        cleans.append(img)
        placed_pages.append((entries, placed))
        timings.append(time.process_time() - t0)

    pages, records, finals, params, captures, note_truth = [], [], [], [], [], []
    for i, (img, (entries, placed)) in enumerate(zip(cleans, placed_pages)):
        page_no = i + 1
        t0 = time.process_time()
        reverse = cleans[(i + 1) % len(cleans)] if len(cleans) > 1 else None
        boxes = [b for cell in placed for (_, _, b) in cell.values() if b]
        stamps = []
        if spec.stamps and spec.degradation != "clean":
            img, stamps = stamp_page(img, _rng(spec, 5, page_no), template.layout,
                                     template.fields, placed, book, dpi)
        if notes[i]:
            boxes.append(tuple(notes[i]["box"]))
        final, mapper, cap = capture_page(img, capture, _rng(spec, 2, page_no), boxes,
                                          spec.degradation, reverse)
        aged = cap.pop("ageing")
        w, h = final.size
        page_dpi = round(dpi * cap["scale"]) if "scale" in cap else dpi
        rel = f"pages/page-{page_no:03d}.png"
        final.save(out_dir / rel, "PNG", compress_level=PNG_COMPRESS, dpi=(page_dpi, page_dpi))
        finals.append(final)
        if stamps:
            aged["stamps"] = [_stamp_params(s, mapper) for s in stamps]
        params.append(aged)
        captures.append(cap)
        note_truth.append(notes[i] and {"text": notes[i]["text"], "box": mapper.box(notes[i]["box"])})
        pages.append({"page": page_no, "image": rel, "width": w, "height": h, "dpi": page_dpi})
        for row, (entry, cell) in enumerate(zip(entries, placed), start=1):
            fields = {
                f: TruthField(text=cell[f][0] if f in cell else "",
                              value=cell[f][1] if f in cell else None,
                              box=mapper.box(cell[f][2]) if f in cell else None)
                for f in template.fields
            }
            records.append(TruthRecord(page=page_no, row=row, record_key=f"p{page_no:03d}-r{row:02d}",
                                       fields=fields, citizen_hint=entry["hint"]))
        timings[i] += time.process_time() - t0

    _save_pdf(finals, out_dir / "book.pdf", dpi)
    truth = BookTruth(book=book, pages=pages, records=records, generator={
        "name": "pipeline.samplegen", "version": GENERATOR_VERSION, "spec": asdict(spec),
        "fonts": {"labels": printing.label_font or LABEL_FONT, "title": TITLE_FONT,
                  "values": writer.font_name},
        "degradation": params,
        "printing": printing_dict(printing),
        "capture": captures,
        "margin_notes": note_truth,
    })
    (out_dir / "truth.json").write_text(truth.to_json(), encoding="utf-8")
    # CPU seconds per page (render + ageing + PNG), for benchmarks; not in truth.json because it
    # would break byte-for-byte repeatability.
    truth.timings = timings  # type: ignore[attr-defined]
    return truth


def generate_demo_set(out_dir: Path, seed: int = 1) -> list[BookTruth]:
    """Two small books (form and ledger, 3 pages, typed, moderately aged) plus their population.

    >>> truths = generate_demo_set(Path("/tmp/demo"), seed=1)   # /tmp/demo/{form,ledger,population}
    """
    from pipeline.samplegen.population import generate_population

    out_dir = Path(out_dir)
    form = generate_book(BookSpec(seed=seed, template="birth_form", pages=3,
                                  degradation="clean", face="typewriter"), out_dir / "form")
    ledger = generate_book(BookSpec(seed=seed + 1, template="birth_ledger", pages=3,
                                    degradation="moderate", face="typewriter"), out_dir / "ledger")
    generate_population([form, ledger], out_dir / "population", seed=seed)
    return [form, ledger]

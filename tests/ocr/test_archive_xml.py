"""PAGE and ALTO archive XML of real Tesseract reads, validated against the official schemas."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime, timezone

import pytest
from lxml import etree

from pipeline.ocr import read_page
from pipeline.ocr.archive_xml import ArchivePage, alto_xml, page_xml
from pipeline.templates import load_template
from pipeline.types import ExtractedRecord, FieldValue, OcrWord

from .xsd import archive_schemas

PC = {"pc": "http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15"}
AL = {"a": "http://www.loc.gov/standards/alto/ns-v4#"}
CREATED = datetime(2024, 5, 1, 8, 30, tzinfo=timezone.utc)
# A reviewer's text with XML specials, in decomposed (NFD) form as some keyboards send it.
TRICKY = unicodedata.normalize("NFD", 'Nguyễn Văn "Tí" & <Tèo>')


@pytest.fixture(scope="module")
def schemas():
    return archive_schemas()


def _valid(xml: str, schema: etree.XMLSchema) -> etree._Element:
    doc = etree.fromstring(xml.encode("utf-8"))
    assert schema.validate(doc), schema.error_log
    return doc


def _render(page: ArchivePage, schemas) -> tuple[etree._Element, etree._Element]:
    return _valid(page_xml(page), schemas["page"]), _valid(alto_xml(page), schemas["alto"])


def _archive(image, read, **kwargs) -> ArchivePage:
    height, width = image.shape[:2]
    return ArchivePage.from_read(read, "page-001.png", width, height, created=CREATED, **kwargs)


@pytest.fixture(scope="module")
def form(form_page, tesseract, schemas):
    image, _ = form_page
    read = read_page(image, load_template("birth_form"), tesseract)
    page = _archive(image, read, corrected={(2, "full_name"): TRICKY})
    return read, page, *_render(page, schemas)


@pytest.fixture(scope="module")
def ledger(ledger_page, tesseract, schemas):
    image, _ = ledger_page
    read = read_page(image, load_template("birth_ledger"), tesseract)
    page = _archive(image, read)
    return read, page, *_render(page, schemas)


def _page_line(doc, row: int, name: str):
    return doc.find(f".//pc:TextRegion[@id='r{row}']/pc:TextLine[@id='r{row}_{name}']", PC)


def _alto_line_text(doc, row: int, name: str) -> str:
    line = doc.find(f".//a:TextLine[@ID='r{row}_{name}']", AL)
    return " ".join(s.get("CONTENT") for s in line.findall("a:String", AL))


def _nfc(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).split())


def test_form_fields_carry_what_the_read_found(form):
    read, _, pdoc, adoc = form
    first = read.records[0]
    name = first.fields["full_name"]
    assert name.raw.strip(), "the read found no name: nothing to compare"
    line = _page_line(pdoc, first.row, "full_name")
    assert line.findtext("pc:TextEquiv/pc:Unicode", namespaces=PC) == _nfc(name.raw)
    conf = pytest.approx(name.confidence, abs=1e-4)
    assert float(line.find("pc:TextEquiv", PC).get("conf")) == conf
    assert line.get("custom") == "structure {type:full_name;}"
    assert _alto_line_text(adoc, first.row, "full_name") == _nfc(name.raw)
    strings = adoc.findall(f".//a:TextLine[@ID='r{first.row}_full_name']/a:String", AL)
    assert strings and all(float(s.get("WC")) == conf for s in strings)
    # every record is a region naming its row, every non-blank field with a box a line
    for record in read.records:
        region = pdoc.find(f".//pc:TextRegion[@id='r{record.row}']", PC)
        assert f"row:{record.row};" in region.get("custom")
        for fname, value in record.fields.items():
            if value.box and value.raw.strip() and (record.row, fname) != (2, "full_name"):
                text = _page_line(pdoc, record.row, fname).findtext("pc:TextEquiv/pc:Unicode",
                                                                   namespaces=PC)
                assert text == _nfc(value.raw)
                assert _alto_line_text(adoc, record.row, fname) == _nfc(value.raw)


def test_corrected_value_overrides_raw_escaped_and_nfc(form, schemas):
    read, page, pdoc, adoc = form
    want = unicodedata.normalize("NFC", TRICKY)
    line = _page_line(pdoc, 2, "full_name")
    equiv = line.find("pc:TextEquiv", PC)
    assert equiv.findtext("pc:Unicode", namespaces=PC) == want
    assert want != read.records[1].fields["full_name"].raw
    assert equiv.get("conf") is None and equiv.get("comments") == "corrected"
    assert _alto_line_text(adoc, 2, "full_name") == want
    alto_line = adoc.find(".//a:TextLine[@ID='r2_full_name']", AL)
    assert alto_line.get("CS") == "true"
    assert all(s.get("WC") is None for s in alto_line.findall("a:String", AL))
    assert len(alto_line.findall("a:SP", AL)) == len(want.split()) - 1
    for xml in (page_xml(page), alto_xml(page)):
        assert unicodedata.is_normalized("NFC", xml)
        assert "&amp;" in xml and "&lt;Tèo&gt;" in xml and "<Tèo>" not in xml


def test_page_read_keeps_every_word_with_its_box(form):
    read, _, pdoc, adoc = form
    words = [w for w in read.words if w.text.strip()]
    page_words = pdoc.findall(".//pc:Word", PC)
    assert [w.findtext("pc:TextEquiv/pc:Unicode", namespaces=PC) for w in page_words] == [
        _nfc(w.text) for w in words]
    first = page_words[0]
    x0, y0, x1, y1 = words[0].box
    assert first.find("pc:Coords", PC).get("points") == f"{x0},{y0} {x1},{y0} {x1},{y1} {x0},{y1}"
    assert float(first.find("pc:TextEquiv", PC).get("conf")) == pytest.approx(words[0].confidence)
    alto_words = adoc.findall(".//a:TextBlock[@TAGREFS='tag_page_read']//a:String", AL)
    assert [s.get("CONTENT") for s in alto_words] == [_nfc(w.text) for w in words]
    # records and the page read overlap: PAGE keeps them in two layers
    layers = {ly.get("caption"): len(ly) for ly in pdoc.findall(".//pc:Layer", PC)}
    assert layers == {"records": len(read.records), "page read": 1}


def test_coordinates_fall_inside_the_page(form, ledger):
    for _, page, pdoc, adoc in (form, ledger):
        for coords in pdoc.iterfind(".//pc:Coords", PC):
            for point in coords.get("points").split():
                x, y = map(int, point.split(","))
                assert 0 <= x < page.width and 0 <= y < page.height
        for el in adoc.iterfind(".//a:PrintSpace//*[@HPOS]", AL):
            x, y = float(el.get("HPOS")), float(el.get("VPOS"))
            assert 0 <= x <= x + float(el.get("WIDTH")) <= page.width
            if el.get("HEIGHT") is not None:
                assert 0 <= y <= y + float(el.get("HEIGHT")) <= page.height


def test_provenance_and_units(form):
    read, page, pdoc, adoc = form
    assert pdoc.findtext("pc:Metadata/pc:Creator", namespaces=PC).startswith("hotich ")
    item = pdoc.find("pc:Metadata/pc:MetadataItem", PC)
    assert item.get("value") == read.ocr_version
    assert pdoc.find("pc:Page", PC).get("imageWidth") == str(page.width)
    assert adoc.findtext("a:Description/a:MeasurementUnit", namespaces=AL) == "pixel"
    step = adoc.find(".//a:ocrProcessingStep", AL)
    settings = step.findtext("a:processingStepSettings", namespaces=AL)
    assert settings == f"ocr_version={read.ocr_version}"
    assert step.findtext("a:processingSoftware/a:softwareName", namespaces=AL) == "hotich"
    assert page_xml(page) == page_xml(page) and alto_xml(page) == alto_xml(page)


def test_ledger_page(ledger):
    read, _, pdoc, adoc = ledger
    assert len(read.records) >= 8
    assert len(pdoc.findall(".//pc:TextRegion[@type='paragraph']", PC)) >= len(read.records)
    for record in read.records:
        name = record.fields["full_name"]
        if name.raw.strip():
            assert _page_line(pdoc, record.row, "full_name").findtext(
                "pc:TextEquiv/pc:Unicode", namespaces=PC) == _nfc(name.raw)
            assert _alto_line_text(adoc, record.row, "full_name") == _nfc(name.raw)
        for fname, value in record.fields.items():
            if not value.raw.strip():  # blank cells leave no empty line behind
                assert _page_line(pdoc, record.row, fname) is None
                assert adoc.find(f".//a:TextLine[@ID='r{record.row}_{fname}']", AL) is None


def _fv(name, raw, box, conf=0.9):
    return FieldValue(field=name, raw=raw, value=None, status="read" if raw else "blank",
                      confidence=conf, box=box)


def test_awkward_input_still_validates(schemas):
    """Blank fields, boxes off the page, control characters, odd field names, repeated rows."""
    records = [
        ExtractedRecord(row=1, box=None, fields={
            "full_name": _fv("full_name", "  ", (10, 10, 90, 30)),
            "sex": _fv("sex", "Nam", None),
            "1 bad:name": _fv("1 bad:name", "x\x0cy\x00", (-20, -5, 50, 40), conf=1.7),
        }),
        ExtractedRecord(row=1, box=(5, 50, 95, 95), fields={
            "notes": _fv("notes", "", (5, 50, 95, 95))}),
        ExtractedRecord(row=2, box=(500, 500, 600, 600), fields={}),  # wholly off the page
    ]
    words = [OcrWord("\x0c", 0.5, (1, 1, 5, 5)), OcrWord("Xã", 0.9, (1, 1, 20, 12), (1, 1, 1)),
             OcrWord("Hòa", -0.1, (25, 1, 150, 12), (1, 1, 1))]
    page = ArchivePage("a&b.png", 100, 100, words, records, "1/test", created=CREATED)
    pdoc, adoc = _render(page, schemas)
    assert pdoc.find("pc:Page", PC).get("imageFilename") == "a&b.png"
    assert [r.get("id") for r in pdoc.findall(".//pc:TextRegion", PC)] == ["r1", "r1_2", "ocr_b1"]
    odd = pdoc.find(".//pc:TextLine[@id='r1_1_bad_name']", PC)
    assert odd.findtext("pc:TextEquiv/pc:Unicode", namespaces=PC) == "xy"
    assert odd.find("pc:TextEquiv", PC).get("conf") == "1.0"
    assert odd.find("pc:Coords", PC).get("points") == "0,0 50,0 50,40 0,40"
    assert [s.get("CONTENT") for s in adoc.iterfind(".//a:String", AL)] == ["xy", "Xã", "Hòa"]
    ids = [el.get("ID") for el in adoc.iter() if el.get("ID")]
    assert len(ids) == len(set(ids)) and all(re.fullmatch(r"[A-Za-z_][\w.-]*", i) for i in ids)
    empty = ArchivePage("p.png", 100, 100, [], [], "1/test", created=CREATED)
    _render(empty, schemas)

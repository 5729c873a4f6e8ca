"""The official PAGE and ALTO schemas shipped in tests/ocr/data/xsd, loaded offline.

Shared by the archive-XML tests (``tests/ocr``, ``tests/export``):

    >>> schemas = archive_schemas()
    >>> schemas["alto"].assertValid(etree.fromstring(xml_bytes))  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

from lxml import etree

XSD = Path(__file__).parent / "data" / "xsd"


class _LocalXlink(etree.Resolver):
    """ALTO imports xlink.xsd by URL; the tests never go to the network for it."""

    def resolve(self, url, pubid, context):
        if url.endswith("/xlink.xsd"):
            return self.resolve_filename(str(XSD / "xlink.xsd"), context)
        return None


def load_schema(name: str) -> etree.XMLSchema:
    parser = etree.XMLParser(no_network=True)
    parser.resolvers.add(_LocalXlink())
    return etree.XMLSchema(etree.parse(str(XSD / name), parser))


def archive_schemas() -> dict[str, etree.XMLSchema]:
    """``{"page": PAGE 2019-07-15, "alto": ALTO 4.4}``, keyed like ``hotich export pages --format``."""
    return {"page": load_schema("pagecontent-2019-07-15.xsd"), "alto": load_schema("alto-4-4.xsd")}

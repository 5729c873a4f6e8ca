"""Exact ground truth of a generated book, so OCR and matching can be scored field by field."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

#: Bumped whenever the same seed would produce different pages or truth.
GENERATOR_VERSION = 2  # 2: red seals on some moderate and heavy pages


@dataclass
class TruthField:
    """What is written in one cell or on one dotted line.

    ``text`` is verbatim (a ditto stays ``nt``), ``value`` is what a perfect reader would store
    after SPEC §3 normalisation (the ditto resolved), ``box`` is where the ink is in the final,
    degraded page image (``[x0, y0, x1, y1]``, pixels, exclusive right/bottom).
    """

    text: str
    value: str | None
    box: list[int] | None = None


@dataclass
class TruthRecord:
    page: int
    row: int
    record_key: str
    fields: dict[str, TruthField]
    #: The real identity behind the entry (full date, canonical names), used to build the
    #: population register; not everything here is written on the page.
    citizen_hint: dict[str, Any] = field(default_factory=dict)


@dataclass
class BookTruth:
    book: dict[str, Any]
    pages: list[dict[str, Any]]
    records: list[TruthRecord]
    #: The BookSpec and the fonts actually used, so a benchmark row names what it measured.
    generator: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=1) + "\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BookTruth:
        records = [
            TruthRecord(
                page=r["page"],
                row=r["row"],
                record_key=r["record_key"],
                fields={k: TruthField(**v) for k, v in r["fields"].items()},
                citizen_hint=r.get("citizen_hint", {}),
            )
            for r in data["records"]
        ]
        return cls(
            book=data["book"],
            pages=data["pages"],
            records=records,
            generator=data.get("generator", {}),
        )

    @classmethod
    def from_json(cls, path: Path | str) -> BookTruth:
        """Load ``truth.json`` back: ``BookTruth.from_json(out / "truth.json").records[0].fields``."""
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))

    def record(self, record_key: str) -> TruthRecord:
        for rec in self.records:
            if rec.record_key == record_key:
                return rec
        raise KeyError(record_key)

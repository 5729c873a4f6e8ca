"""Clean stage: Vietnamese text, names, dates and field rules; the only place that knows them."""

from __future__ import annotations

from pipeline.clean.dates import parse_date
from pipeline.clean.normalize import (
    normalize_record,
    record_confidence,
    record_status,
    resolve_dittos,
)
from pipeline.clean.page import normalize_page
from pipeline.clean.text import folded_key, name_key

# Bump when a rule changes what values come out; stored with each run.
CLEAN_VERSION = "3"  # 2: lexicon correction, year window, numbering, rules; 3: book names (issue 15)

__all__ = [
    "CLEAN_VERSION",
    "folded_key",
    "name_key",
    "normalize_page",
    "normalize_record",
    "parse_date",
    "record_confidence",
    "record_status",
    "resolve_dittos",
]

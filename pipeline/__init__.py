"""hotich: the pipeline that digitizes Vietnam's pre-1990 civil-status registry books.

The front door: what a script or a notebook may import from ``pipeline`` directly, one verb per
stage, in the order a book goes through them. Everything else is the house's inside and may
move. Names are loaded on first use, so ``import pipeline`` stays cheap for a worker process
that needs one corner of it.

    >>> from pipeline import Settings, init_db, make_engine, ingest_files, BookInfo
    >>> from pipeline import process_books, import_population, match_books, export_records
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

#: public name → the module that holds it
_EXPORTS = {
    # settings, database, errors
    "Settings": "pipeline.settings",
    "get_settings": "pipeline.settings",
    "init_db": "pipeline.storage.db",
    "make_engine": "pipeline.storage.db",
    "HotichError": "pipeline.errors",
    "BadInput": "pipeline.errors",
    "NotFound": "pipeline.errors",
    # the stages
    "BookInfo": "pipeline.ingest",
    "ingest_files": "pipeline.ingest",
    "process_books": "pipeline.process",
    "read_page": "pipeline.ocr",
    "normalize_page": "pipeline.clean",
    "import_population": "pipeline.match.population",
    "match_books": "pipeline.match.run",
    "import_records": "pipeline.records_import",
    "export_records": "pipeline.export.records",
    "records_frame": "pipeline.export.records",
    "export_national": "pipeline.export.national",
    "verify_export": "pipeline.export.national",
    "export_pages": "pipeline.export.pages",
    "search_records": "pipeline.search.query",
    "collect_figures": "pipeline.report.figures",
    "write_report": "pipeline.report.render",
    "load_template": "pipeline.templates",
    "run_demo": "pipeline.demo",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pipeline' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # looked up once
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])

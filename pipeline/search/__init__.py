"""Finding records by name (with or without diacritics), birth year, parents and place.

``index`` keeps the inverted index (``search_terms``) in step with the current field values;
``query`` parses what a user types and ranks records. ``search_records`` is the one call a
caller (the CLI, the review app's search box) needs.
"""

from pipeline.storage.search_index import refresh_index, refresh_page_index, reindex
from pipeline.search.query import SearchHit, SearchResult, parse_query, search_records

__all__ = ["SearchHit", "SearchResult", "parse_query", "refresh_index", "refresh_page_index",
           "reindex", "search_records"]

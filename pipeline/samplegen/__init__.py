"""Generated sample registers with exact ground truth, for the demo, the tests and OCR benchmarks.

    >>> from pipeline.samplegen import BookSpec, generate_book
    >>> truth = generate_book(BookSpec(seed=7, template="birth_ledger"), Path("/tmp/b7"))

Same seed, same bytes: every page, ``truth.json`` and ``book.pdf``.
"""

from pipeline.samplegen.book import BookSpec, generate_book, generate_demo_set
from pipeline.samplegen.population import generate_population
from pipeline.samplegen.truth import BookTruth, TruthField, TruthRecord

__all__ = [
    "BookSpec", "BookTruth", "TruthField", "TruthRecord", "generate_book", "generate_demo_set",
    "generate_population",
]

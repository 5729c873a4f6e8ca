"""OCR stage: page image → words with confidences and the template's fields with their boxes."""

from pipeline.ocr.read_page import OCR_VERSION, PageRead, read_page

__all__ = ["OCR_VERSION", "PageRead", "read_page"]

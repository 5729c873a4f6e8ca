"""Reading CSV and XLSX tables people made (population extracts, records typed by communes).

Rows are streamed, so a million-row extract reads in flat memory. A CSV file's encoding (UTF-8
with or without BOM, or a legacy Vietnamese one, see ``pipeline.encodings``) is detected
from its first bytes; XLSX cells are Unicode already, but may hold font-encoded text
(``.VnTime``, VNI), which is detected on the first rows and repaired cell by cell. A line that
cannot be read as a record (an unclosed quote, a line or a cell over the size limits) comes
out as its reason instead of its cells, so the caller reports it with its line number and
goes on. The limits keep one hostile cell (a 10 MB "name") from costing memory: a CSV line
over ``MAX_LINE_CHARS`` is skipped in pieces, never held whole.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

from pipeline.errors import BadInput, UnreadableFile
from pipeline import encodings

SAMPLE_BYTES = 256 * 1024  # enough rows to tell encodings apart, read once
SAMPLE_ROWS = 2000  # XLSX: rows whose text decides whether cells are font-encoded
MAX_RECORD_LINES = 10  # a quoted CSV field may span lines; more than this is an unclosed quote
#: The longest cell, in characters: far above any register or population value (Excel's own
#: limit is 32,767), far below what would hurt when a value is cleaned, keyed and stored.
MAX_CELL_CHARS = 4096
#: The longest CSV line, and record when a quoted field spans lines: under the csv module's
#: field limit (131,072), which would otherwise stop the whole file with a traceback.
MAX_LINE_CHARS = 64 * 1024
XLSX_SUFFIXES = (".xlsx", ".xlsm")

Row = tuple[int, "list[object] | str"]  # (line, cells) or (line, why the line is broken)


@dataclass
class Table:
    """An open table: its header as text and its data rows, both already in Unicode.

    ``rows`` yields ``(line, cells)`` with text cells repaired and, for XLSX, padded to the
    header's width (Excel drops empty cells at a row's end); or ``(line, reason)`` for a line
    that is not a record. ``line`` is the 1-based line (CSV) or row (XLSX) of the file.
    """

    file: str
    encoding: str  # "utf-8", "utf-8-sig", "tcvn3", "xlsx", "xlsx:vni", ...
    header: list[str]
    rows: Iterator[Row]


def open_table(path: Path, encoding: str | None = None, *, sample_bytes: int = SAMPLE_BYTES) -> Table:
    """Open a CSV or XLSX file (by extension) and read its header line.

    ``encoding`` overrides detection (any name ``pipeline.encodings`` knows).

        >>> table = open_table(Path("so_khai_sinh.csv"))
        >>> table.encoding, table.header[:2]
        ('tcvn3', ['record_id', 'full_name'])
    """
    path = Path(path)
    if not path.is_file():
        raise UnreadableFile(f"{path}: không tìm thấy tệp")
    name, records = _open(path, encoding, sample_bytes)
    header = next(records, None)
    if header is None:
        raise BadInput(f"{path.name}: không có dòng tiêu đề", hint="dòng đầu phải là tên các cột")
    if isinstance(header[1], str):
        raise BadInput(f"{path.name} dòng {header[0]} (tiêu đề): {header[1]}",
                       hint="dòng đầu phải là tên các cột")
    if any(len(cell_text(h)) > MAX_CELL_CHARS for h in header[1]):
        raise BadInput(f"{path.name}: dòng tiêu đề có ô dài quá {MAX_CELL_CHARS} ký tự",
                       hint="dòng đầu phải là tên các cột")
    fix = encodings.text_fixer(name)
    names = [cell_text(fix(h) if isinstance(h, str) else h).strip().lstrip("\ufeff").strip()
             for h in header[1]]
    pad = path.suffix.lower() in XLSX_SUFFIXES
    return Table(path.name, name, names, _repaired(records, fix, len(names) if pad else 0, names))


def cell_text(value: object) -> str:
    """A cell as text: Excel numbers without ``.0``, dates as ISO.

        >>> cell_text(12.0), cell_text(dt.datetime(1968, 3, 12)), cell_text(None)
        ('12', '1968-03-12', '')
    """
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _repaired(records: Iterator[Row], fix: Callable[[str], str], width: int,
              header: list[str]) -> Iterator[Row]:
    for line, cells in records:
        if isinstance(cells, list):
            too_long = next((i for i, v in enumerate(cells)
                             if isinstance(v, str) and len(v) > MAX_CELL_CHARS), None)
            if too_long is not None:
                column = header[too_long][:40] if too_long < len(header) else f"thứ {too_long + 1}"
                yield line, (f"ô ở cột {column} dài {len(cells[too_long])} ký tự, "
                             f"tối đa {MAX_CELL_CHARS}")
                continue
            cells = [fix(v) if isinstance(v, str) else v for v in cells]
            if len(cells) < width:
                cells += [None] * (width - len(cells))
        yield line, cells


def _detect_csv_encoding(path: Path, sample_bytes: int) -> str:
    """Encoding name of a CSV file, or a one-line error naming the file."""
    with path.open("rb") as fh:
        sample = fh.read(sample_bytes + 1)
    final = len(sample) <= sample_bytes
    try:
        return encodings.detect(sample[:sample_bytes], final=final).name
    except encodings.UnknownEncoding:
        raise UnreadableFile(
            f"{path.name}: không nhận ra bảng mã (đã thử UTF-8, TCVN3, VNI, CP1258, VISCII)",
            hint="lưu lại tệp dưới dạng CSV UTF-8, hoặc chỉ rõ bằng --encoding",
        ) from None


UNCLOSED_QUOTE = "dấu ngoặc kép (\") không được đóng"
LINE_TOO_LONG = f"dòng dài quá {MAX_LINE_CHARS} ký tự"


def _split_csv(text: str, delimiter: str) -> list[str] | str | None:
    """Fields of one record, None while a quoted field is still open, or why it is broken."""
    try:
        return next(csv.reader([text], delimiter=delimiter, strict=True), [])
    except csv.Error as exc:
        if "unexpected end of data" in str(exc):
            return None
    try:
        return next(csv.reader([text], delimiter=delimiter), [])  # a stray quote: keep as text
    except csv.Error:  # the size limits leave nothing for this; still a row error, never a stop
        return "dòng CSV hỏng"


def _bounded_lines(fh, limit: int) -> Iterator[str | None]:
    """The lines of a text file, None in place of one longer than ``limit`` characters: that
    one is read past in pieces of ``limit``, so memory stays bounded whatever the file holds."""
    while line := fh.readline(limit + 2):  # room for the line's own CRLF
        if len(line.rstrip("\r\n")) <= limit and (len(line) < limit + 2 or line[-1] in "\r\n"):
            yield line
            continue
        while line and line[-1] not in "\r\n":
            line = fh.readline(limit)
        yield None


def _csv_records(lines: Iterable[str | None], delimiter: str) -> Iterator[Row]:
    """Records of a CSV text, each with the line it starts on; never reads past a bad quote.

    The csv module would let one unclosed quote swallow the rest of the file into a single
    field. Here a record may span at most ``MAX_RECORD_LINES`` lines and ``MAX_LINE_CHARS``
    characters; past that its first line is reported broken and the lines after it are read
    again as records of their own. A line over the limit (None) is reported as too long.
    """
    numbered = enumerate(lines, 1)
    pending: deque[tuple[int, str | None]] = deque()
    while (item := pending.popleft() if pending else next(numbered, None)) is not None:
        line, raw = item
        if raw is None:
            yield line, LINE_TOO_LONG
            continue
        text = raw.rstrip("\r\n")
        if not text.strip():
            continue
        if '"' not in text:
            yield line, text.split(delimiter)
            continue
        taken: list[tuple[int, str | None]] = []
        while (fields := _split_csv(text, delimiter)) is None:
            more = pending.popleft() if pending else next(numbered, None)
            if (more is None or more[1] is None or len(taken) + 1 >= MAX_RECORD_LINES
                    or len(text) + len(more[1]) > MAX_LINE_CHARS):
                if more is not None:
                    taken.append(more)
                yield line, UNCLOSED_QUOTE
                pending.extendleft(reversed(taken))
                break
            taken.append(more)
            text += "\n" + more[1].rstrip("\r\n")
        else:
            yield line, fields


def _delimiter(header: str) -> str:
    """``,`` unless the header has more ``;`` or tabs (Excel in a Vietnamese locale writes ``;``)."""
    return max((",", ";", "\t"), key=header.count)


def _read_csv(path: Path, encoding: str) -> Iterator[Row]:
    with path.open(encoding=encodings.codec(encoding), errors="replace", newline="") as fh:
        lines = _bounded_lines(fh, MAX_LINE_CHARS)
        first = next(lines, "")
        delimiter = _delimiter(first or "")
        yield from _csv_records(_chain([first], lines), delimiter)


def _chain(head: list, rest: Iterable) -> Iterator:
    yield from head
    yield from rest


def _read_xlsx(path: Path) -> Iterator[Row]:
    """Rows of the first sheet, streamed (openpyxl read-only mode keeps memory flat)."""
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many types for a bad file
        raise UnreadableFile(f"{path.name}: tệp Excel hỏng, không đọc được") from exc
    try:
        for line, row in enumerate(book.worksheets[0].iter_rows(values_only=True), 1):
            if any(v not in (None, "") for v in row):
                yield line, list(row)
    finally:
        book.close()


def _xlsx_encoding(sample: list[Row]) -> str:
    """``xlsx`` or ``xlsx:<repair>`` when the cells hold font-encoded text (.VnTime, VNI)."""
    text = "\n".join(str(v) for _, cells in sample if isinstance(cells, list) for v in cells if isinstance(v, str))
    return encodings.detect_repair(text, "xlsx").name


def _open(path: Path, encoding: str | None, sample_bytes: int) -> tuple[str, Iterator[Row]]:
    """The encoding name and the records of a table file, header line first."""
    if path.suffix.lower() in XLSX_SUFFIXES:
        records = _read_xlsx(path)
        sample = [r for _, r in zip(range(SAMPLE_ROWS), records)]
        if encoding:  # cells are Unicode already: only a font encoding can be forced
            name = f"xlsx:{encoding}" if encoding in encodings.REPAIRS else "xlsx"
        else:
            name = _xlsx_encoding(sample)
        return name, _chain(sample, records)
    name = encoding or _detect_csv_encoding(path, sample_bytes)
    return name, _read_csv(path, name)

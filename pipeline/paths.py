"""Where things live on disk: the shipped reference data, and the names made from data (book codes)."""

import hashlib
import re
from pathlib import Path

from pipeline.errors import BadInput

PACKAGE_ROOT = Path(__file__).resolve().parent
#: Reference data shipped with the package (templates, fonts, lexicons). In an editable
#: install this is the repository's data/ folder, which is also the default workspace.
REFERENCE_DATA = PACKAGE_ROOT.parent / "data"
TEMPLATES_DIR = REFERENCE_DATA / "templates"
FONTS_DIR = REFERENCE_DATA / "fonts"


# ---- names on disk made from data --------------------------------------------------------

#: The longest book code: the width of ``books.book_code``.
BOOK_CODE_MAX = 64
#: What a book code may hold, as the CLI's help and error messages say it. A code names
#: folders and files (``$HOTICH_HOME/ocr/<code>/``, ``<code>.xlsx`` of the national export, the
#: folders of ``export pages``), so it is kept to what every file system, zip tool and shell
#: takes as one plain name: no Vietnamese letters either (NFC and NFD spellings of one code
#: would make two folders on some systems, and legacy zip tools garble them).
BOOK_CODE_RULE = ("chữ cái không dấu (A-Z, a-z), chữ số, '-', '_', '.'; bắt đầu bằng chữ cái "
                  f"hoặc chữ số, không kết thúc bằng '.'; tối đa {BOOK_CODE_MAX} ký tự")
_BOOK_CODE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9_-])?", re.ASCII)
_CODE_CHAR = re.compile(r"[A-Za-z0-9._-]", re.ASCII)
_PLAIN_NAME = _BOOK_CODE  # a name of its own: what a valid code looks like (length aside)
_NOT_PLAIN = re.compile(r"[^A-Za-z0-9_-]+", re.ASCII)
#: Names Windows keeps for devices, whatever the extension (``CON``, ``nul.txt``).
_WINDOWS_DEVICES = frozenset(
    ["CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(10)), *(f"LPT{i}" for i in range(10))])
_MAX_PLAIN = 120  # record keys are up to 128 characters; a few are kept for a suffix


def _is_device(name: str) -> bool:
    return name.split(".")[0].upper() in _WINDOWS_DEVICES


def shown(text: str, limit: int = 70) -> str:
    """A user's value quoted for a one-line message: control characters escaped, long cut.

        >>> shown("a\\x00b/" + "x" * 100)[:12]
        "'a\\\\x00b/xxxx"
    """
    out = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" if ord(c) < 256 else f"\\u{ord(c):04x}"
                  for c in text[:limit])
    return f"'{out}{'…' if len(text) > limit else ''}'"


def book_code_problem(code: str) -> str | None:
    """Why ``code`` cannot be a new book's code (one Vietnamese phrase), or None when it can.

        >>> book_code_problem("HD-KS-1978.q1"), book_code_problem("../x")
        (None, "có ký tự không được dùng: '/'")
    """
    if not code:
        return "mã sổ trống"
    if len(code) > BOOK_CODE_MAX:
        return f"dài {len(code)} ký tự, tối đa {BOOK_CODE_MAX}"
    bad = sorted({c for c in code if not _CODE_CHAR.fullmatch(c)})
    if bad:
        return "có ký tự không được dùng: " + ", ".join(shown(c) for c in bad[:8])
    if not _BOOK_CODE.fullmatch(code):
        return "phải bắt đầu bằng chữ cái hoặc chữ số và không kết thúc bằng '.'"
    if _is_device(code):
        return "trùng tên thiết bị dành riêng của Windows (CON, NUL, COM1…)"
    return None


def check_book_code(code: str) -> str:
    """``code`` when it may name a new book; BadInput naming the value otherwise.

    Only a book being created is checked: books stored before the rule keep their codes, and
    every path made from a code goes through ``book_dir_name`` anyway.

        >>> check_book_code("HD-KS-1978-1")
        'HD-KS-1978-1'
    """
    problem = book_code_problem(code)
    if problem:
        raise BadInput(f"Mã sổ {shown(code)} không hợp lệ: {problem}", hint=f"mã sổ gồm {BOOK_CODE_RULE}")
    return code


def safe_name(text: str) -> str:
    """One file or folder name made from data (a book code, a record id), never a path.

    A text that follows the book-code rule (length aside) is its own name, so valid book
    codes name their folders as typed. Anything else — ``../../x``, ``/etc``, ``a/b``, NUL, a
    code stored before the rule existed — becomes its plain characters plus ``~`` and a hash of
    the whole text: still readable, never ``.`` or ``..``, never a separator, and two texts
    that differ only in what was replaced (``a/b``, ``a:b``) do not share a folder.

        >>> safe_name("HD-KS-1978-1"), safe_name("../../x")
        ('HD-KS-1978-1', '_x~9cdf6a50100a')
    """
    if _PLAIN_NAME.fullmatch(text) and len(text) <= _MAX_PLAIN and not _is_device(text):
        return text
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return f"{_NOT_PLAIN.sub('_', text).lstrip('-')[:40]}~{digest}"


def book_dir_name(book_code: str) -> str:
    """The name of a book's folder (and the stem of its files): see ``safe_name``."""
    return safe_name(book_code)


def book_path(root: Path, book_code: str) -> Path:
    """``root/<book folder>``: always a direct child of ``root``, whatever the code holds.

        >>> book_path(Path("data/ocr"), "../../etc").parent
        PosixPath('data/ocr')
    """
    path = root / book_dir_name(book_code)
    if path.parent != root or path.name in ("", ".", ".."):  # safe_name makes this impossible
        raise ValueError(f"book folder outside {root}")
    return path

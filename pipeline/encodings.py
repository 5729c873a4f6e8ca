"""Legacy Vietnamese encodings of population files: decode, encode and detect them.

Extracts older than Unicode come in four 8-bit encodings:

    cp1258   Windows-1258: a few precomposed letters, tones as combining marks (decode → NFC)
    tcvn3    TCVN 5712:1993 (the ABC fonts, .VnTime): one byte per letter
    vni      VNI-Windows fonts: a base letter followed by a mark byte (``Nguyeãn``)
    viscii   VISCII 1.1 (RFC 1456): one byte per letter, six capitals in control positions

TCVN3 and VNI are *font* encodings: old Windows software stored their bytes as if they were
CP1252, so they are also met inside files that are otherwise good UTF-8 or XLSX (``NguyÔn
V¨n An``). Those, and UTF-8 that was read as CP1252 and saved again (``Nguyá»…n``), are
repaired cell by cell after reading; the repair is named ``<container>:<repair>``, for example
``xlsx:tcvn3`` or ``utf-8:mojibake``.

Which one a file uses is decided by decoding a sample every possible way and keeping the
reading in which most words are Vietnamese syllables (``pipeline.clean.syllables``).

The tables below were built from the standards' published code charts (RFC 1456 for VISCII,
TCVN 5712:1993 for TCVN3, the VNI-Windows keyboard/font chart for VNI).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

from pipeline.clean.syllables import is_valid_syllable
from pipeline.errors import BadInput

BOM = b"\xef\xbb\xbf"
LEGACY = ("tcvn3", "vni", "cp1258", "viscii")  # also the preference order on a tie
REPAIRS = ("tcvn3", "vni", "mojibake")
MIN_SCORE = 0.75  # share of non-ASCII words that must be Vietnamese syllables to accept a reading

_LABELS = {
    "utf-8": "UTF-8", "utf-8-sig": "UTF-8 (có BOM)", "cp1258": "Windows-1258 (CP1258)",
    "tcvn3": "TCVN3 (ABC)", "vni": "VNI-Windows", "viscii": "VISCII", "xlsx": "Excel (Unicode)",
    "mojibake": "UTF-8 bị đọc nhầm thành CP1252",
}


class UnknownEncoding(BadInput, ValueError):
    """No decoding of the sample reads as Vietnamese; ``scores`` says how close each came."""

    def __init__(self, scores: dict[str, float]):
        super().__init__("Không nhận ra bảng mã (" + ", ".join(
            f"{k} {v:.0%}" for k, v in scores.items()) + ")")
        self.scores = scores


#: What a user may name with ``--encoding`` (anything else is detected, never forced).
CHOOSABLE = ("utf-8", "utf-8-sig", "cp1258", "tcvn3", "vni", "viscii")


def check_choice(name: str | None) -> None:
    """A one-line refusal of an ``--encoding`` that is none of ``CHOOSABLE``.

        >>> check_choice("tcvn3"), check_choice(None)
        (None, None)
    """
    if name and name not in CHOOSABLE:
        raise BadInput(f"--encoding '{name}' không hợp lệ",
                       hint="dùng một trong " + ", ".join(c for c in CHOOSABLE if c != "utf-8-sig"))


def describe(name: str) -> str:
    """Vietnamese label of an encoding name, for the CLI.

    >>> describe("xlsx:tcvn3")
    'Excel (Unicode), chữ TCVN3 (ABC) đã chuyển sang Unicode'
    """
    container, _, repair = name.partition(":")
    label = _LABELS.get(container, container)
    return f"{label}, chữ {_LABELS[repair]} đã chuyển sang Unicode" if repair else label


# --- VISCII 1.1 (RFC 1456, table 1) ---------------------------------------------------------

_VISCII_LOW = {0x02: "Ẳ", 0x05: "Ẵ", 0x06: "Ẫ", 0x14: "Ỷ", 0x19: "Ỹ", 0x1E: "Ỵ"}
_VISCII_HIGH = (
    "ẠẮẰẶẤẦẨẬẼẸẾỀỂỄỆỐ"  # 0x80
    "ỒỔỖỘỢỚỜỞỊỎỌỈỦŨỤỲ"  # 0x90
    "Õắằặấầẩậẽẹếềểễệố"  # 0xA0
    "ồổỗỠƠộờởịỰỨỪỬơớƯ"  # 0xB0
    "ÀÁÂÃẢĂẳẵÈÉÊẺÌÍĨỳ"  # 0xC0
    "ĐứÒÓÔạỷừửÙÚỹỵÝỡư"  # 0xD0
    "àáâãảăữẫèéêẻìíĩỉ"  # 0xE0
    "đựòóôõỏọụùúũủýợỮ"  # 0xF0
)

# --- TCVN 5712:1993 ---------------------------------------------------------------------------
# VN3 (the ABC fonts) has the lower-case letters and the seven bare capitals at 0xA1-0xFE; the
# capitals with a tone sit where VN1/VN2 put them (control positions, 0x80-0x9F and a few gaps),
# decoded too since a file never holds those bytes for anything else. 0xB0-0xB4 are the five
# combining tone marks.

_TCVN3_LOW = {0x01: "Ú", 0x02: "Ụ", 0x04: "Ừ", 0x05: "Ử", 0x06: "Ữ", 0x11: "Ứ", 0x12: "Ự",
              0x13: "Ỳ", 0x14: "Ỷ", 0x15: "Ỹ", 0x16: "Ý", 0x17: "Ỵ"}
_TCVN3_HIGH = (
    "ÀẢÃÁẠẶẬÈẺẼÉẸỆÌỈĨ"  # 0x80
    "ÍỊÒỎÕÓỌỘỜỞỠỚỢÙỦŨ"  # 0x90
    "\u00a0ĂÂÊÔƠƯĐăâêôơưđẰ"  # 0xA0
    "\u0300\u0309\u0303\u0301\u0323àảãáạẲằẳẵắẴ"  # 0xB0
    "ẮẦẨẪẤỀặầẩẫấậèỂẻẽ"  # 0xC0
    "éẹềểễếệìỉỄẾỒĩíịò"  # 0xD0
    "Ổỏõóọồổỗốộờởỡớợù"  # 0xE0
    "ỖủũúụừửữứựỳỷỹýỵỐ"  # 0xF0
)


def _charmap(low: dict[int, str], high: str) -> str:
    """The 256 characters of a single-byte table whose lower half is ASCII except ``low``."""
    assert len(high) == 128
    return "".join(low.get(b, chr(b)) for b in range(128)) + high


_CHARMAPS = {"viscii": _charmap(_VISCII_LOW, _VISCII_HIGH), "tcvn3": _charmap(_TCVN3_LOW, _TCVN3_HIGH)}


def _cp1252_byte_chars() -> dict[int, int]:
    """CP1252 character → the byte it came from, for 0x80-0x9F (undefined bytes map to themselves).

    Undoes "font encoding bytes read as CP1252": Excel with a .VnTime font stored ``Ô`` for
    the byte 0xD4 (``ễ`` in TCVN3) and ``€`` for 0x80.
    """
    back = {}
    for b in range(0x80, 0xA0):
        try:
            back[ord(bytes([b]).decode("cp1252"))] = b
        except UnicodeDecodeError:
            pass
    return back


_CP1252_BACK = _cp1252_byte_chars()


def _translation(table: str) -> dict[int, str]:
    """``str.translate`` table from text read as latin-1 or CP1252 to the characters of ``table``."""
    out = {b: c for b, c in enumerate(table) if c != chr(b)}
    for char, b in _CP1252_BACK.items():
        out[char] = table[b]
    return out


_TRANSLATIONS = {name: _translation(table) for name, table in _CHARMAPS.items()}
_ENCODE_TABLES = {name: {c: b for b, c in enumerate(table) if not unicodedata.combining(c)}
                  for name, table in _CHARMAPS.items()}


# --- VNI-Windows ------------------------------------------------------------------------------
# A letter is its base (a e o u y, or ô ö for ơ ư) followed by one mark byte that carries the
# shape and the tone together; i's with a tone, đ, ơ, ư and ỵ are single bytes. Capitals use
# the capital form of the same bytes (aù → AÙ for á → Á).

_GRAVE, _ACUTE, _HOOK, _TILDE, _DOT = "\u0300", "\u0301", "\u0309", "\u0303", "\u0323"
_TONE_MARKS = frozenset((_GRAVE, _ACUTE, _HOOK, _TILDE, _DOT))
_VNI_TONE = {"": "", _GRAVE: "ø", _ACUTE: "ù", _HOOK: "û", _TILDE: "õ", _DOT: "ï"}
_VNI_HAT = {"": "â", _ACUTE: "á", _GRAVE: "à", _HOOK: "å", _TILDE: "ã", _DOT: "ä"}  # â ê ô
_VNI_BREVE = {"": "ê", _ACUTE: "é", _GRAVE: "è", _HOOK: "ú", _TILDE: "ü", _DOT: "ë"}  # ă
_VNI_I = {"": "i", _GRAVE: "ì", _ACUTE: "í", _HOOK: "æ", _TILDE: "ó", _DOT: "ò"}
_VNI_WHOLE = {"đ": "ñ", "ơ": "ô", "ư": "ö"}
_BASES = "aăâeêioôơuưy"


def _vni_lower(base: str, tone: str) -> str:
    """VNI spelling of the lower-case letter ``base`` (a Vietnamese vowel) with ``tone``."""
    if base == "i":
        return _VNI_I[tone]
    if base == "y" and tone == _DOT:
        return "î"
    if base in "âêô":
        return {"â": "a", "ê": "e", "ô": "o"}[base] + _VNI_HAT[tone]
    if base == "ă":
        return "a" + _VNI_BREVE[tone]
    return _VNI_WHOLE.get(base, base) + _VNI_TONE[tone]


@lru_cache(maxsize=1)
def _vni_encode_table() -> dict[str, str]:
    """Every Vietnamese letter (both cases, NFC) → its VNI spelling, as latin-1 text."""
    table = {"đ": "ñ", "Đ": "Ñ"}
    for base in _BASES:
        for tone in _VNI_TONE:
            letter = unicodedata.normalize("NFC", base + tone)
            spelling = _vni_lower(base, tone)
            if spelling != letter:
                table[letter] = spelling
                table[letter.upper()] = spelling.upper()
    return table


@lru_cache(maxsize=1)
def _vni_decoder() -> tuple[re.Pattern[str], dict[str, str]]:
    """Regex over VNI spellings, longest first, and spelling → letter.

    A capital base with a small mark (``Aù``) is accepted too: typists mixed the two and the
    fonts draw them alike; the letter takes the case of its base.
    """
    back: dict[str, str] = {}
    for letter, spelling in _vni_encode_table().items():
        back[spelling] = letter
        if len(spelling) == 2:
            base, mark = spelling
            back.setdefault(base + mark.swapcase(), letter)
    back = {k: v for k, v in back.items() if k != v}
    keys = sorted(back, key=len, reverse=True)
    return re.compile("|".join(map(re.escape, keys))), back


def _vni_to_unicode(text: str) -> str:
    pattern, back = _vni_decoder()
    return pattern.sub(lambda m: back[m.group()], text)


# --- CP1258 -----------------------------------------------------------------------------------

def _cp1258_encode(text: str) -> bytes:
    """CP1258 bytes of NFC text: precomposed where the code page has the letter, else the letter
    without its tone followed by the combining tone mark (as Windows writes it)."""
    out = bytearray()
    for char in text:
        try:
            out += char.encode("cp1258")
            continue
        except UnicodeEncodeError:
            pass
        parts = unicodedata.normalize("NFD", char)
        tone = "".join(c for c in parts if c in _TONE_MARKS)
        base = unicodedata.normalize("NFC", "".join(c for c in parts if c not in _TONE_MARKS))
        out += (base + tone).encode("cp1258")  # raises for a letter CP1258 cannot spell
    return bytes(out)


# --- public codec API -------------------------------------------------------------------------

def encode(text: str, name: str) -> bytes:
    """Bytes of ``text`` in a legacy encoding (what an old program would have saved).

    >>> encode("Nguyễn Văn", "vni")
    b'Nguye\\xe3n Va\\xean'
    """
    text = unicodedata.normalize("NFC", text)
    if name == "cp1258":
        return _cp1258_encode(text)
    if name == "vni":
        table = _vni_encode_table()
        return "".join(table.get(c, c) for c in text).encode("latin-1")
    if name in _ENCODE_TABLES:
        table = _ENCODE_TABLES[name]
        try:
            return bytes(table[c] for c in text)
        except KeyError as exc:
            raise UnicodeEncodeError(name, text, 0, len(text), f"no byte for {exc.args[0]!r}") from None
    return text.encode(name)


def codec(name: str) -> str:
    """The Python codec that turns a file's bytes into text, before ``text_fixer(name)``.

    Font encodings are read as latin-1 (every byte is one character, the CSV punctuation stays
    ASCII) and mapped to letters afterwards, cell by cell.

    >>> codec("vni"), codec("utf-8:tcvn3"), codec("cp1258")
    ('latin-1', 'utf-8', 'cp1258')
    """
    container = name.partition(":")[0]
    if container in ("tcvn3", "vni", "viscii"):
        return "latin-1"
    return container


def text_fixer(name: str) -> Callable[[str], str]:
    """str → str that finishes decoding a cell read with ``codec(name)``.

    >>> text_fixer("tcvn3")("Ph\\xb9m V\\xa8n")
    'Phạm Văn'
    """
    container, _, repair = name.partition(":")
    step = repair or container
    if step in _TRANSLATIONS:
        table = _TRANSLATIONS[step]
        # No ASCII shortcut: VISCII and TCVN3 put capitals on control bytes.
        return lambda s: unicodedata.normalize("NFC", s.translate(table))
    if step == "vni":
        return lambda s: _vni_to_unicode(s) if not s.isascii() else s
    if step == "mojibake":
        return _unmojibake
    if step == "cp1258":
        return lambda s: unicodedata.normalize("NFC", s)
    return lambda s: s


def _unmojibake(text: str) -> str:
    """UTF-8 that was read as CP1252 and saved again, back to what it was; other text unchanged."""
    if text.isascii():
        return text
    try:
        raw = text.translate({c: chr(b) for c, b in _CP1252_BACK.items()}).encode("latin-1")
        return unicodedata.normalize("NFC", raw.decode("utf-8"))
    except UnicodeError:
        return text


def decode(data: bytes, name: str, errors: str = "strict") -> str:
    """Text of ``data`` in encoding ``name`` (any name ``detect`` returns), NFC.

    >>> decode(b"Nguy\\xd4n V\\xa8n An", "tcvn3")
    'Nguyễn Văn An'
    """
    return text_fixer(name)(data.decode(codec(name), errors))


# --- detection --------------------------------------------------------------------------------

_TOKEN = re.compile(r"[^\s\d,.;:!?\"'()\[\]{}<>/\\|_+=*&%$#@~`-]+")


@lru_cache(maxsize=1 << 16)
def _is_syllable(token: str) -> bool:
    return is_valid_syllable(unicodedata.normalize("NFC", token))


def vietnamese_score(text: str) -> tuple[float, int]:
    """Share of the words with a non-ASCII letter that are Vietnamese syllables, and their number.

    Only those words tell encodings apart: ASCII reads the same in all of them.

    >>> vietnamese_score("Nguyễn Văn An, NguyÔn V¨n An")
    (0.5, 4)
    """
    words = [w for w in _TOKEN.findall(text) if not w.isascii()]
    if not words:
        return 1.0, 0
    return sum(map(_is_syllable, words)) / len(words), len(words)


@dataclass(frozen=True)
class Detection:
    name: str  # "utf-8", "tcvn3", "utf-8:vni", ...
    score: float  # vietnamese_score of the sample in this reading
    words: int


def _utf8_text(sample: bytes, final: bool) -> str | None:
    try:
        return sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        if not final and exc.start > len(sample) - 4:  # a character cut at the end of the sample
            return sample[: exc.start].decode("utf-8")
        return None


def detect_repair(text: str, container: str) -> Detection:
    """``container`` or ``container:<repair>`` for text that is already Unicode (UTF-8, XLSX).

    A repair is chosen only when the text as it is reads badly and the repaired text well: real
    Vietnamese in Unicode scores near 1, so a good file is never "repaired".

    >>> detect_repair("NguyÔn V¨n An, TrÇn ThÞ BÐ", "xlsx").name
    'xlsx:tcvn3'
    """
    score, words = vietnamese_score(text)
    plain = Detection(container, score, words)
    if score >= MIN_SCORE:
        return plain
    best = plain
    for repair in REPAIRS:
        fixed = text_fixer(f"{container}:{repair}")(text)
        s, n = vietnamese_score(fixed)
        if s >= MIN_SCORE and s > best.score + 0.2:
            best = Detection(f"{container}:{repair}", s, n)
    return best


def detect(sample: bytes, *, final: bool = False) -> Detection:
    """Encoding of a file from its first bytes (``final``: the sample is the whole file).

    BOM → ``utf-8-sig``; valid UTF-8 → ``utf-8`` (or a repair of it); otherwise the legacy
    encoding whose reading has the most Vietnamese syllables. Raises ``UnknownEncoding`` when
    no reading is convincing.

    >>> detect("Trần Thị Bé".encode("utf-8")).name, detect(encode("Trần Thị Bé", "vni")).name
    ('utf-8', 'vni')
    """
    if sample.startswith(BOM):
        return detect_repair(_utf8_text(sample[3:], final) or "", "utf-8-sig")
    text = _utf8_text(sample, final)
    if text is not None:
        found = detect_repair(text, "utf-8")
        if found.score >= MIN_SCORE or found.words == 0:
            return found
    scores: dict[str, float] = {}
    best: Detection | None = None
    for name in LEGACY:
        try:
            score, words = vietnamese_score(decode(sample, name))
        except UnicodeError:
            continue  # a byte this code page does not define
        scores[name] = score
        if score >= MIN_SCORE and (best is None or score > best.score):
            best = Detection(name, score, words)
    if best is None:
        if text is not None:
            return found  # valid UTF-8 with unusual words beats no reading at all
        raise UnknownEncoding(scores)
    return best

"""What registers write into a name field besides the name: ages, relation words, glued words.

Clerks wrote a parent's age after the name when the form had no room for it (``Chu Quang Hưng
(45t)``, ``Lưu Thị Thanh, 33 tuổi``) or only the age when the name was unknown (``24 tuổi``);
they wrote ``Ông``/``Bà`` before a name; typists dropped spaces (``LưuThị``, ``NGUYỄNVĂN``).
Left in, each of these makes a name that no citizen has, and one such field can veto a link
every other field supports. This module finds them in the text only; ``normalize_record``
moves a parent's age into ``father_age``/``mother_age`` and the raw reading is kept as it was.
The matcher runs the same ``clean_name_text`` over both sides, so the population's names are
compared in the same shape.

The name lexicon decides splits and relation words; each function takes the one the run uses
(``lexicon``, default: ``name_lexicon()`` — the learned one once installed), and the caches
below are per lexicon, so a newly learned lexicon is not answered from the old one's cache.
"""

from __future__ import annotations

import re
from functools import lru_cache

from pipeline.clean.fields import normalize_age
from pipeline.clean.lexicon import NameLexicon, name_lexicon
from pipeline.clean.syllables import is_valid_syllable
from pipeline.clean.text import collapse_spaces, folded_key, nfc, strip_marks

#: The age field beside each parent's name (birth register, SPEC §3).
AGE_FIELDS = {"father_name": "father_age", "mother_name": "mother_age"}

_SEP = r"(?P<sep>\s*[,;(\-–—]\s*|\s+|^)"
# "45t", "45 t.", "45 tuổi", "45tuổi", "tuổi 45", "tuổi: 45", "(45)"; the "t" must end a word.
_AGE_NUMBER = (r"(?:tuổi|tuoi)\s*:?\s*\d{1,3}"
               r"|\d{1,3}\s*(?:tuổi|tuoi|t(?![^\W\d_]))\.?"
               r"|\d{1,3}(?=\s*\))")
# "ba mươi ba tuổi" after a comma or an opening bracket: words then "tuổi".
_AGE_WORDS = r"(?<=[,(])\s*[^\W\d_][^\W\d_ ]*(?:\s+[^\W\d_]+){0,3}\s+(?:tuổi|tuoi)"
_AGE_TAIL = re.compile(
    rf"(?:{_SEP}(?P<age>{_AGE_NUMBER})|\s*[,(](?P<words>{_AGE_WORDS}))"
    r"\s*\)?[\s.,;]*$",
    re.IGNORECASE,
)
_DIGIT = re.compile(r"\d")
_ONLY_NUMBER = re.compile(r"[\s(]*(?P<age>\d{1,3})[\s).]*")

# Words a clerk put before a parent's name; only dropped before a surname and a full name
# (``strip_relation``), so a citizen whose surname is Ông (Ông Văn Khiêm) keeps it.
_RELATION_WORDS = {"ông", "bà", "cha", "mẹ", "bố", "má"}
# Văn and Thị are listed surnames but far more often the middle name of a name with no
# surname written (``Ông Văn Khiêm`` is Mr Ông Văn Khiêm, not "Mr Văn Khiêm").
_MIDDLE_ONLY = {"van", "thi"}


def split_age(text: str) -> tuple[str, str | None]:
    """The name part of a name field and the age written after it (as written), if any.

    The age must read as a parent's age (``normalize_age`` without a doubt, 10 to 99): text
    that does not stays in the name. A field holding only an age gives an empty name.

    >>> split_age("Chu Quang Hưng (45t)"), split_age("Lưu Thị Thanh, 33 tuổi")
    (('Chu Quang Hưng', '45t'), ('Lưu Thị Thanh', '33 tuổi'))
    >>> split_age("24 tuổi"), split_age("Nguyễn Văn Tư")
    (('', '24 tuổi'), ('Nguyễn Văn Tư', None))
    """
    text = collapse_spaces(nfc(text or ""))
    low = text.casefold()
    if not _DIGIT.search(text) and "tuổi" not in low and "tuoi" not in low:
        return text, None  # most names: the matcher cleans every distinct one
    whole = _ONLY_NUMBER.fullmatch(text)
    m = None if whole else _AGE_TAIL.search(text)
    if whole:
        age = whole.group("age")
    elif m:
        age = (m.group("age") or m.group("words")).strip()
    else:
        return text, None
    value, doubt = normalize_age(age)
    if value is None or doubt:  # "Nguyễn Văn 5t" is a misread letter more than a parent of 5
        return text, None
    return ("" if whole else text[:m.start()].rstrip(" ,;(-–—")), age


def strip_relation(text: str, lexicon: NameLexicon | None = None) -> str:
    """A name without the ``Ông``/``Bà``/``Cha``/``Mẹ`` a clerk wrote before it.

    Dropped only when a known surname (marks or not) other than Văn/Thị follows and at least
    three words are left, so that a given name or the surname Ông (``Ông Lài An``) is not taken
    for a relation word.

    >>> strip_relation("Bà Lưu Thị Thanh"), strip_relation("Ông Văn Khiêm")
    ('Lưu Thị Thanh', 'Ông Văn Khiêm')
    """
    words = text.split()
    if len(words) >= 4 and words[0].rstrip(":.,").casefold() in _RELATION_WORDS \
            and folded_key(words[1]) in _folded_surnames(lexicon or name_lexicon()) \
            and folded_key(words[1]) not in _MIDDLE_ONLY:
        return " ".join(words[1:])
    return text


@lru_cache(maxsize=4)
def _folded_surnames(lexicon: NameLexicon) -> frozenset[str]:
    """Surnames without marks: ``Bà Le Thi Hoa`` lost them, ``Bà`` still says what it is."""
    return frozenset(folded_key(w) for w in lexicon.surnames.words.values())


def _in_names(word: str, lex: NameLexicon) -> bool:
    return word in lex.surnames or word in lex.middle or word in lex.given


def split_word(word: str, lexicon: NameLexicon | None = None) -> tuple[str, ...]:
    """The syllables of a word typed without its spaces, or the word alone when unsure.

    A split is taken only when the whole is not one valid syllable and every part is: at a
    capital that follows a small letter (``LưuThị``), or, in a word of one case, when every
    part is a name word of the lexicon and no other split into as few parts is
    (``ĐÌNHTHẮNG``). Valid syllables alone are not enough: ``Nguyễu`` (a slip for Nguyễn)
    would be ``Nguy`` + ``ễu`` and ``Thuan`` (Thuận without its marks) ``Thu`` + ``an``; those
    are left for the lexicon, or a person, to repair, and a word of one case without any mark
    is never split.

    >>> split_word("LưuThị"), split_word("NGUYỄNVĂN"), split_word("Nguyễu")
    (('Lưu', 'Thị'), ('NGUYỄN', 'VĂN'), ('Nguyễu',))
    """
    return _split_word(word, lexicon or name_lexicon())


@lru_cache(maxsize=1 << 16)
def _split_word(word: str, lexicon: NameLexicon) -> tuple[str, ...]:
    if len(word) < 4 or not word.isalpha() or is_valid_syllable(word):
        return (word,)
    camel = [i for i in range(1, len(word)) if word[i].isupper() and word[i - 1].islower()]
    if camel:
        parts = tuple(word[a:b] for a, b in zip([0, *camel], [*camel, len(word)]))
        if all(is_valid_syllable(p) for p in parts):
            return parts
    if strip_marks(word) == word:
        return (word,)  # THUAN is Thuận without its marks far more often than Thu + An
    splits = sorted((len(parts), parts) for parts in _splits(word, 3)
                    if all(_in_names(p, lexicon) for p in parts))
    if not splits or len(splits) > 1 and splits[1][0] == splits[0][0]:
        return (word,)  # none, or two as short (ANHƯNG: An Hưng or Anh Ưng): no telling
    return splits[0][1]


def _splits(word: str, most: int) -> list[tuple[str, ...]]:
    """Every way of cutting ``word`` into 2..``most`` valid syllables."""
    out: list[tuple[str, ...]] = []
    for i in range(1, len(word)):
        head, rest = word[:i], word[i:]
        if not is_valid_syllable(head):
            continue
        if is_valid_syllable(rest):
            out.append((head, rest))
        if most > 2:
            out += [(head, *tail) for tail in _splits(rest, most - 1)]
    return out


def unglue_words(text: str, lexicon: NameLexicon | None = None) -> str:
    """Every glued word of a name split into its syllables (``split_word``).

    >>> unglue_words("NGUYỄNVĂN HỮU THỌ")
    'NGUYỄN VĂN HỮU THỌ'
    """
    lexicon = lexicon or name_lexicon()
    return " ".join(part for word in text.split() for part in _split_word(word, lexicon))


def clean_name_text(text: str, lexicon: NameLexicon | None = None) -> tuple[str, str | None]:
    """A name field's text without age and relation word, glued words split; and the age.

    Idempotent: cleaning the cleaned name changes nothing.

    >>> clean_name_text("Bà LưuThị Thanh, 33 tuổi")
    ('Lưu Thị Thanh', '33 tuổi')
    """
    lexicon = lexicon or name_lexicon()
    name, age = split_age(text)
    return strip_relation(unglue_words(name, lexicon), lexicon), age

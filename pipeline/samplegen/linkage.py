"""Birth records and a population extract with exact truth, built as families, for matcher benchmarks.

    >>> ls = generate_linkage(2_000, 20_000, seed=7)
    >>> ls.records.columns.tolist()[:3], ls.truth["kind"].value_counts().index[0]
    (['record_id', 'book_id', 'full_name'], 'clean')

Children born 1955-1990 in communes of Nghệ An and Hà Tĩnh are registered in commune books
(the records, normalised as the clean stage writes them); today's population database holds
those who lived and stayed, spelt its own way, among other people of the same provinces with
the same names. What makes the job hard is built in, each at a rate in ``RATES``:

* siblings with the same parents (families of 2-6 children), twins (same date, same parents),
  cousins (fathers are brothers: same surname and middle name; one cousin has a near-identical
  name and a birth date within two years);
* children who died young (a record, no citizen), and in part of those families a later
  sibling, born 1-5 years after, given the dead child's name, who *is* a citizen;
* on the records: Tesseract-like confusions (ấ/ẩ, ế/ể, ố/ổ, ư/u, ơ/o, đ/d, a dropped mark),
  the book's tone-placement style (hoà/hòa), a missing middle name, merged words
  (``NguyễnVăn An``), year-only and year-month dates, lunar dates (the solar date is about a
  month later), dates a few days off or with day and month swapped, birth places with the
  province and districts of the time (Nghệ Tĩnh 1976-1991; communes since moved to Cửa Lò,
  Thái Hòa, Hoàng Mai, Lộc Hà, Hồng Lĩnh);
* in the population data: the other tone style, a dropped middle name, a changed given name,
  rows from old systems with every diacritic stripped, ``YYYY-01-01`` placeholder dates,
  swapped day and month, missing parents.

Everything is drawn from ``seed`` with numpy; the citizens are built column-wise (names from
integer codes, each distinct string made once), so 2 000 000 of them take seconds.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from typing import Callable

import numpy as np
import pandas as pd

from pipeline.clean.text import strip_marks
from pipeline.paths import REFERENCE_DATA
from pipeline.samplegen.content import has_tone_variant, lexicon, swap_tone_style

RECORD_COLUMNS = ["record_id", "book_id", "full_name", "sex", "birth_date", "birth_place",
                  "father_name", "father_age", "mother_name", "mother_age", "registration_date"]
CITIZEN_COLUMNS = ["citizen_id", "full_name", "sex", "birth_date", "birth_place", "father_name",
                   "mother_name"]
TRUTH_COLUMNS = ["record_id", "citizen_id", "kind", "hard", "noise"]
KINDS = ("clean", "noisy", "no_counterpart", "dead_child", "dead_child_renamed_sibling")
NO_COUNTERPART_KINDS = ("no_counterpart", "dead_child", "dead_child_renamed_sibling")
# a field left blank: tagged in ``truth.noise`` but not counted as making a pair "noisy"
MISSING_TAGS = ("no_father", "no_sex", "cit_no_father", "cit_no_mother", "cit_no_place")

#: The rates the generator is built with (per child, per record or per citizen row as named).
RATES: dict[str, float] = {
    "registered": 0.85,          # a child born 1955-1990 has a record in the batch
    "died_young": 0.09,          # child: record, no citizen
    "renamed_after_dead": 0.45,  # dead child: a later sibling gets the same name
    "not_in_extract": 0.07,      # living child: moved away, missing from the extract
    "twins": 0.025,              # a later child is the twin of the one before
    "cousin_family": 0.20,       # family whose father is the brother of the previous family's
    "rec_ocr": 0.10,             # record name field with a Tesseract confusion
    "rec_new_tone_book": 0.35,   # book written in the new tone style (hoà)
    "rec_drop_middle": 0.03,
    "rec_merged": 0.02,          # NguyễnVăn An
    "rec_no_sex": 0.02,
    "rec_no_father": 0.03,
    "rec_year_only": 0.03,
    "rec_year_month": 0.02,
    "rec_lunar": 0.03,
    "rec_days_off": 0.03,
    "rec_swap": 0.015,
    "rec_place_short": 0.25,     # commune only, or "Trạm xá xã …"
    "cit_tone": 0.30,
    "cit_drop_middle": 0.05,
    "cit_changed_given": 0.015,
    "cit_stripped": 0.06,        # whole row without diacritics (old systems)
    "cit_placeholder": 0.05,     # YYYY-01-01
    "cit_swap": 0.02,
    "cit_year_only": 0.01,
    "cit_no_father": 0.10,
    "cit_no_mother": 0.06,
    "cit_no_place": 0.03,
}

# Hà Tĩnh, which places.json (Nghệ An) lacks: districts and some communes, general knowledge.
_HA_TINH = {
    "Đức Thọ": ["Đức Đồng", "Đức Lạng", "Đức Lạc", "Đức Hòa", "Tùng Ảnh", "Trường Sơn", "Tùng Châu",
                "Đức Nhân", "Đức Vĩnh", "Đức Long"],
    "Can Lộc": ["Trường Lộc", "Thiên Lộc", "Vượng Lộc", "Thuần Thiện", "Kim Lộc", "Thanh Lộc",
                "Tiến Lộc", "Khánh Lộc", "Gia Hanh", "Xuân Lộc"],
    "Thạch Hà": ["Thạch Long", "Thạch Sơn", "Thạch Kênh", "Thạch Liên", "Thạch Đài", "Thạch Ngọc",
                 "Thạch Hương", "Thạch Xuân", "Thạch Vĩnh"],
    "Cẩm Xuyên": ["Cẩm Bình", "Cẩm Thành", "Cẩm Duệ", "Cẩm Quang", "Cẩm Thạch", "Cẩm Vịnh",
                  "Cẩm Hưng", "Cẩm Nhượng"],
    "Kỳ Anh": ["Kỳ Tiến", "Kỳ Phong", "Kỳ Bắc", "Kỳ Xuân", "Kỳ Khang", "Kỳ Văn", "Kỳ Thọ"],
    "Hương Sơn": ["Sơn Tây", "Sơn Kim", "Sơn Diệm", "Sơn Hồng", "Sơn Lễ", "Sơn Bằng", "Sơn Tiến"],
    "Hương Khê": ["Hương Long", "Hương Xuân", "Phúc Trạch", "Hương Trà", "Hà Linh", "Gia Phố",
                  "Hương Đô"],
    "Nghi Xuân": ["Xuân Hội", "Xuân Phổ", "Xuân Đan", "Xuân Trường", "Xuân Thành", "Xuân Yên",
                  "Cổ Đạm", "Xuân Liên"],
}
_HA_TINH_SHARE = 0.28

# Communes that changed district (and some from xã to phường) after the books were written:
# (commune, district then, unit today, district today, commune unit today).
_MOVED = [
    ("Nghi Thủy", "Nghi Lộc", "Thị xã", "Cửa Lò", "Phường"),
    ("Nghi Tân", "Nghi Lộc", "Thị xã", "Cửa Lò", "Phường"),
    ("Nghi Thu", "Nghi Lộc", "Thị xã", "Cửa Lò", "Phường"),
    ("Nghi Hương", "Nghi Lộc", "Thị xã", "Cửa Lò", "Phường"),
    ("Nghi Hải", "Nghi Lộc", "Thị xã", "Cửa Lò", "Phường"),
    ("Nghĩa Mỹ", "Nghĩa Đàn", "Thị xã", "Thái Hòa", "Xã"),
    ("Nghĩa Thuận", "Nghĩa Đàn", "Thị xã", "Thái Hòa", "Xã"),
    ("Tây Hiếu", "Nghĩa Đàn", "Thị xã", "Thái Hòa", "Xã"),
    ("Đông Hiếu", "Nghĩa Đàn", "Thị xã", "Thái Hòa", "Xã"),
    ("Quỳnh Thiện", "Quỳnh Lưu", "Thị xã", "Hoàng Mai", "Phường"),
    ("Quỳnh Xuân", "Quỳnh Lưu", "Thị xã", "Hoàng Mai", "Phường"),
    ("Quỳnh Dị", "Quỳnh Lưu", "Thị xã", "Hoàng Mai", "Phường"),
    ("Quỳnh Phương", "Quỳnh Lưu", "Thị xã", "Hoàng Mai", "Phường"),
    ("Quỳnh Vinh", "Quỳnh Lưu", "Thị xã", "Hoàng Mai", "Xã"),
    ("Quỳnh Liên", "Quỳnh Lưu", "Thị xã", "Hoàng Mai", "Xã"),
    ("Thạch Kim", "Thạch Hà", "Huyện", "Lộc Hà", "Xã"),
    ("Thạch Bằng", "Thạch Hà", "Huyện", "Lộc Hà", "Xã"),
    ("Thạch Mỹ", "Thạch Hà", "Huyện", "Lộc Hà", "Xã"),
    ("Mai Phụ", "Thạch Hà", "Huyện", "Lộc Hà", "Xã"),
    ("Thịnh Lộc", "Can Lộc", "Huyện", "Lộc Hà", "Xã"),
    ("Ích Hậu", "Can Lộc", "Huyện", "Lộc Hà", "Xã"),
    ("Trung Lương", "Đức Thọ", "Thị xã", "Hồng Lĩnh", "Phường"),
    ("Đức Thuận", "Đức Thọ", "Thị xã", "Hồng Lĩnh", "Phường"),
    ("Đậu Liêu", "Can Lộc", "Thị xã", "Hồng Lĩnh", "Phường"),
]

# Tesseract's usual slips on Vietnamese: a mark read as its neighbour, or lost.
_OCR_SWAPS = {
    "ấ": "ẩ", "ẩ": "ấ", "ế": "ể", "ể": "ế", "ố": "ổ", "ổ": "ố", "ầ": "ẩ", "ề": "ể", "ồ": "ổ",
    "ư": "u", "ừ": "ù", "ứ": "ú", "ữ": "ũ", "ử": "ủ", "ự": "ụ",
    "ơ": "o", "ờ": "ò", "ớ": "ó", "ở": "ỏ", "ỡ": "õ", "ợ": "ọ",
    "đ": "d", "Đ": "D", "ă": "a", "â": "a", "ê": "e", "ô": "o",
}
_TONE_MARKS = ("\u0300", "\u0301", "\u0309", "\u0303", "\u0323")
_EPOCH = date(1970, 1, 1)


@dataclass
class LinkageSet:
    """Records, citizens and truth (``record_id`` → ``citizen_id``, NA for no counterpart).

    ``truth.kind`` is one of ``KINDS``; ``truth.hard`` names the near miss the record has in
    the population (``twin``, ``cousin``, ``renamed_sibling``, ``sibling`` or empty);
    ``truth.noise`` lists what was done to the pair (``ocr,lunar,cit_stripped`` …).
    """

    records: pd.DataFrame
    citizens: pd.DataFrame
    truth: pd.DataFrame
    rates: dict[str, float] = field(default_factory=lambda: dict(RATES))


# --- reference tables ----------------------------------------------------------------------

@dataclass
class _Names:
    surnames: list[str]
    surname_p: np.ndarray
    middles: list[str]            # one index space for both sexes
    middle_p: dict[str, np.ndarray]
    givens: list[str]             # one index space for both sexes
    given_p: dict[str, np.ndarray]
    near: dict[int, list[int]]    # given index -> other givens with the same folded spelling


def _zipf(n: int, offset: float = 8.0) -> np.ndarray:
    w = 1.0 / (np.arange(n) + offset) ** 0.9
    return w / w.sum()


def _names() -> _Names:
    sg = lexicon("names")
    lx = json.loads((REFERENCE_DATA / "lexicon" / "names.json").read_text(encoding="utf-8"))
    surnames = list(lx["surnames"])
    sp = np.array([lx["surnames"][s] for s in surnames], dtype=float)
    middles: list[str] = []
    middle_p: dict[str, np.ndarray] = {}
    for sex in ("M", "F"):
        for m in sg["middle_names"][sex]:
            if m not in middles:
                middles.append(m)
    for sex in ("M", "F"):
        p = np.zeros(len(middles))
        for m, w in sg["middle_names"][sex].items():
            p[middles.index(m)] = w
        middle_p[sex] = p / p.sum()
    givens: list[str] = []
    given_p: dict[str, np.ndarray] = {}
    per_sex: dict[str, list[str]] = {}
    for sex in ("M", "F"):
        # the sample books' common names first, then the lexicon's rarer ones
        names = list(dict.fromkeys(sg["given_names"][sex] + lx["given_names"][sex]))
        per_sex[sex] = names
        for g in names:
            if g not in givens:
                givens.append(g)
    for sex in ("M", "F"):
        p = np.zeros(len(givens))
        z = _zipf(len(per_sex[sex]))
        for g, w in zip(per_sex[sex], z):
            p[givens.index(g)] += w
        given_p[sex] = p / p.sum()
    by_fold: dict[str, list[int]] = {}
    for i, g in enumerate(givens):
        by_fold.setdefault(strip_marks(g).lower(), []).append(i)
    near = {i: [j for j in group if j != i] for group in by_fold.values() for i in group
            if len(group) > 1}
    return _Names(surnames, sp / sp.sum(), middles, middle_p, givens, given_p, near)


@dataclass
class _Communes:
    commune: list[str]
    province_code: np.ndarray     # 40 / 42
    province: list[str]           # today
    district_then: list[str]
    district_today: list[str]     # with its unit ("Huyện Nam Đàn", "Thị xã Cửa Lò")
    commune_today: list[str]      # with its unit ("Xã Hưng Dũng", "Phường Nghi Thủy")
    weight: np.ndarray


def _communes() -> _Communes:
    places = lexicon("places")
    moved = {m[0]: m for m in _MOVED}
    rows: list[tuple] = []
    na_w = places["district_weights"]
    na_total = sum(na_w.values())
    ht_w = 1.0 / len(_HA_TINH)

    def add(commune, district, province, code, weight):
        m = moved.get(commune)
        if m and m[1] == district:
            today_d, today_c = f"{m[2]} {m[3]}", f"{m[4]} {commune}"
        else:
            today_d, today_c = f"Huyện {district}", f"Xã {commune}"
        rows.append((commune, code, province, district, today_d, today_c, weight))

    for district, info in places["districts"].items():
        communes = list(dict.fromkeys(
            info["communes"] + [m[0] for m in _MOVED if m[1] == district]))
        w = (1 - _HA_TINH_SHARE) * na_w.get(district, 1) / na_total / len(communes)
        for c in communes:
            add(c, district, places["province_today"], 40, w)
    for district, communes in _HA_TINH.items():
        communes = list(dict.fromkeys(communes + [m[0] for m in _MOVED if m[1] == district]))
        for c in communes:
            add(c, district, "Hà Tĩnh", 42, _HA_TINH_SHARE * ht_w / len(communes))
    w = np.array([r[6] for r in rows])
    return _Communes([r[0] for r in rows], np.array([r[1] for r in rows]), [r[2] for r in rows],
                     [r[3] for r in rows], [r[4] for r in rows], [r[5] for r in rows], w / w.sum())


# --- small helpers -------------------------------------------------------------------------

def _days(y: int, m: int = 1, d: int = 1) -> int:
    return (date(y, m, d) - _EPOCH).days


def _iso(days: np.ndarray) -> np.ndarray:
    """ISO strings of day numbers, one string object per distinct day."""
    codes, uniq = pd.factorize(days)
    text = np.datetime_as_string(np.asarray(uniq).astype("datetime64[D]"), unit="D")
    return text.astype(object)[codes]


def _days_of_year(year: np.ndarray) -> np.ndarray:
    return (np.asarray(year) - 1970).astype("datetime64[Y]").astype("datetime64[D]").astype(np.int64)


def _swapped_days(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Day numbers of the date with day and month exchanged (only valid where ``d <= 12``)."""
    month = ((y - 1970) * 12 + np.clip(d, 1, 12) - 1).astype("datetime64[M]")
    day = m - 1  # day m of month d: m <= 12 always fits
    return month.astype("datetime64[D]").astype(np.int64) + day


def _ymd(days: np.ndarray):
    d64 = days.astype("datetime64[D]")
    y = d64.astype("datetime64[Y]").astype(int) + 1970
    m = d64.astype("datetime64[M]").astype(int) % 12 + 1
    d = (d64 - d64.astype("datetime64[M]")).astype(int) + 1
    return y, m, d


def _compose(sur: np.ndarray, mid: np.ndarray, mid2: np.ndarray, giv: np.ndarray, n: _Names
             ) -> np.ndarray:
    """Full names from integer codes (-1: no such part); each distinct name is built once."""
    nm, ng = len(n.middles) + 1, len(n.givens)
    code = ((sur.astype(np.int64) * nm + (mid + 1)) * nm + (mid2 + 1)) * ng + giv
    codes, uniq = pd.factorize(code)
    out = []
    for c in uniq:
        c, g = divmod(int(c), ng)
        c, m2 = divmod(c, nm)
        s, m1 = divmod(c, nm)
        parts = [n.surnames[s]]
        if m1:
            parts.append(n.middles[m1 - 1])
        if m2:
            parts.append(n.middles[m2 - 1])
        parts.append(n.givens[g])
        out.append(" ".join(parts))
    return np.array(out, dtype=object)[codes]


def _map_where(values: np.ndarray, mask: np.ndarray, func) -> np.ndarray:
    """``func`` applied to ``values[mask]``, once per distinct value."""
    out = values.copy()
    if not mask.any():
        return out
    codes, uniq = pd.factorize(values[mask])
    out[mask] = np.array([func(u) for u in uniq], dtype=object)[codes]
    return out


@lru_cache(maxsize=None)
def _swap_word(word: str) -> str:
    return swap_tone_style(word) if has_tone_variant(word) else word


@lru_cache(maxsize=None)
def _strip_word(word: str) -> str:
    return strip_marks(word)


def _swap_tones(name: str) -> str:
    return " ".join(_swap_word(w) for w in name.split(" ")) if name else name


def _strip(name: str) -> str:
    return " ".join(_strip_word(w) for w in name.split(" ")) if name else name


@lru_cache(maxsize=None)
def _has_tone(ch: str) -> bool:
    return any(t in unicodedata.normalize("NFD", ch) for t in _TONE_MARKS)


def _ocr_slip(name: str, rng: np.random.Generator) -> str:
    """One Tesseract-like confusion in a name (a mark misread or lost)."""
    spots = [i for i, ch in enumerate(name) if ch in _OCR_SWAPS]
    marked = [i for i, ch in enumerate(name) if _has_tone(ch)]
    if not spots and not marked:
        return name
    if marked and (not spots or rng.random() < 0.35):
        i = marked[int(rng.integers(len(marked)))]
        bare = "".join(c for c in unicodedata.normalize("NFD", name[i]) if c not in _TONE_MARKS)
        return name[:i] + unicodedata.normalize("NFC", bare) + name[i + 1:]
    i = spots[int(rng.integers(len(spots)))]
    return name[:i] + _OCR_SWAPS[name[i]] + name[i + 1:]


def _drop_middle(name: str) -> str:
    w = name.split()
    return f"{w[0]} {w[-1]}" if len(w) >= 3 else name


def _citizen_ids(prov: np.ndarray, sex_f: np.ndarray, year: np.ndarray,
                 rng: np.random.Generator) -> np.ndarray:
    """12-digit CCCD numbers, unique: province, century/sex digit, birth year, 6 digits."""
    century_sex = np.where(year >= 2000, 2, 0) + sex_f.astype(int)
    prefix = (prov.astype(np.int64) * 10 + century_sex) * 100 + year % 100
    ids = prefix * 1_000_000 + rng.integers(0, 1_000_000, len(prov))
    for _ in range(50):
        dup = pd.Series(ids).duplicated().to_numpy()
        if not dup.any():
            break
        ids[dup] = prefix[dup] * 1_000_000 + rng.integers(0, 1_000_000, int(dup.sum()))
    return np.char.zfill(ids.astype("U12"), 12).astype(object)


# --- families ------------------------------------------------------------------------------

def _draw_given(rng, sex_f: np.ndarray, n: _Names) -> np.ndarray:
    out = np.empty(len(sex_f), dtype=np.int32)
    for flag, sex in ((False, "M"), (True, "F")):
        idx = np.flatnonzero(sex_f == flag)
        out[idx] = rng.choice(len(n.givens), size=len(idx), p=n.given_p[sex]).astype(np.int32)
    return out


def _draw_middle(rng, sex_f: np.ndarray, n: _Names) -> tuple[np.ndarray, np.ndarray]:
    mid = np.empty(len(sex_f), dtype=np.int32)
    for flag, sex in ((False, "M"), (True, "F")):
        idx = np.flatnonzero(sex_f == flag)
        mid[idx] = rng.choice(len(n.middles), size=len(idx), p=n.middle_p[sex])
    # a second middle name now and then: Nguyễn Thị Thu Hường
    mid2 = np.full(len(sex_f), -1, dtype=np.int32)
    extra = rng.random(len(sex_f)) < 0.06
    pool_f = [n.middles.index(m) for m in ("Thu", "Ngọc", "Kim", "Minh") if m in n.middles]
    pool_m = [n.middles.index(m) for m in ("Đình", "Quang", "Minh") if m in n.middles]
    for flag, pool in ((False, pool_m), (True, pool_f)):
        idx = np.flatnonzero(extra & (sex_f == flag))
        mid2[idx] = rng.choice(pool, size=len(idx))
    mid2[mid2 == mid] = -1
    return mid, mid2


def _people(rng, count: int, sex_f: np.ndarray, n: _Names, surname: np.ndarray | None = None):
    if surname is None:
        surname = rng.choice(len(n.surnames), size=count, p=n.surname_p).astype(np.int32)
    sur = surname
    mid, mid2 = _draw_middle(rng, sex_f, n)
    return sur, mid, mid2, _draw_given(rng, sex_f, n)


def generate_linkage(n_records: int, n_citizens: int, seed: int, *,
                     rates: dict[str, float] | None = None,
                     noise: Callable[[LinkageSet, int], LinkageSet] | None = None) -> LinkageSet:
    """``n_records`` birth records and ``n_citizens`` citizens, with truth, from ``seed``.

    ``rates`` overrides entries of ``RATES`` (0 switches a kind of noise off); ``noise`` is
    applied to the finished set (``linkage_noise.NoiseFamilies`` adds what books do that the
    built-in rates do not, each family switchable).

    >>> ls = generate_linkage(1_000, 10_000, seed=1)
    >>> len(ls.records), len(ls.citizens), ls.truth.citizen_id.isna().mean() > 0.1
    (1000, 10000, True)
    """
    rng = np.random.default_rng([seed, 2024])
    n = _names()
    cm = _communes()
    R = {**RATES, **(rates or {})}

    # -- families: enough that their registered children give n_records records
    n_fam = max(8, int(n_records / 2.9) + 16)
    while True:
        fam = _families(rng, n_fam, n, cm)
        kids = _children(rng, fam, n)
        if kids["registered"].sum() >= n_records:
            break
        n_fam = int(n_fam * 1.3) + 8
    # keep whole families up to n_records registered children, then trim the last one
    reg_cum = np.cumsum(kids["registered"])
    keep_rec = kids["registered"] & (reg_cum <= n_records)
    last_fam = kids["fam"][np.flatnonzero(keep_rec)[-1]]
    in_fams = kids["fam"] <= last_fam
    kids = {k: v[in_fams] for k, v in kids.items()}
    keep_rec = keep_rec[in_fams]

    # -- citizens: the living children, then other people
    kid_cit = kids["citizen"]
    n_kid_cit = int(kid_cit.sum())
    if n_kid_cit > n_citizens:
        raise ValueError(f"n_citizens={n_citizens} is too small for {n_records} records "
                         f"(families alone give {n_kid_cit} citizens)")
    n_other = n_citizens - n_kid_cit
    o_sex = rng.random(n_other) < 0.5
    o_sur, o_mid, o_mid2, o_giv = _people(rng, n_other, o_sex, n)
    o_birth = rng.integers(_days(1930), _days(2010, 12, 31) + 1, n_other)
    o_comm = rng.choice(len(cm.commune), size=n_other, p=cm.weight)
    o_fa = _people(rng, n_other, np.zeros(n_other, bool), n, surname=o_sur)
    o_mo = _people(rng, n_other, np.ones(n_other, bool), n)

    ki = np.flatnonzero(kid_cit)
    fi = kids["fam"][ki]
    c_sex = np.concatenate([kids["sex_f"][ki], o_sex])
    c_sur = np.concatenate([fam["f_sur"][fi], o_sur])
    c_mid = np.concatenate([kids["mid"][ki], o_mid])
    c_mid2 = np.concatenate([kids["mid2"][ki], o_mid2])
    c_giv = np.concatenate([kids["giv"][ki], o_giv])
    c_birth = np.concatenate([kids["birth"][ki], o_birth])
    c_comm = np.concatenate([fam["commune"][fi], o_comm])
    c_fa = [np.concatenate([fam[f"f_{p}"][fi], o_fa[j]]) for j, p in enumerate(("sur", "mid", "mid2", "giv"))]
    c_mo = [np.concatenate([fam[f"m_{p}"][fi], o_mo[j]]) for j, p in enumerate(("sur", "mid", "mid2", "giv"))]
    del o_sex, o_sur, o_mid, o_mid2, o_giv, o_birth, o_comm, o_fa, o_mo
    N = len(c_sex)

    # population-side variation, drawn per row for family members and others alike
    changed = rng.random(N) < R["cit_changed_given"]
    new_giv = _draw_given(rng, c_sex, n)
    changed &= new_giv != c_giv
    c_giv_db = np.where(changed, new_giv, c_giv)
    drop_mid = rng.random(N) < R["cit_drop_middle"]
    full = _compose(c_sur, np.where(drop_mid, -1, c_mid), np.where(drop_mid, -1, c_mid2),
                    c_giv_db, n)
    father = _compose(*c_fa, n)
    mother = _compose(*c_mo, n)
    del c_fa, c_mo, c_mid, c_mid2
    tone = rng.random(N) < R["cit_tone"]
    full, father, mother = (_map_where(a, tone, _swap_tones) for a in (full, father, mother))
    no_father = rng.random(N) < R["cit_no_father"]
    no_mother = rng.random(N) < R["cit_no_mother"]
    father[no_father] = ""
    mother[no_mother] = ""
    place_tbl = np.array([f"{c}, {d}, Tỉnh {p}" for c, d, p in
                          zip(cm.commune_today, cm.district_today, cm.province)], dtype=object)
    place = place_tbl[c_comm]
    no_place = rng.random(N) < R["cit_no_place"]
    place[no_place] = ""
    stripped = rng.random(N) < R["cit_stripped"]
    full, father, mother, place = (_map_where(a, stripped, _strip)
                                   for a in (full, father, mother, place))

    y, m, d = _ymd(c_birth)
    r = rng.random(N)
    placeholder = r < R["cit_placeholder"]
    swap = ((r >= R["cit_placeholder"]) & (r < R["cit_placeholder"] + R["cit_swap"])
            & (d <= 12) & (d != m))
    year_only = (r >= 0.5) & (r < 0.5 + R["cit_year_only"])
    # dates as codes too (each distinct string made once): day, Jan 1 placeholder, year, swapped
    shown = np.where(placeholder, _days_of_year(y), c_birth)
    shown = np.where(swap, _swapped_days(y, m, d), shown)
    birth_iso = _iso(shown)
    birth_iso[year_only] = _map_where(birth_iso, year_only, lambda s: s[:4])[year_only]

    ids = _citizen_ids(cm.province_code[c_comm], c_sex, y, rng)
    order = rng.permutation(N)
    sex_txt = np.array(["M", "F"], dtype=object)[c_sex.astype(int)]
    # object columns: equal strings stay shared, which keeps 2 000 000 rows to a few hundred MB
    citizens = pd.DataFrame({
        "citizen_id": ids[order], "full_name": full[order], "sex": sex_txt[order],
        "birth_date": birth_iso[order], "birth_place": place[order],
        "father_name": father[order], "mother_name": mother[order],
    }, dtype=object)
    del full, father, mother, place, birth_iso, sex_txt
    cit_flags = {"cit_changed_given": changed, "cit_drop_middle": drop_mid,
                 "cit_stripped": stripped, "cit_placeholder": placeholder, "cit_swap": swap,
                 "cit_year_only": year_only, "cit_tone": tone, "cit_no_father": no_father,
                 "cit_no_mother": no_mother, "cit_no_place": no_place}

    kid_cid = np.full(len(kids["fam"]), None, dtype=object)
    kid_cid[ki] = ids[: len(ki)]
    kid_flags = {k: np.zeros(len(kids["fam"]), bool) for k in cit_flags}
    for k, v in cit_flags.items():
        kid_flags[k][ki] = v[: len(ki)]

    records, truth = _records(rng, fam, kids, keep_rec, kid_cid, kid_flags, n, cm, R)
    out = LinkageSet(records, citizens, truth, rates=R)
    return noise(out, seed) if noise is not None else out


def _families(rng, n_fam: int, n: _Names, cm: _Communes) -> dict[str, np.ndarray]:
    fam: dict[str, np.ndarray] = {}
    fam["commune"] = rng.choice(len(cm.commune), size=n_fam, p=cm.weight)
    f_sur, f_mid, f_mid2, f_giv = _people(rng, n_fam, np.zeros(n_fam, bool), n)
    m_sur, m_mid, m_mid2, m_giv = _people(rng, n_fam, np.ones(n_fam, bool), n)
    cousin = rng.random(n_fam) < RATES["cousin_family"]
    cousin[0] = False
    cousin[1:] &= ~cousin[:-1]  # the base family of a cousin family is not itself a cousin one
    base = np.flatnonzero(cousin) - 1
    ci = np.flatnonzero(cousin)
    fam["commune"][ci] = fam["commune"][base]
    f_sur[ci], f_mid[ci], f_mid2[ci] = f_sur[base], f_mid[base], f_mid2[base]
    same = f_giv[ci] == f_giv[base]
    f_giv[ci[same]] = (f_giv[ci[same]] + 1) % len(n.givens)
    fam.update(f_sur=f_sur, f_mid=f_mid, f_mid2=f_mid2, f_giv=f_giv,
               m_sur=m_sur, m_mid=m_mid, m_mid2=m_mid2, m_giv=m_giv, cousin=cousin)
    fam["size"] = rng.choice([2, 3, 4, 5, 6], size=n_fam, p=[0.25, 0.30, 0.22, 0.14, 0.09])
    fam["first_birth"] = rng.integers(_days(1955), _days(1986, 12, 31) + 1, n_fam)
    mother_age = rng.integers(18, 31, n_fam)
    fam["mother_year"] = _ymd(fam["first_birth"])[0] - mother_age
    gap = np.where(rng.random(n_fam) < 0.9, rng.integers(0, 9, n_fam), -rng.integers(1, 4, n_fam))
    fam["father_year"] = fam["mother_year"] - gap
    fam["son_mid"] = _draw_middle(rng, np.zeros(n_fam, bool), n)[0]
    return fam


def _children(rng, fam: dict, n: _Names) -> dict[str, np.ndarray]:
    R = RATES
    size = fam["size"]
    fidx = np.repeat(np.arange(len(size)), size)
    start = np.concatenate([[0], np.cumsum(size)[:-1]])
    order = np.arange(len(fidx)) - np.repeat(start, size)
    K = len(fidx)
    sex_f = rng.random(K) < 0.49
    mid, mid2 = _draw_middle(rng, sex_f, n)
    brothers = (~sex_f) & (rng.random(K) < 0.5)  # brothers often share the family's middle name
    mid[brothers] = fam["son_mid"][fidx[brothers]]
    giv = _draw_given(rng, sex_f, n)
    twin = (order > 0) & (rng.random(K) < R["twins"])
    gaps = np.where(order == 0, 0, rng.integers(365, 4 * 365, K))
    gaps[twin] = 0
    birth = fam["first_birth"][fidx] + np.cumsum(gaps) - np.repeat(np.cumsum(gaps)[start], size)
    hard = np.full(K, "", dtype=object)
    hard[size[fidx] > 1] = "sibling"

    # cousins: the first child of a cousin family is near-namesake of the base family's first
    cf = np.flatnonzero(fam["cousin"])
    a, b = start[cf], start[cf - 1]
    sex_f[a] = sex_f[b]
    mid[a], mid2[a] = mid[b], mid2[b]
    near_pick = np.array([(n.near.get(int(g)) or [-1])[int(rng.integers(len(n.near.get(int(g)) or [-1])))]
                          for g in giv[b]], dtype=np.int64)
    use_near = (near_pick >= 0) & (rng.random(len(cf)) < 0.6)
    giv[a] = np.where(use_near, near_pick, giv[b])
    other_mid = _draw_middle(rng, sex_f[a], n)[0]
    mid[a] = np.where(use_near | (other_mid == mid[b]), mid[a], other_mid)
    same_name = ~use_near & (mid[a] == mid[b])  # no near spelling and no other middle drawn
    mid2[a[same_name]] = -1
    shift = rng.integers(-700, 701, len(cf)) - birth[a] + birth[b]
    birth += np.repeat(np.bincount(cf, weights=shift, minlength=len(size)).astype(np.int64), size)
    hard[a] = "cousin"
    hard[b] = "cousin"

    # twins' names differ; siblings never share a name (except the renamed one below)
    for _ in range(20):
        dup = pd.DataFrame({"f": fidx, "g": giv}).duplicated().to_numpy()
        if not dup.any():
            break
        giv[dup] = _draw_given(rng, sex_f[dup], n)
    hard[twin] = "twin"
    hard[np.flatnonzero(twin) - 1] = "twin"
    reg_off = rng.integers(3, 50, K)
    for _ in range(3):  # twins are registered together (triplets: twice)
        reg_off[twin] = reg_off[np.flatnonzero(twin) - 1]

    died = rng.random(K) < R["died_young"]
    renamed = died & (rng.random(K) < R["renamed_after_dead"])
    # the renamed later sibling: same name and sex, born 1-5 years after, a citizen
    rs = np.flatnonzero(renamed)
    y_dead = _ymd(birth[rs])[0]
    y_new = y_dead + rng.integers(1, 6, len(rs))
    new_birth = np.array([_days(int(yy)) for yy in y_new], dtype=np.int64) + rng.integers(0, 365, len(rs))
    kids = {
        "fam": np.concatenate([fidx, fidx[rs]]),
        "sex_f": np.concatenate([sex_f, sex_f[rs]]),
        "mid": np.concatenate([mid, mid[rs]]),
        "mid2": np.concatenate([mid2, mid2[rs]]),
        "giv": np.concatenate([giv, giv[rs]]),
        "birth": np.concatenate([birth, new_birth]),
        "reg_off": np.concatenate([reg_off, rng.integers(3, 50, len(rs))]),
        "died": np.concatenate([died, np.zeros(len(rs), bool)]),
        "renamed_dead": np.concatenate([renamed, np.zeros(len(rs), bool)]),
        "renamed_sibling": np.concatenate([np.zeros(K, bool), np.ones(len(rs), bool)]),
        "hard": np.concatenate([hard, np.full(len(rs), "renamed_sibling", dtype=object)]),
    }
    kids["hard"][rs] = "renamed_sibling"
    k2 = len(kids["fam"])
    lost = rng.random(k2) < R["not_in_extract"]
    lost &= ~kids["renamed_sibling"]
    kids["lost"] = lost & ~kids["died"]
    kids["citizen"] = ~kids["died"] & ~kids["lost"]
    year = _ymd(kids["birth"])[0]
    kids["registered"] = (rng.random(k2) < R["registered"]) & (year >= 1955) & (year <= 1990)
    o = np.argsort(kids["fam"], kind="stable")
    return {k: v[o] for k, v in kids.items()}


def _records(rng, fam, kids, keep, kid_cid, kid_flags, n: _Names, cm: _Communes,
             R: dict[str, float] = RATES):
    idx = np.flatnonzero(keep)
    fi = kids["fam"][idx]
    comm = fam["commune"][fi]
    birth = kids["birth"][idx]
    reg = birth + kids["reg_off"][idx]
    book_year = _ymd(reg)[0]
    full = _compose(fam["f_sur"][fi], kids["mid"][idx], kids["mid2"][idx], kids["giv"][idx], n)
    father = _compose(fam["f_sur"][fi], fam["f_mid"][fi], fam["f_mid2"][fi], fam["f_giv"][fi], n)
    mother = _compose(fam["m_sur"][fi], fam["m_mid"][fi], fam["m_mid2"][fi], fam["m_giv"][fi], n)
    places = lexicon("places")
    book_ids = np.array([f"{cm.province_code[c]:03d}{c:04d}-{y}" for c, y in zip(comm, book_year)],
                        dtype=object)
    new_tone_book = {b: rng.random() < R["rec_new_tone_book"] for b in pd.unique(book_ids)}

    cut = np.cumsum([R["rec_year_only"], R["rec_year_month"], R["rec_lunar"],
                     R["rec_days_off"], R["rec_swap"]]).tolist()
    birth_l, reg_l, comm_l, year_l, fi_l = (a.tolist() for a in (birth, reg, comm, book_year, fi))
    sex_l = kids["sex_f"][idx].tolist()
    father_year, mother_year = fam["father_year"].tolist(), fam["mother_year"].tolist()
    hard_l, died_l, ren_l = (kids[k][idx].tolist() for k in ("hard", "died", "renamed_dead"))
    cid_l = kid_cid[idx].tolist()
    flag_l = {f: v[idx] for f, v in kid_flags.items()}
    rows, truth = [], []
    for j in range(len(idx)):
        tags: list[str] = []
        sex = "F" if sex_l[j] else "M"
        names = [full[j], father[j], mother[j]]
        if rng.random() < R["rec_no_father"]:
            names[1] = ""
            tags.append("no_father")
        if new_tone_book[book_ids[j]]:
            names = [_swap_tones(x) for x in names]
        for i in range(3):
            if names[i] and rng.random() < R["rec_ocr"]:
                names[i] = _ocr_slip(names[i], rng)
                if rng.random() < 0.2:
                    names[i] = _ocr_slip(names[i], rng)
                tags.append("ocr" if i == 0 else "ocr_parent")
        if rng.random() < R["rec_drop_middle"] and len(names[0].split()) >= 3:
            names[0] = _drop_middle(names[0])
            tags.append("drop_middle")
        elif rng.random() < R["rec_merged"] and len(names[0].split()) >= 3:
            w = names[0].split()
            names[0] = " ".join([w[0] + w[1]] + w[2:])
            tags.append("merged")

        d0 = _EPOCH + timedelta(days=birth_l[j])
        r = rng.random()
        bdate = d0.isoformat()
        if r < cut[0]:
            bdate, tag = str(d0.year), "year_only"
        elif r < cut[1]:
            bdate, tag = f"{d0.year:04d}-{d0.month:02d}", "year_month"
        elif r < cut[2]:
            bdate, tag = _lunar_iso(d0), "lunar"
        elif r < cut[3]:
            off = int(rng.integers(1, 8)) * (1 if rng.random() < 0.5 else -1)
            bdate, tag = (d0 + timedelta(days=off)).isoformat(), "days_off"
        elif r < cut[4] and d0.day <= 12 and d0.day != d0.month:
            bdate, tag = f"{d0.year:04d}-{d0.day:02d}-{d0.month:02d}", "swap"
        else:
            tag = None
        if tag and bdate != d0.isoformat():
            tags.append(tag)

        c = comm_l[j]
        y = year_l[j]
        province = (places["province_1976_1991"] if 1976 <= y <= 1991
                    else cm.province[c])
        district = cm.district_then[c]
        if rng.random() < R["rec_place_short"]:
            place = (f"Trạm xá xã {cm.commune[c]}" if rng.random() < 0.5
                     else f"Xã {cm.commune[c]}, {district}")
        else:
            place = f"Xã {cm.commune[c]}, Huyện {district}, Tỉnh {province}"
        if cm.commune_today[c] != f"Xã {cm.commune[c]}" or cm.district_today[c] != f"Huyện {district}":
            tags.append("moved_commune")
        if 1976 <= y <= 1991:
            tags.append("nghe_tinh")

        f_age = y - father_year[fi_l[j]] + (int(rng.integers(-1, 2)) if rng.random() < 0.1 else 0)
        m_age = y - mother_year[fi_l[j]] + (int(rng.integers(-1, 2)) if rng.random() < 0.1 else 0)
        if rng.random() < R["rec_no_sex"]:
            sex = ""
            tags.append("no_sex")
        rows.append((book_ids[j], names[0], sex, bdate,
                     place, names[1], f_age if names[1] else None, names[2], m_age,
                     (_EPOCH + timedelta(days=reg_l[j])).isoformat(), reg_l[j]))

        cid = cid_l[j]
        if cid is not None:
            tags += [f for f, v in flag_l.items() if v[j]]
            substantive = [t for t in tags if t not in ("cit_tone", "nghe_tinh", "moved_commune",
                                                        *MISSING_TAGS)]
            kind = "noisy" if substantive else "clean"
        elif ren_l[j]:
            kind = "dead_child_renamed_sibling"
        elif died_l[j]:
            kind = "dead_child"
        else:
            kind = "no_counterpart"
        truth.append((cid, kind, hard_l[j], ",".join(tags)))

    rec = pd.DataFrame(rows, columns=RECORD_COLUMNS[1:] + ["_reg"])
    tr = pd.DataFrame(truth, columns=TRUTH_COLUMNS[1:])
    order = np.lexsort((rec["_reg"].to_numpy(), rec["book_id"].to_numpy()))
    rec = rec.iloc[order].reset_index(drop=True).drop(columns="_reg")
    tr = tr.iloc[order].reset_index(drop=True)
    rid = [f"r{i:07d}" for i in range(1, len(rec) + 1)]
    rec.insert(0, "record_id", rid)
    tr.insert(0, "record_id", rid)
    rec["father_age"] = rec["father_age"].astype("Int64")
    rec["mother_age"] = rec["mother_age"].astype("Int64")
    tr["citizen_id"] = tr["citizen_id"].astype(object).where(tr["citizen_id"].notna(), None)
    return rec, tr


def _lunar_iso(d: date) -> str:
    """The lunar day/month/year of ``d`` written as if solar (what a clerk copied from the family)."""
    from lunar_vn import solar_to_lunar

    from pipeline.clean.lunar import lunar_time_zone

    lun = solar_to_lunar(d, lunar_time_zone(d.year))
    try:
        return date(lun.year, lun.month, lun.day).isoformat()
    except ValueError:  # lunar day 30 of a 29/30-day solar February, say
        return date(lun.year, lun.month, 28).isoformat()

"""Record search: parse what a user types, find candidates through the index, rank them.

    >>> result = search_records(session, "nguyen van an 1968 cha nguyen van binh")
    >>> [(h.record_key, h.score) for h in result.hits][:1]
    [('NT-1968-KS-01-p0003-r02', 46.0)]

What a query says (``parse_query``): words are names, diacritics and case ignored; a 4-digit
year (also inside a date, ``12/3/1968``) is the birth year; words after ``cha`` / ``bố`` are
the father's name, after ``mẹ`` / ``me`` the mother's, after ``xã`` / ``phường`` the book's
commune, after ``huyện`` / ``quận`` its district. Other words may be any of the child's,
father's or mother's name, or a commune or district named in full (``hưng dũng``).

Ranking (``WEIGHTS``): each query part counts once, for the best role it matched in: the
registered person's name above a parent's, a parent's above the place; an exact birth year
above a year one off. A query typed with diacritics also gives a bonus to words written with
the same marks, so ``Hùng`` ranks Hùng above Hưng. Ties go by book, page and row.

How it stays fast on a million records: the posting lists of the query's words are counted
(bounded) first, and candidates come from the rarest ones only, adding the next rarest until
no record outside the candidates could beat the N-th best (the "max-score" rule of text
search engines), or until ``DRIVER_BUDGET`` candidates or ``MAX_ROUNDS`` rankings: past that
only records matching none of the rarer words are left out, which rank below what was found
in practice. Scoring is one SQL statement over the candidates' postings (record index). A
query made of nothing but very common words ("nguyen van") ranks the first
``MAX_CANDIDATES`` postings of its rarest word only; its result says so (``complete`` False).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable

from sqlalchemy import and_, case, func, literal, select, true, union
from sqlalchemy.orm import Session

from pipeline.clean.text import folded_key, nfc, strip_marks
from pipeline.errors import BadInput
from pipeline.storage.search_index import (
    NAME_FIELDS,
    ROLE_FATHER,
    ROLE_MOTHER,
    ROLE_NAME,
    ROLE_YEAR,
    YEAR_FIELDS,
    name_tokens,
)
from pipeline.storage.models import Book, FieldValue, Page, Record, SearchTerm

#: Points for one query word (or year, or place) matching in a role; ``*_mark`` is the bonus
#: when the query was typed with diacritics and the word is written with the same ones.
WEIGHTS = {
    "name": 10.0, "name_mark": 2.0,
    "parent": 4.0, "parent_mark": 1.0,  # a bare word found in the father's or mother's name
    "parent_named": 6.0,  # a word given after "cha" / "mẹ"
    "place": 3.0,  # per word of a commune or district named in full
    "place_named": 5.0,  # after "xã" / "huyện"
    "year": 6.0, "year_near": 2.0,  # exact birth year; one year off
}
DEFAULT_LIMIT = 20
MAX_LIMIT = 500
#: Postings read at most from one list; a query of only commoner words ranks these only.
MAX_CANDIDATES = 30_000
#: Candidates gathered from the rarest lists before ranking stops short of a proof that no
#: record outside them could rank higher, and rounds of ranking at most (each is one statement).
DRIVER_BUDGET = 20_000
MAX_ROUNDS = 2
#: Lists this small are read together before the first ranking.
EARLY_BUDGET = 3_000
MIN_YEAR, MAX_YEAR = 1800, 2100

_FATHER_WORDS = {"cha", "bố"}
_MOTHER_WORDS = {"mẹ", "me", "má"}
_COMMUNE_WORDS = {"xã", "xa", "phường", "thị trấn"}
_DISTRICT_WORDS = {"huyện", "quận", "thị xã", "thành phố"}
_STOP_WORDS = {"sinh", "năm", "ngày", "họ", "tên", "và", "con"}  # marked forms only
_DATE = re.compile(r"\b\d{1,2}\s*[/.\-]\s*\d{1,2}\s*[/.\-]\s*(\d{4})\b|\b\d{1,2}\s*[/.\-]\s*(\d{4})\b")
_TOKEN = re.compile(r"\d+|[^\W\d_]+(?:'[^\W\d_]+)*")


# --- parsing ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Word:
    """One query word: ``token`` is the folded key, ``marked`` the comparison-key spelling."""

    token: str
    marked: str


@dataclass(frozen=True)
class ParsedQuery:
    """What the user asked for, before anything is looked up.

    ``words``: bare words (any name, or a place named in full); ``father`` / ``mother``:
    words after cha / mẹ; ``commune`` / ``district``: words after xã / huyện; ``years``:
    birth years; ``marked``: the query was typed with diacritics (mark bonuses apply).
    """

    words: tuple[Word, ...] = ()
    father: tuple[Word, ...] = ()
    mother: tuple[Word, ...] = ()
    commune: tuple[Word, ...] = ()
    district: tuple[Word, ...] = ()
    years: tuple[int, ...] = ()
    marked: bool = False

    @property
    def empty(self) -> bool:
        return not (self.words or self.father or self.mother or self.commune or self.district
                    or self.years)


def parse_query(query: str) -> ParsedQuery:
    """Split a typed query into names, parents, places and years. Never raises on any text.

    >>> q = parse_query("Nguyễn Văn An 12/3/1968 cha Nguyễn Văn Bình xã Hưng Dũng")
    >>> [w.token for w in q.words], [w.token for w in q.father], q.years
    (['nguyen', 'van', 'an'], ['nguyen', 'van', 'binh'], (1968,))
    >>> [w.token for w in q.commune], q.marked
    (['hung', 'dung'], True)
    """
    text_ = nfc(query or "").casefold()
    marked = strip_marks(text_) != text_
    years: list[int] = []

    def _date(m: re.Match) -> str:
        years.append(int(m.group(1) or m.group(2)))
        return " ; "  # a date ends a father / mother / place part, as a year does

    text_ = _DATE.sub(_date, text_)
    # Two-word keywords first, so "thị xã" is not "thị" + "xã".
    for phrase in ("thị trấn", "thị xã", "thành phố"):
        text_ = text_.replace(phrase, phrase.replace(" ", "\u00a0"))
    parts: dict[str, list[Word]] = {"words": [], "father": [], "mother": [], "commune": [],
                                    "district": []}
    mode = "words"
    for raw in re.split(r"[\s,;:()]+|(;)", text_.replace(";", " ; ")):
        if not raw:
            continue
        if raw == ";":
            mode = "words"
            continue
        keyword = raw.replace("\u00a0", " ")
        if keyword in _FATHER_WORDS:
            mode = "father"
            continue
        if keyword in _MOTHER_WORDS:
            mode = "mother"
            continue
        if keyword in _COMMUNE_WORDS:
            mode = "commune"
            continue
        if keyword in _DISTRICT_WORDS:
            mode = "district"
            continue
        if keyword in _STOP_WORDS:
            continue
        for piece in _TOKEN.findall(keyword):
            if piece.isdigit():
                if len(piece) == 4 and MIN_YEAR <= int(piece) <= MAX_YEAR:
                    years.append(int(piece))
                    mode = "words"
                continue
            for token, mark in name_tokens(piece):
                parts[mode].append(Word(token, mark))
    return ParsedQuery(
        words=_unique(parts["words"]), father=_unique(parts["father"]),
        mother=_unique(parts["mother"]), commune=tuple(parts["commune"]),
        district=tuple(parts["district"]), years=tuple(dict.fromkeys(years)), marked=marked,
    )


def _unique(words: Iterable[Word]) -> tuple[Word, ...]:
    return tuple(dict.fromkeys(words))


# --- terms --------------------------------------------------------------------------------

@dataclass
class _Term:
    """One part of the query that scores once: a word, a year, or a place."""

    label: str
    # (token, role) → (points, marked spelling for the bonus or None, bonus points)
    lookups: dict[tuple[str, str], tuple[float, str | None, float]] = field(default_factory=dict)
    book_ids: frozenset[int] = frozenset()  # place terms: books whose commune/district match
    place_points: float = 0.0

    @property
    def max_points(self) -> float:
        best = [points + bonus for points, _, bonus in self.lookups.values()]
        if self.book_ids:
            best.append(self.place_points)
        return max(best, default=0.0)

    def add(self, token: str, role: str, points: float, marked: str | None, bonus: float) -> None:
        old = self.lookups.get((token, role))
        if old is None or old[0] + old[2] < points + bonus:
            self.lookups[(token, role)] = (points, marked, bonus)


def _places(session: Session) -> list[tuple[int, tuple[str, ...], tuple[str, ...]]]:
    """(book id, commune words, district words), folded. Books are few (one per register)."""
    out = []
    for book_id, commune, district in session.execute(select(Book.id, Book.commune, Book.district)):
        out.append((book_id, tuple(folded_key(commune or "").split()),
                    tuple(folded_key(district or "").split())))
    return out


def _place_spans(words: tuple[Word, ...], places) -> list[tuple[int, int, frozenset[int]]]:
    """Runs of bare words that name a commune or district in full: (start, end, book ids)."""
    names: dict[tuple[str, ...], set[int]] = {}
    for book_id, commune, district in places:
        for name in (commune, district):
            if name:
                names.setdefault(name, set()).add(book_id)
    tokens = [w.token for w in words]
    spans = []
    longest = max((len(n) for n in names), default=0)
    i = 0
    while i < len(tokens):
        for n in range(min(longest, len(tokens) - i), 0, -1):
            books = names.get(tuple(tokens[i:i + n]))
            if books:
                spans.append((i, i + n, frozenset(books)))
                i += n
                break
        else:
            i += 1
    return spans


def _named_place(words: tuple[Word, ...], places, which: int) -> tuple[frozenset[int], int]:
    """Books whose commune (which=1) or district (2) is the longest prefix of ``words``."""
    tokens = tuple(w.token for w in words)
    for n in range(len(tokens), 0, -1):
        books = frozenset(p[0] for p in places if p[which] == tokens[:n])
        if books:
            return books, n
    return frozenset(), len(tokens)


def _terms(q: ParsedQuery, session: Session) -> list[_Term]:
    terms: list[_Term] = []
    mark = (lambda w: w.marked) if q.marked else (lambda w: None)
    places = _places(session) if (q.words or q.commune or q.district) else []
    bare = list(q.words)
    for words, which, label in ((q.commune, 1, "xã"), (q.district, 2, "huyện")):
        if not words:
            continue
        books, used = _named_place(words, places, which)
        terms.append(_Term(f"{label} {' '.join(w.token for w in words[:used])}", book_ids=books,
                           place_points=WEIGHTS["place_named"]))
        bare.extend(words[used:])  # "xã hưng dũng nguyễn văn an": the rest are names again
    bare_words = _unique(bare)
    in_place = {}
    for start, end, books in _place_spans(bare_words, places):
        for i in range(start, end):
            in_place[i] = books
    for i, w in enumerate(bare_words):
        term = _Term(w.token)
        term.add(w.token, ROLE_NAME, WEIGHTS["name"], mark(w), WEIGHTS["name_mark"])
        for role in (ROLE_FATHER, ROLE_MOTHER):
            term.add(w.token, role, WEIGHTS["parent"], mark(w), WEIGHTS["parent_mark"])
        if i in in_place:
            term.book_ids, term.place_points = in_place[i], WEIGHTS["place"]
        terms.append(term)
    for words, role, label in ((q.father, ROLE_FATHER, "cha"), (q.mother, ROLE_MOTHER, "mẹ")):
        for w in words:
            term = _Term(f"{label} {w.token}")
            term.add(w.token, role, WEIGHTS["parent_named"], mark(w), WEIGHTS["parent_mark"])
            terms.append(term)
    for year in q.years:
        term = _Term(str(year))
        term.add(str(year), ROLE_YEAR, WEIGHTS["year"], None, 0.0)
        for near in (year - 1, year + 1):
            term.add(str(near), ROLE_YEAR, WEIGHTS["year_near"], None, 0.0)
        terms.append(term)
    return terms


# --- candidates and scoring ---------------------------------------------------------------

@dataclass
class _List:
    """One posting list a term reads: a term's lookups of one weight class (or its place)."""

    term: int
    lookups: dict[str, list[str]]  # token → roles
    points: float  # the most a record in this list gets from the term
    book_ids: frozenset[int] = frozenset()

    def selects(self):
        st, rec = SearchTerm.__table__, Record.__table__
        out = [select(st.c.record_id.label("rid")).where(st.c.token == token, st.c.role.in_(roles))
               for token, roles in self.lookups.items()]
        if self.book_ids:
            out.append(select(rec.c.id.label("rid")).where(rec.c.book_id.in_(sorted(self.book_ids))))
        return out


def _lists(terms: list[_Term]) -> list[_List]:
    """A bare word reads its name postings and its parents' postings as two lists: the first
    is both rarer and worth more, so it usually decides the candidates alone."""
    out = []
    for n, term in enumerate(terms):
        groups: dict[bool, _List] = {}
        for (token, role), (points, _, bonus) in term.lookups.items():
            named = role == ROLE_NAME or role == ROLE_YEAR
            lst = groups.setdefault(named, _List(n, {}, 0.0))
            lst.lookups.setdefault(token, []).append(role)
            lst.points = max(lst.points, points + bonus)
        out.extend(groups.values())
        if term.book_ids:
            out.append(_List(n, {}, term.place_points, term.book_ids))
    return out


def _bounded_count(session: Session, lst: _List, cap: int) -> int:
    """Postings of a list, counted up to ``cap + 1``: enough to know it is too common."""
    total = 0
    for sel in lst.selects():
        total += session.scalar(select(func.count()).select_from(sel.limit(cap + 1 - total).subquery()))
        if total > cap:
            break
    return total


def _ranked(session: Session, terms: list[_Term], drivers: list[_List], limit: int
            ) -> list[tuple[int, float]]:
    """The best records among the drivers' postings, scored in the database in one statement:
    per term the best points of the roles it matched in, summed."""
    st, rec = SearchTerm.__table__, Record.__table__
    cand = union(*[sel for lst in drivers for sel in lst.selects()]).subquery("cand")
    t = st.alias("t")
    tokens = sorted({token for term in terms for token, _ in term.lookups})
    places = any(term.book_ids for term in terms)
    r = rec.alias("r")
    if session.get_bind().dialect.name == "postgresql":
        # LATERAL: look each candidate up in the record index. A plain join lets PostgreSQL
        # misjudge the candidates and hash-join every posting of "nguyen" instead.
        t = (select(st.c.token, st.c.role, st.c.marked)
             .where(st.c.record_id == cand.c.rid, st.c.token.in_(tokens or [""])).lateral("t"))
        r = select(rec.c.book_id).where(rec.c.id == cand.c.rid).lateral("r")
        source = cand.outerjoin(t, true())
        if places:
            source = source.join(r, true())
    else:
        source = cand.outerjoin(t, and_(t.c.record_id == cand.c.rid, t.c.token.in_(tokens or [""])))
        if places:
            source = source.join(r, r.c.id == cand.c.rid)
    columns = []
    for n, term in enumerate(terms):
        whens = []
        for (token, role), (points, marked, bonus) in term.lookups.items():
            value = literal(points)
            if marked is not None and bonus:
                value = value + case((t.c.marked == marked, literal(bonus)), else_=literal(0.0))
            whens.append((and_(t.c.token == token, t.c.role == role), value))
        if term.book_ids:
            whens.append((r.c.book_id.in_(sorted(term.book_ids)), literal(term.place_points)))
        columns.append(func.coalesce(func.max(case(*whens, else_=None)), 0.0))
    score = sum(columns[1:], columns[0]).label("score")
    query = (select(cand.c.rid, score).select_from(source).group_by(cand.c.rid)
             .order_by(score.desc(), cand.c.rid).limit(limit))
    return [(rid, float(sc)) for rid, sc in session.execute(query) if sc > 0]


# --- results ------------------------------------------------------------------------------

@dataclass(frozen=True)
class SearchHit:
    """One found record, with what a list of results shows."""

    record_id: int
    record_key: str
    book_code: str
    page: int | None
    row: int | None
    name: str | None
    birth_date: str | None
    father_name: str | None
    mother_name: str | None
    commune: str
    district: str
    score: float


@dataclass(frozen=True)
class SearchResult:
    """The top hits; ``complete`` is False when the query was too broad to rank every match
    (only the first ``MAX_CANDIDATES`` postings of its commonest word were scored)."""

    query: ParsedQuery
    hits: list[SearchHit]
    complete: bool = True
    candidates: int = 0


def search_records(session: Session, query: str, limit: int = DEFAULT_LIMIT) -> SearchResult:
    """The ``limit`` best records for a typed query (see the module docstring for the syntax).

    What the review app's search box calls, as ``hotich search`` does.

        >>> [h.name for h in search_records(session, "Hùng 1968", limit=2).hits]
        ['Nguyễn Văn Hùng', 'Trần Đình Hùng']
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise BadInput(f"Số kết quả phải từ 1 đến {MAX_LIMIT}")
    parsed = parse_query(query)
    if parsed.empty:
        return SearchResult(parsed, [])
    terms = [t for t in _terms(parsed, session) if t.lookups or t.book_ids]
    lists = _lists(terms)
    counts = [_bounded_count(session, lst, DRIVER_BUDGET) for lst in lists]
    order = sorted(range(len(lists)), key=lambda i: (counts[i], -lists[i].points))
    drivers: list[_List] = []
    ranked: list[tuple[int, float]] = []
    complete, total = True, 0
    # Enough extra rows that ties at the cut can still be ordered by book and page.
    fetch = limit + max(limit, 4 * limit)
    rounds = 0
    for k, i in enumerate(order):
        if drivers and (total + counts[i] > DRIVER_BUDGET or rounds == MAX_ROUNDS):
            break  # enough read: what is left could only reorder weak matches
        drivers.append(lists[i])
        total += min(counts[i], DRIVER_BUDGET)
        if counts[i] > DRIVER_BUDGET:  # nothing rarer to start from: the first postings only
            complete = False
            drivers[-1] = _first(session, lists[i])
            ranked = _ranked(session, terms, drivers, fetch)
            break
        if k + 1 < len(order) and total + counts[order[k + 1]] <= EARLY_BUDGET:
            continue  # so cheap that reading the next list beats another round
        ranked = _ranked(session, terms, drivers, fetch)
        rounds += 1
        # The most a record outside the candidates can score: per term, its lists not read.
        rest: dict[int, float] = {}
        for j in order[k + 1:]:
            rest[lists[j].term] = max(rest.get(lists[j].term, 0.0), lists[j].points)
        bound = sum(rest.values())
        if bound == 0 or (len(ranked) >= limit and ranked[limit - 1][1] >= bound):
            break
    top = _top(session, ranked, limit)
    return SearchResult(parsed, _hits(session, top), complete, total)


@dataclass
class _FirstPostings(_List):
    """A list too common to read whole: its first ``MAX_CANDIDATES`` postings, in record order."""

    def selects(self):
        out = []
        for n, sel in enumerate(super().selects()):
            sub = sel.order_by("rid").limit(MAX_CANDIDATES).subquery(f"first{n}")
            out.append(select(sub.c.rid))
        return out


def _first(session: Session, lst: _List) -> _List:
    return _FirstPostings(lst.term, lst.lookups, lst.points, lst.book_ids)


_TIE_KEYS_MAX = 20_000
_CHUNK = 2000


def _top(session: Session, ranked: list[tuple[int, float]], limit: int) -> list[tuple[int, float]]:
    """Best first; equal scores by book code, page and row (past 5 × limit ties, record id)."""
    if not ranked:
        return []
    cutoff = ranked[min(limit, len(ranked)) - 1][1]
    contenders = [kv for kv in ranked if kv[1] >= cutoff][:_TIE_KEYS_MAX]
    keys: dict[int, tuple] = {}
    rec, page, book = Record.__table__, Page.__table__, Book.__table__
    ids = [rid for rid, _ in contenders]
    for i in range(0, len(ids), _CHUNK):
        chunk = ids[i:i + _CHUNK]
        rows = session.execute(
            select(rec.c.id, book.c.book_code, page.c.page_no, rec.c.row)
            .join(book, book.c.id == rec.c.book_id).outerjoin(page, page.c.id == rec.c.page_id)
            .where(rec.c.id.in_(chunk)))
        for rid, code, page_no, row in rows:
            keys[rid] = (code, page_no or 0, row or 0, rid)
    contenders.sort(key=lambda kv: (-kv[1], keys.get(kv[0], ("", 0, 0, kv[0]))))
    return contenders[:limit]


_SHOWN_FIELDS = tuple(NAME_FIELDS) + YEAR_FIELDS


def _hits(session: Session, top: list[tuple[int, float]]) -> list[SearchHit]:
    if not top:
        return []
    ids = [rid for rid, _ in top]
    values: dict[int, dict[str, str | None]] = {rid: {} for rid in ids}
    for rid, fname, value in session.execute(
            select(FieldValue.record_id, FieldValue.field, FieldValue.value)
            .where(FieldValue.record_id.in_(ids), FieldValue.is_current.is_(True),
                   FieldValue.field.in_(_SHOWN_FIELDS))):
        values[rid][fname] = value
    rows = {r.id: r for r in session.execute(
        select(Record.id, Record.record_key, Record.row, Page.page_no, Book.book_code,
               Book.commune, Book.district)
        .join(Book, Book.id == Record.book_id).outerjoin(Page, Page.id == Record.page_id)
        .where(Record.id.in_(ids)))}
    hits = []
    for rid, score in top:
        r, v = rows[rid], values[rid]
        names = [v.get(f) for f in ("full_name", "deceased_name") if v.get(f)]
        couple = " – ".join(x for x in (v.get("husband_name"), v.get("wife_name")) if x)
        birth = v.get("birth_date") or v.get("husband_birth") or v.get("wife_birth")
        hits.append(SearchHit(
            record_id=rid, record_key=r.record_key, book_code=r.book_code, page=r.page_no,
            row=r.row, name=(names[0] if names else couple or None), birth_date=birth,
            father_name=v.get("father_name"), mother_name=v.get("mother_name"),
            commune=r.commune, district=r.district, score=score))
    return hits

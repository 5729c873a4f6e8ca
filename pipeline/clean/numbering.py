"""Registration numbers across a whole book: gaps (lost or torn pages) and repeats (rule R07).

A page alone cannot tell that entries 41–47 are missing: the book can. Numbers are taken in
book order (page, then row); a number lower than the one before starts a new run (books
spanning several years restart at 1 each January), so only forward jumps count as gaps.

One misread number must not raise a false alarm: ``10, 141, 12`` is 11 read with a stray
digit, not 130 lost entries followed by a new year's numbering. A number outside the range its
two neighbours agree on (they run forward and it is neither between nor equal to them) is a
*suspect value* for a reviewer, and is left out before gaps and restarts are looked for.
"""

from __future__ import annotations

from dataclasses import dataclass

RULE = "R07"
MAX_GAP = 500  # a jump larger than this is a misread number or a restart, not lost pages


@dataclass(frozen=True)
class Place:
    page: int
    row: int


@dataclass(frozen=True)
class NumberGap:
    first_missing: int
    last_missing: int
    after: Place  # the entry before the gap
    before: Place  # the entry after it

    @property
    def count(self) -> int:
        return self.last_missing - self.first_missing + 1

    def message(self) -> str:
        """One line in Vietnamese for the status command and the report."""
        span = (str(self.first_missing) if self.count == 1
                else f"{self.first_missing}–{self.last_missing}")
        where = (f"trong trang {self.after.page}" if self.after.page == self.before.page
                 else f"giữa trang {self.after.page} và trang {self.before.page}")
        return (f"{RULE}: thiếu số đăng ký {span} ({self.count} bản ghi) {where}"
                " — có thể mất hoặc rách trang")


@dataclass(frozen=True)
class NumberRepeat:
    number: int
    places: tuple[Place, ...]

    def message(self) -> str:
        where = ", ".join(f"trang {p.page} dòng {p.row}" for p in self.places)
        return f"{RULE}: số đăng ký {self.number} lặp lại ({where})"


@dataclass(frozen=True)
class NumberSuspect:
    """A number its neighbours contradict: most likely misread (a digit slipped or added)."""

    number: int
    place: Place
    previous: int  # the numbers just before and after it in book order, which agree
    following: int

    def message(self) -> str:
        expected = (f"số {self.previous + 1}" if self.following - self.previous == 2
                    else f"số giữa {self.previous} và {self.following}")
        return (f"{RULE}: số đăng ký {self.number} ở trang {self.place.page} dòng {self.place.row} "
                f"không liền mạch (dòng trước {self.previous}, dòng sau {self.following}; có lẽ là "
                f"{expected}) — có thể đọc sai, cần xem lại; không tính là thiếu số")


@dataclass(frozen=True)
class BookNumbering:
    gaps: list[NumberGap]
    repeats: list[NumberRepeat]
    suspects: list[NumberSuspect]


def check_book_numbering(
    entries: list[tuple[int, int, str | None]],
) -> tuple[list[NumberGap], list[NumberRepeat]]:
    """Gaps and repeats among a book's registration numbers (suspect values left out).

        >>> gaps, repeats = check_book_numbering([(1, 1, "10"), (1, 2, "141"), (2, 1, "12")])
        >>> gaps, repeats
        ([], [])
    """
    found = review_book_numbering(entries)
    return found.gaps, found.repeats


def review_book_numbering(entries: list[tuple[int, int, str | None]]) -> BookNumbering:
    """Gaps, repeats and suspect values among a book's registration numbers.

        >>> gaps, repeats = check_book_numbering(
        ...     [(1, 1, "39"), (1, 2, "40"), (2, 1, "48"), (2, 2, "48"), (2, 3, None)])
        >>> [g.message() for g in gaps]
        ['R07: thiếu số đăng ký 41–47 (7 bản ghi) giữa trang 1 và trang 2 — có thể mất hoặc rách trang']
        >>> [r.message() for r in repeats]
        ['R07: số đăng ký 48 lặp lại (trang 2 dòng 1, trang 2 dòng 2)']

    ``entries`` are (page, row, registration number as stored); entries without a number
    (unread, blank) are skipped, so a gap is only reported between two numbers read.
    """
    numbered = sorted((page, row, int(value)) for page, row, value in entries
                      if value and value.strip().isdigit())
    numbered, suspects = _set_aside_suspects(numbered)
    gaps: list[NumberGap] = []
    seen: dict[tuple[int, int], list[Place]] = {}  # (run, number) → places
    run = 0
    previous: tuple[int, int, int] | None = None
    for page, row, number, filled in numbered:
        if previous is not None:
            jump = number - previous[2]
            if jump < 0:
                run += 1
            elif filled + 1 < jump <= MAX_GAP:  # the suspects just before may hold the numbers
                gaps.append(NumberGap(previous[2] + 1, number - 1,
                                      Place(previous[0], previous[1]), Place(page, row)))
        seen.setdefault((run, number), []).append(Place(page, row))
        previous = (page, row, number)
    repeats = [NumberRepeat(number, tuple(places))
               for (_, number), places in seen.items() if len(places) > 1]
    return BookNumbering(gaps, repeats, suspects)


def _set_aside_suspects(
    numbered: list[tuple[int, int, int]],
) -> tuple[list[tuple[int, int, int, int]], list[NumberSuspect]]:
    """Numbers whose two neighbours run forward around them and leave them outside.

    The neighbour before is the last number kept, so ``10, 141, 12`` sets 141 aside. Each kept
    entry carries how many suspects were set aside just before it: ``10, 12`` then reads as a
    run, 11 being the suspect's right value rather than a missing entry.
    """
    kept: list[tuple[int, int, int, int]] = []
    suspects: list[NumberSuspect] = []
    filled = 0
    for i, (page, row, number) in enumerate(numbered):
        if kept and i + 1 < len(numbered):
            before, after = kept[-1][2], numbered[i + 1][2]
            if before < after and not before <= number <= after:
                suspects.append(NumberSuspect(number, Place(page, row), before, after))
                filled += 1
                continue
        kept.append((page, row, number, filled))
        filled = 0
    return kept, suspects

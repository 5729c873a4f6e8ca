"""R07 over a book: gaps between pages, repeats, restarts, and what is not a gap."""

from pipeline.clean.numbering import check_book_numbering


def test_a_gap_inside_a_page_and_one_across_pages():
    gaps, repeats = check_book_numbering(
        [(1, 1, "1"), (1, 2, "2"), (1, 3, "4"), (2, 1, "5"), (3, 1, "9")])
    assert [(g.first_missing, g.last_missing, g.after.page, g.before.page) for g in gaps] \
        == [(3, 3, 1, 1), (6, 8, 2, 3)]
    assert "trong trang 1" in gaps[0].message() and repeats == []


def test_unread_numbers_restarts_and_absurd_jumps_are_no_gaps():
    gaps, _ = check_book_numbering([(1, 1, "7"), (1, 2, None), (1, 3, ""), (1, 4, "8")])
    assert gaps == []  # the unread rows may hold the numbers: nothing is known missing
    gaps, repeats = check_book_numbering([(1, 1, "311"), (1, 2, "312"), (2, 1, "1"), (2, 2, "2")])
    assert gaps == [] and repeats == []  # a new year's numbering
    gaps, _ = check_book_numbering([(1, 1, "12"), (1, 2, "9013")])
    assert gaps == []  # a misread, for the page-level rule, not 9000 lost entries


def test_a_repeated_number_names_both_places_and_order_is_by_page_and_row():
    gaps, repeats = check_book_numbering([(2, 1, "30"), (1, 2, "29"), (1, 1, "28"), (2, 2, "30")])
    assert gaps == [] and [(r.number, [(p.page, p.row) for p in r.places]) for r in repeats] \
        == [(30, [(2, 1), (2, 2)])]

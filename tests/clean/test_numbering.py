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


def test_a_digit_slip_is_a_suspect_value_not_a_gap_nor_a_restart():
    """Issue 19 §5: 11 read as 141 announced "thiếu số 11–140 (130 bản ghi)"."""
    from pipeline.clean.numbering import review_book_numbering

    entries = [(1, 1, "9"), (1, 2, "10"), (2, 1, "141"), (2, 2, "12"), (2, 3, "13"), (3, 1, "14")]
    found = review_book_numbering(entries)
    assert found.gaps == [] and found.repeats == []
    assert [(s.number, s.place.page, s.place.row) for s in found.suspects] == [(141, 2, 1)]
    message = found.suspects[0].message()
    assert "141" in message and "số 11" in message and "cần xem lại" in message
    assert check_book_numbering(entries) == ([], [])
    # A slip down (1 for 11) is no new year's numbering either.
    found = review_book_numbering([(1, 1, "10"), (1, 2, "1"), (1, 3, "12"), (1, 4, "13")])
    assert [s.number for s in found.suspects] == [1] and found.gaps == []


def test_a_real_gap_is_still_a_gap_when_a_suspect_sits_beside_it():
    from pipeline.clean.numbering import review_book_numbering

    # 20–24 missing (a torn page), then 11 misread as 141 on the next page
    found = review_book_numbering([(1, 1, "18"), (1, 2, "19"), (2, 1, "25"), (2, 2, "926"),
                                   (2, 3, "27"), (2, 4, "28")])
    assert [(g.first_missing, g.last_missing) for g in found.gaps] == [(20, 24)]
    assert [s.number for s in found.suspects] == [926]
    # Equal neighbours are a repeat, not a suspect.
    found = review_book_numbering([(1, 1, "29"), (1, 2, "30"), (1, 3, "30"), (1, 4, "31")])
    assert found.suspects == [] and [r.number for r in found.repeats] == [30]

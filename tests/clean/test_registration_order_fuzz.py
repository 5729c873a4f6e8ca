"""Any registration dates a reader can produce, however wrong, are checked without a crash:
a misread year 0001 or 9999, or neighbours that are all doubtful, leave a note, not an error
that loses the page (two such pages failed whole when a second reader's readings reached
the clean stage)."""

from __future__ import annotations

from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.clean.page import _window, check_registration_order
from pipeline.types import FieldValue

DATES = st.one_of(
    st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31)),
    st.dates(min_value=date(1983, 1, 1), max_value=date(1985, 12, 31)),
)


def _row(day: date) -> dict[str, FieldValue]:
    return {"registration_date": FieldValue("registration_date", day.isoformat(),
                                            day.isoformat(), "read", 0.9)}


@settings(max_examples=300, deadline=None)
@given(st.lists(DATES, min_size=3, max_size=12))
def test_any_dates_are_checked_without_error(days):
    rows = [_row(d) for d in days]
    out = check_registration_order(rows)
    assert len(out) == len(rows)
    for before, after in zip(rows, out):
        kept = after["registration_date"]
        assert kept.value is not None
        if kept.value != before["registration_date"].value:
            assert kept.note  # a changed date always says why


def test_a_window_past_the_calendar_is_none():
    assert _window(None, date(1, 1, 2)) == (None, None)
    assert _window(date(9999, 12, 30), None) == (None, None)
    low, high = _window(date(1984, 1, 2), None)
    assert low == date(1984, 1, 2) and high > low

"""The report's figures on a small seeded database, on every back-end (see report_helpers.seed_small)."""

from __future__ import annotations

from datetime import date

from pipeline.report.figures import (
    AreaFigures, collect_figures, format_count, format_share, page_ranges,
)
from pipeline.storage.db import session_scope

from report_helpers import seed_small


def _seeded(engine):
    with session_scope(engine) as s:
        seed_small(s)
    return collect_figures(engine)


def test_book_figures(engine):
    figures = _seeded(engine)
    books = {b.book_code: b for b in figures.books}
    a, b, c = books["HL-KS-1978"], books["NP-KS-1979"], books["HL-KT-1980"]

    assert (a.pages, a.pages_done, a.pages_failed, a.pages_pending) == (4, 2, 1, 1)
    assert (a.records, a.extracted, a.needs_review, a.postponed, a.reviewed, a.approved) == (5, 1, 1, 1, 1, 1)
    assert a.waiting == 1 and a.link_review == 1 and a.ready == 1
    for book in (a, b, c):  # every record in exactly one state (issue 19 §9)
        assert book.waiting + book.postponed + book.ready + book.reviewed + book.approved == book.records
    assert (b.records, b.ready) == (2, 2)  # extracted, nothing doubtful: in no column before
    assert a.exported == 1  # one record, exported in two batches
    assert (a.birth_records, a.linked, a.match_rate) == (5, 2, 0.4)  # auto + confirmed, not rejected
    assert (a.fields_auto, a.fields_confirmed, a.fields_corrected, a.fields_doubtful, a.fields_blank) \
        == (6, 1, 1, 1, 1)
    assert [g.message() for g in a.gaps] == [
        "R07: thiếu số đăng ký 4–7 (4 bản ghi) giữa trang 1 và trang 2 — có thể mất hoặc rách trang"]
    assert [r.message() for r in a.repeats] == ["R07: số đăng ký 8 lặp lại (trang 2 dòng 1, trang 2 dòng 2)"]
    assert (a.numbers_missing, a.number_repeats) == (4, 1)
    assert a.failures == ["trang 3: ảnh không đọc được"]
    assert a.layout == "form" and a.year == "1978"

    assert [(g.reason, g.pages) for g in b.page_failures] == [("ảnh không đọc được", [2, 4]),
                                                             ("ảnh quá lớn", [3])]
    assert b.failures == ["2 trang 2, 4: ảnh không đọc được", "trang 3: ảnh quá lớn"]
    assert (b.match_rate, b.fields_auto, b.layout, b.gaps) == (0.0, 4, "ledger", [])

    assert c.pages == 0 and c.files_failed == 1 and c.failures == ["scan.tif: tệp TIFF hỏng"]
    assert c.match_rate is None  # a death book has no birth record to match


def test_roll_up_by_province_district_commune(engine):
    figures = _seeded(engine)
    rows = [(depth, item.label if isinstance(item, AreaFigures) else item.book_code)
            for depth, item in figures.rows()]
    assert rows == [
        (0, "Tỉnh Nghệ Tĩnh"),
        (1, "Huyện Hưng Nguyên"), (2, "Xã Hưng Lộc"), (3, "HL-KS-1978"), (3, "HL-KT-1980"),
        (1, "Huyện Nghi Lộc"), (2, "Xã Nghi Phong"), (3, "NP-KS-1979"),
    ]
    province = figures.provinces[0]
    hung_loc = province.children[0].children[0]
    assert hung_loc.counts.pages == 4 and hung_loc.counts.files_failed == 1
    t = province.counts
    assert (t.pages, t.pages_done, t.pages_failed, t.records, t.approved, t.exported) == (8, 3, 4, 7, 1, 1)
    assert (t.birth_records, t.linked) == (7, 2)
    assert (t.fields_auto, t.numbers_missing) == (10, 4)
    assert figures.totals == t


def test_timeline_days_are_vietnam_days(engine):
    timeline = _seeded(engine).timeline
    # 10:00 UTC is 2 March in Vietnam, 20:00 UTC already 3 March.
    assert timeline.pages_done == {date(2026, 3, 2): 1, date(2026, 3, 3): 1, date(2026, 3, 4): 1}
    assert timeline.reviewed == {date(2026, 3, 5): 2}
    assert timeline.approved == {date(2026, 3, 6): 1}
    assert timeline.exported == {date(2026, 3, 7): 1}  # first export only


def test_confidence_histogram_per_layout(engine):
    hist = _seeded(engine).confidence
    assert set(hist) == {"form", "ledger"}
    form = {i: n for i, n in enumerate(hist["form"]) if n}
    # OCR readings (version 1, not blank): numbers 0.96 ×5, names 0.52, 0.63, 0.41, 0.91
    assert form == {19: 5, 10: 1, 12: 1, 8: 1, 18: 1}
    assert {i: n for i, n in enumerate(hist["ledger"]) if n} == {17: 4}


def test_gap_around_an_unprocessed_page_is_not_counted_as_lost(engine):
    """Numbers missing where a failed page sits between are the failed page's, not lost ones."""
    from pipeline.storage.models import Book, Page
    from sqlalchemy import select

    with session_scope(engine) as s:
        seed_small(s)
        book = s.scalar(select(Book).where(Book.book_code == "HL-KS-1978"))
        s.scalar(select(Page).where(Page.book_id == book.id, Page.page_no == 2)).page_no = 5
    a = {b.book_code: b for b in collect_figures(engine).books}["HL-KS-1978"]
    assert a.gaps == [] and a.numbers_missing == 0  # failed page 3 and pending 4 lie between
    assert [g.first_missing for g in a.gaps_unprocessed] == [4]
    assert a.unprocessed_numbering == ["R07: số đăng ký 4–7 (4 bản ghi) chưa có: giữa trang 1 và "
                                       "trang 5 có trang chưa xử lý, bị lỗi hoặc cần xem lại"]
    assert a.numbering == ["R07: số đăng ký 8 lặp lại (trang 5 dòng 1, trang 5 dòng 2)"]


def test_empty_database(engine):
    figures = collect_figures(engine)
    assert figures.books == [] and figures.provinces == [] and figures.timeline.empty
    assert figures.confidence == {} and figures.totals.match_rate is None


def test_formats():
    assert page_ranges([9, 1, 2, 3, 7, 10]) == "1–3, 7, 9–10"
    assert format_count(1234567) == "1.234.567"
    assert format_share(0.8531) == "85,3 %" and format_share(None) == "—"


def test_progress_chart_labels_each_day_once():
    """Issue 19 §9: around a single spike the x axis repeated one date six times (hourly
    ticks labelled with the day)."""
    from datetime import date, timedelta

    from pipeline.report.charts import progress_figure
    from pipeline.report.figures import Timeline

    for timeline in (Timeline(pages_done={date(2026, 3, 2): 40}),
                     Timeline(pages_done={date(2026, 3, 2): 40}, reviewed={date(2026, 3, 3): 5}),
                     Timeline(pages_done={date(2026, 1, 1) + timedelta(days=i): 3 for i in range(0, 45, 2)})):
        fig = progress_figure(timeline)
        fig.canvas.draw()
        labels = [t.get_text() for t in fig.axes[0].get_xticklabels() if t.get_text()]
        assert labels and len(labels) == len(set(labels)) and len(labels) <= 8, labels

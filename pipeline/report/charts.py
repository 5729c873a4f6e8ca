"""The report's charts, drawn with matplotlib's Agg canvas and returned as PNG data: URIs.

No pyplot: a ``Figure`` on its own canvas needs no display, keeps no global state and can be
drawn from any thread. Labels are Vietnamese; DejaVu Sans (matplotlib's default font, shipped
with it) has every Vietnamese letter.
"""

from __future__ import annotations

import base64
import io
from datetime import date, timedelta
from itertools import accumulate

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import DateFormatter
from matplotlib.figure import Figure

from pipeline.report.figures import CONFIDENCE_BINS, LAYOUTS, Timeline

FONT = "DejaVu Sans"
COLORS = {"pages": "#4c72b0", "reviewed": "#dd8452", "approved": "#55a868", "exported": "#8172b3"}
LAYOUT_COLORS = ["#4c72b0", "#dd8452", "#55a868", "#c44e52"]


def _figure(width: float = 7.5, height: float = 3.4) -> Figure:
    fig = Figure(figsize=(width, height), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _data_uri(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _style(ax) -> None:
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="y", color="#dddddd", linewidth=0.8)
    ax.set_axisbelow(True)
    for label in ax.get_xticklabels() + ax.get_yticklabels():
        label.set_fontfamily(FONT)


def _cumulative(per_day: dict[date, int], days: list[date]) -> list[int]:
    return list(accumulate(per_day.get(d, 0) for d in days))


def progress_chart(timeline: Timeline) -> str | None:
    """Cumulative pages processed and records reviewed, approved and exported, by day; None
    when nothing has happened yet.

        >>> progress_chart(Timeline(pages_done={date(2026, 3, 2): 40})).startswith("data:image/png")
        True
    """
    if timeline.empty:
        return None
    return _data_uri(progress_figure(timeline))


def day_ticks(days: list[date], most: int = 8) -> list[date]:
    """Whole days to label, at most ``most``, evenly spaced from the first.

    Why not matplotlib's AutoDateLocator: over two or three days it puts ticks every few
    hours, and a label of the day alone then repeats one date six times.

        >>> day_ticks([date(2026, 3, 1), date(2026, 3, 2)])
        [datetime.date(2026, 3, 1), datetime.date(2026, 3, 2)]
        >>> [d.day for d in day_ticks([date(2026, 1, 1) + timedelta(days=i) for i in range(60)])]
        [1, 10, 19, 28, 6, 15, 24]
    """
    step = max(1, -(-(len(days) - 1) // (most - 1)))  # ceiling division
    return days[::step]


def progress_figure(timeline: Timeline) -> Figure:
    """The progress chart's figure (``progress_chart`` encodes it); its x axis has one tick
    per labelled day, never an hour."""
    series = [("pages", "Trang đã xử lý", timeline.pages_done),
              ("reviewed", "Bản ghi đã duyệt", timeline.reviewed),
              ("approved", "Bản ghi đã phê duyệt", timeline.approved),
              ("exported", "Bản ghi đã xuất", timeline.exported)]
    known = [d for _, _, s in series for d in s]
    start, end = min(known), max(known)
    if start == end:  # one day: show the day before too, so the line has somewhere to start
        start -= timedelta(days=1)
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    fig = _figure()
    ax = fig.add_subplot()
    # A day's total holds until the next day: the last day gets its width too, or a one-day
    # spike would be a vertical line on the frame's edge.
    edge = days[-1] + timedelta(days=1)
    for key, label, per_day in series:
        if per_day:
            totals = _cumulative(per_day, days)
            ax.step(days + [edge], totals + totals[-1:], where="post", label=label,
                    color=COLORS[key], linewidth=2)
    ax.set_title("Tiến độ theo ngày (cộng dồn)", fontfamily=FONT, fontsize=12)
    ax.set_ylabel("Số lượng", fontfamily=FONT)
    ax.set_ylim(bottom=0)
    ax.set_xlim(days[0], edge)
    ax.set_xticks(day_ticks(days))
    ax.xaxis.set_major_formatter(DateFormatter("%d/%m/%Y"))
    ax.legend(prop={"family": FONT, "size": 9}, frameon=False, loc="upper left")
    _style(ax)
    return fig


def confidence_chart(histograms: dict[str, list[int]]) -> str | None:
    """Histogram of the OCR's confidence in the fields it read, one bar colour per layout;
    None when no field has been read.

        >>> confidence_chart({"form": [0] * 19 + [120]}).startswith("data:image/png")
        True
    """
    if not any(sum(bins) for bins in histograms.values()):
        return None
    width = 1 / CONFIDENCE_BINS
    fig = _figure()
    ax = fig.add_subplot()
    lefts = [i * width for i in range(CONFIDENCE_BINS)]
    bottom = [0] * CONFIDENCE_BINS
    for (layout, bins), color in zip(histograms.items(), LAYOUT_COLORS * 4):
        ax.bar(lefts, bins, width=width * 0.92, bottom=bottom, align="edge", color=color,
               label=f"Sổ {LAYOUTS.get(layout, layout)} ({sum(bins):,} trường)".replace(",", "."))
        bottom = [b + n for b, n in zip(bottom, bins)]
    ax.set_title("Độ tin cậy OCR của các trường đã đọc", fontfamily=FONT, fontsize=12)
    ax.set_xlabel("Độ tin cậy (0 – 1)", fontfamily=FONT)
    ax.set_ylabel("Số trường", fontfamily=FONT)
    ax.set_xlim(0, 1)
    ax.legend(prop={"family": FONT, "size": 9}, frameon=False, loc="upper left")
    _style(ax)
    return _data_uri(fig)

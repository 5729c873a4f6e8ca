"""`hotich report OUT.html`: the figures and charts as one self-contained HTML file.

Self-contained means no external asset of any kind: CSS is inline, charts are PNG data: URIs,
there is no script; the file can be mailed, archived or opened offline as it is.
"""

from __future__ import annotations

from datetime import timedelta, timezone
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy.engine import Engine

from pipeline.report.figures import (
    LAYOUTS, AreaFigures, Figures, collect_figures, format_count, format_share,
)

TEMPLATES = Path(__file__).parent / "templates"
VIETNAM = timezone(timedelta(hours=7))


def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "j2"]),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["n"] = format_count
    env.filters["share"] = format_share
    env.tests["area"] = lambda item: isinstance(item, AreaFigures)
    return env


def render_report(figures: Figures) -> str:
    """The report's HTML for ``figures`` (charts drawn here)."""
    from pipeline.report.charts import confidence_chart, progress_chart

    return _environment().get_template("report.html.j2").render(
        f=figures,
        t=figures.totals,
        generated=figures.generated_at.astimezone(VIETNAM).strftime("%H:%M ngày %d/%m/%Y"),
        progress_png=progress_chart(figures.timeline),
        confidence_png=confidence_chart(figures.confidence),
        layouts=LAYOUTS,
        failing=[b for b in figures.books if b.file_failures or b.page_failures],
        numbering=[b for b in figures.books if b.gaps or b.repeats or b.suspects
                   or b.gaps_unprocessed],
    )


def write_report(db: Engine, out: Path) -> Figures:
    """Write the report of everything in ``db`` to ``out`` (folders made as needed).

        >>> write_report(engine, Path("bao-cao.html")).totals.records
        39
    """
    figures = collect_figures(db)
    html = render_report(figures)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(out)  # a reader never sees half a report
    return figures

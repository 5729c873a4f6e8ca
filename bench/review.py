"""Scripted reviewer: keystrokes and seconds to finish a record with two wrong fields.

    .venv/bin/python bench/review.py [--runs 3] [--screenshots DIR]

A sample book is seeded in a temporary workspace (pipeline.review.sample: a generated page
ingested like a scan; row 1 has a misread surname and a misread birth date), the review app
runs under uvicorn on a free local port, and headless Debian Chromium (Playwright, no
download) plays a reviewer who uses the keyboard only, as fast as the app lets it:

* "suggestion + typed date": Alt+G takes the dictionary/citizen spelling of the name, the
  date is typed over, Enter, Ctrl+Enter;
* "both typed": both values typed over.

The clock starts when the record's screen (with every field crop) is shown and stops when the
next record's screen is shown, so it includes saving, the confirmation's commit and loading
the next record. Human reading time is not modelled: the seconds are what the app adds.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "review"))

from livesite import CHROMIUM, CHROMIUM_ARGS, live_server  # noqa: E402

from pipeline.review.auth import add_user  # noqa: E402
from pipeline.review.sample import seed_sample_book  # noqa: E402
from pipeline.settings import Settings  # noqa: E402
from pipeline.storage.db import make_engine, session_scope  # noqa: E402
from pipeline.storage.versions import current_values  # noqa: E402

PASSWORD = "bench-password-1"


class Keys:
    """The keyboard, counting what the reviewer presses (a chord such as Ctrl+Enter is one)."""

    def __init__(self, page):
        self.page, self.count = page, 0

    def press(self, key: str) -> None:
        self.page.keyboard.press(key)
        self.count += 1

    def type(self, text: str) -> None:
        self.page.keyboard.type(text)
        self.count += len(text)


def _until(page, expression: str) -> None:
    # wait_for_function evaluates a string in the page, which the app's CSP forbids.
    while not page.evaluate(expression):
        time.sleep(0.01)


def _ready(page) -> None:
    page.wait_for_load_state("load")
    _until(page, "[...document.images].every(i => i.complete)")


def _login(browser, base: str):
    context = browser.new_context(viewport={"width": 1500, "height": 950})
    page = context.new_page()
    page.goto(base + "/login")
    page.fill('input[name="name"]', "bench")
    page.fill('input[name="password"]', PASSWORD)
    page.click('button[type="submit"]')
    page.wait_for_selector("#start, .empty")
    return context, page


def run_once(browser, base: str, engine, sample, mode: str) -> tuple[int, float, bool]:
    rid = sample.record_ids[0]
    truth = sample.truth[1]
    context, page = _login(browser, base)
    page.goto(f"{base}/records/{rid}")
    _ready(page)
    keys = Keys(page)
    started = time.perf_counter()
    y, m, d = truth["birth_date"].split("-")
    if mode == "suggestion":
        keys.press("Alt+G")
    else:
        keys.type(truth["full_name"])
        keys.press("Enter")
    keys.type(f"{d}/{m}/{y}")
    keys.press("Enter")
    keys.press("Control+Enter")
    page.wait_for_url(re.compile(r"/records/(?!%d$)\d+|/queue" % rid))
    _ready(page)
    seconds = time.perf_counter() - started
    context.close()
    with session_scope(engine) as s:
        values = current_values(s, rid)
        right = (values["full_name"].value == truth["full_name"]
                 and values["birth_date"].value == truth["birth_date"])
    return keys.count, seconds, right


def screenshots(browser, base: str, sample, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    context, page = _login(browser, base)
    shots = []

    def shot(name: str, full: bool = False) -> None:
        path = out / f"review-{name}.png"
        page.screenshot(path=str(path), full_page=full)
        shots.append(path)

    shot("queue")
    page.goto(f"{base}/records/{sample.record_ids[0]}")
    _ready(page)
    shot("record")
    page.keyboard.press("Alt+A")
    _until(page, "document.getElementById('page-img').complete")
    time.sleep(0.3)
    shot("page")
    page.keyboard.press("Escape")
    page.goto(f"{base}/records/{sample.link_record}")
    _ready(page)
    shot("links")
    page.goto(f"{base}/supervisor")
    shot("supervisor")
    context.close()
    return shots


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of each way (median shown)")
    parser.add_argument("--screenshots", type=Path, help="also save screenshots into this folder")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    results: dict[str, list[tuple[int, float, bool]]] = {"suggestion": [], "typed": []}
    with tempfile.TemporaryDirectory(prefix="hotich-bench-review-") as tmp, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for mode in results:
            extra = 1 if args.screenshots and mode == "suggestion" else 0
            for run in range(args.runs + extra):
                settings = Settings(home=Path(tmp) / f"{mode}-{run}")
                engine = make_engine(settings.database_url)
                sample = seed_sample_book(engine, settings)
                with session_scope(engine) as s:
                    add_user(s, "bench", "supervisor", PASSWORD, actor="bench")
                with live_server(engine, settings) as base:
                    if args.screenshots and mode == "suggestion" and run == 0:
                        for path in screenshots(browser, base, sample, args.screenshots):
                            print(f"screenshot: {path}")
                        engine.dispose()  # the screenshots warmed the image cache: start afresh
                        continue
                    results[mode].append(run_once(browser, base, engine, sample, mode))
                engine.dispose()
        browser.close()
    print(f"\nhotich review benchmark — record with two wrong fields, keyboard only, "
          f"{args.runs} run(s) each, headless Chromium")
    print(f"{'way':<28}{'keys':>6}{'seconds (median)':>18}{'min':>8}{'max':>8}  right")
    labels = {"suggestion": "suggestion + typed date", "typed": "both typed"}
    for mode, rows in results.items():
        secs = [r[1] for r in rows]
        print(f"{labels[mode]:<28}{rows[0][0]:>6}{statistics.median(secs):>18.2f}{min(secs):>8.2f}"
              f"{max(secs):>8.2f}  {sum(r[2] for r in rows)}/{len(rows)}")


if __name__ == "__main__":
    main()

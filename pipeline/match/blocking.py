"""Candidate pairs from several blocking passes, so one wrong field cannot hide the citizen.

Each pass joins records and citizens on a few folded keys; a pair found by any pass is a
candidate. Every field a pass uses is left out of at least one other pass: a misread surname
is still found through the given name and the mother, a wrong year through the whole family,
a changed given name through surname, parents and year.

Any two strong fields that agree find the pair, whatever the others say: name and date
(year or full date with either name part), name and parents (any year, with or without the
surname), date and parents (the mother, any name), date and commune (no name, no parents).
The last three are not trained on: they force what would tell a match from a sibling or a
neighbour born the same day, and they add few pairs (generated 20 000 × 200 000: 137 205
candidate pairs → 143 294).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class BlockingPass:
    label: str  # readable, stored with the model
    columns: tuple[str, ...]
    uses: frozenset[str]  # comparisons whose agreement the pass forces (not trained on it)
    # A pass keyed on the family (parents) finds siblings by design: its pairs would teach EM
    # that a different given name is common for one person, so no m is learned from them.
    train: bool = True


PASSES = (
    BlockingPass("năm sinh + họ + tên (bỏ dấu)", ("b_year", "n_fsur", "n_fgiv"),
                 frozenset({"birth_date", "surname", "given_name"})),
    BlockingPass("năm sinh + tên + tên mẹ (bỏ dấu)", ("b_year", "n_fgiv", "m_fgiv"),
                 frozenset({"birth_date", "given_name", "mother_name"})),
    BlockingPass("năm sinh + họ + tên cha + tên mẹ (bỏ dấu)", ("b_year", "n_fsur", "f_fgiv", "m_fgiv"),
                 frozenset({"birth_date", "surname", "father_name", "mother_name"}), train=False),
    BlockingPass("họ + tên + tên cha + tên mẹ, mọi năm sinh", ("n_fsur", "n_fgiv", "f_fgiv", "m_fgiv"),
                 frozenset({"surname", "given_name", "father_name", "mother_name"})),
    BlockingPass("ngày sinh đủ + tên (bỏ dấu)", ("b_days", "n_fgiv"),
                 frozenset({"birth_date", "given_name"})),
    BlockingPass("ngày sinh đủ + họ (bỏ dấu)", ("b_days", "n_fsur"),
                 frozenset({"birth_date", "surname"})),
    BlockingPass("năm sinh ±1 + họ + tên + tên mẹ (bỏ dấu)", ("b_year_near", "n_fsur", "n_fgiv", "m_fgiv"),
                 frozenset({"birth_date", "surname", "given_name", "mother_name"})),
    # Passes below find a pair through two strong fields with the name or the family left out
    # entirely: a name misread past recognition, a misread surname with a wrong year.
    BlockingPass("tên + tên cha + tên mẹ, mọi năm sinh, mọi họ", ("n_fgiv", "f_fgiv", "m_fgiv"),
                 frozenset({"given_name", "father_name", "mother_name"}), train=False),
    BlockingPass("ngày sinh đủ + tên mẹ (bỏ dấu)", ("b_days", "m_fgiv"),
                 frozenset({"birth_date", "mother_name"}), train=False),
    BlockingPass("ngày sinh đủ + xã nơi sinh", ("b_days", "p_commune"),
                 frozenset({"birth_date", "birth_place"}), train=False),
)
MAX_BLOCK_PAIRS = 2_000_000  # a pass that would explode (a key of blanks) is cut, not run


def _usable(keys: pd.DataFrame, columns: tuple[str, ...]) -> pd.Series:
    """Rows that have every key of the pass: a text code is -1 when blank, a date part 0."""
    ok = pd.Series(True, index=keys.index)
    for col in columns:
        ok &= keys[col].ne(0) if col.startswith("b_") else keys[col].ne(-1)
    return ok


def _side(keys: pd.DataFrame, columns: tuple[str, ...], near: bool) -> pd.DataFrame:
    frame = keys.loc[_usable(keys, tuple(c.replace("_near", "") for c in columns)),
                     [c.replace("_near", "") for c in columns]].copy()
    frame.columns = list(columns)
    frame["idx"] = frame.index.to_numpy()
    if near:  # the record's year, and the years on either side of it
        frame = pd.concat([frame.assign(b_year_near=frame["b_year_near"] + d) for d in (-1, 1)])
    return frame


def candidate_pairs(records: pd.DataFrame, citizens: pd.DataFrame,
                    passes: tuple[BlockingPass, ...] = PASSES
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """Record positions, citizen positions, a bit mask of the passes that found each pair,
    and the number of pairs per pass."""
    found: list[np.ndarray] = []
    counts: dict[str, int] = {}
    n_cit = max(len(citizens), 1)
    for bp in passes:
        near = "b_year_near" in bp.columns
        left = _side(records, bp.columns, near)
        right = _side(citizens, bp.columns, False)
        sizes = left.groupby(list(bp.columns)).size().rename("l").to_frame().join(
            right.groupby(list(bp.columns)).size().rename("r"), how="inner")
        product = sizes["l"] * sizes["r"]
        if product.sum() > MAX_BLOCK_PAIRS * 10:
            big = sizes.index[product > MAX_BLOCK_PAIRS]
            right = right.set_index(list(bp.columns)).drop(big, errors="ignore").reset_index()
        pairs = left.merge(right, on=list(bp.columns), suffixes=("_r", "_c"))
        codes = np.unique(pairs["idx_r"].to_numpy(np.int64) * n_cit + pairs["idx_c"].to_numpy(np.int64))
        counts[bp.label] = len(codes)
        found.append(codes)
    codes = np.unique(np.concatenate(found)) if found else np.empty(0, np.int64)
    mask = np.zeros(len(codes), dtype=np.int64)
    for bit, pass_codes in enumerate(found):
        mask[np.isin(codes, pass_codes, assume_unique=True)] |= 1 << bit
    return codes // n_cit, codes % n_cit, mask, counts

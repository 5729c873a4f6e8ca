"""The review band: records the matcher would not link alone, in the order a reviewer's click
is worth most.

A reviewer's time is the scarce thing: a batch of 20 000 records leaves some hundreds in
review, and a commune may only get through the first ones. A click is worth the chance that it
gives a record its citizen: that the citizen is among the candidates shown.

The question the band asks is nearly always "this person, or a relative?": the candidates of a
record held back agree on surname, parents and commune (a sibling, a twin, a child given a
dead sibling's name). Those shared fields cannot answer it, yet the Fellegi–Sunter posterior
counts them, and says 0.9999 for nearly every queued record (measured on a generated band:
the first 80 % all at 1.0, of which half found their citizen). So the worth weighs only the
fields that tell a person from a sibling — birth date, middle name, sex — and weighs them
against relatives, not against random people: log2(m / u among relatives), with u counted on
citizen pairs of the same parents in the population at hand (``MatchModel.u_relatives``).
The given name is left out: the band is chosen by name agreement, and the sibling given a dead
child's name shares it (with it, the order was inverted). With ``bᵢ`` those bits of candidate
``i``, the record being at most one of its candidates,

    worth = Σ 2^bᵢ / (1 + Σ 2^bᵢ)

It orders the queue (generated 20 000 × 200 000: the first fifth of the queue finds its
citizen among the candidates 47 % of the time, the last half 1 %; with every noise family of
``linkage_noise``, 32 % and 14 %); it is not a calibrated probability.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: The comparisons that tell a person from a sibling of the same parents (see above).
PERSONAL = ("middle_name", "birth_date", "sex")


def review_worth(personal_bits: pd.Series, record_ids: pd.Series) -> pd.Series:
    """Per row, the worth of its record's click (the same for all its candidates).

    ``personal_bits``: per candidate, the bits of the ``PERSONAL`` comparisons.

    >>> bits = pd.Series([3.0, 3.0, 3.0, -2.0])
    >>> [round(x, 3) for x in review_worth(bits, pd.Series(["a", "a", "b", "c"]))]
    [0.941, 0.941, 0.889, 0.2]
    """
    odds = pd.Series(np.exp2(np.clip(personal_bits.to_numpy(dtype=float), -60, 60)),
                     index=personal_bits.index)
    total = odds.groupby(record_ids.to_numpy()).transform("sum")
    return total / (1 + total)


def review_queue(links: pd.DataFrame) -> pd.DataFrame:
    """The needs-review links, record by record, the record worth most first, candidates by
    rank; ``queue`` numbers the records from 1.

    ``links`` is ``LinkResult.links`` (it carries ``worth``); auto links are not queued.
    """
    band = links[links["status"] == "needs_review"]
    if not len(band):
        return band.assign(queue=pd.Series(dtype=int))
    first = band.groupby("record_id", sort=False)["worth"].transform("max")
    band = band.assign(_w=first).sort_values(["_w", "record_id", "rank"],
                                             ascending=[False, True, True], kind="stable")
    order = pd.Series(np.arange(1, band["record_id"].nunique() + 1), index=pd.unique(band["record_id"]))
    return band.drop(columns="_w").assign(queue=band["record_id"].map(order).to_numpy()).reset_index(drop=True)

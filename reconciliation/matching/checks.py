"""Step 8's look-ups: each REVERSE event with the REDEEM it names and its rank.

A REVERSE must find its REDEEM (same side, confirmation number = its
original) among this run's records, the pending ones, or the sponsor's
history within the look-back; the other REVERSEs of that REDEEM are looked
for in the same places. The four reversal rules (``rules.py``) only filter
the one frame built here. Only the records a look-up could find are kept, so
the work follows the day's REVERSEs, not the size of the day.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from reconciliation.config import Zone
from reconciliation.matching.pairing import mask, positions
from reconciliation.matching.params import Rates as Rates  # re-exported: its historic home
from reconciliation.records import PLATFORM, REDEEM, REVERSE, SIDE, SUCCESS_CODES, TXN_TYPE, UTC_TS

#: Columns of the reference set that reversal look-ups search.
REFERENCE_COLUMNS = pl.Schema({
    "side": SIDE,
    "business_date": pl.Date(),
    "line_number": pl.Int64(),
    "txn_type": TXN_TYPE,
    "confirmation_number": pl.String(),
    "original_confirmation_number": pl.String(),
    "ts": UTC_TS,
    "miles": pl.Int64(),
})

#: Columns of ``look_up_reversals``'s answer.
CHECKED_COLUMNS = ("rid", "side_s", "business_date", "line_number", "original_confirmation_number",
                   "ts", "miles", "origin", "found", "r_business_date", "r_miles", "rank")


def reference(cands: pl.DataFrame, originals: pl.DataFrame, wanted: pl.Series,
              history: pl.DataFrame) -> pl.DataFrame:
    """What reversal look-ups may find: usable records of this run and the sponsor's history.

    Only records that could answer a look-up are kept: REDEEMs whose number
    is ``wanted``, and REVERSEs of those REDEEMs (found by ``originals``, the
    candidates' original numbers). The test runs on the few columns it
    reads, and only the rows it keeps are copied.
    """
    wanted_list = wanted.implode()
    names = REFERENCE_COLUMNS.names()
    is_redeem = (pl.col("txn_type") == REDEEM).fill_null(False)
    typed = [pl.col(c).cast(t) for c, t in REFERENCE_COLUMNS.items()]
    usable = ~pl.col("dup") & pl.col("financial") & ((pl.col("side") == PLATFORM) | pl.col("success"))
    # This run's REDEEMs by their own number, its other records by the original they name.
    naming = originals.filter(pl.col("original_confirmation_number").is_in(wanted_list))
    named = mask(cands.height, naming["rid"])
    keep = cands.select(usable & pl.when(is_redeem).then(pl.col("confirmation_number").is_in(wanted_list))
                        .otherwise(pl.lit(named))).to_series()
    mine = cands.select(n for n in names if n != "original_confirmation_number").filter(keep).with_columns(
        rid=positions(keep)).join(originals, on="rid", how="left", maintain_order="left").select(*typed)
    if history.height == 0:
        return mine  # one row per record: (side, business date, line) is unique
    # A record both here and in the history (a pending one) counts once, as this run's.
    place = ["side", "business_date", "line_number"]
    looked_up_by = pl.when(is_redeem).then(pl.col("confirmation_number")).otherwise(
        pl.col("original_confirmation_number"))
    earlier_usable = (pl.col("disposition") != "DUPLICATE") & (
        (pl.col("side") == PLATFORM) | pl.col("response_code").is_in(SUCCESS_CODES))
    keep_earlier = history.select(earlier_usable & looked_up_by.is_in(wanted_list)).to_series()
    earlier = history.select(names).filter(keep_earlier).select(*typed)
    earlier = earlier.unique(place, keep="first", maintain_order=True).join(
        mine.select(place), on=place, how="anti")
    return pl.concat([mine, earlier])


def look_up_reversals(cands: pl.DataFrame, originals: pl.DataFrame, events: pl.Series,
                      history: pl.DataFrame) -> pl.DataFrame:
    """Each REVERSE event with its REDEEM (``found``, ``r_business_date``, ``r_miles``) and ``rank``.

    Args:
        cands: The run's candidates (``rid`` is the row index), compact
            (``candidates._compact``).
        originals: ``rid`` and original confirmation number of the candidates that have one.
        events: Boolean mask over ``cands``: the records to check, one per event.
        history: The sponsor's earlier records within the look-back
            (REFERENCE_COLUMNS plus ``disposition`` and ``response_code``).

    Returns:
        One row per REVERSE event (CHECKED_COLUMNS); ``rank`` is its place by
        time among the REVERSEs of the same REDEEM on its side.
    """
    which = events & (cands.get_column("txn_type") == REVERSE)
    reverses = cands.select(
        "business_date", "line_number", "ts", "miles", "side", "origin",
    ).filter(which).with_columns(rid=positions(which)).join(
        originals, on="rid", how="left", maintain_order="left").select(
        "rid", "business_date", pl.col("line_number", "miles").cast(pl.Int64),
        "original_confirmation_number", "ts", side_s="side", origin=pl.col("origin").cast(pl.String))
    if reverses.height == 0:
        return reverses.with_columns(found=pl.lit(False), r_business_date=pl.lit(None, dtype=pl.Date),
                                     r_miles=pl.lit(None, dtype=pl.Int64),
                                     rank=pl.lit(None, dtype=pl.Int64),
                                     side_s=pl.col("side_s").cast(pl.String)).select(CHECKED_COLUMNS)
    refs = reference(cands, originals, reverses["original_confirmation_number"].drop_nulls().unique(),
                     history)
    redeems = (
        refs.filter(pl.col("txn_type") == REDEEM)
        .sort("business_date", "line_number")
        .unique(["side", "confirmation_number"], keep="first")
        .select(side_s="side", original_confirmation_number="confirmation_number",
                r_business_date="business_date", r_miles="miles", found=pl.lit(True))
    )
    # Rank by time within (side, REDEEM): sorted so each group is one run of
    # rows, a row's rank is its distance from its group's first row, plus one.
    group = ["side", "original_confirmation_number"]
    ordered = refs.filter(pl.col("txn_type") == REVERSE).sort(
        *group, "ts", "business_date", "line_number", nulls_last=True).with_row_index("i")
    first = pl.any_horizontal(pl.col(c).ne_missing(pl.col(c).shift(1)) for c in group) | (pl.col("i") == 0)
    ranks = ordered.select(
        side_s="side", business_date="business_date", line_number="line_number",
        rank=(pl.col("i").cast(pl.Int64)
              - pl.when(first).then(pl.col("i").cast(pl.Int64)).forward_fill() + 1),
    )
    return (
        reverses.join(redeems, on=["side_s", "original_confirmation_number"], how="left")
        .join(ranks, on=["side_s", "business_date", "line_number"], how="left")
        .with_columns(found=pl.col("found").fill_null(False), side_s=pl.col("side_s").cast(pl.String))
        .select(CHECKED_COLUMNS)
    )


def deadlines(dates: pl.Series, zone: Zone) -> pl.DataFrame:
    """Reversal deadline (D+1 03:00 local) of each distinct business date in ``dates``."""
    days: list[date] = sorted(d for d in dates.unique().to_list() if d is not None)
    return pl.DataFrame(
        {"r_business_date": days, "deadline": [zone.reversal_deadline(d) for d in days]},
        schema={"r_business_date": pl.Date, "deadline": UTC_TS},
    )


def named_by_reversals(*frames: pl.DataFrame) -> pl.Series:
    """The confirmation numbers the REVERSEs of ``frames`` name: the history keys a run needs.

    Pass them to ``warehouse.context.load_context(keys=...)`` so the run
    reads only the history its reversal look-ups can find.
    """
    named = [f.filter(pl.col("txn_type") == REVERSE).get_column("original_confirmation_number")
             for f in frames]
    return pl.concat(named).drop_nulls().unique().sort() if named else pl.Series(dtype=pl.String)

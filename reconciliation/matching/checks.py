"""Rules 8 and 9 of spec §4: reversal checks and the conversion check.

They apply once per transaction event, on the record the engine chose (the
platform record when the run holds one). Each rule is a small function that
returns break rows; they are independent, so one REVERSE may raise several.
Rules work on narrow projections and widen only the records they flag.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import polars as pl

from reconciliation.config import Zone
from reconciliation.matching.breaks import break_rows, describe, empty_breaks, fmt, records_wide
from reconciliation.records import MONEY, ORIGIN_SYSTEM, PARTNER, PLATFORM, REDEEM, REVERSE, UTC_TS

#: Columns of the reference set that reversal lookups search.
REFERENCE_COLUMNS = pl.Schema({
    "side": pl.String(),
    "business_date": pl.Date(),
    "line_number": pl.Int64(),
    "txn_type": pl.String(),
    "confirmation_number": pl.String(),
    "original_confirmation_number": pl.String(),
    "ts": UTC_TS,
    "miles": pl.Int64(),
})


@dataclass(frozen=True)
class Rates:
    """Conversion rates (configurable, spec §4 rule 9)."""

    miles_per_unit: int = 95
    dollars_per_unit: Decimal = Decimal("10.00")


def _deadlines(dates: pl.Series, zone: Zone) -> pl.DataFrame:
    """Reversal deadline (D+1 03:00 local) of each distinct business date."""
    days: list[date] = sorted(d for d in dates.unique().to_list() if d is not None)
    return pl.DataFrame(
        {"r_business_date": days, "deadline": [zone.reversal_deadline(d) for d in days]},
        schema={"r_business_date": pl.Date, "deadline": UTC_TS},
    )


def _flagged(cands: pl.DataFrame, rows: pl.DataFrame, break_type: str, detail_of: str,
             extra: dict[str, str] | None = None) -> pl.DataFrame:
    """Break rows for flagged event records (``rows`` holds ``rid``, ``side_s`` and extras)."""
    out = []
    for side, prefix in ((PARTNER, "p_"), (PLATFORM, "q_")):
        mine = rows.filter(pl.col("side_s") == side)
        if mine.height == 0:
            continue
        wide = records_wide(cands, mine["rid"], side).with_columns(
            *(mine[src].alias(dst) for dst, src in (extra or {}).items()))
        label = describe(side.lower(), prefix)
        orig = pl.col(f"{prefix}original_confirmation_number")
        details = {
            "orphan": fmt("{} reverses {}, which is not found", label, orig),
            "late": fmt("{} came after the reversal deadline of REDEEM {}", label, orig),
            "double": fmt("{} is reversal number {} of REDEEM {}", label, pl.col("rank"), orig),
            "mismatch": fmt("{} gives back {} miles but REDEEM {} took {}", label,
                                  pl.col(f"{prefix}miles"), orig, pl.col("r_miles")),
        }
        out.append(break_rows(wide, break_type, side, details[detail_of]))
    return pl.concat(out) if out else empty_breaks()


def reversal_breaks(cands: pl.DataFrame, events: pl.Series, reference: pl.DataFrame,
                    zone: Zone) -> pl.DataFrame:
    """ORPHAN, LATE, DOUBLE and REVERSAL_MISMATCH breaks for REVERSE events.

    Args:
        cands: The run's candidates (``rid`` is the row index).
        events: Boolean mask over ``cands``: the records to check, one per event.
        reference: REDEEMs and REVERSEs on both sides that lookups may find:
            this run's usable records, pending ones, and the sponsor's current
            history within the look-back (REFERENCE_COLUMNS).
        zone: The sponsor's reconciliation zone, for deadlines.
    """
    reverses = cands.select(
        "rid", "business_date", "line_number", "original_confirmation_number", "ts", "miles",
        side_s=pl.col("side").cast(pl.String), origin=pl.col("origin").cast(pl.String),
    ).filter(events & (cands.get_column("txn_type") == REVERSE))
    if reverses.height == 0:
        return empty_breaks()
    redeems = (
        reference.filter(pl.col("txn_type") == REDEEM)
        .sort("business_date", "line_number")
        .unique(["side", "confirmation_number"], keep="first")
        .select(side_s="side", original_confirmation_number="confirmation_number",
                r_business_date="business_date", r_miles="miles", found=pl.lit(True))
    )
    ranks = (
        reference.filter(pl.col("txn_type") == REVERSE)
        .filter(pl.col("original_confirmation_number").is_in(
            reverses["original_confirmation_number"].implode()))
        .with_columns(rank=pl.int_range(1, pl.len() + 1).over(
            ["side", "original_confirmation_number"], order_by=["ts", "business_date", "line_number"]))
        .select(side_s="side", business_date="business_date", line_number="line_number", rank="rank")
    )
    checked = (
        reverses.join(redeems, on=["side_s", "original_confirmation_number"], how="left")
        .join(ranks, on=["side_s", "business_date", "line_number"], how="left")
        .with_columns(found=pl.col("found").fill_null(False))
    )
    checked = checked.join(_deadlines(checked["r_business_date"], zone), on="r_business_date",
                           how="left")
    found = pl.col("found")
    return pl.concat([
        _flagged(cands, checked.filter(~found), "ORPHAN_REVERSAL", "orphan"),
        _flagged(cands, checked.filter(found & (pl.col("origin").fill_null("") != ORIGIN_SYSTEM)
                                       & (pl.col("ts") > pl.col("deadline"))), "LATE_REVERSAL", "late"),
        _flagged(cands, checked.filter(found & (pl.col("rank") > 1)), "DOUBLE_REVERSAL", "double",
                 {"rank": "rank"}),
        _flagged(cands, checked.filter(found & (pl.col("miles") != pl.col("r_miles"))),
                 "REVERSAL_MISMATCH", "mismatch", {"r_miles": "r_miles"}),
    ])


def conversion_breaks(cands: pl.DataFrame, events: pl.Series, rates: Rates) -> pl.DataFrame:
    """CONVERSION_ERROR: miles ≠ units × miles rate, or dollars ≠ units × dollar rate."""
    expected = (pl.col("units").cast(MONEY) * pl.lit(rates.dollars_per_unit).cast(MONEY)).cast(MONEY)
    # Compared in whole cents (the Decimal's integer form): exact, and far
    # cheaper than Decimal arithmetic over every record.
    cents = pl.Series([rates.dollars_per_unit]).cast(MONEY).to_physical()[0]
    bad = cands.select("rid", "units", "miles", "dollars", side_s=pl.col("side").cast(pl.String)).filter(
        events & ((pl.col("miles") != pl.col("units") * rates.miles_per_unit)
                  | (pl.col("dollars").to_physical() != pl.col("units").cast(pl.Int128) * cents))
    ).with_columns(expected=expected)
    out = []
    for side, prefix in ((PARTNER, "p_"), (PLATFORM, "q_")):
        mine = bad.filter(pl.col("side_s") == side)
        if mine.height == 0:
            continue
        wide = records_wide(cands, mine["rid"], side).with_columns(expected=mine["expected"])
        out.append(break_rows(
            wide, "CONVERSION_ERROR", side,
            fmt("{} units should be {} miles and ${}; the record says {} miles and ${}",
                      pl.col(f"{prefix}units"), pl.col(f"{prefix}units") * rates.miles_per_unit,
                      pl.col("expected").cast(pl.String), pl.col(f"{prefix}miles"),
                      pl.col(f"{prefix}dollars").cast(pl.String)),
            delta=(pl.col(f"{prefix}dollars") - pl.col("expected")).cast(MONEY),
        ))
    return pl.concat(out) if out else empty_breaks()

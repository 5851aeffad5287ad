"""Rules 8 and 9 of spec §4: reversal checks and the conversion check.

They apply once per transaction event, on the record the engine chose (the
platform record when the run holds one). Each rule is a small function that
returns break rows; they are independent, so one REVERSE may raise several.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import polars as pl

from reconciliation.config import Zone
from reconciliation.matching.breaks import break_rows, describe, empty_breaks, one_side
from reconciliation.records import MONEY, ORIGIN_SYSTEM, REDEEM, REVERSE, UTC_TS

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
        schema={"r_business_date": pl.Date(), "deadline": UTC_TS},
    )


def reversal_breaks(events: pl.DataFrame, reference: pl.DataFrame, zone: Zone) -> pl.DataFrame:
    """ORPHAN, LATE, DOUBLE and REVERSAL_MISMATCH breaks for REVERSE events.

    Args:
        events: Records to check (RECORD_SCHEMA plus ``rid``), one per event.
        reference: REDEEMs and REVERSEs on both sides that lookups may find:
            this run's usable records and the sponsor's current history within
            the look-back (REFERENCE_COLUMNS).
        zone: The sponsor's reconciliation zone, for deadlines.
    """
    reverses = events.filter(pl.col("txn_type") == REVERSE)
    if reverses.height == 0:
        return empty_breaks()
    reverses = reverses.with_columns(side_s=pl.col("side").cast(pl.String))
    redeems = (
        reference.filter(pl.col("txn_type") == REDEEM)
        .sort("business_date", "line_number")
        .unique(["side", "confirmation_number"], keep="first")
        .select(
            side_s="side",
            original_confirmation_number="confirmation_number",
            r_business_date="business_date",
            r_miles="miles",
            found=pl.lit(True),
        )
    )
    rank = (
        reference.filter(pl.col("txn_type") == REVERSE)
        .with_columns(
            reversal_rank=pl.int_range(1, pl.len() + 1).over(
                ["side", "original_confirmation_number"],
                order_by=["ts", "business_date", "line_number"],
            )
        )
        .select(side_s="side", business_date="business_date", line_number="line_number",
                reversal_rank="reversal_rank")
    )
    checked = (
        reverses.join(redeems, on=["side_s", "original_confirmation_number"], how="left")
        .join(rank, on=["side_s", "business_date", "line_number"], how="left")
        .with_columns(found=pl.col("found").fill_null(False))
    )
    checked = checked.join(_deadlines(checked["r_business_date"], zone), on="r_business_date",
                           how="left")
    out = []
    for side in ("PARTNER", "PLATFORM"):
        mine = checked.filter(pl.col("side_s") == side)
        if mine.height == 0:
            continue
        label = side.lower()
        prefix = "p_" if side == "PARTNER" else "q_"
        orphan = mine.filter(~pl.col("found"))
        out.append(break_rows(
            one_side(orphan, side), "ORPHAN_REVERSAL", side,
            pl.format("{} reverses {}, which is not found", describe(label, prefix),
                      pl.col(f"{prefix}original_confirmation_number"))))
        late = mine.filter(pl.col("found") & (pl.col("origin").cast(pl.String).fill_null("")
                                              != ORIGIN_SYSTEM) & (pl.col("ts") > pl.col("deadline")))
        out.append(break_rows(
            one_side(late, side), "LATE_REVERSAL", side,
            pl.format("{} came after the reversal deadline of REDEEM {}",
                      describe(label, prefix), pl.col(f"{prefix}original_confirmation_number"))))
        double = mine.filter(pl.col("found") & (pl.col("reversal_rank") > 1))
        wide = one_side(double, side).with_columns(rank=double["reversal_rank"])
        out.append(break_rows(
            wide, "DOUBLE_REVERSAL", side,
            pl.format("{} is reversal number {} of REDEEM {}", describe(label, prefix),
                      pl.col("rank"), pl.col(f"{prefix}original_confirmation_number"))))
        mismatch = mine.filter(pl.col("found") & (pl.col("miles") != pl.col("r_miles")))
        wide = one_side(mismatch, side).with_columns(r_miles=mismatch["r_miles"])
        out.append(break_rows(
            wide, "REVERSAL_MISMATCH", side,
            pl.format("{} gives back {} miles but REDEEM {} took {}", describe(label, prefix),
                      pl.col(f"{prefix}miles"), pl.col(f"{prefix}original_confirmation_number"),
                      pl.col("r_miles"))))
    return pl.concat(out) if out else empty_breaks()


def conversion_breaks(events: pl.DataFrame, rates: Rates) -> pl.DataFrame:
    """CONVERSION_ERROR: miles ≠ units × miles rate, or dollars ≠ units × dollar rate."""
    expected_dollars = (pl.col("units").cast(MONEY) * pl.lit(rates.dollars_per_unit).cast(MONEY))
    bad = events.filter(
        (pl.col("miles") != pl.col("units") * rates.miles_per_unit)
        | (pl.col("dollars") != expected_dollars.cast(MONEY))
    ).with_columns(expected_dollars=expected_dollars.cast(MONEY))
    out = []
    for side in ("PARTNER", "PLATFORM"):
        mine = bad.filter(pl.col("side").cast(pl.String) == side)
        if mine.height == 0:
            continue
        prefix = "p_" if side == "PARTNER" else "q_"
        wide = one_side(mine, side).with_columns(expected=mine["expected_dollars"])
        out.append(break_rows(
            wide, "CONVERSION_ERROR", side,
            pl.format("{} units should be {} miles and ${}; the record says {} miles and ${}",
                      pl.col(f"{prefix}units"), pl.col(f"{prefix}units") * rates.miles_per_unit,
                      pl.col("expected").cast(pl.String), pl.col(f"{prefix}miles"),
                      pl.col(f"{prefix}dollars").cast(pl.String)),
            delta=(pl.col(f"{prefix}dollars") - pl.col("expected")).cast(MONEY),
        ))
    return pl.concat(out) if out else empty_breaks()

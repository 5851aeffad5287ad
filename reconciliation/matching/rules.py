"""The break rules of spec §4, one small function per break type.

Every rule reads the run's ``Candidates`` (records, pairs, settlements and
look-ups, decided once by pairing) and the run's ``MatchParams``, and
returns break rows (``breaks.BREAK_SCHEMA``) of its one type. ``RULES``
lists them in the spec's order; ``engine.reconcile`` runs the list. The
cross-sponsor daily limit (step 10) runs after the write and lives in
``limit.py``.

To find where a break type is decided, look for its name in ``RULES``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import polars as pl

from reconciliation import breaktypes as bt
from reconciliation.matching.breaks import (
    break_rows,
    describe,
    empty_breaks,
    fmt,
    pairs_wide,
    records_wide,
    side_breaks,
)
from reconciliation.matching.candidates import Candidates
from reconciliation.matching.checks import deadlines
from reconciliation.matching.pairing import at_rids, with_rid
from reconciliation.matching.params import MatchParams
from reconciliation.records import MONEY, ORIGIN_SYSTEM, PARTNER, PLATFORM

RuleFn = Callable[[Candidates, MatchParams], pl.DataFrame]


@dataclass(frozen=True)
class Rule:
    """One break rule: the type it raises, the spec step it implements, and its function."""

    break_type: str
    step: str
    check: RuleFn


def duplicate(c: Candidates, params: MatchParams) -> pl.DataFrame:
    """Step 1: a later financial record with an earlier one's (txn_type, confirmation) on its side."""
    out = []
    for side, prefix in ((PARTNER, "p_"), (PLATFORM, "q_")):
        which = c.column("dup") & ~c.column("is_pending") & (c.column("side") == side)
        rids = c.rids(which)
        wide = records_wide(c, rids, side).with_columns(ordinal=at_rids(rids, c.dup_ordinals, "ordinal"))
        out.append(break_rows(
            wide, bt.DUPLICATE, side,
            fmt("{} repeats an earlier record (occurrence {})", describe(side.lower(), prefix),
                pl.col("ordinal")),
            key_suffix=fmt("{}#{}", pl.col(f"{prefix}confirmation_number"), pl.col("ordinal")),
        ))
    return pl.concat(out)


def amount_mismatch(c: Candidates, params: MatchParams) -> pl.DataFrame:
    """Step 6: a pair (successful partner record) whose units, miles or dollars differ."""
    pairs = c.successful
    if pairs.height == 0:
        return empty_breaks()
    differs = pl.repeat(False, pairs.height, dtype=pl.Boolean, eager=True)
    for column in ("units", "miles", "cents"):
        values = c.column(column)
        differs = differs | (values.gather(pairs["p_rid"]) != values.gather(pairs["q_rid"])).fill_null(True)
    wide = pairs_wide(pairs.filter(differs), c)
    return break_rows(wide, bt.AMOUNT_MISMATCH, "BOTH", fmt(
        "partner says {} units, {} miles, ${}; platform says {} units, {} miles, ${}",
        pl.col("p_units"), pl.col("p_miles"), pl.col("p_dollars").cast(pl.String),
        pl.col("q_units"), pl.col("q_miles"), pl.col("q_dollars").cast(pl.String)))


def timestamp_drift(c: Candidates, params: MatchParams) -> pl.DataFrame:
    """Step 6: a KEY pair whose partner and platform times differ by more than the tolerance."""
    pairs = c.successful
    if pairs.height == 0:
        return empty_breaks()
    ts = c.column("ts")
    gap = (ts.gather(pairs["p_rid"]) - ts.gather(pairs["q_rid"])).dt.total_microseconds().abs()
    drifts = (pairs["rule"] == "KEY") & (gap > int(params.tolerance / timedelta(microseconds=1)))
    wide = pairs_wide(pairs.filter(drifts), c)
    seconds = ((pl.col("p_ts") - pl.col("q_ts")).dt.total_seconds().abs()).cast(pl.Int64)
    return break_rows(wide, bt.TIMESTAMP_DRIFT, "BOTH", fmt(
        "partner time and platform time differ by {} seconds", seconds), delta=pl.lit(0))


def missing_on_platform(c: Candidates, params: MatchParams) -> pl.DataFrame:
    """Step 7: a successful partner record left unpaired (a discount the platform did not record)."""
    return break_rows(records_wide(c, c.rids(c.unpaired_partner), PARTNER), bt.MISSING_ON_PLATFORM,
                      PARTNER, fmt("{} has no platform record", describe("partner", "p_")))


def missing_at_partner(c: Candidates, params: MatchParams) -> pl.DataFrame:
    """Steps 4 and 7: a platform record left unpaired and unsettled, or an unknown outcome not refunded."""
    return break_rows(records_wide(c, c.rids(c.unpaired_platform), PLATFORM), bt.MISSING_AT_PARTNER,
                      PLATFORM, fmt("{} has no successful partner record", describe("platform", "q_")))


def orphan_reversal(c: Candidates, params: MatchParams) -> pl.DataFrame:
    """Step 8: a REVERSE whose REDEEM is nowhere to be found."""
    rows = c.reversals.filter(~pl.col("found")).select("rid", "side_s")
    return side_breaks(c, rows, bt.ORPHAN_REVERSAL, lambda label, p: fmt(
        "{} reverses {}, which is not found", label, pl.col(f"{p}original_confirmation_number")))


def late_reversal(c: Candidates, params: MatchParams) -> pl.DataFrame:
    """Step 8: a REVERSE after its REDEEM's reversal deadline (SYSTEM refunds are exempt)."""
    found = c.reversals.filter(pl.col("found"))
    rows = found.join(deadlines(found["r_business_date"], params.zone), on="r_business_date").filter(
        (pl.col("origin").fill_null("") != ORIGIN_SYSTEM) & (pl.col("ts") > pl.col("deadline"))
    ).select("rid", "side_s")
    return side_breaks(c, rows, bt.LATE_REVERSAL, lambda label, p: fmt(
        "{} came after the reversal deadline of REDEEM {}", label,
        pl.col(f"{p}original_confirmation_number")))


def double_reversal(c: Candidates, params: MatchParams) -> pl.DataFrame:
    """Step 8: every REVERSE of a REDEEM after the first (by time)."""
    rows = c.reversals.filter(pl.col("found") & (pl.col("rank") > 1)).select("rid", "side_s", "rank")
    return side_breaks(c, rows, bt.DOUBLE_REVERSAL, lambda label, p: fmt(
        "{} is reversal number {} of REDEEM {}", label, pl.col("rank"),
        pl.col(f"{p}original_confirmation_number")))


def reversal_mismatch(c: Candidates, params: MatchParams) -> pl.DataFrame:
    """Step 8: a REVERSE whose miles differ from its REDEEM's."""
    rows = c.reversals.filter(pl.col("found") & (pl.col("miles") != pl.col("r_miles"))).select(
        "rid", "side_s", "r_miles")
    return side_breaks(c, rows, bt.REVERSAL_MISMATCH, lambda label, p: fmt(
        "{} gives back {} miles but REDEEM {} took {}", label, pl.col(f"{p}miles"),
        pl.col(f"{p}original_confirmation_number"), pl.col("r_miles")))


def conversion_error(c: Candidates, params: MatchParams) -> pl.DataFrame:
    """Step 9: miles ≠ units × miles rate, or dollars ≠ units × dollar rate."""
    rates = params.rates
    # Compared in whole cents (the candidates' form of dollars): exact, and far
    # cheaper than Decimal arithmetic over every record; in 64 bits, whatever the rates.
    cents = pl.Series([rates.dollars_per_unit]).cast(MONEY).to_physical()[0]
    units = pl.col("units").cast(pl.Int64)
    # Streamed over the day: the products are never whole columns of twenty million rows.
    wrong = (pl.col("miles") != units * rates.miles_per_unit) | (pl.col("cents") != units * cents)
    bad = with_rid(c.frame.select("side", "units", "miles", "cents").with_columns(event=c.events)).filter(
        pl.col("event") & wrong
    ).select("rid", side_s=pl.col("side").cast(pl.String), expected=(
        pl.col("units").cast(MONEY) * pl.lit(rates.dollars_per_unit).cast(MONEY)).cast(MONEY)
    ).collect(engine="streaming").sort("rid")
    return side_breaks(
        c, bad, bt.CONVERSION_ERROR,
        lambda label, p: fmt("{} units should be {} miles and ${}; the record says {} miles and ${}",
                             pl.col(f"{p}units"), pl.col(f"{p}units") * rates.miles_per_unit,
                             pl.col("expected").cast(pl.String), pl.col(f"{p}miles"),
                             pl.col(f"{p}dollars").cast(pl.String)),
        delta=lambda p: (pl.col(f"{p}dollars") - pl.col("expected")).cast(MONEY))


#: Every per-run break rule, in the spec's order. The daily limit (step 10,
#: ``limit.daily_limit_exceeded``) spans sponsors and runs after the write.
RULES: tuple[Rule, ...] = (
    Rule(bt.DUPLICATE, "§4.1", duplicate),
    Rule(bt.AMOUNT_MISMATCH, "§4.6", amount_mismatch),
    Rule(bt.TIMESTAMP_DRIFT, "§4.6", timestamp_drift),
    Rule(bt.MISSING_ON_PLATFORM, "§4.7", missing_on_platform),
    Rule(bt.MISSING_AT_PARTNER, "§4.4, §4.7", missing_at_partner),
    Rule(bt.ORPHAN_REVERSAL, "§4.8", orphan_reversal),
    Rule(bt.LATE_REVERSAL, "§4.8", late_reversal),
    Rule(bt.DOUBLE_REVERSAL, "§4.8", double_reversal),
    Rule(bt.REVERSAL_MISMATCH, "§4.8", reversal_mismatch),
    Rule(bt.CONVERSION_ERROR, "§4.9", conversion_error),
)

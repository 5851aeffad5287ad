"""The matching engine: spec §4 steps 1-9 and the §5 carry-forward of one run.

``reconcile`` is a pure function: candidates and history in, matches,
breaks, dispositions and pending-break updates out. The daily limit (step
10) spans sponsors and lives in ``limit.py``; writing is the pipeline's job.

Every candidate's ``rid`` is its row index, so sets of records are boolean
masks and record fields are gathered by position; only the rows that become
breaks are ever widened to all their fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import polars as pl

from reconciliation.config import Zone
from reconciliation.matching import pairing
from reconciliation.matching.breaks import break_rows, describe, empty_breaks, fmt, pairs_wide, records_wide
from reconciliation.matching.checks import REFERENCE_COLUMNS, Rates, conversion_breaks, reversal_breaks
from reconciliation.matching.pairing import mask
from reconciliation.records import (
    ORIGIN_SYSTEM,
    PARTNER,
    PLATFORM,
    RECORD_SCHEMA,
    REDEEM,
    REVERSE,
    SUCCESS_CODES,
)
from reconciliation.warehouse.schema import INITIAL_STATUS, SEVERITY


@dataclass(frozen=True)
class MatchParams:
    """What one run needs to know besides the records."""

    sponsor_code: str
    business_date: date
    zone: Zone
    tolerance: timedelta = timedelta(minutes=10)
    grace_days: int = 1
    rates: Rates = field(default_factory=Rates)


@dataclass
class MatchResult:
    """Everything one run decided.

    Attributes:
        cands: The candidates with ``rid``, flags, ``is_pending`` and
            ``disposition`` (MATCHED, SETTLED, BREAK, DUPLICATE or DECLINED for
            this day's records; null for re-entering pending ones, which keep
            their earlier place).
        matches: One row per pair and per settled auto-refund (recon_match columns).
        breaks: New breaks (BREAK_SCHEMA plus break_key, severity, status).
        pending_updates: ``break_id``, ``new_status`` and ``resolution`` for
            re-entering pending records that were matched or ran out of grace.
    """

    cands: pl.DataFrame
    matches: pl.DataFrame
    breaks: pl.DataFrame
    pending_updates: pl.DataFrame

    @property
    def dispositions(self) -> pl.DataFrame:
        """``rid`` and ``disposition`` of this day's records."""
        return self.cands.filter(~pl.col("is_pending")).select("rid", "disposition")


def build_candidates(partner: pl.DataFrame, platform: pl.DataFrame, pending: pl.DataFrame) -> pl.DataFrame:
    """Pending and this day's records of both sides, ``rid`` in (side, business date, line) order."""
    parts = []
    names = RECORD_SCHEMA.names()
    for side, today in ((PARTNER, partner), (PLATFORM, platform)):
        if pending.height:
            mine = pending.filter(pl.col("side") == side).sort("business_date", "line_number")
            parts.append(mine.select(*names, "pending_break_id").with_columns(is_pending=pl.lit(True)))
        if not today.get_column("line_number").is_sorted():
            today = today.sort("business_date", "line_number")
        parts.append(today.select(names).with_columns(
            pending_break_id=pl.lit(None, dtype=pl.Int64), is_pending=pl.lit(False)))
    cands = pl.concat(parts, how="vertical_relaxed")
    return cands.with_row_index("rid").with_columns(pl.col("rid").cast(pl.Int64))


def _refunds(cands: pl.DataFrame, paired_q: pl.Series) -> pl.DataFrame:
    """Platform REDEEMs that a free SYSTEM REVERSE refunds: ``q_rid`` -> ``refund_rid``."""
    narrow = cands.select("rid", "side", "dup", "txn_type", "origin", "confirmation_number",
                          "original_confirmation_number", "ts").with_columns(paired=paired_q)
    platform = pl.col("side") == PLATFORM
    refunds = (
        narrow.filter(platform & ~pl.col("dup") & (pl.col("txn_type") == REVERSE)
                      & (pl.col("origin") == ORIGIN_SYSTEM) & ~pl.col("paired"))
        .sort("ts", "rid")
        .unique("original_confirmation_number", keep="first")
        .select(confirmation_number="original_confirmation_number", refund_rid="rid")
    )
    redeems = narrow.filter(platform & ~pl.col("dup") & (pl.col("txn_type") == REDEEM)).select(
        "confirmation_number", q_rid="rid")
    return redeems.join(refunds, on="confirmation_number", how="inner").select("q_rid", "refund_rid")


def _match_rows(cands: pl.DataFrame, pairs: pl.DataFrame, rule: pl.Expr | str, outcome: str) -> pl.DataFrame:
    def take(column: str, which: str) -> pl.Series:
        return cands.get_column(column).gather(pairs[which])

    rows = pl.DataFrame({
        "txn_type": take("txn_type", "q_rid").fill_null(take("txn_type", "p_rid")).cast(pl.String),
        "confirmation_number": take("confirmation_number", "q_rid").fill_null(
            take("confirmation_number", "p_rid")),
        "partner_line": take("line_number", "p_rid"),
        "platform_line": take("line_number", "q_rid"),
        "partner_business_date": take("business_date", "p_rid"),
        "platform_business_date": take("business_date", "q_rid"),
    })
    return rows.with_columns(
        rule=pairs["rule"] if isinstance(rule, pl.Expr) else pl.lit(rule),
        outcome=pl.lit(outcome),
    ).select("txn_type", "confirmation_number", "rule", "outcome", "partner_line", "platform_line",
             "partner_business_date", "platform_business_date")


def reconcile(partner: pl.DataFrame, platform: pl.DataFrame, pending: pl.DataFrame,
              history: pl.DataFrame, params: MatchParams) -> MatchResult:
    """Match and classify one sponsor-day.

    Args:
        partner: Usable records of the day's partner file (RECORD_SCHEMA).
        platform: Usable records of the day's platform file (RECORD_SCHEMA).
        pending: Re-entering records of still-PENDING breaks (RECORD_SCHEMA
            plus ``pending_break_id``).
        history: The sponsor's earlier records within the look-back
            (REFERENCE_COLUMNS plus ``disposition`` and ``response_code``).
        params: Run parameters.
    """
    cands = pairing.mark_duplicates(pairing.classify(build_candidates(partner, platform, pending)))
    n = cands.height
    key = pairing.key_pairs(cands)
    fallback = pairing.fallback_pairs(cands, mask(n, key["q_rid"]), params.tolerance)
    pairs = pl.concat([key, fallback])
    unknown_p = cands.get_column("unknown").gather(pairs["p_rid"])
    paired_p, paired_q = mask(n, pairs["p_rid"]), mask(n, pairs["q_rid"])

    # Steps 4-5: unknown-outcome pairs and automatic refunds.
    refunds = _refunds(cands, paired_q)
    unknown = pairs.filter(unknown_p).join(refunds, on="q_rid", how="left")
    auto = unknown.filter(pl.col("refund_rid").is_not_null())
    not_refunded = unknown.filter(pl.col("refund_rid").is_null())
    successful = pairs.filter(~unknown_p)
    lone = refunds.filter(~paired_q.gather(refunds["q_rid"]))
    settled = mask(n, pl.concat([auto["p_rid"], auto["q_rid"], auto["refund_rid"], lone["q_rid"],
                                 lone["refund_rid"]]))
    no_partner = lone.select("q_rid", p_rid=pl.lit(None, dtype=pl.Int64), rule=pl.lit("REFUND"))
    matches = pl.concat([
        _match_rows(cands, successful, pl.col("rule"), "MATCHED"),
        _match_rows(cands, auto, pl.col("rule"), "AUTO_REFUNDED"),
        _match_rows(cands, not_refunded, pl.col("rule"), "NOT_REFUNDED"),
        _match_rows(cands, no_partner, "REFUND", "AUTO_REFUNDED"),
    ])

    is_pending = cands.get_column("is_pending")
    dup = cands.get_column("dup")
    fresh = ~is_pending & ~dup
    side = cands.get_column("side")
    success = cands.get_column("success")
    not_refunded_q = mask(n, not_refunded["q_rid"])

    # Step 7: unmatched records (pending ones keep their existing break).
    missing_platform = fresh & (side == PARTNER) & success & ~paired_p
    missing_partner = fresh & (side == PLATFORM) & ((~paired_q & ~settled) | not_refunded_q)
    rids = cands.get_column("rid")
    breaks = [
        _pair_breaks(cands, successful, params),
        break_rows(records_wide(cands, rids.filter(missing_platform), PARTNER), "MISSING_ON_PLATFORM",
                   PARTNER, fmt("{} has no platform record", describe("partner", "p_"))),
        break_rows(records_wide(cands, rids.filter(missing_partner), PLATFORM), "MISSING_AT_PARTNER",
                   PLATFORM, fmt("{} has no successful partner record", describe("platform", "q_"))),
    ]
    # Step 1's breaks.
    for dup_side, prefix in ((PARTNER, "p_"), (PLATFORM, "q_")):
        which = dup & ~is_pending & (side == dup_side)
        wide = records_wide(cands, rids.filter(which), dup_side).with_columns(
            ordinal=cands.get_column("dup_ordinal").filter(which))
        breaks.append(break_rows(
            wide, "DUPLICATE", dup_side,
            fmt("{} repeats an earlier record (occurrence {})", describe(dup_side.lower(), prefix),
                      pl.col("ordinal")),
            key_suffix=fmt("{}#{}", pl.col(f"{prefix}confirmation_number"), pl.col("ordinal")),
        ))

    # Rules 8-9, once per event: on the platform record where there is one,
    # never on an event that a pending (already checked) record belongs to.
    partner_pending_q = mask(n, pairs.filter(is_pending.gather(pairs["p_rid"]))["q_rid"])
    events = fresh & (((side == PLATFORM) & ~partner_pending_q) | ((side == PARTNER) & success & ~paired_p))
    reference = _reference(cands, events, history)
    breaks.append(reversal_breaks(cands, events, reference, params.zone))
    breaks.append(conversion_breaks(cands, events, params.rates))

    matched = mask(n, pl.concat([successful["p_rid"], successful["q_rid"], not_refunded["p_rid"]]))
    disposition = (
        pl.when(is_pending).then(pl.lit(None, dtype=pl.String))
        .when(dup).then(pl.lit("DUPLICATE"))
        .when(missing_platform | missing_partner).then(pl.lit("BREAK"))
        .when(settled).then(pl.lit("SETTLED"))
        .when(matched).then(pl.lit("MATCHED"))
        .when(pl.col("declined") | pl.col("unknown")).then(pl.lit("DECLINED"))
        .otherwise(pl.lit("UNPLACED"))
    )
    cands = cands.with_columns(disposition=disposition)
    resolved = mask(n, pl.concat([successful["p_rid"], successful["q_rid"]])) | settled
    updates = _pending_updates(cands, resolved, params)
    return MatchResult(cands, matches, _finish(pl.concat(breaks), params), updates)


def _reference(cands: pl.DataFrame, events: pl.Series, history: pl.DataFrame) -> pl.DataFrame:
    """What reversal look-ups may find: usable records of this run and the sponsor's history.

    Only records that could answer a look-up are kept: REDEEMs whose number a
    REVERSE event names, and REVERSEs of those REDEEMs.
    """
    wanted = cands.get_column("original_confirmation_number").filter(
        events & (cands.get_column("txn_type") == REVERSE)).drop_nulls().unique().implode()
    relevant = pl.when(pl.col("txn_type").cast(pl.String) == REDEEM).then(
        pl.col("confirmation_number").is_in(wanted)).otherwise(
        pl.col("original_confirmation_number").is_in(wanted))
    mine = cands.select(*REFERENCE_COLUMNS.names(), "dup", "financial", "success").filter(
        ~pl.col("dup") & pl.col("financial") & ((pl.col("side") == PLATFORM) | pl.col("success"))
        & relevant
    ).select(REFERENCE_COLUMNS.names())
    parts = [mine.with_columns(pl.col("side").cast(pl.String), pl.col("txn_type").cast(pl.String))]
    if history.height:
        parts.append(history.filter(
            (pl.col("disposition") != "DUPLICATE") & relevant
            & ((pl.col("side") == PLATFORM) | pl.col("response_code").is_in(SUCCESS_CODES))
        ).select(*(pl.col(c).cast(t) for c, t in REFERENCE_COLUMNS.items())))
    return pl.concat(parts).unique(["side", "business_date", "line_number"], keep="first")


def _pair_breaks(cands: pl.DataFrame, pairs: pl.DataFrame, params: MatchParams) -> pl.DataFrame:
    """Step 6: AMOUNT_MISMATCH on any pair, TIMESTAMP_DRIFT on KEY pairs."""
    if pairs.height == 0:
        return empty_breaks()

    def both(column: str) -> tuple[pl.Series, pl.Series]:
        values = cands.get_column(column)
        return values.gather(pairs["p_rid"]), values.gather(pairs["q_rid"])

    differs = pl.repeat(False, pairs.height, dtype=pl.Boolean, eager=True)
    for column in ("units", "miles", "dollars"):
        p, q = both(column)
        differs = differs | (p != q).fill_null(True)
    p_ts, q_ts = both("ts")
    gap = (p_ts - q_ts).dt.total_microseconds().abs()
    drifts = (pairs["rule"] == "KEY") & (gap > int(params.tolerance / timedelta(microseconds=1)))
    amount = pairs_wide(pairs.filter(differs), cands)
    drift = pairs_wide(pairs.filter(drifts), cands)
    seconds = ((pl.col("p_ts") - pl.col("q_ts")).dt.total_seconds().abs()).cast(pl.Int64)
    return pl.concat([
        break_rows(amount, "AMOUNT_MISMATCH", "BOTH", fmt(
            "partner says {} units, {} miles, ${}; platform says {} units, {} miles, ${}",
            pl.col("p_units"), pl.col("p_miles"), pl.col("p_dollars").cast(pl.String),
            pl.col("q_units"), pl.col("q_miles"), pl.col("q_dollars").cast(pl.String))),
        break_rows(drift, "TIMESTAMP_DRIFT", "BOTH", fmt(
            "partner time and platform time differ by {} seconds", seconds), delta=pl.lit(0)),
    ])


def _finish(breaks: pl.DataFrame, params: MatchParams) -> pl.DataFrame:
    """Add break_key, severity and initial status; order rows deterministically."""
    key = fmt("{}|{}|{}|{}|{}|{}", pl.lit(params.sponsor_code), pl.col("business_date"),
                    pl.col("break_type"), pl.col("side"), pl.col("txn_type").fill_null("-"),
                    pl.col("key_suffix"))
    return breaks.with_columns(
        break_key=key,
        severity=pl.col("break_type").replace_strict(SEVERITY, return_dtype=pl.String),
        status=pl.col("break_type").replace_strict(INITIAL_STATUS, return_dtype=pl.String),
    ).sort("business_date", "break_type", "side", "platform_line", "partner_line", nulls_last=True)


def _pending_updates(cands: pl.DataFrame, resolved: pl.Series, params: MatchParams) -> pl.DataFrame:
    """Pending breaks whose record matched (RESOLVED) or whose grace ran out (OPEN)."""
    last_day = pl.col("business_date") + pl.duration(days=params.grace_days)
    return cands.select(
        "is_pending", "business_date",
        break_id="pending_break_id",
        resolved=resolved,
    ).filter(pl.col("is_pending")).select(
        "break_id",
        new_status=pl.when(pl.col("resolved")).then(pl.lit("RESOLVED"))
        .when(last_day <= pl.lit(params.business_date)).then(pl.lit("OPEN"))
        .otherwise(pl.lit(None, dtype=pl.String)),
    ).filter(pl.col("new_status").is_not_null()).with_columns(
        resolution=pl.when(pl.col("new_status") == "RESOLVED").then(pl.lit("MATCHED_LATER"))
        .otherwise(pl.lit(None, dtype=pl.String)),
    )

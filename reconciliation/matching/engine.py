"""The matching engine: spec §4 steps 1-9 and the §5 carry-forward of one run.

``reconcile`` is a pure function: candidates and history in, matches,
breaks, dispositions and pending-break updates out. The daily limit (step
10) spans sponsors and lives in ``limit.py``; writing is the pipeline's job.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import polars as pl

from reconciliation.config import Zone
from reconciliation.matching import pairing
from reconciliation.matching.breaks import (
    break_rows,
    describe,
    empty_breaks,
    one_side,
    pairs_wide,
)
from reconciliation.matching.checks import (
    REFERENCE_COLUMNS,
    Rates,
    conversion_breaks,
    reversal_breaks,
)
from reconciliation.records import (
    ORIGIN_SYSTEM,
    PARTNER,
    PLATFORM,
    RECORD_SCHEMA,
    REDEEM,
    REVERSE,
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
        cands: The candidates with ``rid``, flags and ``is_pending``.
        matches: One row per pair and per settled auto-refund (recon_match columns).
        breaks: New breaks (BREAK_SCHEMA plus break_key, severity, status).
        dispositions: ``rid`` -> MATCHED, SETTLED, BREAK, DUPLICATE or DECLINED for
            this day's records (pending ones keep their earlier place).
        pending_updates: ``break_id``, ``new_status`` and ``resolution`` for
            re-entering pending records that were matched or ran out of grace.
    """

    cands: pl.DataFrame
    matches: pl.DataFrame
    breaks: pl.DataFrame
    dispositions: pl.DataFrame
    pending_updates: pl.DataFrame


def build_candidates(today: pl.DataFrame, pending: pl.DataFrame) -> pl.DataFrame:
    """This day's records plus pending ones, with a run-local ``rid`` in record order."""
    parts = [today.select(RECORD_SCHEMA.names()).with_columns(
        is_pending=pl.lit(False), pending_break_id=pl.lit(None, dtype=pl.Int64))]
    if pending.height:
        parts.append(pending.select(*RECORD_SCHEMA.names(), "pending_break_id").with_columns(
            is_pending=pl.lit(True)).select(parts[0].columns))
    cands = pl.concat(parts, how="vertical_relaxed").sort("side", "business_date", "line_number")
    return cands.with_row_index("rid").with_columns(pl.col("rid").cast(pl.Int64))


def _in(col: str, values: pl.Series) -> pl.Expr:
    return pl.col(col).is_in(values.implode())


def _refunds(cands: pl.DataFrame, paired_q: pl.Series) -> pl.DataFrame:
    """Platform REDEEMs that a free SYSTEM REVERSE refunds: ``q_rid`` -> ``refund_rid``."""
    refunds = (
        cands.filter((pl.col("side") == PLATFORM) & ~pl.col("dup") & (pl.col("txn_type") == REVERSE)
                     & (pl.col("origin") == ORIGIN_SYSTEM) & ~_in("rid", paired_q))
        .sort("ts", "business_date", "line_number")
        .unique("original_confirmation_number", keep="first")
        .select(confirmation_number="original_confirmation_number", refund_rid="rid")
    )
    redeems = cands.filter((pl.col("side") == PLATFORM) & ~pl.col("dup")
                           & (pl.col("txn_type") == REDEEM)).select("confirmation_number", q_rid="rid")
    return redeems.join(refunds, on="confirmation_number", how="inner").select("q_rid", "refund_rid")


def _match_rows(wide: pl.DataFrame, rule: pl.Expr, outcome: pl.Expr) -> pl.DataFrame:
    return wide.select(
        txn_type=pl.coalesce(pl.col("q_txn_type"), pl.col("p_txn_type")).cast(pl.String),
        confirmation_number=pl.coalesce(pl.col("q_confirmation_number"),
                                        pl.col("p_confirmation_number")),
        rule=rule,
        outcome=outcome,
        partner_line=pl.col("p_line_number"),
        platform_line=pl.col("q_line_number"),
        partner_business_date=pl.col("p_business_date"),
        platform_business_date=pl.col("q_business_date"),
    )


def reconcile(today: pl.DataFrame, pending: pl.DataFrame, history: pl.DataFrame,
              params: MatchParams) -> MatchResult:
    """Match and classify one sponsor-day.

    Args:
        today: Usable records of the day's two files (RECORD_SCHEMA).
        pending: Re-entering records of still-PENDING breaks (RECORD_SCHEMA
            plus ``pending_break_id``).
        history: The sponsor's earlier records within the look-back
            (REFERENCE_COLUMNS plus ``disposition`` and ``response_code``).
        params: Run parameters.
    """
    cands = pairing.mark_duplicates(pairing.classify(build_candidates(today, pending)))
    key = pairing.key_pairs(cands)
    fallback = pairing.fallback_pairs(cands, key["q_rid"], params.tolerance)
    pairs = pl.concat([key, fallback])
    flags = cands.select(p_rid="rid", p_unknown="unknown", p_pending="is_pending")
    pairs = pairs.join(flags, on="p_rid", how="left").join(
        cands.select(q_rid="rid", q_pending="is_pending"), on="q_rid", how="left")

    # Steps 4-5: unknown-outcome pairs and automatic refunds.
    refunds = _refunds(cands, pairs["q_rid"])
    unknown = pairs.filter(pl.col("p_unknown")).join(refunds, on="q_rid", how="left")
    auto = unknown.filter(pl.col("refund_rid").is_not_null())
    not_refunded = unknown.filter(pl.col("refund_rid").is_null())
    successful = pairs.filter(~pl.col("p_unknown"))
    lone = refunds.filter(~_in("q_rid", pairs["q_rid"]))
    settled = pl.concat([auto["p_rid"], auto["q_rid"], auto["refund_rid"], lone["q_rid"],
                         lone["refund_rid"]])

    matches = pl.concat([
        _match_rows(pairs_wide(successful, cands), pl.col("rule"), pl.lit("MATCHED")),
        _match_rows(pairs_wide(auto, cands), pl.col("rule"), pl.lit("AUTO_REFUNDED")),
        _match_rows(pairs_wide(not_refunded, cands), pl.col("rule"), pl.lit("NOT_REFUNDED")),
        _match_rows(pairs_wide(lone.select("q_rid", p_rid=pl.lit(None, dtype=pl.Int64)), cands),
                    pl.lit("REFUND"), pl.lit("AUTO_REFUNDED")),
    ])

    breaks = [_pair_breaks(pairs_wide(successful, cands), params)]
    paired_p = pairs["p_rid"]
    paired_q = pairs["q_rid"]
    fresh = ~pl.col("is_pending") & ~pl.col("dup")

    # Step 7: unmatched records (pending ones keep their existing break).
    missing_platform = cands.filter(fresh & (pl.col("side") == PARTNER) & pl.col("success")
                                    & ~_in("rid", paired_p))
    breaks.append(break_rows(
        one_side(missing_platform, PARTNER), "MISSING_ON_PLATFORM", PARTNER,
        pl.format("{} has no platform record", describe("partner", "p_"))))
    missing_partner = cands.filter(
        fresh & (pl.col("side") == PLATFORM)
        & ((~_in("rid", paired_q) & ~_in("rid", settled)) | _in("rid", not_refunded["q_rid"])))
    breaks.append(break_rows(
        one_side(missing_partner, PLATFORM), "MISSING_AT_PARTNER", PLATFORM,
        pl.format("{} has no successful partner record", describe("platform", "q_"))))

    # Step 1's breaks.
    dups = cands.filter(pl.col("dup") & ~pl.col("is_pending"))
    for side, prefix in ((PARTNER, "p_"), (PLATFORM, "q_")):
        mine = dups.filter(pl.col("side") == side)
        wide = one_side(mine, side).with_columns(ordinal=mine["dup_ordinal"])
        breaks.append(break_rows(
            wide, "DUPLICATE", side,
            pl.format("{} repeats an earlier record (occurrence {})",
                      describe(side.lower(), prefix), pl.col("ordinal")),
            key_suffix=pl.format("{}#{}", pl.col(f"{prefix}confirmation_number"), pl.col("ordinal")),
        ))

    # Rules 8-9, once per event: on the platform record where there is one.
    pending_partner_pairs = pairs.filter(pl.col("p_pending"))["q_rid"]
    events = cands.filter(
        fresh & (
            ((pl.col("side") == PLATFORM) & ~_in("rid", pending_partner_pairs))
            | ((pl.col("side") == PARTNER) & pl.col("success") & ~_in("rid", paired_p))
        )
    )
    reference = pl.concat([
        cands.filter(~pl.col("dup") & pl.col("financial")
                     & ((pl.col("side") == PLATFORM) | pl.col("success")))
        .select(REFERENCE_COLUMNS.names()),
        _history_reference(history),
    ], how="vertical_relaxed").with_columns(
        pl.col("side").cast(pl.String), pl.col("txn_type").cast(pl.String),
    ).unique(["side", "business_date", "line_number"], keep="first")
    breaks.append(reversal_breaks(events, reference, params.zone))
    breaks.append(conversion_breaks(events, params.rates))

    all_breaks = _finish(pl.concat(breaks), params)
    dispositions = _dispositions(cands, successful, not_refunded, settled, missing_platform,
                                 missing_partner)
    updates = _pending_updates(cands, successful, settled, params)
    return MatchResult(cands, matches, all_breaks, dispositions, updates)


def _history_reference(history: pl.DataFrame) -> pl.DataFrame:
    if history.height == 0:
        return pl.DataFrame(schema=REFERENCE_COLUMNS)
    return history.filter(
        (pl.col("disposition") != "DUPLICATE")
        & ((pl.col("side") == PLATFORM) | pl.col("response_code").is_in(["0000", "0001"]))
    ).select(REFERENCE_COLUMNS.names())


def _pair_breaks(wide: pl.DataFrame, params: MatchParams) -> pl.DataFrame:
    """Step 6: AMOUNT_MISMATCH on any pair, TIMESTAMP_DRIFT on KEY pairs."""
    if wide.height == 0:
        return empty_breaks()
    differs = ((pl.col("p_units") != pl.col("q_units")) | (pl.col("p_miles") != pl.col("q_miles"))
               | (pl.col("p_dollars") != pl.col("q_dollars")))
    amount = wide.filter(differs)
    gap = (pl.col("p_ts") - pl.col("q_ts")).dt.total_seconds().abs()
    drift = wide.filter((pl.col("rule") == "KEY")
                        & (gap > params.tolerance.total_seconds()))
    return pl.concat([
        break_rows(amount, "AMOUNT_MISMATCH", "BOTH", pl.format(
            "partner says {} units, {} miles, ${}; platform says {} units, {} miles, ${}",
            pl.col("p_units"), pl.col("p_miles"), pl.col("p_dollars").cast(pl.String),
            pl.col("q_units"), pl.col("q_miles"), pl.col("q_dollars").cast(pl.String))),
        break_rows(drift, "TIMESTAMP_DRIFT", "BOTH", pl.format(
            "partner time and platform time differ by {} seconds", gap.cast(pl.Int64)),
            delta=pl.lit(0)),
    ])


def _finish(breaks: pl.DataFrame, params: MatchParams) -> pl.DataFrame:
    """Add break_key, severity and initial status; order rows deterministically."""
    key = pl.format("{}|{}|{}|{}|{}|{}", pl.lit(params.sponsor_code), pl.col("business_date"),
                    pl.col("break_type"), pl.col("side"), pl.col("txn_type").fill_null("-"),
                    pl.col("key_suffix"))
    return breaks.with_columns(
        break_key=key,
        severity=pl.col("break_type").replace_strict(SEVERITY, return_dtype=pl.String),
        status=pl.col("break_type").replace_strict(INITIAL_STATUS, return_dtype=pl.String),
    ).sort("business_date", "break_type", "side", "platform_line", "partner_line",
           nulls_last=True)


def _dispositions(cands: pl.DataFrame, successful: pl.DataFrame, not_refunded: pl.DataFrame,
                  settled: pl.Series, missing_platform: pl.DataFrame,
                  missing_partner: pl.DataFrame) -> pl.DataFrame:
    """Where each of this day's records ended (spec §6 conservation)."""
    matched = pl.concat([successful["p_rid"], successful["q_rid"], not_refunded["p_rid"]])
    in_break = pl.concat([missing_platform["rid"], missing_partner["rid"]])
    return cands.filter(~pl.col("is_pending")).select(
        "rid",
        disposition=pl.when(pl.col("dup")).then(pl.lit("DUPLICATE"))
        .when(_in("rid", in_break)).then(pl.lit("BREAK"))
        .when(_in("rid", settled)).then(pl.lit("SETTLED"))
        .when(_in("rid", matched)).then(pl.lit("MATCHED"))
        .when(pl.col("declined") | pl.col("unknown")).then(pl.lit("DECLINED"))
        .otherwise(pl.lit("UNPLACED")),
    )


def _pending_updates(cands: pl.DataFrame, successful: pl.DataFrame, settled: pl.Series,
                     params: MatchParams) -> pl.DataFrame:
    """Pending breaks whose record matched (RESOLVED) or whose grace ran out (OPEN)."""
    pending = cands.filter(pl.col("is_pending"))
    resolved = pl.concat([successful["p_rid"], successful["q_rid"], settled])
    last_day = pl.col("business_date") + pl.duration(days=params.grace_days)
    return pending.select(
        break_id="pending_break_id",
        new_status=pl.when(_in("rid", resolved)).then(pl.lit("RESOLVED"))
        .when(last_day <= pl.lit(params.business_date)).then(pl.lit("OPEN"))
        .otherwise(pl.lit(None, dtype=pl.String)),
    ).filter(pl.col("new_status").is_not_null()).with_columns(
        resolution=pl.when(pl.col("new_status") == "RESOLVED").then(pl.lit("MATCHED_LATER"))
        .otherwise(pl.lit(None, dtype=pl.String)),
    )

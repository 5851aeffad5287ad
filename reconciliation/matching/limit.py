"""Rule 10 of spec §4: the cross-sponsor daily redemption limit.

Limit day L is [L 03:00, L+1 03:00) local. Its platform REDEEMs sit in the
files of business dates L and L+1, so L can be judged only over sponsors
whose runs for both dates are current. The rule runs inside a run's write
transaction, after the run's own records are written: writers are
serialized, so the first run after which L is covered sees every sponsor
that covers it, and a break once raised for a collector and L is not raised
again.

``daily_limit_exceeded`` is the rule, a pure function over frames;
``limit_breaks`` reads what it needs (``warehouse.limit``) and runs it.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import polars as pl
from sqlalchemy.engine import Connection

from reconciliation.breaktypes import DAILY_LIMIT_EXCEEDED, INITIAL_STATUS, SEVERITY
from reconciliation.config import Zone
from reconciliation.matching.breaks import BREAK_SCHEMA, fmt
from reconciliation.records import MONEY, UTC_TS
from reconciliation.warehouse.limit import covered_sponsors, limit_day_records, raised_limit_keys

#: Columns of a DAILY_LIMIT_EXCEEDED break row.
LIMIT_BREAK_SCHEMA = pl.Schema({**BREAK_SCHEMA, "sponsor_code": pl.String(), "break_key": pl.String(),
                                "severity": pl.String(), "status": pl.String()})


def limit_prefix(day: date) -> str:
    """The start shared by every DAILY_LIMIT_EXCEEDED break key of limit day ``day``."""
    return f"LIMIT|{day}|{DAILY_LIMIT_EXCEEDED}|PLATFORM|REDEEM|"


def limit_key(day: date, collector_hash: pl.Expr) -> pl.Expr:
    """The break key of a DAILY_LIMIT_EXCEEDED break: one per collector and limit day."""
    return fmt(limit_prefix(day) + "{}", collector_hash)


def daily_limit_exceeded(records: pl.DataFrame, day: date, zone: Zone, limit: Decimal,
                         already: pl.Series) -> pl.DataFrame:
    """The rule: the REDEEM at which a collector's running net dollars of limit day ``day`` pass ``limit``.

    Args:
        records: Platform records of every sponsor covering ``day`` (their
            current runs of ``day`` and ``day + 1``), non-duplicate, with a
            collector hash (``warehouse.limit.LIMIT_COLUMNS``).
        day: The limit day L.
        zone: The zone that defines L's bounds.
        limit: The daily limit in dollars.
        already: Break keys of this limit day's breaks raised before; not raised again.

    Returns:
        One break row per collector that crossed the limit (LIMIT_BREAK_SCHEMA).
    """
    start, end = zone.limit_day(day)
    redeems = records.filter((pl.col("txn_type") == "REDEEM") & (pl.col("ts") >= start)
                             & (pl.col("ts") < end))
    reverses = records.filter(pl.col("txn_type") == "REVERSE").join(
        redeems.select("sponsor_code", "collector_hash",
                       original_confirmation_number="confirmation_number"),
        on=["sponsor_code", "collector_hash", "original_confirmation_number"], how="semi")
    events = pl.concat([
        redeems.with_columns(amount=pl.col("dollars"), kind=pl.lit(0)),
        reverses.with_columns(amount=-pl.col("dollars"), kind=pl.lit(1)),
    ]).sort("collector_hash", "ts", "kind", "sponsor_code", "business_date", "line_number")
    events = events.with_columns(running=pl.col("amount").cum_sum().over("collector_hash"))
    crossing = (
        events.filter((pl.col("kind") == 0) & (pl.col("running") > limit))
        .group_by("collector_hash", maintain_order=True).first()
        .with_columns(break_key=limit_key(day, pl.col("collector_hash")))
        .filter(~pl.col("break_key").is_in(already.implode()))
    )
    return crossing.select(
        break_type=pl.lit(DAILY_LIMIT_EXCEEDED),
        side=pl.lit("PLATFORM"),
        business_date="business_date",
        txn_type=pl.lit("REDEEM"),
        confirmation_number="confirmation_number",
        trace_id="trace_id", store_id="store_id", device_id="device_id",
        partner_miles=pl.lit(None, dtype=pl.Int64),
        platform_miles="miles",
        partner_dollars=pl.lit(None, dtype=MONEY),
        platform_dollars="dollars",
        delta_dollars=(pl.col("running") - pl.lit(limit).cast(MONEY)).cast(MONEY),
        detail=fmt("collector ending {} reached ${} in limit day {} (limit ${})",
                   pl.col("collector_last4"), pl.col("running").cast(pl.String),
                   pl.lit(str(day)), pl.lit(str(limit))),
        partner_line=pl.lit(None, dtype=pl.Int64),
        platform_line="line_number",
        partner_business_date=pl.lit(None, dtype=pl.Date),
        platform_business_date="business_date",
        partner_ts=pl.lit(None, dtype=UTC_TS),
        platform_ts="ts",
        partner_units=pl.lit(None, dtype=pl.Int64),
        platform_units="units",
        original_confirmation_number=pl.lit(None, dtype=pl.String),
        pos_transaction_id=pl.lit(None, dtype=pl.String),
        collector_last4="collector_last4",
        collector_hash="collector_hash",
        key_suffix=pl.col("collector_hash").cast(pl.String),
        record_rid=pl.lit(None, dtype=pl.Int64),
        sponsor_code="sponsor_code",
        break_key="break_key",
        severity=pl.lit(SEVERITY[DAILY_LIMIT_EXCEEDED]),
        status=pl.lit(INITIAL_STATUS[DAILY_LIMIT_EXCEEDED]),
    ).cast(dict(LIMIT_BREAK_SCHEMA))  # type: ignore[arg-type]


def limit_breaks(conn: Connection, sponsor: str, business_date: date, zone: Zone,
                 limit: Decimal) -> pl.DataFrame:
    """DAILY_LIMIT_EXCEEDED breaks that the run of ``sponsor``/``business_date`` makes due.

    The run's business date D completes limit days D−1 (its files hold
    D−1's late REDEEMs) and D (when D+1 already ran, as on a re-run).

    Returns:
        Break rows (LIMIT_BREAK_SCHEMA).
    """
    out = []
    for day in (business_date - timedelta(days=1), business_date):
        sponsors = covered_sponsors(conn, day)
        if sponsor not in sponsors:
            continue
        start, end = zone.limit_day(day)
        records = limit_day_records(conn, day, sponsors, start, end, limit)
        out.append(daily_limit_exceeded(records, day, zone, limit,
                                        raised_limit_keys(conn, limit_prefix(day))))
    return pl.concat(out) if out else pl.DataFrame(schema=LIMIT_BREAK_SCHEMA)


"""Rule 10 of spec §4: the cross-sponsor daily redemption limit.

Limit day L is [L 03:00, L+1 03:00) local. Its platform REDEEMs sit in the
files of business dates L and L+1, so L can be judged only over sponsors
whose runs for both dates are current. The rule runs inside a run's write
transaction, after the run's own records are written: writers are
serialized, so the first run after which L is covered sees every sponsor
that covers it, and a break once raised for a collector and L is not raised
again.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from reconciliation.config import Zone
from reconciliation.matching.breaks import BREAK_SCHEMA, fmt
from reconciliation.records import MONEY
from reconciliation.warehouse.db import read_frame
from reconciliation.warehouse.schema import recon_break, recon_record, recon_run


def limit_key(day: date, collector_hash: pl.Expr) -> pl.Expr:
    """The break key of a DAILY_LIMIT_EXCEEDED break: one per collector and limit day."""
    return fmt("LIMIT|{}|DAILY_LIMIT_EXCEEDED|PLATFORM|REDEEM|{}", pl.lit(str(day)),
                     collector_hash)


def covered_sponsors(conn: Connection, day: date) -> list[str]:
    """Sponsors with current SUCCEEDED runs for both ``day`` and the next day."""
    rows = conn.execute(
        sa.select(recon_run.c.sponsor_code)
        .where(recon_run.c.is_current.is_(True), recon_run.c.status == "SUCCEEDED",
               recon_run.c.business_date.in_([day, day + timedelta(days=1)]))
        .group_by(recon_run.c.sponsor_code)
        .having(sa.func.count(sa.distinct(recon_run.c.business_date)) == 2)
    ).scalars().all()
    return sorted(rows)


def limit_breaks(conn: Connection, sponsor: str, business_date: date, zone: Zone,
                 limit: Decimal) -> pl.DataFrame:
    """DAILY_LIMIT_EXCEEDED breaks that the run of ``sponsor``/``business_date`` makes due.

    Returns:
        Break rows (BREAK_SCHEMA plus sponsor_code, break_key, severity, status).
    """
    out = []
    for day in (business_date - timedelta(days=1), business_date):
        sponsors = covered_sponsors(conn, day)
        if sponsor not in sponsors:
            continue
        out.append(_crossings(conn, day, sponsors, zone, limit))
    frames = [f for f in out if f.height]
    if not frames:
        return pl.DataFrame(schema={**BREAK_SCHEMA, "sponsor_code": pl.String,
                                    "break_key": pl.String, "severity": pl.String,
                                    "status": pl.String})
    return pl.concat(frames)


def _crossings(conn: Connection, day: date, sponsors: list[str], zone: Zone,
               limit: Decimal) -> pl.DataFrame:
    start, end = zone.limit_day(day)
    current = sa.select(recon_run.c.run_id).where(
        recon_run.c.is_current.is_(True), recon_run.c.sponsor_code.in_(sponsors),
        recon_run.c.business_date.in_([day, day + timedelta(days=1)]))
    records = read_frame(conn, sa.select(recon_record).where(
        recon_record.c.run_id.in_(current), recon_record.c.side == "PLATFORM",
        recon_record.c.disposition != "DUPLICATE", recon_record.c.collector_hash.is_not(None)))
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
    )
    already = read_frame(conn, sa.select(recon_break.c.break_key).where(
        recon_break.c.break_type == "DAILY_LIMIT_EXCEEDED",
        recon_break.c.run_id.in_(sa.select(recon_run.c.run_id).where(
            recon_run.c.is_current.is_(True)))))["break_key"]
    crossing = crossing.with_columns(break_key=limit_key(day, pl.col("collector_hash"))).filter(
        ~pl.col("break_key").is_in(already.implode()))
    if crossing.height == 0:
        return crossing.clear()
    return crossing.select(
        break_type=pl.lit("DAILY_LIMIT_EXCEEDED"),
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
        partner_ts=pl.lit(None, dtype=pl.Datetime("us", "UTC")),
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
        severity=pl.lit("MEDIUM"),
        status=pl.lit("OPEN"),
    )

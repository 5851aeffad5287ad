"""What the daily-limit rule (spec §4 step 10) reads from the warehouse.

Limit day L is [L 03:00, L+1 03:00) local; its platform REDEEMs sit in the
files of business dates L and L+1, so the rule reads the current runs of
both dates of every sponsor that covers L. Only the columns the rule uses
are read, and only REDEEMs within L and REVERSEs (which the rule matches to
those REDEEMs).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from reconciliation.breaktypes import DAILY_LIMIT_EXCEEDED
from reconciliation.warehouse.db import read_frame
from reconciliation.warehouse.schema import recon_break, recon_record, recon_run

#: The record columns the rule reads.
LIMIT_COLUMNS = ("sponsor_code", "business_date", "line_number", "txn_type", "confirmation_number",
                 "original_confirmation_number", "ts", "store_id", "device_id", "trace_id", "units",
                 "miles", "dollars", "collector_last4", "collector_hash")


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


def limit_day_records(conn: Connection, day: date, sponsors: list[str], start: datetime,
                      end: datetime) -> pl.DataFrame:
    """Platform records of limit day ``day`` over ``sponsors`` that carry a collector hash.

    REDEEMs whose time is within [start, end) and every REVERSE, of the
    current runs of business dates ``day`` and ``day + 1``; duplicates excluded.
    """
    current = sa.select(recon_run.c.run_id).where(
        recon_run.c.is_current.is_(True), recon_run.c.sponsor_code.in_(sponsors),
        recon_run.c.business_date.in_([day, day + timedelta(days=1)]))
    r = recon_record.c
    return read_frame(conn, sa.select(*(r[c] for c in LIMIT_COLUMNS)).where(
        r.run_id.in_(current), r.side == "PLATFORM", r.disposition != "DUPLICATE",
        r.collector_hash.is_not(None),
        sa.or_(r.txn_type == "REVERSE", sa.and_(r.txn_type == "REDEEM", r.ts >= start, r.ts < end))))


def raised_limit_keys(conn: Connection, prefix: str) -> pl.Series:
    """Break keys starting with ``prefix`` of DAILY_LIMIT_EXCEEDED breaks of current runs."""
    return read_frame(conn, sa.select(recon_break.c.break_key).where(
        recon_break.c.break_type == DAILY_LIMIT_EXCEEDED,
        recon_break.c.break_key.startswith(prefix, autoescape=True),
        recon_break.c.run_id.in_(sa.select(recon_run.c.run_id).where(
            recon_run.c.is_current.is_(True)))))["break_key"]

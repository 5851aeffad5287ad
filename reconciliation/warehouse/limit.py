"""What the daily-limit rule (spec §4 step 10) reads from the warehouse.

Limit day L is [L 03:00, L+1 03:00) local; its platform REDEEMs sit in the
files of business dates L and L+1, so the rule reads the current runs of
both dates of every sponsor that covers L. Only the columns the rule uses
are read, and only REDEEMs within L and REVERSEs (which the rule matches to
those REDEEMs).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

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
                      end: datetime, limit: Decimal | None = None) -> pl.DataFrame:
    """Platform records of limit day ``day`` over ``sponsors`` that carry a collector hash.

    REDEEMs whose time is within [start, end) and every REVERSE, of the
    current runs of business dates ``day`` and ``day + 1``; duplicates
    excluded. Given ``limit``, only the records of the collectors who could
    cross it (whose records' positive contributions sum past it).
    """
    current = sa.select(recon_run.c.run_id).where(
        recon_run.c.is_current.is_(True), recon_run.c.sponsor_code.in_(sponsors),
        recon_run.c.business_date.in_([day, day + timedelta(days=1)]))
    r = recon_record.c
    usable = (r.run_id.in_(current), r.side == "PLATFORM", r.disposition != "DUPLICATE",
              r.collector_hash.is_not(None))
    in_day = sa.and_(r.txn_type == "REDEEM", r.ts >= start, r.ts < end)
    read = (*usable, sa.or_(r.txn_type == "REVERSE", in_day))
    query = sa.select(*(r[c] for c in LIMIT_COLUMNS)).where(*read)
    if limit is not None:
        # A collector's running net never exceeds the sum of what its records add to it (a
        # REDEEM its dollars, a REVERSE minus its dollars) where that is positive: only the
        # collectors for whom that sum passes the limit can cross it, so only theirs are read
        # (the rest of a big day never leaves the database).
        gain = sa.case((r.txn_type == "REDEEM", r.dollars), else_=-r.dollars)
        near = sa.select(r.collector_hash).where(*read).group_by(r.collector_hash).having(
            sa.func.sum(sa.case((gain > 0, gain), else_=0)) > limit)
        query = query.where(r.collector_hash.in_(near))
    return read_frame(conn, query)


def raised_limit_keys(conn: Connection, prefix: str) -> pl.Series:
    """Break keys starting with ``prefix`` of DAILY_LIMIT_EXCEEDED breaks of current runs."""
    return read_frame(conn, sa.select(recon_break.c.break_key).where(
        recon_break.c.break_type == DAILY_LIMIT_EXCEEDED,
        recon_break.c.break_key.startswith(prefix, autoescape=True),
        recon_break.c.run_id.in_(sa.select(recon_run.c.run_id).where(
            recon_run.c.is_current.is_(True)))))["break_key"]

"""What a run reads from the warehouse before matching.

A re-run of a date is computed as if the version it supersedes had never
run (spec §6): status changes that earlier versions of the same sponsor-day
made to other days' breaks are read back to their state before them.

The history is what reversal look-ups (spec §4 rule 8) may find: earlier
records of the sponsor within the look-back. Only the columns the look-ups
read are loaded and, given the confirmation numbers this run's REVERSEs
name, only the REDEEMs with those numbers and the REVERSEs of them, so its
size follows the run's reversals rather than the look-back's days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from reconciliation.records import RECORD_SCHEMA, REDEEM, REVERSE
from reconciliation.warehouse.db import insert_frame, read_frame
from reconciliation.warehouse.schema import (
    recon_break,
    recon_break_event,
    recon_pending_record,
    recon_record,
    recon_run,
)

#: The record columns reversal look-ups read from the history.
HISTORY_COLUMNS = ("side", "business_date", "line_number", "txn_type", "confirmation_number",
                   "original_confirmation_number", "ts", "miles", "disposition", "response_code")

#: The confirmation numbers a run's REVERSEs name, while its history is read.
wanted_numbers = sa.Table("recon_wanted_number", sa.MetaData(),
                          sa.Column("number", sa.String(16), nullable=False),
                          prefixes=["TEMPORARY"])


@dataclass
class RunContext:
    """Warehouse state one run depends on.

    Attributes:
        previous_runs: run_ids of every earlier attempt for the sponsor and date.
        next_version: The version number this attempt gets.
        restorable: Breaks of other runs whose latest change came from an earlier
            version of this sponsor-day, with the state before that change.
        pending: Re-entering records (RECORD_SCHEMA + pending_break_id).
        history: The sponsor's earlier records within the look-back that
            reversal look-ups may find (HISTORY_COLUMNS).
    """

    previous_runs: list[int]
    next_version: int
    restorable: pl.DataFrame
    pending: pl.DataFrame
    history: pl.DataFrame


def runs_of(conn: Connection, sponsor: str, day: date) -> pl.DataFrame:
    """Every attempt recorded for a sponsor and date."""
    return read_frame(conn, sa.select(recon_run.c.run_id, recon_run.c.version,
                                      recon_run.c.status, recon_run.c.is_current)
                      .where(recon_run.c.sponsor_code == sponsor,
                             recon_run.c.business_date == day))


def restorable_breaks(conn: Connection, previous_runs: list[int]) -> pl.DataFrame:
    """Breaks (raised by other runs) whose latest status change was made by one of ``previous_runs``."""
    schema = {"break_id": pl.Int64, "old_status": pl.String, "old_resolution": pl.String}
    if not previous_runs:
        return pl.DataFrame(schema=schema)
    events = read_frame(conn, sa.select(
        recon_break_event.c.break_id, recon_break_event.c.run_id, recon_break_event.c.changed_at,
        recon_break_event.c.old_status, recon_break_event.c.old_resolution,
    ).where(recon_break_event.c.break_id.in_(
        sa.select(recon_break_event.c.break_id).where(recon_break_event.c.run_id.in_(previous_runs))
    )))
    raised_by_previous = read_frame(conn, sa.select(recon_break.c.break_id).where(
        recon_break.c.run_id.in_(previous_runs)))["break_id"]
    latest = events.sort("changed_at").group_by("break_id").last()
    return latest.filter(
        pl.col("run_id").is_in(previous_runs) & ~pl.col("break_id").is_in(raised_by_previous.implode())
    ).select(schema.keys())


def load_context(conn: Connection, sponsor: str, day: date, grace_days: int,
                 lookback_days: int, keys: pl.Series | None = None) -> RunContext:
    """Read everything a run of ``sponsor`` and ``day`` needs.

    Args:
        conn: An open connection (the run's write transaction).
        sponsor: The run's sponsor.
        day: The run's business date.
        grace_days: How far back pending breaks re-enter.
        lookback_days: How far back reversal look-ups reach.
        keys: The confirmation numbers this run's REVERSEs name (their
            original numbers). Given, the history holds only the records a
            look-up for them can find; None loads the whole look-back.
    """
    runs = runs_of(conn, sponsor, day)
    previous = runs["run_id"].to_list()
    next_version = int(runs["version"].max() or 0) + 1 if runs.height else 1  # type: ignore[arg-type]
    restorable = restorable_breaks(conn, previous)

    current = sa.select(recon_run.c.run_id).where(
        recon_run.c.sponsor_code == sponsor, recon_run.c.is_current.is_(True))
    window = recon_break.c.business_date.between(day - timedelta(days=grace_days),
                                                 day - timedelta(days=1))
    candidates = read_frame(conn, sa.select(recon_break.c.break_id, recon_break.c.status).where(
        recon_break.c.run_id.in_(current), window,
        recon_break.c.break_type.in_(["MISSING_ON_PLATFORM", "MISSING_AT_PARTNER"]),
    ))
    effective = candidates.join(restorable, on="break_id", how="left").with_columns(
        status=pl.coalesce("old_status", "status"))
    pending_ids = effective.filter(pl.col("status") == "PENDING")["break_id"].to_list()
    pending = read_frame(conn, sa.select(recon_pending_record).where(
        recon_pending_record.c.break_id.in_(pending_ids)))
    pending = pending.select(
        *(pl.col(name).cast(dtype) for name, dtype in RECORD_SCHEMA.items()),
        pending_break_id=pl.col("break_id"),
    ).sort("side", "business_date", "line_number")

    history = load_history(conn, sponsor, day, lookback_days, keys)
    return RunContext(previous, next_version, restorable, pending, history)


def load_history(conn: Connection, sponsor: str, day: date, lookback_days: int,
                 keys: pl.Series | None = None) -> pl.DataFrame:
    """The sponsor's current records of the look-back days before ``day`` (HISTORY_COLUMNS).

    With ``keys``, only REDEEMs whose number is one of them and REVERSEs of
    such a number: the numbers go to a temporary table (bulk-loaded like any
    frame) that the query joins, so a large set costs no giant SQL text.
    """
    r = recon_record.c
    current = sa.select(recon_run.c.run_id).where(
        recon_run.c.sponsor_code == sponsor, recon_run.c.is_current.is_(True))
    query = sa.select(*(r[c] for c in HISTORY_COLUMNS)).where(
        r.run_id.in_(current),
        r.business_date.between(day - timedelta(days=lookback_days), day - timedelta(days=1)))
    if keys is None:
        return read_frame(conn, query)
    numbers = keys.drop_nulls().unique()
    if numbers.len() == 0:
        return read_frame(conn, query.where(sa.false()))
    # On a failure the transaction rolls back, and the table with it.
    wanted_numbers.create(conn)
    insert_frame(conn, wanted_numbers, pl.DataFrame({"number": numbers.cast(pl.String)}))
    named = sa.select(wanted_numbers.c.number)
    history = read_frame(conn, query.where(sa.or_(
        sa.and_(r.txn_type == REDEEM, r.confirmation_number.in_(named)),
        sa.and_(r.txn_type == REVERSE, r.original_confirmation_number.in_(named)))))
    wanted_numbers.drop(conn)
    return history


def stale_later_dates(conn: Connection, sponsor: str, day: date) -> list[date]:
    """Later dates of the sponsor with current runs (made stale by re-running ``day``)."""
    rows = conn.execute(sa.select(recon_run.c.business_date).where(
        recon_run.c.sponsor_code == sponsor, recon_run.c.is_current.is_(True),
        recon_run.c.business_date > day).order_by(recon_run.c.business_date)).scalars().all()
    return list(rows)

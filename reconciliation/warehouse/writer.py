"""Writing one run: the run row, its results, and its changes to earlier breaks.

Everything here runs inside the caller's write transaction, so a run that
dies half-way leaves the warehouse as it was (spec §6).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from reconciliation.records import UTC_TS
from reconciliation.warehouse.db import insert_frame, next_id, read_frame
from reconciliation.warehouse.schema import (
    recon_break,
    recon_break_event,
    recon_run,
)

EVENT_SCHEMA = pl.Schema({
    "break_id": pl.Int64(),
    "run_id": pl.Int64(),
    "changed_at": UTC_TS,
    "old_status": pl.String(),
    "new_status": pl.String(),
    "old_resolution": pl.String(),
    "resolution": pl.String(),
    "changed_by": pl.String(),
    "note": pl.String(),
})


def run_actor(run_id: int) -> str:
    """How a run signs the status changes it makes."""
    return f"run:{run_id}"


def insert_run(conn: Connection, row: dict[str, Any]) -> int:
    """Insert a ``recon_run`` row with the next free run_id; returns it."""
    run_id = next_id(conn, recon_run, "run_id")
    conn.execute(recon_run.insert().values(run_id=run_id, **row))
    return run_id


def next_version(conn: Connection, sponsor: str, day: date) -> int:
    """The version number of the next attempt for a sponsor and date."""
    current = conn.execute(sa.select(sa.func.max(recon_run.c.version)).where(
        recon_run.c.sponsor_code == sponsor, recon_run.c.business_date == day)).scalar()
    return int(current or 0) + 1


def supersede(conn: Connection, sponsor: str, day: date) -> None:
    """Earlier versions of a sponsor-day stop being current."""
    conn.execute(recon_run.update().where(
        recon_run.c.sponsor_code == sponsor, recon_run.c.business_date == day,
        recon_run.c.is_current.is_(True)).values(is_current=False))


def events_frame(rows: pl.DataFrame) -> pl.DataFrame:
    """Cast event rows to the event table's columns."""
    return rows.select(*(pl.col(c).cast(t) for c, t in EVENT_SCHEMA.items()))


def restore_breaks(conn: Connection, restorable: pl.DataFrame, run_id: int, now: datetime) -> None:
    """Undo what superseded versions did to other days' breaks, with an audit row each."""
    if restorable.height == 0:
        return
    current = read_frame(conn, sa.select(recon_break.c.break_id, recon_break.c.status,
                                         recon_break.c.resolution)
                         .where(recon_break.c.break_id.in_(restorable["break_id"].to_list())))
    for break_id, status, resolution in restorable.select(
            "break_id", "old_status", "old_resolution").iter_rows():
        conn.execute(recon_break.update().where(recon_break.c.break_id == break_id).values(
            status=status, resolution=resolution,
            resolved_date=None if status != "RESOLVED" else recon_break.c.resolved_date,
            resolved_by=None if status != "RESOLVED" else recon_break.c.resolved_by,
            updated_at=now))
    events = current.join(restorable, on="break_id").select(
        "break_id",
        run_id=pl.lit(run_id),
        changed_at=pl.lit(now),
        old_status="status",
        new_status="old_status",
        old_resolution="resolution",
        resolution="old_resolution",
        changed_by=pl.lit(run_actor(run_id)),
        note=pl.lit("restored: the run that changed it was superseded by a re-run"),
    )
    insert_frame(conn, recon_break_event, events_frame(events))


def apply_pending_updates(conn: Connection, updates: pl.DataFrame, run_id: int, day: date,
                          now: datetime) -> None:
    """Resolve matched pending breaks and open those whose grace ran out."""
    if updates.height == 0:
        return
    actor = run_actor(run_id)
    for status in ("RESOLVED", "OPEN"):
        ids = updates.filter(pl.col("new_status") == status)["break_id"].to_list()
        if not ids:
            continue
        values: dict[str, Any] = {"status": status, "updated_at": now}
        if status == "RESOLVED":
            values.update(resolution="MATCHED_LATER", resolved_date=day, resolved_by=actor)
        conn.execute(recon_break.update().where(recon_break.c.break_id.in_(ids)).values(**values))
    events = updates.select(
        "break_id",
        run_id=pl.lit(run_id),
        changed_at=pl.lit(now),
        old_status=pl.lit("PENDING"),
        new_status="new_status",
        old_resolution=pl.lit(None, dtype=pl.String),
        resolution="resolution",
        changed_by=pl.lit(actor),
        note=pl.when(pl.col("new_status") == "RESOLVED")
        .then(pl.lit(f"matched in the run of {day}"))
        .otherwise(pl.lit(f"still unmatched at the end of the run of {day}")),
    )
    insert_frame(conn, recon_break_event, events_frame(events))


def person_resolutions(conn: Connection, previous_runs: list[int]) -> pl.DataFrame:
    """A person's resolutions of superseded breaks, by break_key (they carry over)."""
    if not previous_runs:
        return pl.DataFrame(schema={"break_key": pl.String(), "p_resolution": pl.String(),
                                    "p_resolved_by": pl.String(), "p_resolved_date": pl.Date(),
                                    "p_note": pl.String})
    rows = read_frame(conn, sa.select(
        recon_break.c.break_key, recon_break.c.resolution, recon_break.c.resolved_by,
        recon_break.c.resolved_date, recon_break.c.note, recon_break.c.updated_at,
    ).where(recon_break.c.run_id.in_(previous_runs), recon_break.c.status == "RESOLVED",
            ~recon_break.c.resolved_by.like("run:%")))
    return rows.sort("updated_at").group_by("break_key").last().select(
        "break_key", p_resolution="resolution", p_resolved_by="resolved_by",
        p_resolved_date="resolved_date", p_note="note")


def insert_breaks(conn: Connection, breaks: pl.DataFrame, *, run_id: int, sponsor: str,
                  previous_runs: list[int], now: datetime) -> pl.DataFrame:
    """Insert new breaks with fresh ids and their 'raised' audit rows.

    A person's resolution of a superseded break with the same break_key
    carries over to the re-raised one.

    Returns:
        The inserted rows (with ``break_id`` and ``record_rid``).
    """
    if breaks.height == 0:
        return breaks.with_columns(break_id=pl.lit(None, dtype=pl.Int64))
    first = next_id(conn, recon_break, "break_id")
    carried = person_resolutions(conn, previous_runs)
    rows = (
        breaks.with_columns(break_id=pl.int_range(first, first + breaks.height, dtype=pl.Int64))
        .join(carried, on="break_key", how="left")
        .with_columns(
            run_id=pl.lit(run_id, dtype=pl.Int64),
            sponsor_code=(pl.col("sponsor_code") if "sponsor_code" in breaks.columns
                          else pl.lit(sponsor)),
            raised_status=pl.col("status"),
            status=pl.when(pl.col("p_resolution").is_not_null()).then(pl.lit("RESOLVED"))
            .otherwise(pl.col("status")),
            resolution=pl.col("p_resolution"),
            resolved_by=pl.col("p_resolved_by"),
            resolved_date=pl.col("p_resolved_date"),
            note=pl.col("p_note"),
            raised_at=pl.lit(now, dtype=UTC_TS),
            updated_at=pl.lit(now, dtype=UTC_TS),
        )
    )
    insert_frame(conn, recon_break, rows)
    raised = rows.select(
        "break_id", run_id=pl.lit(run_id), changed_at=pl.lit(now), old_status=pl.lit(None),
        new_status="raised_status", old_resolution=pl.lit(None), resolution=pl.lit(None),
        changed_by=pl.lit(run_actor(run_id)), note=pl.lit("raised"))
    carried_rows = rows.filter(pl.col("p_resolution").is_not_null()).select(
        "break_id", run_id=pl.lit(run_id), changed_at=pl.lit(now), old_status="raised_status",
        new_status=pl.lit("RESOLVED"), old_resolution=pl.lit(None), resolution="resolution",
        changed_by="resolved_by",
        note=pl.format("resolution carried over from the superseded version: {}",
                       pl.col("note").fill_null("")))
    insert_frame(conn, recon_break_event, events_frame(pl.concat([events_frame(raised),
                                                                   events_frame(carried_rows)])))
    return rows


def now_utc() -> datetime:
    """The current instant, timezone-aware."""
    return datetime.now(UTC)

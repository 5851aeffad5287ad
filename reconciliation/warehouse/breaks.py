"""The break workflow's SQL: selecting breaks by a filter, reading one, changing its status.

``reconciliation.breaks`` holds the rules (who may resolve what, all or
none); this module holds the statements. Every status change writes its
``recon_break_event`` row in the caller's transaction.

Everything returns plain rows: the commands that read breaks only print a
few, and neither they nor this module need Polars.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from reconciliation.break_status import UNRESOLVED
from reconciliation.warehouse.schema import current_run_ids, recon_break, recon_break_event, recon_run


def break_conditions(day: date | None, sponsor: str | None, break_type: str | None, status: str,
                     min_age_days: int | None, as_of: date) -> list[Any]:
    """SQL conditions on ``recon_break`` for a workflow filter; current versions only.

    ``status`` is a status, ``UNRESOLVED`` (pending or open) or ``ALL``.
    """
    conditions: list[Any] = [recon_break.c.run_id.in_(current_run_ids())]
    if day is not None:
        conditions.append(recon_break.c.business_date == day)
    if sponsor:
        conditions.append(recon_break.c.sponsor_code == sponsor)
    if break_type:
        conditions.append(recon_break.c.break_type == break_type)
    if status == "UNRESOLVED":
        conditions.append(recon_break.c.status.in_(UNRESOLVED))
    elif status != "ALL":
        conditions.append(recon_break.c.status == status)
    if min_age_days is not None:
        conditions.append(recon_break.c.business_date <= as_of - timedelta(days=min_age_days))
    return conditions


def breaks_where(conn: Connection, conditions: list[Any], order_by: list[Any],
                 limit: int | None = None) -> list[dict[str, Any]]:
    """Whole ``recon_break`` rows meeting the conditions, in the given order, at most ``limit``."""
    query = sa.select(recon_break).where(*conditions).order_by(*order_by).limit(limit)
    return [dict(r) for r in conn.execute(query).mappings()]


def break_ids_where(conn: Connection, conditions: list[Any]) -> list[int]:
    """Ids of the breaks meeting the conditions, ascending."""
    return list(conn.execute(sa.select(recon_break.c.break_id).where(*conditions).order_by(
        recon_break.c.break_id)).scalars())


def break_states_where(conn: Connection, conditions: list[Any]) -> list[dict[str, Any]]:
    """Id, status and resolution of the breaks meeting the conditions (what a status change needs)."""
    return [dict(r) for r in conn.execute(sa.select(
        recon_break.c.break_id, recon_break.c.status, recon_break.c.resolution,
    ).where(*conditions).order_by(recon_break.c.break_id)).mappings()]


def break_with_run(conn: Connection, break_id: int) -> dict[str, Any] | None:
    """One break's row plus ``is_current`` and ``version`` of the run that raised it; None if absent."""
    row = conn.execute(sa.select(recon_break, recon_run.c.is_current, recon_run.c.version).join(
        recon_run, recon_run.c.run_id == recon_break.c.run_id).where(
        recon_break.c.break_id == break_id)).mappings().first()
    return dict(row) if row is not None else None


def events_of(conn: Connection, break_id: int) -> list[dict[str, Any]]:
    """Every status change of one break, oldest first; a run's "raised" before its "carried over".

    The same order as ``reports.events_for``: by instant, an event without an
    old status (the raising) first among equal instants, otherwise as read.
    """
    rows = [dict(r) for r in conn.execute(sa.select(recon_break_event).where(
        recon_break_event.c.break_id == break_id)).mappings()]
    return sorted(rows, key=lambda e: (e["changed_at"], e["old_status"] is not None))


def current_twin(conn: Connection, break_key: str) -> int | None:
    """The newest current break with the same ``break_key`` (the re-raised break), if any."""
    return conn.execute(sa.select(recon_break.c.break_id).where(
        recon_break.c.break_key == break_key, recon_break.c.run_id.in_(current_run_ids())
    ).order_by(recon_break.c.break_id.desc())).scalars().first()


def set_status(conn: Connection, rows: list[dict[str, Any]], *, status: str, resolution: str | None,
               resolved_by: str | None, resolved_date: date | None, note: str, by: str,
               now: datetime) -> None:
    """Change the status of breaks and record one ``recon_break_event`` per break.

    ``rows`` carry each break's ``break_id`` and its ``status`` and
    ``resolution`` before the change (the event's old values).
    """
    for row in rows:
        conn.execute(recon_break.update().where(recon_break.c.break_id == row["break_id"]).values(
            status=status, resolution=resolution, resolved_by=resolved_by, resolved_date=resolved_date,
            note=note, updated_at=now))
    if rows:
        conn.execute(recon_break_event.insert(), [{
            "break_id": row["break_id"], "run_id": None, "changed_at": now,
            "old_status": row["status"], "new_status": status,
            "old_resolution": row["resolution"], "resolution": resolution,
            "changed_by": by, "note": note} for row in rows])

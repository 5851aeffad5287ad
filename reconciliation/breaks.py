"""The break workflow: find breaks, read one with its history, resolve them.

A person's resolution is the end of a break's life unless a later run
matches it first, so it is written the way the engine expects to find it
(spec §5, §6): status ``RESOLVED``, a resolution code, ``resolved_by`` (a
person's name, never ``run:<id>``, which marks a run's own resolutions),
``resolved_date`` and the note, plus one ``recon_break_event`` row per break
with the old and new status, who, when and why. A re-run of the break's day
then carries the resolution over to the re-raised break with the same
``break_key``. All breaks of one command are resolved in one transaction
under the warehouse write lock, or none is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.engine import Connection, Engine

from reconciliation.break_status import (
    DEFAULT_RESOLUTION,
    RESOLUTION_CODE,
    RUN_ACTOR,
    RUN_RESOLUTIONS,
    STATUS_FILTERS,
    STATUSES,
)
from reconciliation.errors import ReconError
from reconciliation.reports.columns import review_row, urgency_order
from reconciliation.warehouse import breaks as wh
from reconciliation.warehouse.connection import write_transaction
from reconciliation.warehouse.schema import BREAK_TYPES, recon_break
from reconciliation.zones import Zone, parse_zone

__all__ = [
    "DEFAULT_RESOLUTION", "RESOLUTION_CODE", "RUN_ACTOR", "RUN_RESOLUTIONS", "STATUSES", "STATUS_FILTERS",
    "BreakFilter", "check_resolution", "get_break", "history", "list_breaks", "reopen_rows", "resolvable",
    "resolve", "resolve_matching", "resolve_rows",
]


@dataclass(frozen=True)
class BreakFilter:
    """Which breaks a list or a bulk resolve covers; current versions only.

    Attributes:
        day: Business date.
        sponsor: Sponsor code.
        break_type: One of the spec's break types.
        status: A status, ``UNRESOLVED`` (the default: what still needs work) or ``ALL``.
        min_age_days: Only breaks at least this many days old (business date to ``as_of``).
        as_of: The date ages count to; today when not given.
    """

    day: date | None = None
    sponsor: str | None = None
    break_type: str | None = None
    status: str = "UNRESOLVED"
    min_age_days: int | None = None
    as_of: date = field(default_factory=date.today)

    def __post_init__(self) -> None:
        if self.break_type is not None and self.break_type not in BREAK_TYPES:
            raise ReconError(f"unknown break type {self.break_type!r}; one of {', '.join(BREAK_TYPES)}")
        if self.status not in STATUS_FILTERS:
            raise ReconError(f"unknown status {self.status!r}; one of {', '.join(STATUS_FILTERS)}")
        if self.min_age_days is not None and self.min_age_days < 0:
            raise ReconError("the minimum age must not be negative")

    def where(self) -> list[Any]:
        """SQL conditions on ``recon_break`` (built by the warehouse)."""
        return wh.break_conditions(self.day, self.sponsor, self.break_type, self.status,
                                   self.min_age_days, self.as_of)


def list_breaks(conn: Connection, flt: BreakFilter, zone: Zone | None = None,
                limit: int | None = None) -> list[dict[str, Any]]:
    """Breaks matching a filter as reviewer columns (see ``reports.columns``), most urgent first.

    Rows rather than a frame, ordered and limited by the warehouse: the
    command prints them, so it reads only what it shows and needs no Polars.
    """
    first = limit if limit and limit > 0 else None
    rows = wh.breaks_where(conn, flt.where(), urgency_order(recon_break), first)
    if limit and limit < 0:
        rows = rows[:limit]  # all but the last -limit, as a frame's head(limit) has always given
    return [review_row(row, zone or parse_zone("EST"), flt.as_of) for row in rows]


def get_break(conn: Connection, break_id: int) -> dict[str, Any]:
    """One break's warehouse row plus ``is_current`` (whether its raising run is current).

    Raises:
        ReconError: no such break.
    """
    row = wh.break_with_run(conn, break_id)
    if row is None:
        raise ReconError(f"break {break_id} is not in the warehouse")
    return row


def history(conn: Connection, break_id: int) -> list[dict[str, Any]]:
    """Every status change of a break, oldest first: who or which run, when, why."""
    return wh.events_of(conn, break_id)


def check_resolution(note: str, by: str, resolution: str) -> tuple[str, str, str]:
    """Validate who, why and the code; returns them trimmed.

    Raises:
        ReconError: an empty note or name, a name that looks like a run, or a bad code.
    """
    note, by, resolution = note.strip(), by.strip(), resolution.strip().upper()
    if not note:
        raise ReconError("a resolution needs a note saying why (--note)")
    if not by:
        raise ReconError("a resolution needs the name of who resolved it (--by)")
    if RUN_ACTOR.match(by) or len(by) > 128:
        raise ReconError(f"--by {by!r} is not a person's name ('run:' names are reserved for runs)")
    if not RESOLUTION_CODE.match(resolution) or resolution in RUN_RESOLUTIONS:
        raise ReconError(f"resolution {resolution!r} must be an upper-case code of at most 32 "
                         f"letters, digits or _ (and not {', '.join(RUN_RESOLUTIONS)})")
    return note, by, resolution


def resolve_rows(conn: Connection, rows: list[dict[str, Any]], note: str, by: str, resolution: str,
                 now: datetime, zone: Zone) -> None:
    """Mark breaks resolved and record the status change (callers hold the write lock)."""
    wh.set_status(conn, rows, status="RESOLVED", resolution=resolution, resolved_by=by,
                  resolved_date=now.astimezone(zone.tz).date(), note=note, by=by, now=now)


def reopen_rows(conn: Connection, rows: list[dict[str, Any]], note: str, by: str, now: datetime) -> None:
    """Open resolved breaks again and record the status change (callers hold the write lock)."""
    wh.set_status(conn, rows, status="OPEN", resolution=None, resolved_by=None, resolved_date=None,
                  note=note, by=by, now=now)


def resolvable(conn: Connection, break_id: int) -> dict[str, Any]:
    """A break a person may resolve: current and not yet resolved.

    Raises:
        ReconError: the break does not exist, belongs to a superseded version
            (the message names the current one), or is already resolved.
    """
    row = get_break(conn, break_id)
    if not row["is_current"]:
        twin = wh.current_twin(conn, row["break_key"])
        hint = f"; its current version is break {twin}" if twin else \
            "; the current version of its day no longer raises it"
        raise ReconError(f"break {break_id} belongs to superseded version {row['version']} of "
                         f"{row['sponsor_code']} {row['business_date']}{hint}")
    if row["status"] == "RESOLVED":
        raise ReconError(f"break {break_id} is already resolved ({row['resolution']} by "
                         f"{row['resolved_by']} on {row['resolved_date']})")
    return row


def resolve(engine: Engine, break_ids: list[int], *, note: str, by: str,
            resolution: str = DEFAULT_RESOLUTION, zone: Zone | None = None,
            now: datetime | None = None) -> list[int]:
    """Resolve breaks by id, all or none; returns the ids resolved.

    Raises:
        ReconError: a break does not exist, belongs to a superseded version
            (the message names the current one), or is already resolved.
    """
    note, by, resolution = check_resolution(note, by, resolution)
    ids = list(dict.fromkeys(break_ids))
    if not ids:
        raise ReconError("name at least one break to resolve")
    now = now or datetime.now(UTC)
    with write_transaction(engine) as conn:
        rows = [resolvable(conn, break_id) for break_id in ids]
        resolve_rows(conn, rows, note, by, resolution, now, zone or parse_zone("EST"))
    return ids


def resolve_matching(engine: Engine, flt: BreakFilter, *, note: str, by: str,
                     resolution: str = DEFAULT_RESOLUTION, zone: Zone | None = None,
                     now: datetime | None = None, dry_run: bool = False) -> list[int]:
    """Resolve every unresolved current break a filter selects (the bulk form); returns their ids.

    The selection is made inside the write transaction, so a run committing
    meanwhile cannot slip a break in or out between listing and resolving.

    Raises:
        ReconError: the filter has no business date (too broad to be safe).
    """
    note, by, resolution = check_resolution(note, by, resolution)
    if flt.day is None:
        raise ReconError("a bulk resolve needs --date; resolve other days one date at a time")
    if flt.status not in ("PENDING", "OPEN"):
        flt = BreakFilter(flt.day, flt.sponsor, flt.break_type, "UNRESOLVED", flt.min_age_days, flt.as_of)
    with write_transaction(engine) as conn:
        rows = wh.break_states_where(conn, flt.where())
        if not dry_run:
            resolve_rows(conn, rows, note, by, resolution, now or datetime.now(UTC),
                          zone or parse_zone("EST"))
    return [r["break_id"] for r in rows]

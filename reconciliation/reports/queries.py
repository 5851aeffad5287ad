"""Reading the warehouse for reports: one run, one night, a range of dates.

Reports regenerate from the warehouse alone, so everything a report shows is
read here and nowhere else. Only current versions count (``is_current``):
rows of superseded versions stay in the warehouse for audit but never reach
a report, except when a report is asked for a superseded run explicitly.

Which breaks belong to a sponsor-day: the current breaks of that sponsor
whose business date is the day, plus the breaks the day's current run raised
for an earlier date (a pending record matched late carries the earlier
business date but is found by the later run, spec §4 step 6). A break
therefore appears in its own day's report and, rarely, also in the report of
the run that found it; totals over several days count every break once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from reconciliation.errors import ReconError
from reconciliation.records import PARTNER, SUCCESS_CODES
from reconciliation.warehouse.db import read_frame
from reconciliation.warehouse.schema import (
    recon_break,
    recon_break_event,
    recon_match,
    recon_record,
    recon_rejected_record,
    recon_run,
    recon_summary,
)

UNRESOLVED = ("PENDING", "OPEN")


def current_run_ids() -> sa.Select[Any]:
    """A sub-select of the run_ids of every current version."""
    return sa.select(recon_run.c.run_id).where(recon_run.c.is_current.is_(True))


def run_row(conn: Connection, run_id: int) -> dict[str, Any]:
    """The ``recon_run`` row of a run.

    Raises:
        ReconError: no such run.
    """
    row = conn.execute(sa.select(recon_run).where(recon_run.c.run_id == run_id)).mappings().first()
    if row is None:
        raise ReconError(f"run {run_id} is not in the warehouse")
    return dict(row)


def current_run(conn: Connection, sponsor: str, day: date) -> dict[str, Any] | None:
    """The current (latest SUCCEEDED) run of a sponsor and date, or None."""
    row = conn.execute(sa.select(recon_run).where(
        recon_run.c.sponsor_code == sponsor, recon_run.c.business_date == day,
        recon_run.c.is_current.is_(True))).mappings().first()
    return dict(row) if row else None


def attempts(conn: Connection, start: date, end: date,
             sponsors: Sequence[str] | None = None) -> pl.DataFrame:
    """Every attempt (any status) for business dates in [start, end], oldest first.

    Night and range views need failed attempts too: a sponsor whose latest
    attempt was rejected must show up in red even though its current version
    (if any) is older.
    """
    query = sa.select(recon_run).where(recon_run.c.business_date.between(start, end))
    if sponsors:
        query = query.where(recon_run.c.sponsor_code.in_(list(sponsors)))
    return read_frame(conn, query).sort("sponsor_code", "business_date", "version")


def versions_of(conn: Connection, sponsor: str, day: date) -> pl.DataFrame:
    """Version, status and run_id of every attempt for a sponsor-day."""
    return read_frame(conn, sa.select(
        recon_run.c.run_id, recon_run.c.version, recon_run.c.status, recon_run.c.is_current,
        recon_run.c.error,
    ).where(recon_run.c.sponsor_code == sponsor, recon_run.c.business_date == day)
    ).sort("version")


def breaks_for_days(conn: Connection, start: date, end: date,
                    sponsors: Sequence[str] | None = None) -> pl.DataFrame:
    """Current breaks of sponsor-days in [start, end], tagged with ``report_date``.

    One row per (break, report date) it belongs to (see the module docstring),
    so a per-day grouping matches the per-run reports exactly.
    """
    runs = read_frame(conn, sa.select(
        recon_run.c.run_id, recon_run.c.sponsor_code.label("run_sponsor"),
        recon_run.c.business_date.label("run_date"),
    ).where(recon_run.c.is_current.is_(True), recon_run.c.business_date.between(start, end)))
    if sponsors:
        runs = runs.filter(pl.col("run_sponsor").is_in(list(sponsors)))
    query = sa.select(recon_break).where(
        recon_break.c.run_id.in_(current_run_ids()),
        sa.or_(recon_break.c.business_date.between(start, end),
               recon_break.c.run_id.in_(runs["run_id"].to_list() or [-1])))
    if sponsors:
        query = query.where(recon_break.c.sponsor_code.in_(list(sponsors)))
    breaks = read_frame(conn, query)
    own_day = breaks.filter(pl.col("business_date").is_between(start, end)).with_columns(
        report_date=pl.col("business_date"))
    found_by = breaks.join(runs, on="run_id").filter(
        pl.col("sponsor_code") == pl.col("run_sponsor")).with_columns(
        report_date=pl.col("run_date")).drop("run_sponsor", "run_date")
    return pl.concat([own_day, found_by]).unique(["break_id", "report_date"], maintain_order=True)


def breaks_of_run(conn: Connection, run: dict[str, Any]) -> pl.DataFrame:
    """The breaks a sponsor-day report lists: current ones, or a superseded run's own."""
    sponsor, day = run["sponsor_code"], run["business_date"]
    if run["is_current"]:
        frame = breaks_for_days(conn, day, day, [sponsor])
    else:
        frame = read_frame(conn, sa.select(recon_break).where(
            recon_break.c.run_id == run["run_id"], recon_break.c.sponsor_code == sponsor
        )).with_columns(report_date=pl.lit(day))
    return frame.drop("report_date")


def events_for(conn: Connection, break_ids: Sequence[int]) -> pl.DataFrame:
    """Every status change of the given breaks, oldest first."""
    frame = read_frame(conn, sa.select(recon_break_event).where(
        recon_break_event.c.break_id.in_(list(break_ids) or [-1])))
    # A run writes "raised" and "carried over" with the same instant: raising comes first.
    return frame.sort("break_id", "changed_at", pl.col("old_status").is_not_null(),
                      maintain_order=True)


def carried_open(conn: Connection, sponsor: str, day: date, as_of: datetime,
                 exclude_run: int | None = None) -> pl.DataFrame:
    """Breaks of earlier days still PENDING or OPEN at ``as_of``, with ``status_then``.

    A report regenerated weeks later must still show what was open the
    morning it was first produced, so the status at ``as_of`` is rebuilt from
    ``recon_break_event``: a break not changed since keeps its current status;
    otherwise its status then is the old status of its first change after
    ``as_of`` (a break raised after ``as_of`` did not exist then). The current
    status stays in ``status`` for reviewers who want to know what happened
    since.
    """
    as_of = as_of.astimezone(UTC) if as_of.tzinfo else as_of.replace(tzinfo=UTC)
    candidates = read_frame(conn, sa.select(recon_break).where(
        recon_break.c.run_id.in_(current_run_ids()),
        recon_break.c.sponsor_code == sponsor,
        recon_break.c.business_date < day,
        recon_break.c.raised_at <= as_of,
        sa.or_(recon_break.c.status.in_(UNRESOLVED), recon_break.c.updated_at > as_of),
    ))
    if exclude_run is not None:
        candidates = candidates.filter(pl.col("run_id") != exclude_run)
    changed = candidates.filter(pl.col("updated_at") > as_of)["break_id"].to_list()
    later = events_for(conn, changed).filter(pl.col("changed_at") > as_of)
    first_later = later.group_by("break_id").agg(before=pl.col("old_status").first())
    out = candidates.join(first_later, on="break_id", how="left").with_columns(
        status_then=pl.when(pl.col("break_id").is_in(first_later["break_id"].implode()))
        .then(pl.col("before")).otherwise(pl.col("status"))).drop("before")
    return out.filter(pl.col("status_then").is_in(list(UNRESOLVED)))


def summary_rows(conn: Connection, run_id: int) -> dict[str, dict[str, Any]]:
    """The run's ``recon_summary`` rows, by side."""
    rows = conn.execute(sa.select(recon_summary).where(recon_summary.c.run_id == run_id)).mappings()
    return {row["side"]: dict(row) for row in rows}


def financial_records(conn: Connection, run_id: int) -> pl.DataFrame:
    """The run's own records that moved money: every platform record and the
    partner records the POS saw succeed (declined and no-response ones did not)."""
    frame = read_frame(conn, sa.select(
        recon_record.c.side, recon_record.c.txn_type, recon_record.c.response_code,
        recon_record.c.miles, recon_record.c.dollars, recon_record.c.disposition,
    ).where(recon_record.c.run_id == run_id))
    return frame.filter((pl.col("side") != PARTNER)
                        | pl.col("response_code").is_in(list(SUCCESS_CODES)))


def matches(conn: Connection, run: dict[str, Any]) -> pl.DataFrame:
    """The run's pairs with both sides' dollars, read back from the records.

    A pair may hold a pending record of an earlier date; its record row is
    in that date's current run, so records are looked up by (side, business
    date, line) among current runs and the run itself.
    """
    pairs = read_frame(conn, sa.select(recon_match).where(recon_match.c.run_id == run["run_id"]))
    days = set(pairs["partner_business_date"].drop_nulls().to_list()) | set(
        pairs["platform_business_date"].drop_nulls().to_list())
    records = read_frame(conn, sa.select(
        recon_record.c.side, recon_record.c.business_date, recon_record.c.line_number,
        recon_record.c.dollars, recon_record.c.run_id,
    ).where(recon_record.c.sponsor_code == run["sponsor_code"],
            recon_record.c.business_date.in_(sorted(days) or [run["business_date"]]),
            sa.or_(recon_record.c.run_id.in_(current_run_ids()),
                   recon_record.c.run_id == run["run_id"])))
    records = records.sort(pl.col("run_id") == run["run_id"]).unique(
        ["side", "business_date", "line_number"], keep="last")
    out = pairs
    for side, prefix in (("PARTNER", "partner"), ("PLATFORM", "platform")):
        mine = records.filter(pl.col("side") == side).select(
            pl.col("business_date").alias(f"{prefix}_business_date"),
            pl.col("line_number").alias(f"{prefix}_line"),
            pl.col("dollars").alias(f"{prefix}_dollars"))
        out = out.join(mine, on=[f"{prefix}_business_date", f"{prefix}_line"], how="left")
    return out


def rejected_records(conn: Connection, run_id: int) -> pl.DataFrame:
    """The run's rejected records, without the raw line (reviewers need the reason and where)."""
    return read_frame(conn, sa.select(
        recon_rejected_record.c.side, recon_rejected_record.c.file_name,
        recon_rejected_record.c.line_number, recon_rejected_record.c.reason,
    ).where(recon_rejected_record.c.run_id == run_id)).sort("side", "line_number")


def unresolved_before(conn: Connection, day: date, sponsors: Sequence[str] | None = None
                      ) -> pl.DataFrame:
    """Current breaks of business dates before ``day`` that are unresolved now."""
    query = sa.select(recon_break.c.break_id, recon_break.c.sponsor_code,
                      recon_break.c.business_date, recon_break.c.delta_dollars).where(
        recon_break.c.run_id.in_(current_run_ids()), recon_break.c.business_date < day,
        recon_break.c.status.in_(UNRESOLVED))
    if sponsors:
        query = query.where(recon_break.c.sponsor_code.in_(list(sponsors)))
    return read_frame(conn, query)

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

On PostgreSQL the per-run aggregates must not depend on the server's
statistics being fresh: a run bulk-loads hundreds of thousands of rows into
tables the planner may still believe empty (autovacuum's ANALYZE comes
minutes later), and then joins a run's pairs to its records with a nested
loop that rescans the day's records once per pair — 13 minutes for a
300,000-record day instead of a second. Joins of a run's rows to a run's
rows are therefore planned without nested loops (``_hash_joins``): they
always touch every row of the run, where a hash join is right whatever the
estimates say. Lookups of a few rows (events of changed breaks, one break)
keep the planner's choice, where an index-driven nested loop is right.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from reconciliation.errors import ReconError
from reconciliation.records import PARTNER, PLATFORM, SUCCESS_CODES
from reconciliation.warehouse.db import read_frame
from reconciliation.warehouse.schema import (
    current_run_ids,
    recon_break,
    recon_break_event,
    recon_match,
    recon_record,
    recon_rejected_record,
    recon_run,
    recon_summary,
)

UNRESOLVED = ("PENDING", "OPEN")
CENTS = Decimal("0.01")


@contextmanager
def _hash_joins(conn: Connection) -> Iterator[None]:
    """Plan the statements inside without nested loops on PostgreSQL (see the module docstring).

    A plain ``SET`` is undone by the rollback of a failed statement's
    transaction, so it is reset only on success.
    """
    if conn.dialect.name != "postgresql":
        yield
        return
    conn.exec_driver_sql("SET enable_nestloop = off")
    yield
    conn.exec_driver_sql("RESET enable_nestloop")


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


def _break_columns(columns: Sequence[str] | None, *needed: str) -> list[Any]:
    """``recon_break``'s columns to select: all of them, or the named ones plus ``needed``."""
    if columns is None:
        return [recon_break]
    return [recon_break.c[name] for name in dict.fromkeys((*needed, *columns))]


def breaks_for_days(conn: Connection, start: date, end: date,
                    sponsors: Sequence[str] | None = None,
                    columns: Sequence[str] | None = None) -> pl.DataFrame:
    """Current breaks of sponsor-days in [start, end], tagged with ``report_date``.

    One row per (break, report date) it belongs to (see the module docstring),
    so a per-day grouping matches the per-run reports exactly. ``columns``
    limits what is read (totals over many days need a few columns, not the
    whole break).
    """
    b, r = recon_break.c, recon_run.c
    columns_read = _break_columns(columns, "break_id", "run_id", "sponsor_code", "business_date")
    # A break belongs to its own day ...
    own_day = sa.select(*columns_read, b.business_date.label("report_date")).where(
        b.run_id.in_(current_run_ids()), b.business_date.between(start, end))
    # ... and to the day of the current run of its sponsor that found it, when that is another day.
    found_by = sa.select(*columns_read, r.business_date.label("report_date")).select_from(
        recon_break.join(recon_run, sa.and_(r.run_id == b.run_id, r.sponsor_code == b.sponsor_code))
    ).where(r.is_current.is_(True), r.business_date.between(start, end),
            b.business_date != r.business_date)
    if sponsors:
        own_day = own_day.where(b.sponsor_code.in_(list(sponsors)))
        found_by = found_by.where(b.sponsor_code.in_(list(sponsors)))
    return read_frame(conn, sa.select(sa.union_all(own_day, found_by).subquery("day_breaks")))


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
    return _sorted_events(read_frame(conn, sa.select(recon_break_event).where(
        recon_break_event.c.break_id.in_(list(break_ids) or [-1]))))


def _sorted_events(frame: pl.DataFrame) -> pl.DataFrame:
    # A run writes "raised" and "carried over" with the same instant: raising comes first.
    return frame.sort("break_id", "changed_at", pl.col("old_status").is_not_null(),
                      maintain_order=True)


def carried_open(conn: Connection, sponsor: str, day: date, as_of: datetime,
                 exclude_run: int | None = None, columns: Sequence[str] | None = None) -> pl.DataFrame:
    """Breaks of earlier days still PENDING or OPEN at ``as_of``, with ``status_then``.

    A report regenerated weeks later must still show what was open the
    morning it was first produced, so the status at ``as_of`` is rebuilt from
    ``recon_break_event``: a break not changed since keeps its current status;
    otherwise its status then is the old status of its first change after
    ``as_of`` (a break raised after ``as_of`` did not exist then). The current
    status stays in ``status`` for reviewers who want to know what happened
    since. ``columns`` limits what is read (the night view needs only totals).
    """
    as_of = as_of.astimezone(UTC) if as_of.tzinfo else as_of.replace(tzinfo=UTC)
    where = [
        recon_break.c.run_id.in_(current_run_ids()),
        recon_break.c.sponsor_code == sponsor,
        recon_break.c.business_date < day,
        recon_break.c.raised_at <= as_of,
        sa.or_(recon_break.c.status.in_(UNRESOLVED), recon_break.c.updated_at > as_of),
    ]
    if exclude_run is not None:
        where.append(recon_break.c.run_id != exclude_run)
    candidates = read_frame(conn, sa.select(
        *_break_columns(columns, "break_id", "run_id", "status")).where(*where))
    # The events of the candidates changed since as_of, selected in the warehouse
    # (a list of ids would grow with the backlog).
    changed = sa.select(recon_break.c.break_id).where(*where, recon_break.c.updated_at > as_of)
    later = _sorted_events(read_frame(conn, sa.select(
        recon_break_event.c.break_id, recon_break_event.c.changed_at, recon_break_event.c.old_status,
    ).where(recon_break_event.c.break_id.in_(changed), recon_break_event.c.changed_at > as_of)))
    first_later = later.group_by("break_id").agg(before=pl.col("old_status").first())
    out = candidates.join(first_later, on="break_id", how="left").with_columns(
        status_then=pl.when(pl.col("break_id").is_in(first_later["break_id"].implode()))
        .then(pl.col("before")).otherwise(pl.col("status"))).drop("before")
    return out.filter(pl.col("status_then").is_in(list(UNRESOLVED)))


def summary_rows(conn: Connection, run_id: int) -> dict[str, dict[str, Any]]:
    """The run's ``recon_summary`` rows, by side."""
    rows = conn.execute(sa.select(recon_summary).where(recon_summary.c.run_id == run_id)).mappings()
    return {row["side"]: dict(row) for row in rows}


#: Sums of money in the warehouse: NUMERIC(38, 2), so a night's total cannot
#: overflow the column type NUMERIC(12, 2) it is summed from.
TOTAL = sa.Numeric(38, 2, asdecimal=True)


def _money_total(column: Any) -> Any:
    return sa.type_coerce(sa.func.sum(column), TOTAL)


def financial_totals(conn: Connection, run_id: int) -> dict[tuple[str, str], tuple[int, int, Decimal]]:
    """Count, miles and dollars of ``financial_records`` by (side, txn_type), summed in the warehouse.

    The same records as ``financial_records``, aggregated where they are:
    a run's records are a million rows, its totals a handful.
    """
    query = sa.select(
        recon_record.c.side, recon_record.c.txn_type, sa.func.count().label("n"),
        sa.func.sum(recon_record.c.miles).label("miles"),
        _money_total(recon_record.c.dollars).label("dollars"),
    ).where(recon_record.c.run_id == run_id,
            sa.or_(recon_record.c.side != PARTNER, recon_record.c.response_code.in_(list(SUCCESS_CODES)))
            ).group_by(recon_record.c.side, recon_record.c.txn_type)
    return {(side, txn): (int(n), int(miles or 0), Decimal(dollars or 0).quantize(CENTS))
            for side, txn, n, miles, dollars in conn.execute(query)}


def matched_totals(conn: Connection, run: dict[str, Any]) -> list[dict[str, Any]]:
    """The run's pairs by rule, outcome and transaction type, with both sides' dollars.

    Aggregated in the warehouse (a run has about one pair per record). Each
    side's record is found by (side, business date, line): a record of the
    run's own date is the run's own row (a run stores the records of its
    own files, all of its date); a pending record of an earlier date, paired
    late, is in that date's current run. So every pair finds at most one row
    per side, and a superseded run's report reads its own records. Rows come
    sorted by outcome, rule and transaction type; sums of absent records are 0.
    """
    run_id, day = run["run_id"], run["business_date"]
    days: set[date] = {day}
    for column in (recon_match.c.partner_business_date, recon_match.c.platform_business_date):
        days |= {d for (d,) in conn.execute(sa.select(column).distinct().where(
            recon_match.c.run_id == run_id, column.is_not(None)))}
    earlier = sorted(days - {day})

    def side_records(side: str) -> Any:
        mine = sa.and_(recon_record.c.run_id == run_id, recon_record.c.business_date == day)
        if earlier:
            mine = sa.or_(mine, sa.and_(recon_record.c.business_date.in_(earlier),
                                        recon_record.c.run_id.in_(current_run_ids())))
        return sa.select(recon_record.c.business_date, recon_record.c.line_number,
                         recon_record.c.dollars).where(
            recon_record.c.sponsor_code == run["sponsor_code"], recon_record.c.side == side,
            mine).subquery(side.lower())

    m = recon_match.c
    part, plat = side_records(PARTNER), side_records(PLATFORM)
    query = sa.select(
        m.rule, m.outcome, m.txn_type, sa.func.count().label("pairs"),
        _money_total(part.c.dollars).label("partner_dollars"),
        _money_total(plat.c.dollars).label("platform_dollars"),
    ).select_from(recon_match.outerjoin(part, sa.and_(
        part.c.business_date == m.partner_business_date, part.c.line_number == m.partner_line,
    )).outerjoin(plat, sa.and_(
        plat.c.business_date == m.platform_business_date, plat.c.line_number == m.platform_line,
    ))).where(m.run_id == run_id).group_by(m.rule, m.outcome, m.txn_type)
    with _hash_joins(conn):
        rows = [{"rule": rule, "outcome": outcome, "txn_type": txn, "pairs": int(n),
                 "partner_dollars": Decimal(pd or 0).quantize(CENTS),
                 "platform_dollars": Decimal(qd or 0).quantize(CENTS)}
                for rule, outcome, txn, n, pd, qd in conn.execute(query)]
    return sorted(rows, key=lambda r: (r["outcome"], r["rule"], r["txn_type"]))


def rejected_records(conn: Connection, run_id: int, limit: int | None = None) -> pl.DataFrame:
    """The run's rejected records, without the raw line (reviewers need the reason and where).

    Sorted by side and line; ``limit`` keeps the first ones (a garbled file
    can reject every line).
    """
    t = recon_rejected_record.c
    query = sa.select(t.side, t.file_name, t.line_number, t.reason).where(
        t.run_id == run_id).order_by(t.side, t.line_number)
    if limit is not None:
        query = query.limit(limit)
    return read_frame(conn, query).sort("side", "line_number", maintain_order=True)


def rejected_count(conn: Connection, run_id: int) -> int:
    """How many records the run rejected."""
    return int(conn.execute(sa.select(sa.func.count()).select_from(recon_rejected_record).where(
        recon_rejected_record.c.run_id == run_id)).scalar_one())


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

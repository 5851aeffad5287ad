"""The run's own reads and writes: which version is current, a run's results, the night's totals.

The pipeline and the Airflow plugin decide; this module holds the SQL they
need to do so, as named functions, so no caller builds a query itself.
Writes run inside the caller's write transaction (one run commits or rolls
back as a whole); reads take any connection.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, RowMapping

from reconciliation.warehouse.bulk import Rows, insert_rows
from reconciliation.warehouse.db import analyze, insert_frame
from reconciliation.warehouse.failures import database_errors
from reconciliation.warehouse.schema import (
    recon_break,
    recon_break_event,
    recon_match,
    recon_pending_record,
    recon_record,
    recon_rejected_record,
    recon_run,
    recon_summary,
)
from reconciliation.warehouse.writer import now_utc

#: Tables a successful run bulk-loads: their statistics are refreshed after the commit.
LOADED = (recon_record, recon_match, recon_break, recon_break_event, recon_pending_record,
          recon_rejected_record, recon_summary)


def current_run(conn: Connection, sponsor: str, day: date) -> RowMapping | None:
    """The current version's ``recon_run`` row of a sponsor-day, or None."""
    return conn.execute(recon_run.select().where(
        recon_run.c.sponsor_code == sponsor, recon_run.c.business_date == day,
        recon_run.c.is_current.is_(True))).mappings().first()


def runs_of(conn: Connection, sponsor: str, day: date) -> list[RowMapping]:
    """Every attempt of a sponsor-day, latest version first."""
    return list(conn.execute(recon_run.select().where(
        recon_run.c.sponsor_code == sponsor, recon_run.c.business_date == day,
    ).order_by(recon_run.c.version.desc())).mappings().all())


def break_totals(conn: Connection, run_id: int) -> dict[str, tuple[int, Decimal]]:
    """A run's breaks by type: (count, sum of |delta_dollars|)."""
    rows = conn.execute(
        sa.select(recon_break.c.break_type, sa.func.count(),
                  sa.func.coalesce(sa.func.sum(sa.func.abs(recon_break.c.delta_dollars)), 0))
        .where(recon_break.c.run_id == run_id).group_by(recon_break.c.break_type))
    return {str(kind): (int(count), Decimal(str(stake))) for kind, count, stake in rows}


def write_matches(conn: Connection, run_id: int, sponsor: str, day: date, matches: pl.DataFrame) -> None:
    """Bulk-load a run's ``recon_match`` rows (``matches``: their columns but the run's)."""
    insert_frame(conn, recon_match, matches.with_columns(
        run_id=pl.lit(run_id, dtype=pl.Int64), sponsor_code=pl.lit(sponsor), business_date=pl.lit(day)))


def write_records(conn: Connection, run_id: int, *, rejected: pl.DataFrame, records: Sequence[Rows],
                  pending: pl.DataFrame) -> None:
    """Bulk-load a run's rejected records, usable records and the records behind PENDING breaks.

    Args:
        conn: The run's write transaction.
        run_id: The run.
        rejected: ``recon_rejected_record`` columns but ``run_id``.
        records: This day's usable records, each part with its ``disposition``
            (loaded from where the parse left them: ``bulk.insert_rows``).
        pending: Full records of the PENDING breaks, with ``break_id``.
    """
    ids = pl.lit(run_id, dtype=pl.Int64)
    insert_frame(conn, recon_rejected_record, rejected.with_columns(run_id=ids))
    for part in records:
        constants = {**part.constants, "run_id": run_id}
        insert_rows(conn, recon_record, Rows(part.records, part.decided, constants))
    insert_frame(conn, recon_pending_record, pending.with_columns(run_id=ids))


def write_summary(conn: Connection, summary: pl.DataFrame) -> None:
    """The run's ``recon_summary`` rows."""
    insert_frame(conn, recon_summary, summary)


def finish_run(conn: Connection, run_id: int) -> None:
    """Stamp the run's end (the last write before its commit)."""
    conn.execute(recon_run.update().where(recon_run.c.run_id == run_id).values(finished_at=now_utc()))


def analyze_loaded(engine: Engine) -> None:
    """Refresh the planner statistics of the tables a run bulk-loaded (PostgreSQL; no-op on DuckDB).

    Run after the commit, so the reports that follow are planned on the
    night's real sizes rather than on whatever autovacuum last saw.
    """
    if engine.dialect.name != "postgresql":
        return
    with database_errors(engine.url, "analyzing the loaded tables"), engine.connect() as conn:
        analyze(conn, [t.name for t in LOADED])
        conn.commit()


__all__ = ["LOADED", "analyze_loaded", "break_totals", "current_run", "finish_run", "runs_of",
           "write_matches", "write_records", "write_summary"]

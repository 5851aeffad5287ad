"""The report queries on PostgreSQL before the server has analyzed what a run bulk-loaded.

A run COPYs a day's records, pairs and breaks into tables whose statistics
still say they are empty (autovacuum's ANALYZE comes minutes later, or never
when it is switched off). The per-run report query once chose a nested loop
there that rescanned the day's records for every pair: over 13 minutes for a
300,000-record day. Here a ~300,000-record day (150,000 platform and 156,000
partner records) is reconciled into a database of its own with autovacuum off,
its tables are then put back to the state of never having been analyzed
(whatever the writer did), and every statement the reports run is replayed
under EXPLAIN: none may join two of a run's big tables by a nested loop that
filters instead of looking up, and the reports must finish well inside a
statement timeout.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from reconciliation.config import settings_from_dict
from reconciliation.generate import generate
from reconciliation.pipeline import run_day
from reconciliation.reports import write_run_reports
from reconciliation.warehouse.db import engine_for
from reconciliation.warehouse.migrate import upgrade
from tests.conftest import throwaway_pg_database

pytestmark = pytest.mark.postgres

DAY = date(2026, 11, 20)
SPONSOR = "ABCD"
RECORDS = 150_000
#: Tables that hold a row per record, pair or break of a run.
BIG = ("recon_record", "recon_match", "recon_break", "recon_break_event", "recon_rejected_record",
       "recon_pending_record")
#: Far above what the reports take with a sound plan (a few seconds), far below the bad plan's minutes.
TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def stale_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """A database of its own holding one ~300k-record run, its statistics as if never analyzed."""
    with throwaway_pg_database("recon_plans") as url:
        engine = engine_for(url)
        upgrade(engine)
        with engine.begin() as conn:
            for table in BIG:
                conn.execute(sa.text(f"ALTER TABLE {table} SET (autovacuum_enabled = false)"))
        inbox = tmp_path_factory.mktemp("inbox")
        settings = replace(settings_from_dict({"validation": {"enabled": False},
                                               "reports": {"enabled": False}}), warehouse_url=url)
        generate(inbox, sponsors=[SPONSOR], start=DAY, days=1, records=RECORDS, break_rate=0.02,
                 seed=11, settings=settings)
        outcome = run_day(settings, SPONSOR, DAY, inbox)
        assert outcome.status == "SUCCEEDED", outcome.error
        forget_statistics(engine)
        yield url, int(outcome.run_id)


def forget_statistics(engine: sa.Engine) -> None:
    """Put the run's tables back to never having been analyzed (as right after a bulk load).

    The planner then knows neither their size nor their columns' values:
    ``reltuples`` -1 and no ``pg_statistic`` rows, the state a fresh
    warehouse's tables are in until autovacuum gets to them.
    """
    with engine.begin() as conn:
        oids = [conn.execute(sa.text("SELECT CAST(:t AS regclass)::oid"), {"t": t}).scalar_one() for t in BIG]
        conn.execute(sa.text("DELETE FROM pg_statistic WHERE starelid = ANY(:o)"), {"o": oids})
        conn.execute(sa.text("UPDATE pg_class SET reltuples = -1, relpages = 0 WHERE oid = ANY(:o)"),
                     {"o": oids})
        rows = conn.execute(sa.text(
            "SELECT relname, n_live_tup FROM pg_stat_user_tables WHERE relname = 'recon_record'")).all()
    assert rows and rows[0][1] > 250_000, rows


def _scans(node: dict[str, Any]) -> set[str]:
    """The tables a plan node reads, itself and below."""
    found = {node["Relation Name"]} if "Relation Name" in node else set()
    for child in node.get("Plans", []):
        found |= _scans(child)
    return found


def quadratic_joins(node: dict[str, Any]) -> list[str]:
    """Nested loops that filter pairs of rows of two big tables (instead of an index lookup)."""
    bad: list[str] = []
    children = node.get("Plans", [])
    if node.get("Node Type") == "Nested Loop" and "Join Filter" in node and len(children) == 2:
        outer, inner = (_scans(child) & set(BIG) for child in children)
        if outer and inner:
            bad.append(f"{sorted(outer)} x {sorted(inner)} on {node['Join Filter']}")
    for child in children:
        bad += quadratic_joins(child)
    return bad


def test_reports_plan_without_quadratic_joins_on_unanalyzed_tables(
        stale_warehouse: tuple[str, int], tmp_path: Path) -> None:
    url, run_id = stale_warehouse
    engine = sa.create_engine(url, connect_args={"options": f"-c statement_timeout={TIMEOUT_MS}"})
    statements: list[tuple[str, Any]] = []

    @event.listens_for(engine, "before_cursor_execute")
    def capture(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        statements.append((statement, params))

    settings = replace(settings_from_dict({}), warehouse_url=url)
    started = time.monotonic()
    paths = write_run_reports(engine, run_id, settings, out_dir=tmp_path)
    elapsed = time.monotonic() - started
    assert paths["xlsx"].is_file() and paths["night"].is_file()
    assert elapsed < TIMEOUT_MS / 1000, elapsed

    event.remove(engine, "before_cursor_execute", capture)
    explained = 0
    with engine.connect() as conn:
        for statement, params in statements:
            head = statement.lstrip().split(None, 1)[0].upper()
            if head in ("SET", "RESET"):  # the session settings the statement ran under
                conn.exec_driver_sql(statement, params or ())
                continue
            if head != "SELECT" or not any(table in statement for table in BIG):
                continue
            plan = conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {statement}", params or ()).scalar_one()
            bad = quadratic_joins(plan[0]["Plan"])
            assert not bad, f"{' '.join(statement.split())[:300]}\n{bad}"
            explained += 1
    engine.dispose()
    assert explained >= 8, statements

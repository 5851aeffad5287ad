"""The daily-limit rule reads only the collectors who could cross the limit, on both warehouses.

A big night's platform REDEEMs stay in the database: ``limit_day_records``
given the limit returns the records of collectors whose records' positive
contributions (a REDEEM's dollars, a REVERSE's refund) sum past it, and the
rule decides the same breaks from them as from every record of the day.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import polars as pl
from polars.testing import assert_frame_equal

from reconciliation.config import Settings
from reconciliation.matching.limit import daily_limit_exceeded
from reconciliation.warehouse.db import engine_for, ensure_schema, insert_frame, write_transaction
from reconciliation.warehouse.limit import limit_day_records
from reconciliation.warehouse.schema import recon_record
from reconciliation.warehouse.writer import insert_run
from tests.unit.matching.builders import DAY, Q, frame

LIMIT = Decimal("500.00")


def seed(url: str) -> None:
    ensure_schema(engine_for(url))
    rows = [
        Q(3, "REDEEM", "A1", units=30, dollars="300.00", collector=1, at="10:00:00"),
        Q(4, "REDEEM", "A2", units=30, dollars="300.00", collector=1, at="11:00:00"),  # crosses
        Q(5, "REDEEM", "B1", units=40, dollars="400.00", collector=2, at="10:00:00"),
        Q(6, "REVERSE", "B2", orig="B1", units=40, dollars="400.00", collector=2, at="10:30:00"),
        Q(7, "REDEEM", "B3", units=20, dollars="200.00", collector=2, at="11:00:00"),  # nets 200
        Q(8, "REDEEM", "C1", units=10, dollars="100.00", collector=3, at="10:00:00"),
    ]
    now = datetime(2026, 11, 21, 6, tzinfo=UTC)
    with write_transaction(engine_for(url)) as conn:
        for day in (DAY, DAY + timedelta(days=1)):
            run_id = insert_run(conn, {"sponsor_code": "ABCD", "business_date": day, "version": 1,
                                       "status": "SUCCEEDED", "is_current": True, "started_at": now})
            if day == DAY:
                insert_frame(conn, recon_record, frame(*rows).with_columns(
                    run_id=pl.lit(run_id, dtype=pl.Int64), disposition=pl.lit("MATCHED")))


def test_only_collectors_who_could_cross_are_read_and_the_breaks_are_the_same(warehouse_url: str) -> None:
    seed(warehouse_url)
    zone = Settings().zone_for("ABCD")
    start, end = zone.limit_day(DAY)
    with engine_for(warehouse_url).connect() as conn:
        every = limit_day_records(conn, DAY, ["ABCD"], start, end)
        near = limit_day_records(conn, DAY, ["ABCD"], start, end, LIMIT)
    assert sorted(set(every["collector_hash"])) == [1, 2, 3]
    assert sorted(set(near["collector_hash"])) == [1, 2]  # 2: 400 + 200 of REDEEMs could have crossed
    none = pl.Series(dtype=pl.String)
    found = daily_limit_exceeded(near, DAY, zone, LIMIT, none)
    assert found["collector_hash"].to_list() == [1]
    assert_frame_equal(found, daily_limit_exceeded(every, DAY, zone, LIMIT, none))

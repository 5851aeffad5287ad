"""The run's history on both warehouses: the whole look-back, or only what its reversals can find."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl

from reconciliation.matching.checks import named_by_reversals
from reconciliation.warehouse.context import HISTORY_COLUMNS, load_context
from reconciliation.warehouse.db import engine_for, ensure_schema, insert_frame, write_transaction
from reconciliation.warehouse.schema import recon_record
from reconciliation.warehouse.writer import insert_run
from tests.unit.matching.builders import DAY, P, Q, frame

EARLIER = DAY - timedelta(days=1)


def seed(url: str) -> None:
    engine = engine_for(url)
    ensure_schema(engine)
    now = datetime(2026, 11, 20, 6, tzinfo=UTC)
    days = {
        ("ABCD", EARLIER): [Q(3, "REDEEM", "C1"), Q(4, "REDEEM", "C2"), Q(5, "REVERSE", "R1", orig="C1"),
                            Q(6, "REVERSE", "R2", orig="C2"), P(3, "REDEEM", "C1")],
        ("ABCD", DAY - timedelta(days=9)): [Q(3, "REDEEM", "C3")],  # beyond the look-back
        ("EFGH", EARLIER): [Q(3, "REDEEM", "C1")],  # another sponsor
    }
    with write_transaction(engine) as conn:
        for (sponsor, day), rows in days.items():
            run_id = insert_run(conn, {"sponsor_code": sponsor, "business_date": day, "version": 1,
                                       "status": "SUCCEEDED", "is_current": True, "started_at": now})
            records = frame(*rows).with_columns(sponsor_code=pl.lit(sponsor), business_date=pl.lit(day))
            insert_frame(conn, recon_record, records.with_columns(
                run_id=pl.lit(run_id, dtype=pl.Int64), disposition=pl.lit("MATCHED")))


def history(url: str, keys: pl.Series | None) -> pl.DataFrame:
    with write_transaction(engine_for(url)) as conn:
        return load_context(conn, "ABCD", DAY, 1, 7, keys=keys).history


def found(h: pl.DataFrame) -> set[tuple[str, str, str]]:
    return {(r["side"], r["txn_type"], r["confirmation_number"]) for r in h.iter_rows(named=True)}


def test_history_is_the_look_back_or_only_what_the_reversals_name(warehouse_url: str) -> None:
    seed(warehouse_url)
    everything = history(warehouse_url, None)
    assert everything.columns == list(HISTORY_COLUMNS)
    assert everything.height == 5
    today = frame(Q(3, "REVERSE", "R7", orig="C1"), Q(4, "REDEEM", "C9"))
    keys = named_by_reversals(today, frame())
    assert keys.to_list() == ["C1"]
    slim = history(warehouse_url, keys)
    assert found(slim) == {("PLATFORM", "REDEEM", "C1"), ("PLATFORM", "REVERSE", "R1"),
                           ("PARTNER", "REDEEM", "C1")}
    assert slim.schema == everything.schema
    again = history(warehouse_url, keys)  # the temporary table is gone after each read
    assert again.sort(pl.all()).equals(slim.sort(pl.all()))
    none = history(warehouse_url, pl.Series([], dtype=pl.String))
    assert none.height == 0 and none.schema == everything.schema

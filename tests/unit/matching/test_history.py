"""The run's history on both warehouses: the whole look-back, or only what its reversals can find."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from reconciliation.config import parse_zone
from reconciliation.matching.checks import named_by_reversals
from reconciliation.matching.engine import MatchParams, reconcile
from reconciliation.warehouse.context import HISTORY_COLUMNS, load_context
from reconciliation.warehouse.db import engine_for, ensure_schema, insert_frame, write_transaction
from reconciliation.warehouse.schema import recon_record
from reconciliation.warehouse.writer import insert_run
from tests.unit.matching.builders import DAY, P, Q, frame, pending

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


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_history_limited_to_the_named_numbers_decides_the_same_breaks(seed: int) -> None:
    """What ``keys`` leaves out of the history is never read by a rule."""
    rng = random.Random(seed)

    def records(count: int, first_line: int, **kw: object) -> list[dict[str, object]]:
        rows = []
        for i in range(count):
            txn = rng.choice(["REDEEM", "REVERSE"])
            rows.append(rng.choice([P, Q])(first_line + i, txn, f"C{rng.randint(1, 30)}",
                                           orig=f"C{rng.randint(1, 30)}" if txn == "REVERSE" else None,
                                           units=rng.choice([1, 2]), at=f"{rng.randint(0, 23):02d}:00:00",
                                           **kw))
        return rows

    today = records(40, 3)
    earlier = frame(*records(60, 3, day=EARLIER)).with_columns(
        side=pl.col("side").cast(pl.String), txn_type=pl.col("txn_type").cast(pl.String),
        disposition=pl.lit("MATCHED")).select(HISTORY_COLUMNS)
    partner = frame(*(r for r in today if r["side"] == "PARTNER"))
    platform = frame(*(r for r in today if r["side"] == "PLATFORM"))
    keys = named_by_reversals(partner, platform).implode()
    looked_up_by = pl.when(pl.col("txn_type") == "REDEEM").then(pl.col("confirmation_number")).otherwise(
        pl.col("original_confirmation_number"))
    named = earlier.filter(looked_up_by.is_in(keys))  # what load_history(keys=) selects
    params = MatchParams("ABCD", DAY, parse_zone("EST"))
    full = reconcile(partner, platform, pending(), earlier, params)
    slim = reconcile(partner, platform, pending(), named, params)
    assert named.height < earlier.height
    assert full.breaks.equals(slim.breaks)

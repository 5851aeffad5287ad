"""Matching on the columns its rules read decides exactly what matching on full records decides.

The pipeline hands matching only ``MATCH_COLUMNS`` of the parse's Parquet
files and gathers every other field by ``rid`` for the records that need
them (fallback candidates, break rows, PENDING records). Whatever a day
holds, the breaks (every field of them), the matches and the dispositions
must be those of the full records in memory.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import polars as pl
from polars.testing import assert_frame_equal

from reconciliation.config import Settings
from reconciliation.generate import generate
from reconciliation.inbox import discover
from reconciliation.matching.checks import Rates
from reconciliation.matching.engine import MatchParams, MatchResult, reconcile
from reconciliation.matching.sources import DETAIL_COLUMNS, MATCH_COLUMNS, RecordSource, Segment
from reconciliation.parsing import parse_file
from reconciliation.records import PARTNER, PLATFORM, RECORD_SCHEMA
from tests.unit.matching.builders import P, Q, frame, pending

DAY = date(2026, 11, 20)


def test_gather_takes_records_by_rid_from_memory_and_from_parquet(tmp_path: Path) -> None:
    first = frame(P(3, "REDEEM", "C1", store="S1"), P(4, "REDEEM", "C2", store="S2"))
    second = frame(Q(3, "REDEEM", "C1", store="S3"), Q(4, "REDEEM", "C2", store="S4"),
                   Q(5, "REDEEM", "C3", store="S5"))
    second.write_parquet(tmp_path / "platform.parquet")
    source = RecordSource((Segment(PARTNER, False, 0, 2, frame=first),
                           Segment(PLATFORM, False, 2, 3, path=tmp_path / "platform.parquet")))
    got = source.gather(pl.Series([4, None, 0, 2, 4], dtype=pl.Int64), ["store_id", "line_number"])
    assert got.rows() == [("S5", 5), (None, None), ("S1", 3), ("S3", 3), ("S5", 5)]
    assert got.schema == pl.Schema({"store_id": pl.String(), "line_number": pl.Int64()})


def both_ways(tmp_path: Path, pend: pl.DataFrame) -> tuple[MatchResult, MatchResult]:
    """One generated day matched on full records in memory and on the spilled key columns."""
    settings = Settings(state_dir=tmp_path / "state")
    generate(tmp_path, sponsors=["ABCD"], start=DAY, days=1, records=4000, break_rate=0.08, seed=5,
             settings=settings)
    files = discover(tmp_path, DAY, settings)["ABCD"]
    parsed = {side: parse_file(files[side].path, side, hash_key=settings.hash_key(),
                               spill_to=tmp_path / f"{side}.parquet") for side in (PARTNER, PLATFORM)}
    params = MatchParams("ABCD", DAY, settings.zone_for("ABCD"), settings.match_tolerance,
                         settings.grace_days, Rates(settings.miles_per_unit, settings.dollars_per_unit))
    history = pl.DataFrame(schema={"side": pl.String, "business_date": pl.Date, "line_number": pl.Int64,
                                   "txn_type": pl.String, "confirmation_number": pl.String,
                                   "original_confirmation_number": pl.String,
                                   "ts": RECORD_SCHEMA["ts"], "miles": pl.Int64,
                                   "disposition": pl.String, "response_code": pl.String})
    full = reconcile(parsed[PARTNER].frame(), parsed[PLATFORM].frame(), pend, history, params)
    spilled = {side: p.records_path for side, p in parsed.items() if p.records_path is not None}
    assert set(spilled) == {PARTNER, PLATFORM}
    narrow = reconcile(*(parsed[side].frame(*MATCH_COLUMNS) for side in (PARTNER, PLATFORM)), pend,
                       history, params, spilled)
    return full, narrow


def test_spilled_key_columns_decide_what_full_records_decide(tmp_path: Path) -> None:
    earlier = DAY - timedelta(days=1)
    pend = pending((P(9, "REDEEM", "LATE1", day=earlier, store="S9"), 71),
                   (Q(9, "REDEEM", "GONE1", day=earlier, store="S8"), 72))
    full, narrow = both_ways(tmp_path, pend)
    assert full.breaks.height > 100
    assert set(full.breaks["break_type"]) >= {"DUPLICATE", "AMOUNT_MISMATCH", "MISSING_ON_PLATFORM",
                                              "MISSING_AT_PARTNER"}
    assert "FALLBACK" in full.matches["rule"].to_list()  # store, device and trace gathered to pair
    assert full.breaks.select(DETAIL_FIELDS_SHOWN).null_count().row(0) == (0, 0, 0)
    assert_frame_equal(narrow.breaks, full.breaks)
    assert_frame_equal(narrow.matches, full.matches)
    assert_frame_equal(narrow.pending_updates, full.pending_updates)
    assert_frame_equal(narrow.dispositions, full.dispositions)
    rids = full.breaks["record_rid"].drop_nulls()
    assert_frame_equal(narrow.records(rids), full.records(rids))
    assert narrow.records(rids).columns == RECORD_SCHEMA.names()
    assert set(DETAIL_COLUMNS).isdisjoint(narrow.cands.columns)


#: Detail fields a break shows reviewers, filled after the rules from the full records.
DETAIL_FIELDS_SHOWN = ["store_id", "trace_id", "collector_last4"]

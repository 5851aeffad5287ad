"""``recon generate``'s ground truth equals what ``recon run`` finds (issue: reconciliation core).

Generated nights (every break type, both layouts, two days so carry-forward,
late reversals and the cross-sponsor daily limit happen) are reconciled with
the real command into real warehouses; the current breaks must be exactly
the injected ones, the rejected records exactly the expected ones, and every
run's summary must prove conservation.
"""

from __future__ import annotations

import random
import shutil
import tempfile
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciliation.cli import main
from reconciliation.generate import generate
from reconciliation.warehouse.db import dispose_all, engine_for
from reconciliation.warehouse.schema import recon_break, recon_rejected_record, recon_run, recon_summary

START = date(2026, 11, 20)


ENGINE_ONLY = Path(__file__).parents[1] / "golden" / "engine-only.yaml"


def run_days(inbox: Path, url: str, days: int, *extra: str) -> list[int]:
    return [main(["run", "--date", str(START + timedelta(days=i)), "--inbox", str(inbox),
                  "--warehouse", url, *extra]) for i in range(days)]


def found_breaks(url: str) -> set[tuple]:
    with engine_for(url).connect() as conn:
        current = sa.select(recon_run.c.run_id).where(recon_run.c.is_current.is_(True))
        return {(r.sponsor_code, str(r.business_date), r.break_type, r.side, r.txn_type,
                 r.confirmation_number or "", r.status)
                for r in conn.execute(sa.select(recon_break).where(recon_break.c.run_id.in_(current)))}


def truth_breaks(inbox: Path) -> set[tuple]:
    truth = pl.read_csv(inbox / "ground_truth.csv", infer_schema=False)
    return {(r["sponsor_code"], r["business_date"], r["break_type"], r["side"], r["txn_type"],
             r["confirmation_number"] or "", r["expected_status"]) for r in truth.iter_rows(named=True)}


def assert_conserved(url: str) -> None:
    with engine_for(url).connect() as conn:
        for row in conn.execute(sa.select(recon_summary)):
            placed = row.rejected + row.declined + row.matched + row.settled + row.in_break
            assert placed == row.records, (row.sponsor_code, row.business_date, row.side)


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RECON_HASH_KEY", "ground-truth-key")


def test_generated_night_finds_exactly_the_injected_breaks(tmp_path: Path, warehouse_url: str) -> None:
    inbox = tmp_path / "inbox"
    generate(inbox, sponsors=["ABCD", "EFGH", "WXYZ"], start=START, days=2, records=1500,
             break_rate=0.01, seed=11, csv_sponsors={"WXYZ"})
    assert run_days(inbox, warehouse_url, 2) == [0, 0]
    expected = truth_breaks(inbox)
    assert {b[2] for b in expected} >= {"MISSING_ON_PLATFORM", "MISSING_AT_PARTNER", "AMOUNT_MISMATCH",
                                       "TIMESTAMP_DRIFT", "DUPLICATE", "ORPHAN_REVERSAL", "LATE_REVERSAL",
                                       "DOUBLE_REVERSAL", "REVERSAL_MISMATCH", "CONVERSION_ERROR",
                                       "DAILY_LIMIT_EXCEEDED"}
    found = found_breaks(warehouse_url)
    assert found - expected == set()
    assert expected - found == set()
    rejected = pl.read_csv(inbox / "rejected.csv", infer_schema=False)
    with engine_for(warehouse_url).connect() as conn:
        stored = conn.execute(sa.select(sa.func.count()).select_from(recon_rejected_record)).scalar_one()
        masked = conn.execute(sa.select(recon_rejected_record.c.raw_line)).scalars().all()
    assert stored == rejected.height
    assert not any(any(ch.isdigit() for ch in line) and "4000" in line and "*" not in line
                   for line in masked)
    assert_conserved(warehouse_url)


def _shuffle_details(folder: Path, seed: int) -> None:
    """Shuffle the D records of every standard file (trailers stay valid: totals ignore order).

    Records that share (txn_type, confirmation number) keep their relative
    order: which of them is the duplicate is defined by line order (spec §4.1).
    """
    rng = random.Random(seed)
    for path in folder.glob("AMCASH_*.txt"):
        lines = path.read_text().splitlines()
        body = lines[2:-2]
        order = list(range(len(body)))
        rng.shuffle(order)
        groups: dict[tuple[str, str], list[int]] = {}
        for index, line in enumerate(body):
            fields = line.split("%%")
            key = (fields[1], fields[2]) if fields[2] else ("", str(index))
            groups.setdefault(key, []).append(index)
        slots = {key: sorted(order.index(i) for i in members) for key, members in groups.items()}
        shuffled = [""] * len(body)
        for key, members in groups.items():
            for original, slot in zip(members, slots[key], strict=True):
                shuffled[slot] = body[original]
        path.write_text("\n".join([*lines[:2], *shuffled, *lines[-2:]]) + "\n")


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000), rate=st.sampled_from([0.005, 0.02, 0.05]))
def test_random_nights_conserve_records_and_do_not_depend_on_order(tmp_path: Path, seed: int,
                                                                    rate: float) -> None:
    base = Path(tempfile.mkdtemp(dir=tmp_path))
    inbox = base / "inbox"
    generate(inbox, sponsors=["ABCD", "EFGH"], start=START, days=2, records=300, break_rate=rate,
             seed=seed, clean_rate=rate)
    url = f"duckdb:///{base / 'a.duckdb'}"
    assert run_days(inbox, url, 2, "--config", str(ENGINE_ONLY)) == [0, 0]
    assert_conserved(url)
    first = found_breaks(url)
    assert first == truth_breaks(inbox)
    shuffled = base / "shuffled"
    shutil.copytree(inbox, shuffled)
    _shuffle_details(shuffled, seed)
    url2 = f"duckdb:///{base / 'b.duckdb'}"
    assert run_days(shuffled, url2, 2, "--config", str(ENGINE_ONLY)) == [0, 0]
    assert_conserved(url2)
    assert found_breaks(url2) == first
    dispose_all()

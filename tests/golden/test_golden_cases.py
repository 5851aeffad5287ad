"""Golden cases: each folder holds input files beside the breaks they must produce.

Every date found in a folder is run in date order through the real ``recon
run`` command into a real warehouse (DuckDB and PostgreSQL); the current
breaks, runs and rejected records must equal the folder's expectations.
"""

from __future__ import annotations

import csv
import re
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from reconciliation.cli import main
from reconciliation.warehouse.db import engine_for
from reconciliation.warehouse.schema import recon_break, recon_rejected_record, recon_run, recon_summary

HERE = Path(__file__).parent
ENGINE_ONLY = HERE / "engine-only.yaml"
CASES = sorted(p.name for p in HERE.iterdir() if (p / "expected_breaks.csv").exists())


def _rows(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open() as handle:
        return list(csv.DictReader(handle))


def _dates(folder: Path) -> list[date]:
    found = {re.search(r"_(\d{8})_\d{3}\.", p.name) for p in folder.iterdir()}
    return sorted({date(int(m[1][:4]), int(m[1][4:6]), int(m[1][6:])) for m in found if m})


def run_case(folder: Path, url: str) -> list[int]:
    """Run every date of a case; returns the exit statuses."""
    return [main(["run", "--date", str(d), "--inbox", str(folder), "--warehouse", url,
                  "--config", str(ENGINE_ONLY)]) for d in _dates(folder)]


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RECON_HASH_KEY", "golden-test-key")


@pytest.mark.parametrize("name", CASES)
def test_golden_case(name: str, warehouse_url: str) -> None:
    folder = HERE / name
    expected_runs = _rows(folder / "expected_runs.csv")
    statuses = run_case(folder, warehouse_url)
    assert statuses == [3 if expected_runs else 0] * len(statuses)
    engine = engine_for(warehouse_url)
    with engine.connect() as conn:
        current = sa.select(recon_run.c.run_id).where(recon_run.c.is_current.is_(True))
        found = {
            (r.sponsor_code, str(r.business_date), r.break_type, r.side, r.txn_type or "",
             r.confirmation_number or "", r.status)
            for r in conn.execute(sa.select(recon_break).where(recon_break.c.run_id.in_(current)))
        }
        expected = {tuple(r.values()) for r in _rows(folder / "expected_breaks.csv")}
        assert found == expected
        for run in expected_runs:
            row = conn.execute(sa.select(recon_run).where(
                recon_run.c.sponsor_code == run["sponsor_code"],
                recon_run.c.business_date == date.fromisoformat(run["business_date"]))).one()
            assert row.status == run["status"]
            assert run["error_contains"].lower() in row.error.lower()
            assert row.is_current is False
            assert "AMCASH_POS_" in row.error  # the reason names the file
        rejected = {(r.side, r.line_number, r.reason) for r in conn.execute(sa.select(recon_rejected_record))}
        for want in _rows(folder / "expected_rejected.csv"):
            assert any(side == want["side"] and line == int(want["line_number"])
                       and want["reason_contains"] in reason for side, line, reason in rejected), want
        assert len(rejected) == len(_rows(folder / "expected_rejected.csv"))
        for row in conn.execute(sa.select(recon_summary).where(recon_summary.c.run_id.in_(current))):
            placed = row.rejected + row.declined + row.matched + row.settled + row.in_break
            assert placed == row.records, f"conservation on {row.side}"

"""Golden cases: each folder holds input files beside the breaks they must produce.

Every date found in a folder is run in date order through the real ``recon
run`` command into a real warehouse (DuckDB and PostgreSQL); the current
breaks, runs and rejected records must equal the folder's expectations.
Breaks are compared as multisets of whole rows, money included (each side's
miles and ``delta_dollars``): a doubled break or a wrong amount fails, and a
folder without dated input files is an error, never a trivial pass.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

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
    dates = sorted({date(int(m[1][:4]), int(m[1][4:6]), int(m[1][6:])) for m in found if m})
    if not dates:
        raise AssertionError(f"golden case {folder.name} has no dated input files: nothing would be tested")
    return dates


def run_case(folder: Path, url: str) -> list[int]:
    """Run every date of a case; returns the exit statuses."""
    return [main(["run", "--date", str(d), "--inbox", str(folder), "--warehouse", url,
                  "--config", str(ENGINE_ONLY)]) for d in _dates(folder)]


#: The recon_break columns a case pins, in expected_breaks.csv's order.
BREAK_COLUMNS = ("sponsor_code", "business_date", "break_type", "side", "txn_type", "confirmation_number",
                 "status", "partner_miles", "platform_miles", "delta_dollars")


def _cell(value: Any) -> str:
    """One value as expected_breaks.csv writes it: empty for null, money with two decimals."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    return str(value)


def break_row(row: Any) -> tuple[str, ...]:
    """A warehouse break as a row of expected_breaks.csv."""
    return tuple(_cell(getattr(row, name)) for name in BREAK_COLUMNS)


def break_differences(found: Iterable[tuple[str, ...]], expected: Iterable[dict[str, str]]) -> list[str]:
    """What differs between the breaks found and the expected ones, compared as multisets of rows.

    Returns:
        One line per surplus or missing row (with its count); empty when they agree.
    """
    have = Counter(tuple(row) for row in found)
    want: Counter[tuple[str, ...]] = Counter()
    for row in expected:
        if tuple(row) != BREAK_COLUMNS:
            raise AssertionError(f"expected_breaks.csv must have the columns {BREAK_COLUMNS}, "
                                 f"not {tuple(row)}")
        want[tuple(row[name] for name in BREAK_COLUMNS)] += 1
    lines = [f"unexpected x{n}: {row}" for row, n in sorted((have - want).items())]
    return lines + [f"missing x{n}: {row}" for row, n in sorted((want - have).items())]


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
        found = [break_row(r) for r in conn.execute(
            sa.select(recon_break).where(recon_break.c.run_id.in_(current)))]
        assert break_differences(found, _rows(folder / "expected_breaks.csv")) == []
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


EXPECTED = [dict(zip(BREAK_COLUMNS, row, strict=True)) for row in (
    ("ABCD", "2026-11-20", "DUPLICATE", "PARTNER", "REDEEM", "K1", "OPEN", "95", "", "-10.00"),
    ("ABCD", "2026-11-20", "AMOUNT_MISMATCH", "BOTH", "REDEEM", "A1", "OPEN", "285", "190", "-10.00"),
)]


def test_the_comparison_passes_only_on_the_same_rows_with_the_same_money() -> None:
    rows = [tuple(r.values()) for r in EXPECTED]
    assert break_differences(rows, EXPECTED) == []
    assert break_differences(rows[::-1], EXPECTED) == []  # order does not matter
    doubled = break_differences([*rows, rows[0]], EXPECTED)  # a set would collapse the second copy
    assert doubled == [f"unexpected x1: {rows[0]}"]
    wrong_delta = [rows[0], (*rows[1][:9], "-1.00")]
    assert len(break_differences(wrong_delta, EXPECTED)) == 2
    wrong_miles = [rows[0], (*rows[1][:7], "285", "95", "-10.00")]
    assert len(break_differences(wrong_miles, EXPECTED)) == 2
    assert break_differences(rows[:1], EXPECTED) == [f"missing x1: {rows[1]}"]


def test_the_comparison_refuses_an_expectation_without_money_columns() -> None:
    old_layout = [{k: v for k, v in row.items() if k not in ("partner_miles", "platform_miles",
                                                           "delta_dollars")} for row in EXPECTED]
    with pytest.raises(AssertionError, match="columns"):
        break_differences([], old_layout)


def test_a_case_without_dated_input_files_fails(tmp_path: Path) -> None:
    (tmp_path / "expected_breaks.csv").write_text(",".join(BREAK_COLUMNS) + "\n")
    (tmp_path / "case.md").write_text("a case whose input files were forgotten\n")
    with pytest.raises(AssertionError, match="no dated input files"):
        run_case(tmp_path, f"duckdb:///{tmp_path / 'w.duckdb'}")

"""Report files are whole or absent, and their text never reads as a spreadsheet formula."""

from __future__ import annotations

import csv
import io
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import openpyxl
import polars as pl
import pytest
import sqlalchemy as sa

from reconciliation.cli import main
from reconciliation.config import Settings
from reconciliation.reports import excel
from reconciliation.reports.columns import (
    BREAK_FIELDS,
    FIELD_NAMES,
    cell_text,
    spreadsheet_text,
    spreadsheet_text_expr,
)
from reconciliation.reports.files import atomic_path, write_text
from reconciliation.reports.model import build_run_report
from reconciliation.warehouse.db import engine_for
from tests.unit.reports.conftest import Seeded
from tests.unit.reports.seed import LAST_DAY
from tests.unit.reports.truth import current_run

D = LAST_DAY.isoformat()
NOTE = '=HYPERLINK("http://x","y")'
BY = "@SUM(A1)"


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RECON_HASH_KEY", "test-key")
    monkeypatch.delenv("RECON_CONFIG", raising=False)
    monkeypatch.delenv("RECON_FAILPOINT", raising=False)


# --- the rule ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "shown"), [
    ("=1+2", "'=1+2"), ("+1", "'+1"), ("-1", "'-1"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\t=1", "'\t=1"), ("\r=1", "'\r=1"), ("a=b", "a=b"), ("", ""), ("'=1", "'=1"), (" =1", " =1"),
])
def test_text_that_a_spreadsheet_would_run_is_guarded(text: str, shown: str) -> None:
    assert spreadsheet_text(text) == shown
    assert cell_text(text, "text") == shown
    column = pl.DataFrame({"t": [text, None]}, schema={"t": pl.String})
    assert column.select(spreadsheet_text_expr(pl.col("t")))["t"].to_list() == [shown, None]


def test_negative_money_stays_a_number() -> None:
    assert cell_text(Decimal("-12.5"), "money") == "-12.50"
    assert cell_text(-3, "int") == "-3"


# --- atomic writes ----------------------------------------------------------------------------

def test_a_failed_write_keeps_the_previous_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    write_text(target, "complete")
    with pytest.raises(OSError, match="disk full"), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise OSError("disk full")
    assert target.read_text() == "complete"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]


def test_a_written_report_has_the_permissions_of_a_plain_write(tmp_path: Path) -> None:
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    atomic = write_text(tmp_path / "atomic.txt", "x")
    assert stat.S_IMODE(atomic.stat().st_mode) == stat.S_IMODE(plain.stat().st_mode)


@pytest.fixture
def report(seeded: Seeded) -> Iterator[object]:
    with engine_for(seeded.url).connect() as conn:
        yield build_run_report(conn, current_run(seeded.url, "ABCD", LAST_DAY)["run_id"], Settings())


def test_a_workbook_failing_mid_write_leaves_the_previous_one(
        report: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = excel.write_workbook(report, tmp_path / "breaks.xlsx")  # type: ignore[arg-type]
    before = path.read_bytes()
    rows = excel._rows_xml

    def half_then_fail(frame: pl.DataFrame, fields, styles, first_row: int):  # type: ignore[no-untyped-def]
        yield next(rows(frame, fields, styles, first_row))
        raise OSError("No space left on device")

    monkeypatch.setattr(excel, "_rows_xml", half_then_fail)
    with pytest.raises(Exception, match="No space"):  # xlsxwriter wraps it in FileCreateError
        excel.write_workbook(report, path)  # type: ignore[arg-type]
    assert path.read_bytes() == before
    assert openpyxl.load_workbook(path).sheetnames == excel.sheet_names()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["breaks.xlsx"]
    with pytest.raises(Exception, match="No space"):  # xlsxwriter wraps it in FileCreateError
        excel.write_workbook(report, tmp_path / "first.xlsx")  # type: ignore[arg-type]
    assert not (tmp_path / "first.xlsx").exists()


def test_a_report_killed_while_writing_the_workbook_leaves_the_previous_one(
        duckdb_seed: Seeded, tmp_path: Path) -> None:
    # Files are what is at stake, not the warehouse: one backend is enough.
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(duckdb_seed.url.removeprefix("duckdb:///"), warehouse)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "reconciliation.cli", "report", "--date", D, "--sponsor", "ABCD",
           "--warehouse", f"duckdb:///{warehouse}", "--out", str(out)]
    env = {**os.environ, "RECON_HASH_KEY": "test-key"}
    # (a workbook killed before any was complete leaves none: test_a_workbook_failing_mid_write_...)
    done = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    [path] = out.rglob("breaks.xlsx")
    before = path.read_bytes()
    killed = subprocess.run(cmd, env={**env, "RECON_FAILPOINT": "report-xlsx"}, cwd=tmp_path,
                            capture_output=True, text=True, timeout=300)
    assert killed.returncode == -9
    assert path.read_bytes() == before
    assert openpyxl.load_workbook(path).sheetnames == excel.sheet_names()


# --- formula injection through the review workflow ---------------------------------------------

def test_a_note_and_name_that_look_like_formulas_stay_text_everywhere(
        mutable: Seeded, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with engine_for(mutable.url).connect() as conn:
        break_id = conn.execute(sa.text(
            "SELECT b.break_id FROM recon_break b JOIN recon_run r ON r.run_id = b.run_id "
            "WHERE r.is_current AND b.sponsor_code = 'ABCD' AND b.business_date = :d "
            "AND b.status <> 'RESOLVED' AND b.delta_dollars < 0 ORDER BY b.break_id LIMIT 1"),
            {"d": LAST_DAY}).scalar_one()
    base = ["--warehouse", mutable.url]
    assert main(["breaks", "resolve", str(break_id), "--note", NOTE, "--by", BY, *base]) == 0
    out = tmp_path / "out"
    assert main(["report", "--date", D, "--sponsor", "ABCD", *base, "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["breaks", "list", "--date", D, "--sponsor", "ABCD", "--status", "all",
                 "--format", "csv", *base]) == 0
    listed = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    [csv_path] = out.rglob("breaks.csv")
    written = list(csv.DictReader(csv_path.open(newline="", encoding="utf-8")))
    for rows in (listed, written):
        [row] = [r for r in rows if r["break_id"] == str(break_id)]
        assert (row["note"], row["resolved_by"]) == ("'" + NOTE, "'" + BY)
        assert Decimal(row["delta_dollars"]) < 0  # negative money is still a plain number
        for field in BREAK_FIELDS:
            if field.kind == "text":
                assert not any(r[field.name].startswith(("=", "+", "-", "@", "\t", "\r")) for r in rows)
    [xlsx] = out.rglob("breaks.xlsx")
    sheet = openpyxl.load_workbook(xlsx)[excel.ALL_BREAKS]
    ids = [c.value for c in sheet["A"]]
    row_cells = sheet[ids.index(break_id) + 1]
    note = row_cells[FIELD_NAMES.index("note")]
    by = row_cells[FIELD_NAMES.index("resolved_by")]
    delta = row_cells[FIELD_NAMES.index("delta_dollars")]
    assert (note.data_type, note.value) == ("s", "'" + NOTE)
    assert (by.data_type, by.value) == ("s", "'" + BY)
    assert delta.data_type == "n" and delta.value < 0
    formulas = openpyxl.load_workbook(xlsx, data_only=False)
    assert not any(c.data_type == "f" for ws in formulas for r in ws.iter_rows() for c in r)

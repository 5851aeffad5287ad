"""The workbook and the CSV: promised sheets and formats, totals equal the warehouse's."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import openpyxl
import polars as pl
import pytest

from reconciliation.config import Settings
from reconciliation.reports import excel
from reconciliation.reports.columns import BREAK_FIELDS, FIELD_NAMES
from reconciliation.reports.excel import (
    ALL_BREAKS,
    CARRIED,
    DATE_FORMAT,
    DATETIME_FORMAT,
    MONEY_FORMAT,
    SUMMARY,
    sheet_names,
    write_breaks_csv,
    write_workbook,
)
from reconciliation.reports.model import build_run_report
from reconciliation.warehouse.db import engine_for
from reconciliation.warehouse.schema import BREAK_TYPES
from tests.unit.reports.conftest import Seeded
from tests.unit.reports.seed import LAST_DAY
from tests.unit.reports.truth import current_run, run_totals

MONEY_COLUMNS = [i for i, f in enumerate(BREAK_FIELDS) if f.kind == "money"]
STAKE = FIELD_NAMES.index("money_at_stake")


@pytest.fixture(scope="module")
def files(seeded: Seeded, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("excel")
    with engine_for(seeded.url).connect() as conn:
        report = build_run_report(conn, current_run(seeded.url, "ABCD", LAST_DAY)["run_id"], Settings())
    return {"xlsx": write_workbook(report, out / "breaks.xlsx"), "csv": write_breaks_csv(report.breaks,
                                                                                        out / "breaks.csv")}


def _cents(value: float | int | None) -> Decimal:
    return Decimal(str(value or 0)).quantize(Decimal("0.01"))


def test_workbook_has_the_promised_sheets_frozen_headers_and_filters(files: dict[str, Path]) -> None:
    book = openpyxl.load_workbook(files["xlsx"])
    assert book.sheetnames == sheet_names()
    assert book.sheetnames == [SUMMARY, ALL_BREAKS, *BREAK_TYPES, CARRIED, "Rejected records"]
    for name in book.sheetnames[1:]:
        sheet = book[name]
        assert sheet.freeze_panes == "B2", name
        assert sheet.auto_filter.ref and sheet.auto_filter.ref.startswith("A1:"), name
    assert book[SUMMARY].freeze_panes == "A2"
    header = [c.value for c in book[ALL_BREAKS][1]]
    assert header == [f.header for f in BREAK_FIELDS]
    assert book[ALL_BREAKS].auto_filter.ref == f"A1:{book[ALL_BREAKS].cell(1, len(header)).column_letter}" \
        f"{book[ALL_BREAKS].max_row}"


def test_workbook_money_dates_and_times_carry_number_formats(files: dict[str, Path]) -> None:
    sheet = openpyxl.load_workbook(files["xlsx"])[ALL_BREAKS]
    kinds = {f.kind: i + 1 for i, f in enumerate(BREAK_FIELDS)}
    row = 2
    for i in MONEY_COLUMNS:
        assert sheet.cell(row, i + 1).number_format == MONEY_FORMAT
    date_cell = sheet.cell(row, kinds["date"])
    assert date_cell.number_format == DATE_FORMAT and date_cell.is_date
    times = [sheet.cell(r, FIELD_NAMES.index("platform_time") + 1) for r in range(2, sheet.max_row + 1)]
    assert any(c.value is not None for c in times)
    assert all(c.number_format == DATETIME_FORMAT for c in times)
    assert all(c.is_date for c in times if c.value is not None)


def test_workbook_totals_equal_the_warehouse(seeded: Seeded, files: dict[str, Path]) -> None:
    truth = run_totals(seeded.url, "ABCD", LAST_DAY)
    book = openpyxl.load_workbook(files["xlsx"])
    rows = list(book[ALL_BREAKS].iter_rows(min_row=2, values_only=True))
    assert len(rows) == truth["breaks"]
    assert sum((_cents(r[STAKE]) for r in rows), Decimal("0.00")) == truth["money"]
    for break_type in BREAK_TYPES:
        typed = list(book[break_type].iter_rows(min_row=2, values_only=True))
        count, stake = truth["by_type"].get(break_type, (0, Decimal("0.00")))
        assert len([r for r in typed if r[0] is not None]) == count
        assert sum((_cents(r[STAKE]) for r in typed), Decimal("0.00")) == stake
    summary = {r[0]: r[1] for r in book[SUMMARY].iter_rows(values_only=True) if r[0]}
    assert _cents(summary["Money at stake"]) == truth["money"]
    assert summary["Breaks"] == truth["breaks"]
    assert summary["Matched pairs"] == truth["pairs"]


def test_csv_lists_every_break_with_exact_money(seeded: Seeded, files: dict[str, Path]) -> None:
    truth = run_totals(seeded.url, "ABCD", LAST_DAY)
    with files["csv"].open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == list(FIELD_NAMES)
    assert len(rows) == truth["breaks"]
    assert sum(Decimal(r["money_at_stake"]) for r in rows) == truth["money"]
    assert all(r["collector"] == "" or (r["collector"].startswith("****") and len(r["collector"]) == 8)
               for r in rows)
    assert all(len(r["delta_dollars"].split(".")[1]) == 2 for r in rows if r["delta_dollars"])


def test_a_big_night_is_listed_per_sheet_and_written_a_chunk_at_a_time(
        seeded: Seeded, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each sheet lists the first rows of its own breaks; chunks and slices change no byte of the CSV."""
    with engine_for(seeded.url).connect() as conn:
        report = build_run_report(conn, current_run(seeded.url, "ABCD", LAST_DAY)["run_id"], Settings())
    whole = write_breaks_csv(report.breaks, tmp_path / "whole.csv").read_bytes()
    monkeypatch.setattr(excel, "_CHUNK_ROWS", 3)
    monkeypatch.setattr(excel, "_CSV_SLICE", 4)
    assert write_breaks_csv(report.breaks, tmp_path / "sliced.csv").read_bytes() == whole
    book = openpyxl.load_workbook(write_workbook(report, tmp_path / "cut.xlsx", max_rows=5))

    def listed(sheet: str, count: int) -> list[object]:
        return [row[0] for row in book[sheet].iter_rows(min_row=2, max_row=count + 1, values_only=True)]

    breaks = report.breaks
    assert breaks.height > 5
    assert listed(ALL_BREAKS, 5) == breaks["break_id"].head(5).to_list()
    assert "Only the first 5 of" in str(book[ALL_BREAKS].cell(8, 1).value)
    for break_type in BREAK_TYPES:
        mine = breaks.filter(pl.col("break_type") == break_type)["break_id"].head(5).to_list()
        assert listed(break_type, len(mine)) == mine, break_type

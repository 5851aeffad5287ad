"""The run's Excel workbook and CSV of breaks: where analysts drill into each break.

The workbook has a Summary sheet (the report's headline figures), an "All
breaks" sheet, one sheet per break type (all eleven, empty ones too, so
macros and saved filters always find the same sheets), the open breaks
carried from earlier days, and the rejected records. Every list has a
frozen header row and an autofilter; money, dates and times carry number
formats so they sort and sum as numbers. Money is written from ``Decimal``
text, never through float arithmetic.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import polars as pl
import xlsxwriter
from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import Worksheet

from reconciliation.reports.columns import BREAK_FIELDS, FIELD_NAMES, Field, cell_text
from reconciliation.reports.html import title, zone_label
from reconciliation.reports.model import RunReport
from reconciliation.warehouse.schema import BREAK_TYPES

MONEY_FORMAT = '"$"#,##0.00;[Red]-"$"#,##0.00'
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
SUMMARY = "Summary"
ALL_BREAKS = "All breaks"
CARRIED = "Open from earlier days"
REJECTED = "Rejected records"


def sheet_names() -> list[str]:
    """Every sheet a run workbook has, in order (tests and users rely on it)."""
    return [SUMMARY, ALL_BREAKS, *BREAK_TYPES, CARRIED, REJECTED]


class _Formats:
    """Cell formats of one workbook (xlsxwriter formats belong to a workbook)."""

    def __init__(self, book: Workbook) -> None:
        self.header = book.add_format({"bold": True, "bg_color": "#1F5F8B", "font_color": "#FFFFFF",
                                       "border": 1, "text_wrap": True, "valign": "top"})
        self.money = book.add_format({"num_format": MONEY_FORMAT})
        self.money_bold = book.add_format({"num_format": MONEY_FORMAT, "bold": True})
        self.date = book.add_format({"num_format": DATE_FORMAT, "align": "left"})
        self.datetime = book.add_format({"num_format": DATETIME_FORMAT, "align": "left"})
        self.int = book.add_format({"num_format": "#,##0"})
        self.text = book.add_format({})
        self.title = book.add_format({"bold": True, "font_size": 16, "font_color": "#1F5F8B"})
        self.section = book.add_format({"bold": True, "font_size": 12, "bottom": 1})
        self.label = book.add_format({"bold": True})
        self.good = book.add_format({"bold": True, "font_color": "#1E8449"})
        self.bad = book.add_format({"bold": True, "font_color": "#B03A2E"})

    def of(self, kind: str) -> Any:
        return {"money": self.money, "date": self.date, "datetime": self.datetime,
                "int": self.int}.get(kind, self.text)


def write_cell(sheet: Worksheet, row: int, col: int, value: Any, kind: str, fmt: _Formats) -> None:
    """Write one typed value: numbers as numbers, dates as Excel dates, text as text."""
    if value is None:
        sheet.write_blank(row, col, None, fmt.of(kind))
    elif kind in ("money", "int"):
        sheet.write_number(row, col, value, fmt.of(kind))
    elif kind in ("date", "datetime") and isinstance(value, (date, datetime)):
        sheet.write_datetime(row, col, value, fmt.of(kind))
    else:
        sheet.write_string(row, col, str(value), fmt.text)


def write_list(sheet: Worksheet, fields: Sequence[Field], rows: Iterable[dict[str, Any]],
               fmt: _Formats) -> int:
    """A filterable list: header row frozen, autofilter over every row, sensible widths."""
    for col, f in enumerate(fields):
        sheet.write_string(0, col, f.header, fmt.header)
        sheet.set_column(col, col, f.width)
    count = 0
    for count, row in enumerate(rows, start=1):
        for col, f in enumerate(fields):
            write_cell(sheet, count, col, row.get(f.name), f.kind, fmt)
    sheet.freeze_panes(1, 1)
    sheet.autofilter(0, 0, max(count, 1), len(fields) - 1)
    sheet.set_row(0, 30)
    return count


def _summary(sheet: Worksheet, report: RunReport, fmt: _Formats) -> None:
    sheet.set_column(0, 0, 30)
    sheet.set_column(1, 4, 18)
    sheet.set_column(5, 5, 66)
    sheet.write_string(0, 0, f"AM Cash reconciliation · sponsor {report.sponsor} · "
                             f"{report.business_date} · v{report.version}", fmt.title)
    meta: list[tuple[str, Any, str]] = [
        ("Sponsor", report.sponsor, "text"), ("Business date", report.business_date, "date"),
        ("Version", report.version, "int"), ("Run", report.run["run_id"], "int"),
        ("Current version", "yes" if report.run["is_current"] else "no (superseded)", "text"),
        ("Times shown in", zone_label(report.zone.name), "text"),
        ("Generated (UTC)", report.generated_at.replace(tzinfo=None), "datetime"),
        ("Money at stake", report.money_at_stake, "money"), ("Breaks", report.breaks.height, "int"),
        ("Pending or open", report.unresolved, "int"), ("Matched pairs", report.matched_pairs, "int"),
        ("Control totals", "tie" if report.ties else "do not tie", "text"),
        ("Open from earlier days", report.carried.height, "int"),
        ("Money at stake carried", report.carried_money, "money"),
    ]
    row = 2
    for label, value, kind in meta:
        sheet.write_string(row, 0, label, fmt.label)
        if label == "Control totals":
            sheet.write_string(row, 1, str(value), fmt.good if report.ties else fmt.bad)
        else:
            write_cell(sheet, row, 1, value, kind, fmt)
        row += 1
    row = _table(sheet, row + 1, "Input files", ["Side", "File", "D records", "", "", "SHA-256"],
                 [[f["side"], f["name"], f["records"], None, None, f["sha256"]] for f in report.files()],
                 ["text", "text", "int", "text", "text", "text"], fmt)
    row = _table(sheet, row, "Control totals (successful transactions)",
                 ["", "Partner (POS)", "Platform", "Difference", "Ties"],
                 [[c.label, c.partner, c.platform, c.difference if c.ties is not None else None,
                   "" if c.ties is None else ("yes" if c.ties else "no")] for c in report.control],
                 ["text", "num", "num", "num", "text"], fmt,
                 kinds_by_row=["money" if c.kind == "money" else "int" for c in report.control])
    row = _table(sheet, row, "Breaks by type", ["Type", "Severity", "Breaks", "Unresolved", "Money at stake"],
                 [[title(g.name), g.severity, g.count, g.unresolved, g.money] for g in report.by_type]
                 + [["Total", "", report.breaks.height, report.unresolved, report.money_at_stake]],
                 ["text", "text", "int", "int", "money"], fmt)
    row = _table(sheet, row, "Breaks by severity", ["Severity", "", "Breaks", "Unresolved", "Money at stake"],
                 [[g.name, "", g.count, g.unresolved, g.money] for g in report.by_severity],
                 ["text", "text", "int", "int", "money"], fmt)
    _table(sheet, row, "Aging of open breaks from earlier days", ["Age", "", "Breaks", "", "Money at stake"],
           [[g.name, "", g.count, None, g.money] for g in report.aging],
           ["text", "text", "int", "int", "money"], fmt)
    sheet.freeze_panes(1, 0)


def _table(sheet: Worksheet, row: int, heading: str, headers: list[str], rows: list[list[Any]],
           kinds: list[str], fmt: _Formats, kinds_by_row: list[str] | None = None) -> int:
    sheet.write_string(row, 0, heading, fmt.section)
    for col, header in enumerate(headers):
        sheet.write_string(row + 1, col, header, fmt.header)
    for i, values in enumerate(rows):
        for col, value in enumerate(values):
            kind = kinds[col] if kinds[col] != "num" else (kinds_by_row or [])[i]
            write_cell(sheet, row + 2 + i, col, value, kind, fmt)
    return row + len(rows) + 4


def write_workbook(report: RunReport, path: Path) -> Path:
    """Write the run's workbook; returns its path."""
    book = xlsxwriter.Workbook(str(path), {"remove_timezone": True})
    book.set_properties({"title": f"AM Cash reconciliation {report.sponsor} {report.business_date} "
                                  f"v{report.version}", "subject": "Reconciliation breaks"})
    fmt = _Formats(book)
    _summary(book.add_worksheet(SUMMARY), report, fmt)
    rows = report.breaks.to_dicts()
    write_list(book.add_worksheet(ALL_BREAKS), BREAK_FIELDS, rows, fmt)
    for break_type in BREAK_TYPES:
        write_list(book.add_worksheet(break_type), BREAK_FIELDS,
                   (r for r in rows if r["break_type"] == break_type), fmt)
    carried_fields = (Field("status_then", "Status at run end", "text", 12), *BREAK_FIELDS)
    write_list(book.add_worksheet(CARRIED), carried_fields, report.carried.to_dicts(), fmt)
    write_list(book.add_worksheet(REJECTED), (
        Field("side", "Side", "text", 10), Field("file_name", "File", "text", 40),
        Field("line_number", "Line", "int", 8), Field("reason", "Reason", "text", 80)),
        report.rejected, fmt)
    book.close()
    return path


def write_breaks_csv(breaks: pl.DataFrame, path: Path) -> Path:
    """The break list as CSV: snake_case headers, exact money, ISO dates and times."""
    kinds = {f.name: f.kind for f in BREAK_FIELDS}
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(FIELD_NAMES)
        for row in breaks.select(FIELD_NAMES).iter_rows(named=True):
            writer.writerow([cell_text(row[name], kinds[name]) for name in FIELD_NAMES])
    return path

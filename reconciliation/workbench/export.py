"""CSV and Excel of exactly the breaks view on screen: same filter, same order, same columns.

Text cells that a spreadsheet would run as a formula (starting with ``=``,
``+``, ``-``, ``@``, tab or carriage return) are prefixed with ``'``;
money stays exact (text with two places in CSV, a number with a cents
format in Excel).
"""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal
from typing import Any

import xlsxwriter

#: (key, header, kind) in the order of the breaks page's columns.
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("break_id", "Break ID", "int"),
    ("business_date", "Business date", "date"),
    ("sponsor_code", "Sponsor", "text"),
    ("break_type", "Type", "text"),
    ("severity", "Severity", "text"),
    ("status", "Status", "text"),
    ("side", "Side", "text"),
    ("txn_type", "Txn", "text"),
    ("confirmation_number", "Confirmation #", "text"),
    ("collector", "Collector", "text"),
    ("partner_dollars", "Partner $", "money"),
    ("platform_dollars", "Platform $", "money"),
    ("delta_dollars", "Delta $", "money"),
    ("at_stake", "At stake $", "money"),
    ("age_days", "Age (days)", "int"),
    ("assignee", "Assignee", "text"),
    ("awaiting_request", "Awaiting approval (request)", "int"),
    ("resolution", "Resolution", "text"),
    ("resolved_by", "Resolved by", "text"),
    ("resolved_date", "Resolved on", "date"),
    ("detail", "Detail", "text"),
)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def row_values(row: dict[str, Any], as_of: date) -> dict[str, Any]:
    """A warehouse row with the derived columns (collector mask, age)."""
    out = dict(row)
    out["collector"] = f"****{row['collector_last4']}" if row.get("collector_last4") else None
    out["age_days"] = (as_of - row["business_date"]).days
    return out


def _text(value: Any, kind: str) -> str:
    if value is None:
        return ""
    if kind == "money":
        return f"{Decimal(value):.2f}"
    if kind == "date":
        return value.isoformat()
    text = str(value)
    return "'" + text if kind == "text" and text.startswith(FORMULA_START) else text


def to_csv(rows: list[dict[str, Any]], as_of: date) -> str:
    """The view as CSV text with a header row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([h for _, h, _ in COLUMNS])
    for row in rows:
        values = row_values(row, as_of)
        writer.writerow([_text(values.get(k), kind) for k, _, kind in COLUMNS])
    return buffer.getvalue()


def to_xlsx(rows: list[dict[str, Any]], as_of: date, title: str) -> bytes:
    """The view as an Excel workbook: one sheet, frozen header, filters, money as numbers."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True, "constant_memory": True})
    sheet = book.add_worksheet("Breaks")
    head = book.add_format({"bold": True, "bg_color": "#F4F7F9", "bottom": 1})
    cents = book.add_format({"num_format": "#,##0.00"})
    day = book.add_format({"num_format": "yyyy-mm-dd"})
    sheet.write(0, 0, title)
    for col, (_, header, kind) in enumerate(COLUMNS):
        sheet.write(1, col, header, head)
        sheet.set_column(col, col, 22 if kind == "text" else 13)
    for r, row in enumerate(rows, start=2):
        values = row_values(row, as_of)
        for col, (key, _, kind) in enumerate(COLUMNS):
            value = values.get(key)
            if value is None:
                continue
            if kind == "money":
                sheet.write_number(r, col, Decimal(value), cents)  # written from Decimal text, never a float
            elif kind == "int":
                sheet.write_number(r, col, int(value))
            elif kind == "date":
                sheet.write_datetime(r, col, value, day)
            else:
                sheet.write_string(r, col, _text(value, kind))
    sheet.freeze_panes(2, 0)
    sheet.autofilter(1, 0, max(1, len(rows) + 1), len(COLUMNS) - 1)
    book.close()
    return buffer.getvalue()

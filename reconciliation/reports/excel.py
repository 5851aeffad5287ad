"""The run's Excel workbook and CSV of breaks: where analysts drill into each break.

The workbook has a Summary sheet (the report's headline figures), an "All
breaks" sheet, one sheet per break type (all eleven, empty ones too, so
macros and saved filters always find the same sheets), the open breaks
carried from earlier days, and the rejected records. Every list has a
frozen header row and an autofilter; money, dates and times carry number
formats so they sort and sum as numbers. Money is written from ``Decimal``
text, never through float arithmetic.

Lists are written in bulk: a night of 11,000 breaks is 800,000 cells, and
xlsxwriter's cell-by-cell path costs about 10 µs a cell. The data rows of a
list are built as XML by Polars, column by column (``_rows_xml``), and
handed to xlsxwriter, which writes everything else (header, column widths
and formats, panes, filters, styles, the package). A sheet lists at most
``SHEET_MAX_ROWS`` rows (most urgent first) and says so under its last row
and on the Summary; ``breaks.csv`` always has every break.
"""

from __future__ import annotations

import functools
import threading
import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

import polars as pl
import xlsxwriter.workbook
from xlsxwriter.utility import xl_col_to_name
from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import Worksheet

from reconciliation.reports.columns import (
    BREAK_FIELDS,
    FIELD_NAMES,
    Field,
    spreadsheet_text,
    spreadsheet_text_expr,
)
from reconciliation.reports.files import atomic_path
from reconciliation.reports.html import title, zone_label
from reconciliation.reports.model import RunReport
from reconciliation.runtime import failpoint
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
        sheet.write_string(row, col, spreadsheet_text(str(value)), fmt.text)


#: Rows a list sheet shows at most (Excel's own limit is 1,048,576): beyond
#: this a sheet is too slow to filter and sort; the CSV has every break.
SHEET_MAX_ROWS = 100_000
#: Deflate level of the workbook's package. zlib's default (6) spends half of
#: a big night's workbook time compressing; level 1 takes 40% less CPU for a
#: file about 30% larger (docs/decisions.md, "Report start-up, speed and plans").
ZIP_LEVEL = 1
#: Rows built as one piece of XML (bounds memory on huge lists).
_CHUNK_ROWS = 20_000
#: Rows of ``breaks.csv`` turned into text at a time.
_CSV_SLICE = 100_000
#: Days from Excel's epoch (1900 system, with its leap-year bug) to 1970-01-01.
_EXCEL_EPOCH = date(1899, 12, 30)
_US_PER_DAY = 86_400_000_000
#: Excel's escapes of characters XML cannot hold (as xlsxwriter writes them).
_CONTROL = [chr(c) for c in (*range(0x00, 0x09), *range(0x0B, 0x20))] + ["\ufffe", "\uffff"]
_CONTROL_ESCAPED = [f"_x{ord(c):04X}_" for c in _CONTROL]
_EXCEL_STRMAX = 32_767


class _Book(Workbook):
    """A workbook packaged at ``ZIP_LEVEL``.

    xlsxwriter opens its package with ``zipfile.ZipFile`` at zlib's default
    level and has no option for it, so the name it uses is pointed at a
    ZipFile of our level while this workbook is packaged, under a lock (other
    workbooks of the process, the workbench's exports, may be packaged
    meanwhile; they then wait, or simply compress faster).
    """

    _packaging = threading.Lock()

    def _store_workbook(self) -> None:
        with self._zip_level(ZIP_LEVEL):
            super()._store_workbook()

    @classmethod
    @contextmanager
    def _zip_level(cls, level: int) -> Iterator[None]:
        module = xlsxwriter.workbook
        with cls._packaging:
            original = module.ZipFile
            setattr(module, "ZipFile", functools.partial(zipfile.ZipFile, compresslevel=level))  # noqa: B010
            try:
                yield
            finally:
                setattr(module, "ZipFile", original)  # noqa: B010


class _ListSheet(Worksheet):
    """A worksheet whose data rows arrive as XML built in bulk (see the module docstring).

    The header row, widths, per-column formats, frozen panes and autofilter
    are set through xlsxwriter's API; ``attach`` hands over the data, whose
    ``<row>`` elements are appended to ``<sheetData>`` when xlsxwriter writes
    the sheet. That is the one xlsxwriter internal this relies on
    (``Worksheet._write_rows``, with ``fh`` and ``dim_rowmax``); the tests
    read every cell back with openpyxl.
    """

    def __init__(self) -> None:
        super().__init__()
        self._bulk: Callable[[], Iterator[str]] | None = None

    def attach(self, rows: Callable[[], Iterator[str]], last_row: int) -> None:
        """Rows to write after the header; ``last_row`` (0-based) is the last one they fill."""
        self._bulk = rows
        last: int | None = getattr(self, "dim_rowmax", None)
        self.dim_rowmax = max(last or 0, last_row)

    def _write_rows(self) -> None:
        super()._write_rows()
        if self._bulk is not None:
            out: Any = self.fh
            for chunk in self._bulk():
                out.write(chunk)
                failpoint("report-xlsx")  # the workbook is half-written here (fault-injection tests)


def _xml_text(column: pl.Expr) -> pl.Expr:
    """Text as XML character data, escaped the way xlsxwriter escapes inline strings."""
    text = column.str.slice(0, _EXCEL_STRMAX).str.replace_all(r"_x[0-9a-fA-F]{4}_", "_x005F$0")
    text = text.str.replace_many(_CONTROL, _CONTROL_ESCAPED)
    return text.str.replace_many(["&", "<", ">"], ["&amp;", "&lt;", "&gt;"])


def _cell_tail(name: str, kind: str, style: int) -> pl.Expr:
    """A column's cells as XML, from after the cell's reference (``<c r="B7`` + this).

    A typed value (numbers from their exact text, dates and times as Excel
    serials, text inline) or a blank that keeps the column's format.
    """
    value = pl.col(name)
    head = f'" s="{style}"'
    if kind in ("money", "int"):
        body = pl.concat_str(pl.lit(head + "><v>"), value.cast(pl.String), pl.lit("</v></c>"))
    elif kind == "date":
        serial = (value.cast(pl.Date) - pl.lit(_EXCEL_EPOCH)).dt.total_days()
        body = pl.concat_str(pl.lit(head + "><v>"), serial.cast(pl.String), pl.lit("</v></c>"))
    elif kind == "datetime":
        days = (value.dt.date() - pl.lit(_EXCEL_EPOCH)).dt.total_days()
        serial = days + (value - value.dt.truncate("1d")).dt.total_microseconds() / _US_PER_DAY
        body = pl.concat_str(pl.lit(head + "><v>"), serial.cast(pl.String), pl.lit("</v></c>"))
    else:
        text = spreadsheet_text_expr(value.cast(pl.String))
        space = pl.when(text.str.contains(r"^\s|\s$")).then(pl.lit(' xml:space="preserve"')).otherwise(
            pl.lit(""))
        body = pl.concat_str(pl.lit(head + ' t="inlineStr"><is><t'), space, pl.lit(">"), _xml_text(text),
                             pl.lit("</t></is></c>"))
        value = pl.when(text != "").then(text)  # xlsxwriter writes an empty string as a blank
    return pl.when(value.is_null()).then(pl.lit(head + "/>")).otherwise(body).alias(name)


def _cells(frame: pl.DataFrame, fields: Sequence[Field], styles: Sequence[int]) -> pl.DataFrame:
    """Every cell of ``frame`` as XML without its reference, a column per field."""
    return frame.select(_cell_tail(f.name, f.kind, style) for f, style in zip(fields, styles, strict=True))


def _rows_xml(rows: pl.DataFrame, fields: Sequence[Field], styles: Sequence[int], first_row: int
              ) -> Iterator[str]:
    """The ``<row>`` elements of ``rows`` from 0-based sheet row ``first_row`` on, a chunk at a time.

    A chunk's cells are built, joined and let go before the next: memory
    follows the chunk, not the sheet.
    """
    row = pl.col("_row").cast(pl.String)
    pieces = [piece for col, f in enumerate(fields)
              for piece in (pl.lit(f'<c r="{xl_col_to_name(col)}'), row, pl.col(f.name))]
    xml = pl.concat_str(pl.lit('<row r="'), row, pl.lit('">'), *pieces, pl.lit("</row>")).alias("xml")
    for offset in range(0, rows.height, _CHUNK_ROWS):
        part = _cells(rows.slice(offset, _CHUNK_ROWS), fields, styles).with_row_index(
            "_row", offset=first_row + offset + 1)
        yield "".join(part.select(xml)["xml"].to_list())


def _note_xml(row: int, text: str, style: int) -> str:
    """One row holding a note in its first cell (0-based ``row``)."""
    escaped = pl.select(_xml_text(pl.lit(text))).item()
    return (f'<row r="{row + 1}"><c r="A{row + 1}" s="{style}" t="inlineStr"><is><t>{escaped}</t></is></c>'
            f"</row>")


def _styles(fields: Sequence[Field], fmt: _Formats) -> list[int]:
    """The style index of each field's format (assigned now; xlsxwriter keeps it)."""
    return [fmt.of(f.kind)._get_xf_index() for f in fields]


def write_list(sheet: Worksheet, fields: Sequence[Field], rows: pl.DataFrame, fmt: _Formats,
               max_rows: int = SHEET_MAX_ROWS, total: int | None = None,
               elsewhere: str = "breaks.csv lists every break",
               later: Callable[[], pl.DataFrame] | None = None) -> int:
    """A filterable list: header row frozen, autofilter over every row, sensible widths.

    Data cells carry their column's format (money, dates, times, integers)
    and so do blanks. At most ``max_rows`` rows are written (the first
    ones); when there are more, a note under them says how many and where
    to find them all.

    Args:
        sheet: A sheet made with ``worksheet_class=_ListSheet``.
        fields: The columns, in order.
        rows: The data, with a column per field (with ``later``, only its height is read).
        fmt: The workbook's formats.
        max_rows: The most rows to write.
        total: How many rows there are in all, when ``rows`` is already cut.
        elsewhere: Where the full list is, for the note.
        later: Gives the rows when the sheet is written, so that a workbook of
            many big sheets holds one sheet's rows at a time.

    Returns:
        How many rows were written.
    """
    if not isinstance(sheet, _ListSheet):
        raise TypeError("write_list needs a sheet added with worksheet_class=_ListSheet")
    for col, f in enumerate(fields):
        sheet.write_string(0, col, f.header, fmt.header)
        sheet.set_column(col, col, f.width, fmt.of(f.kind))
    count = min(rows.height, max_rows)
    total = max(total or 0, rows.height)
    note = None
    if total > count:
        note = f"Only the first {count:,} of {total:,} rows are listed here; {elsewhere}."

    def xml() -> Iterator[str]:
        shown = (later() if later is not None else rows).head(max_rows)
        yield from _rows_xml(shown, fields, _styles(fields, fmt), first_row=1)
        if note is not None:
            yield _note_xml(count + 2, note, fmt.label._get_xf_index())

    sheet.attach(xml, count + 2 if note is not None else count)
    sheet.freeze_panes(1, 1)
    sheet.autofilter(0, 0, max(count, 1), len(fields) - 1)
    sheet.set_row(0, 30)
    return count


def _summary(sheet: Worksheet, report: RunReport, fmt: _Formats, max_rows: int = SHEET_MAX_ROWS) -> None:
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
    cut = [name for name, count in ((ALL_BREAKS, report.breaks.height), (CARRIED, report.carried.height),
                                    (REJECTED, report.rejected_total)) if count > max_rows]
    cut += [REJECTED] if len(report.rejected) < report.rejected_total and REJECTED not in cut else []
    if cut:
        meta.append(("Lists cut short", f"{', '.join(cut)}: only the first rows are listed (see the "
                                        "note under each list); breaks.csv lists every break", "text"))
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


#: Columns of the rejected-records sheet.
REJECTED_FIELDS = (Field("side", "Side", "text", 10), Field("file_name", "File", "text", 40),
                   Field("line_number", "Line", "int", 8), Field("reason", "Reason", "text", 80))
_REJECTED_SCHEMA = {"side": pl.String, "file_name": pl.String, "line_number": pl.Int64, "reason": pl.String}


def write_workbook(report: RunReport, path: Path, max_rows: int = SHEET_MAX_ROWS) -> Path:
    """Write the run's workbook; returns its path.

    Args:
        report: The run's data.
        path: The ``.xlsx`` to write.
        max_rows: The most rows a list sheet shows (the CSV has every break).
    """
    with atomic_path(path) as tmp:
        _write_book(report, tmp, max_rows)
    return path


def _write_book(report: RunReport, path: Path, max_rows: int) -> None:
    # Text is always a string, never a formula (and text cells are guarded
    # besides: see columns.spreadsheet_text), whatever a reviewer typed.
    book = _Book(str(path), {"remove_timezone": True, "strings_to_formulas": False})
    book.set_properties({"title": f"AM Cash reconciliation {report.sponsor} {report.business_date} "
                                  f"v{report.version}", "subject": "Reconciliation breaks"})
    fmt = _Formats(book)
    _summary(book.add_worksheet(SUMMARY), report, fmt, max_rows)

    def sheet(name: str) -> Worksheet:
        return book.add_worksheet(name, worksheet_class=_ListSheet)

    breaks = report.breaks
    # A sheet's cells are built a chunk at a time as it is written: a night of a million
    # breaks built all of its cells at once (2 GB), shared by "All breaks" and the type sheets.
    kinds = breaks.select("break_type")

    def of_type(mine: pl.Series) -> Callable[[], pl.DataFrame]:
        return lambda: breaks.filter(mine)

    write_list(sheet(ALL_BREAKS), BREAK_FIELDS, breaks, fmt, max_rows)
    for break_type in BREAK_TYPES:
        mine = kinds.get_column("break_type") == break_type
        write_list(sheet(break_type), BREAK_FIELDS, kinds.filter(mine), fmt, max_rows, later=of_type(mine))
    carried_fields = (Field("status_then", "Status at run end", "text", 12), *BREAK_FIELDS)
    write_list(sheet(CARRIED), carried_fields, report.carried, fmt, max_rows,
               elsewhere="recon breaks list shows every unresolved break")
    rejected = pl.DataFrame(report.rejected, schema=_REJECTED_SCHEMA)
    write_list(sheet(REJECTED), REJECTED_FIELDS, rejected, fmt, max_rows, total=report.rejected_total,
               elsewhere="the warehouse keeps every one (recon_rejected_record)")
    book.close()


def write_breaks_csv(breaks: pl.DataFrame, path: Path) -> Path:
    """The break list as CSV: snake_case headers, exact money, ISO dates and times.

    Written by Polars, in the text of ``columns.cell_text`` (money with two
    places, ``YYYY-MM-DD`` dates, ``YYYY-MM-DD HH:MM:SS`` times, text that
    could read as a formula guarded with ``'``) and the quoting and line
    ends of Python's ``csv`` module. Written to a temporary name and renamed.
    """
    kinds = {f.name: f.kind for f in BREAK_FIELDS}

    def text(name: str) -> pl.Expr:
        value = pl.col(name)
        if kinds[name] == "datetime":
            return value.dt.strftime("%Y-%m-%d %H:%M:%S")
        if kinds[name] == "date":
            return value.dt.strftime("%Y-%m-%d")
        value = value.cast(pl.String)
        if kinds[name] == "text":
            value = spreadsheet_text_expr(value)
        return pl.when(value != "").then(value)  # csv writes "" and None alike: nothing

    # A slice at a time: the text of a million breaks at once was 0.7 GB.
    with atomic_path(path) as tmp, open(tmp, "wb") as out:
        for start in range(0, max(breaks.height, 1), _CSV_SLICE):
            breaks.slice(start, _CSV_SLICE).select(text(name) for name in FIELD_NAMES).write_csv(
                out, include_header=start == 0, quote_style="necessary", line_terminator="\r\n",
                null_value="")
    return path

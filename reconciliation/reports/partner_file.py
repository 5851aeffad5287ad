"""The reconciliation result file sent back to the partner, and its reader.

The partner gets one plain-ASCII ``%%`` file per sponsor-day and version, in
the style of the input files (spec §2.1) so the partner's existing tooling
can read it: two headers, one ``D`` record per break, two trailers whose
figures are recomputed by the reader. The layout is documented in
docs/reports.md. The project's input parser knows only the input layouts,
so ``read_result_file`` here is the reference reader, and the tests prove
every file we write round-trips through it.

Only fields the partner already has or needs to find its transaction are
sent: no free-text detail or reviewer notes, and the collector as its last
four digits only.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy.engine import Connection, Engine

from reconciliation.config import Settings
from reconciliation.errors import FileRejected
from reconciliation.reports.columns import money_sum
from reconciliation.reports.files import atomic_path
from reconciliation.reports.model import RunReport, build_run_report

SEP = "%%"
FILE_TYPE = "RESULT"
ORIGINATOR = "AIRMILES"
NAME = re.compile(r"^AMCASH_RESULT_([A-Z0-9]{4})_(\d{8})_(\d{3})\.txt$")

H1_FIELDS = ("file_type", "created_at", "originator", "environment", "sequence")
H2_FIELDS = ("sponsor_code", "business_date", "period_start", "period_end", "partner_file",
             "partner_sha256", "partner_records", "matched_pairs")
#: The D record's fields after the record type, in order, with their kinds.
D_FIELDS: tuple[tuple[str, str], ...] = (
    ("break_id", "int"), ("business_date", "date"), ("break_type", "text"), ("severity", "text"),
    ("status", "text"), ("side", "text"), ("txn_type", "text"), ("confirmation_number", "text"),
    ("original_confirmation_number", "text"), ("store_id", "text"), ("device_id", "text"),
    ("trace_id", "text"), ("pos_transaction_id", "text"), ("collector_last4", "text"),
    ("partner_datetime", "datetime"), ("platform_datetime", "datetime"), ("partner_line", "int"),
    ("partner_units", "int"), ("partner_miles", "int"), ("partner_dollars", "money"),
    ("platform_units", "int"), ("platform_miles", "int"), ("platform_dollars", "money"),
    ("delta_dollars", "money"), ("resolution", "text"),
)
T1_FIELDS = ("high_count", "medium_count", "low_count", "pending_count", "open_count", "resolved_count")
T2_FIELDS = ("detail_count", "record_count", "net_delta_dollars", "money_at_stake")
_SAFE = re.compile(r"^[\x20-\x7e]*$")


@dataclass
class ResultFile:
    """A parsed result file: header fields, one dict per break, trailer fields."""

    header: dict[str, Any]
    breaks: list[dict[str, Any]]
    trailer: dict[str, Any]


def file_name(sponsor: str, day: date, version: int) -> str:
    """``AMCASH_RESULT_{SPONSOR}_{YYYYMMDD}_{NNN}.txt``; NNN is the run version, so a re-run supersedes."""
    return f"AMCASH_RESULT_{sponsor}_{day:%Y%m%d}_{min(version, 999):03d}.txt"


def _text(value: Any, kind: str) -> str:
    if value is None:
        return ""
    if kind == "money":
        return f"{Decimal(value):.2f}"
    if kind == "date":
        return f"{value:%Y%m%d}"
    if kind == "datetime":
        return str(value.isoformat(timespec="seconds"))
    text = str(value)
    if SEP in text or not _SAFE.match(text) or text.endswith("%"):
        raise ValueError(f"value {text!r} cannot be written to a %% file")
    return text


def _trailers(rows: list[dict[str, Any]]) -> tuple[list[Any], list[Any]]:
    count = {key: sum(1 for r in rows if r[col] == key) for col, key in (
        ("severity", "HIGH"), ("severity", "MEDIUM"), ("severity", "LOW"),
        ("status", "PENDING"), ("status", "OPEN"), ("status", "RESOLVED"))}
    deltas = [r["delta_dollars"] for r in rows if r["delta_dollars"] is not None]
    net = sum((Decimal(d) for d in deltas), Decimal("0.00"))
    stake = sum((abs(Decimal(d)) for d in deltas), Decimal("0.00"))
    t1 = [count["HIGH"], count["MEDIUM"], count["LOW"], count["PENDING"], count["OPEN"], count["RESOLVED"]]
    return t1, [len(rows), len(rows) + 4, f"{net:.2f}", f"{stake:.2f}"]


def _d_column(name: str, kind: str, zone_name: str) -> pl.Expr:
    """One D field as text (empty when absent), as ``_text`` writes it."""
    if name == "collector_last4":
        value = pl.col("collector").str.slice(-4)
        value = pl.when(value != "").then(value)
    elif kind == "datetime":
        value = pl.col(name.replace("_datetime", "_ts")).dt.convert_time_zone(zone_name).dt.strftime(
            "%Y-%m-%dT%H:%M:%S%:z")
    elif kind == "date":
        value = pl.col(name).dt.strftime("%Y%m%d")
    else:  # money (Decimal with two places), int, text
        value = pl.col(name).cast(pl.String)
    return value.fill_null("").alias(name)


def _d_records(report: RunReport) -> pl.DataFrame:
    """Every D field of every break as text, in the order of the break list.

    Raises:
        ValueError: a text value cannot be written to a %% file (naming the
            first one, in the order of the file).
    """
    zone_name = report.zone.polars_name
    fields = report.breaks.select(_d_column(name, kind, zone_name) for name, kind in D_FIELDS)
    texts = [name for name, kind in D_FIELDS if kind in ("text", "int")]
    unsafe = fields.select(pl.any_horizontal(
        pl.col(name).str.contains(SEP, literal=True) | ~pl.col(name).str.contains(_SAFE.pattern)
        | pl.col(name).str.ends_with("%") for name in texts).alias("bad"))["bad"]
    if unsafe.any():
        row = fields.row(int(unsafe.arg_true()[0]), named=True)
        for name in texts:
            _text(row[name], "text")  # raises for the first unsafe field of the row
    return fields


#: D records turned into text at a time: a million breaks' file is never one string in memory.
_TEXT_SLICE = 100_000


def render(report: RunReport, environment: str = "PROD") -> str:
    """The result file's text for a run report (the D records are built by Polars, in bulk)."""
    return "".join(_chunks(report, environment))


def _chunks(report: RunReport, environment: str) -> Iterator[str]:
    """The result file's text: the headers, the D records a slice at a time, the trailers.

    Everything is checked before the first piece is given, so a file that
    cannot be written raises before any of it is.
    """
    if environment not in ("PROD", "CERT"):
        raise ValueError(f"environment {environment!r} must be PROD or CERT")
    zone, run, day = report.zone, report.run, report.business_date
    start, end = (t.astimezone(zone.tz) for t in zone.business_day(day))
    lines: list[list[Any]] = [
        ["H1", FILE_TYPE, report.generated_at.astimezone(zone.tz).isoformat(timespec="seconds"),
         ORIGINATOR, environment, f"{min(report.version, 999):03d}"],
        ["H2", report.sponsor, f"{day:%Y%m%d}", start.isoformat(timespec="seconds"),
         end.isoformat(timespec="seconds"), run.get("partner_file") or "", run.get("partner_sha256") or "",
         run.get("partner_records") or 0, report.matched_pairs],
    ]
    fields = _d_records(report)
    breaks = report.breaks
    count = {key: int((breaks[col] == key).sum()) for col, key in (
        ("severity", "HIGH"), ("severity", "MEDIUM"), ("severity", "LOW"),
        ("status", "PENDING"), ("status", "OPEN"), ("status", "RESOLVED"))}
    net, stake = money_sum(breaks["delta_dollars"]), money_sum(breaks["delta_dollars"].abs())
    t1 = ["T1", *(count[k] for k in ("HIGH", "MEDIUM", "LOW", "PENDING", "OPEN", "RESOLVED"))]
    t2 = ["T2", breaks.height, breaks.height + 4, f"{net:.2f}", f"{stake:.2f}"]
    yield "".join(SEP.join(str(v) for v in line) + "\n" for line in lines)
    for at in range(0, fields.height, _TEXT_SLICE):
        part = fields.slice(at, _TEXT_SLICE)
        details = part.select(pl.concat_str(pl.lit("D"), *part.columns, separator=SEP).alias("d"))["d"]
        yield "".join(line + "\n" for line in details.to_list())
    yield "".join(SEP.join(str(v) for v in line) + "\n" for line in (t1, t2))


def write_result(report: RunReport, out_dir: Path, environment: str = "PROD") -> Path:
    """Write a report's result file into ``out_dir``, a slice of records at a time; returns its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / file_name(report.sponsor, report.business_date, report.version)
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:  # never half a file
        for text in _chunks(report, environment):
            handle.write(text.encode("ascii"))
    return path


def write_result_file(engine_or_conn: Engine | Connection, run_id: int, out_dir: Path | str,
                      settings: Settings | None = None, environment: str = "PROD") -> Path:
    """Read a run from the warehouse and write its result file into ``out_dir``."""
    settings = settings or Settings()
    if isinstance(engine_or_conn, Engine):
        with engine_or_conn.connect() as conn:
            report = build_run_report(conn, run_id, settings)
    else:
        report = build_run_report(engine_or_conn, run_id, settings)
    return write_result(report, Path(out_dir), environment)


def _value(raw: str, kind: str, where: tuple[str, int], name: str) -> Any:
    if raw == "":
        return None
    try:
        if kind == "int":
            if not raw.isdigit():
                raise ValueError(raw)
            return int(raw)
        if kind == "money":
            if not re.fullmatch(r"-?\d+\.\d{2}", raw):
                raise ValueError(raw)
            return Decimal(raw)
        if kind == "date":
            return datetime.strptime(raw, "%Y%m%d").date()
        if kind == "datetime":
            value = datetime.fromisoformat(raw)
            if value.tzinfo is None:
                raise ValueError(raw)
            return value
    except (ValueError, InvalidOperation):
        raise FileRejected(where[0], where[1], f"field {name} {raw!r} is not a valid {kind}") from None
    return raw


def read_result_file(path: Path | str) -> ResultFile:
    """Parse and verify a result file: layout, field counts, name, and both trailers.

    Raises:
        FileRejected: naming the file, the line and the first problem.
    """
    path = Path(path)
    name = path.name
    data = path.read_bytes()
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise FileRejected(name, None, "the file is not ASCII") from None
    lines = text.replace("\r\n", "\n").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    records = [line.split(SEP) for line in lines]
    kinds = [r[0] for r in records]
    if len(records) < 4 or kinds[:2] != ["H1", "H2"] or kinds[-2:] != ["T1", "T2"] \
            or any(k != "D" for k in kinds[2:-2]):
        raise FileRejected(name, None, "records must be H1, H2, zero or more D, T1, T2 in this order")
    expected = {"H1": len(H1_FIELDS), "H2": len(H2_FIELDS), "D": len(D_FIELDS),
                "T1": len(T1_FIELDS), "T2": len(T2_FIELDS)}
    for number, record in enumerate(records, start=1):
        if len(record) - 1 != expected[record[0]]:
            raise FileRejected(name, number, f"{record[0]} has {len(record) - 1} fields, "
                                             f"expected {expected[record[0]]}")
    header = dict(zip(H1_FIELDS, records[0][1:], strict=True)) | dict(
        zip(H2_FIELDS, records[1][1:], strict=True))
    match = NAME.match(name)
    if header["file_type"] != FILE_TYPE:
        raise FileRejected(name, 1, f"file_type is {header['file_type']!r}, expected {FILE_TYPE}")
    if match and (match.group(3) != header["sequence"] or match.group(1) != header["sponsor_code"]
                  or match.group(2) != header["business_date"]):
        raise FileRejected(name, 2, "H1/H2 disagree with the file name")
    header["business_date"] = _value(header["business_date"], "date", (name, 2), "business_date")
    for key in ("partner_records", "matched_pairs"):
        header[key] = _value(header[key], "int", (name, 2), key)
    breaks = [{field: _value(raw, kind, (name, n), field)
               for (field, kind), raw in zip(D_FIELDS, record[1:], strict=True)}
              for n, record in enumerate(records[2:-2], start=3)]
    t1, t2 = _trailers(breaks)
    trailer_raw = records[-2][1:] + records[-1][1:]
    if [str(v) for v in (*t1, *t2)] != trailer_raw:
        raise FileRejected(name, len(records) - 1, "trailer figures differ from the D records")
    trailer = dict(zip((*T1_FIELDS, *T2_FIELDS), (*t1, *t2[:2], Decimal(t2[2]), Decimal(t2[3])),
                       strict=True))
    return ResultFile(header, breaks, trailer)


__all__ = ["ResultFile", "file_name", "read_result_file", "write_result", "write_result_file"]

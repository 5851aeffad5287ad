"""The standard layout's header and trailer records, and the control totals they must match.

H1 and H2 are checked against the file's name and the caller (spec §2.1),
T1 and T2 against the totals recomputed from every D record, rejected ones
included (spec §2.2). A file of fewer than four records gets the name of
its first problem. These records are a handful per file, so they are
checked in plain Python.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Context, Decimal, localcontext
from typing import NoReturn

import polars as pl

from reconciliation import records
from reconciliation.parsing.datetimes import parse_date_text, parse_datetime_text
from reconciliation.parsing.reading import describe, first_non_ascii
from reconciliation.parsing.result import FileIdentity
from reconciliation.privacy import mask_value, show_text

RECORD_FIELDS = {"H1": 6, "H2": 5, "T1": 5, "T2": 5}
_AN20 = re.compile(r"^[A-Za-z0-9]{1,20}$")
_COUNT = re.compile(r"^[0-9]{1,18}$")
_SIGNED = re.compile(r"^-?[0-9]{1,38}$")
_NET = re.compile(r"^-?[0-9]{1,28}(?:\.[0-9]{1,10})?$")
_EXACT = Context(prec=100)
#: The longest valid header or trailer record (T2 with an 18-digit count,
#: record count, 38-digit signed net miles and a 40-character net dollars).
LONGEST_OUTER = 2 + 18 + 18 + 39 + 40 + 4 * 2


def _zero() -> dict[str, int]:
    return {records.REDEEM: 0, records.REVERSE: 0}


@dataclass
class ControlTotals:
    """Counts, miles and dollars of the D records by txn_type field, summed chunk by chunk.

    ``scale`` is the most decimal places seen in a dollars value (2 unless a
    file-level problem is about to be found), used to print a total.
    """

    counts: dict[str, int] = field(default_factory=_zero)
    miles: dict[str, int] = field(default_factory=_zero)
    dollars: dict[str, Decimal] = field(
        default_factory=lambda: {records.REDEEM: Decimal(0), records.REVERSE: Decimal(0)}
    )
    scale: int = 2

    def add(self, work: pl.DataFrame, miles: pl.Expr, dollars: pl.Expr, scale: int) -> None:
        """Add a chunk's D records: ``miles`` and ``dollars`` say how to read its amounts exactly."""
        self.scale = max(self.scale, scale)
        kinds = (records.REDEEM, records.REVERSE)
        flags = [(pl.col("txn_type") == kind).fill_null(False) for kind in kinds]
        sums = work.select(
            *[flag.sum().alias(f"n{i}") for i, flag in enumerate(flags)],
            *[miles.filter(flag).sum().alias(f"m{i}") for i, flag in enumerate(flags)],
            *[dollars.filter(flag).sum().alias(f"d{i}") for i, flag in enumerate(flags)],
        ).row(0, named=True)
        with localcontext(_EXACT):
            for i, kind in enumerate(kinds):
                self.counts[kind] += int(sums[f"n{i}"])
                self.miles[kind] += int(sums[f"m{i}"] or 0)
                self.dollars[kind] += Decimal(sums[f"d{i}"] or 0)


class OuterRecords:
    """Checks H1, H2, T1 and T2 of one file; a problem goes to ``reject`` (which raises)."""

    def __init__(self, identity: FileIdentity, reject: Callable[[int | None, str], NoReturn]) -> None:
        self.identity = identity
        self.side = identity.side
        self.reject = reject

    def short_file(self, lines: list[bytes]) -> NoReturn:
        """A file of fewer than 4 records: name its first problem."""
        self.h1(lines[0], 1)
        if len(lines) < 2:
            self.reject(None, "the file ends after line 1: the H2, T1 and T2 records are missing")
        self.h2(lines[1], 2)
        if len(lines) == 2:
            self.reject(None, "the file ends after line 2: the T1 and T2 records are missing")
        kind = self.split(lines[2], 3)[0]
        if kind == "T1":
            self.record(lines[2], 3, "T1")
            self.reject(None, "the file ends after line 3: the T2 record is missing")
        if kind == "D":
            self.reject(None, "the file ends after line 3: the T1 and T2 records are missing")
        self.record(lines[2], 3, "T1")
        raise AssertionError("unreachable")  # pragma: no cover

    def split(self, line: bytes, number: int) -> list[str]:
        if not line.isascii():
            at = first_non_ascii(line)
            self.reject(number, f"the file is not ASCII (byte 0x{line[at]:02X} at column {at + 1})")
        return line.decode("ascii").removesuffix("\r").split("%%")

    def record(self, line: bytes, number: int, kind: str) -> list[str]:
        parts = self.split(line, number)
        if parts[0] != kind:
            found = describe(parts[0], empty_line=parts == [""])
            self.reject(number, f"expected the {kind} record, found {found}")
        if len(parts) != RECORD_FIELDS[kind]:
            self.reject(number, f"the {kind} record has {len(parts)} fields, expected {RECORD_FIELDS[kind]}")
        return parts

    def h1(self, line: bytes, number: int) -> int:
        _, file_type, created, originator, environment, sequence = self.record(line, number, "H1")
        expected = "RECON" if self.side == records.PLATFORM else "POS"
        if file_type != expected:
            shown = show_text(file_type, "file_type")
            self.reject(number, f"H1 file_type {shown} is not {expected} (a {self.side.lower()} file)")
        if parse_datetime_text(created) is None:
            self.reject(number, f"H1 created_at {show_text(created, 'created_at')} is not a valid datetime")
        if not _AN20.match(originator):
            shown = show_text(originator, "originator")
            self.reject(number, f"H1 originator {shown} is not 1-20 letters or digits")
        if environment not in ("PROD", "CERT"):
            self.reject(number, f"H1 environment {show_text(environment, 'environment')} is not PROD or CERT")
        if not re.fullmatch(r"[0-9]{3}", sequence):
            self.reject(number, f"H1 sequence {show_text(sequence, 'sequence')} is not 3 digits")
        named = self.identity.sequence
        if named is not None and int(sequence) != named:
            self.reject(number, f"H1 sequence {sequence} differs from the file name's {named:03d}")
        return int(sequence)

    def h2(self, line: bytes, number: int) -> tuple[datetime, datetime]:
        _, sponsor, day, start, end = self.record(line, number, "H2")
        if sponsor != self.identity.sponsor_code:
            shown = show_text(sponsor, "sponsor_code")
            self.reject(number, f"H2 sponsor_code {shown} differs from {self.identity.sponsor_code}")
        parsed_day = parse_date_text(day)
        if parsed_day is None:
            self.reject(number, f"H2 business_date {show_text(day, 'business_date')} is not a date")
        if parsed_day != self.identity.business_date:
            self.reject(number, f"H2 business_date {parsed_day} differs from {self.identity.business_date}")
        period = []
        for name, text in (("period_start", start), ("period_end", end)):
            value = parse_datetime_text(text)
            if value is None:
                self.reject(number, f"H2 {name} {show_text(text, name)} is not a valid datetime")
            period.append(value)
        return period[0], period[1]

    def trailers(self, t1_line: bytes, t2_line: bytes, rows: int, totals: ControlTotals) -> None:
        """T1 and T2 must be the last records and agree with the recomputed totals."""
        number = rows + 3
        kinds = [self.split(line, n)[0] for line, n in ((t1_line, number), (t2_line, number + 1))]
        if kinds == ["D", "T1"]:
            self.reject(None, f"the file ends after line {number + 1}: the T2 record is missing")
        if kinds == ["D", "D"]:
            self.reject(None, f"the file ends after line {number + 1} without the T1 and T2 records")
        redeem, reverse = records.REDEEM, records.REVERSE
        with localcontext(_EXACT):
            net_dollars = totals.dollars[redeem] - totals.dollars[reverse]
        expected: dict[str, list[tuple[str, re.Pattern[str], int | Decimal]]] = {
            "T1": [
                ("redeem_count", _COUNT, totals.counts[redeem]),
                ("redeem_miles", _SIGNED, totals.miles[redeem]),
                ("reverse_count", _COUNT, totals.counts[reverse]),
                ("reverse_miles", _SIGNED, totals.miles[reverse]),
            ],
            "T2": [
                ("detail_count", _COUNT, rows),
                ("record_count", _COUNT, rows + 4),
                ("net_miles", _SIGNED, totals.miles[redeem] - totals.miles[reverse]),
                ("net_dollars", _NET, net_dollars),
            ],
        }
        for line, kind, raw in ((number, "T1", t1_line), (number + 1, "T2", t2_line)):
            figures = list(zip(self.record(raw, line, kind)[1:], expected[kind], strict=True))
            for text, (name, pattern, _) in figures:
                if not pattern.match(text):
                    what = "a decimal" if pattern is _NET else "an integer"
                    self.reject(line, f"{kind} {name} {show_text(text, name)} is not {what}")
            for text, (name, pattern, counted) in figures:
                if (Decimal(text) if pattern is _NET else int(text)) != counted:
                    shown = f"{counted:.{totals.scale}f}" if pattern is _NET else str(counted)
                    found, total = mask_value(text, name), mask_value(shown, name)
                    self.reject(line, f"{kind} {name} {found} differs from {total} counted in the D records")

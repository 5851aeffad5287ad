"""Partner files in a configured CSV profile (spec §2: a layout described by configuration).

A profile names the delimiter, whether a header row names the columns, which
column holds each canonical field, the unit of the amount column, the
datetime format and zone, and how the file's transaction types map to REDEEM
and REVERSE. Such a file has no header or trailer records and no control
totals, so the file as a whole is rejected only when it cannot be read as the
profile says: the header lacks a mapped column, a row has the wrong number of
fields, a line is not UTF-8 text, or a row's miles or amount is not an
integer or decimal (the spec's "totals cannot be verified" rule, kept so a
layout change never passes as a few rejected records). Every detail record
is then checked by the same field rules as the standard layout.

Values are never unquoted: the fields a profile maps are letters, digits,
datetimes and amounts, which need no quoting, and a quoted value is reported
as the invalid value it is.
"""

from __future__ import annotations

import os
from contextlib import closing
from functools import partial
from pathlib import Path
from typing import NoReturn

import polars as pl

from reconciliation import records
from reconciliation.config import PROFILE_FIELDS, CsvProfile
from reconciliation.errors import FileRejected
from reconciliation.parsing import fields as F
from reconciliation.parsing.datetimes import local_datetimes
from reconciliation.parsing.reading import (
    ChunkParser,
    LineFile,
    LineTooLong,
    open_input,
    prefetch,
    too_long,
)
from reconciliation.parsing.result import CheckedChunk, FileIdentity, LayoutResult
from reconciliation.parsing.sink import RecordSink
from reconciliation.privacy import raw_line_expr, show_text

#: Bytes of rows checked at a time (see ``standard.CHUNK_BYTES``).
CHUNK_BYTES = 16 << 20
_BOM = b"\xef\xbb\xbf"
#: The first line is read before the profile's columns are located, so it
#: has a fixed bound: a header row of column names never comes near it.
FIRST_LINE_BYTES = 64 << 10
#: Bytes allowed for a column that no field maps (a description, say): its
#: content is the partner's, so the allowance is generous.
UNMAPPED_BYTES = 256


class _CsvParser(ChunkParser):
    """Parses one CSV profile file."""

    def __init__(self, path: Path, identity: FileIdentity, profile: CsvProfile, sink: RecordSink) -> None:
        self.path = path
        self.identity = identity
        self.profile = profile
        self.sink = sink
        self.separator = profile.delimiter.encode()
        self.rules = F.RecordRules(
            side=records.PARTNER,
            fields=F.PARTNER_FIELDS,
            txn_types=dict(profile.txn_types),
            amount_unit=profile.amount_unit,
            parse_datetime=partial(
                local_datetimes, fmt=profile.datetime_format, zone_name=profile.timezone.polars_name
            ),
        )
        self.width = 0
        self.index: dict[str, int] = {}
        self.max_line = FIRST_LINE_BYTES  # until the columns are located (``_limit_lines``)
        self.too_long = ""

    def reject(self, line: int | None, problem: str) -> NoReturn:
        raise FileRejected(self.identity.file_name, line, problem)

    def run(self) -> LayoutResult:
        with open_input(self.path) as handle:
            source = LineFile(handle.fileno(), os.fstat(handle.fileno()).st_size, FIRST_LINE_BYTES)
            if source.size == 0:
                self.reject(None, "the file is empty")
            try:
                first_end = source.line_end(0, source.end)
            except LineTooLong:
                self.reject(1, f"the line is over {FIRST_LINE_BYTES} bytes long, more than any row may be")
            first = source.read(0, first_end).removeprefix(_BOM).removesuffix(b"\r")
            body_start = first_end + 1 if self.profile.header else 0
            if self.profile.header:
                self._columns(first)
            elif source.end:
                self._columns(first, by_index=True)
            self._limit_lines()
            source.max_line = self.max_line
            line = 2 if self.profile.header else 1
            chunks = source.chunks(body_start, source.end, CHUNK_BYTES)
            if not self.profile.header:
                chunks = (chunk.removeprefix(_BOM) if i == 0 else chunk for i, chunk in enumerate(chunks))
            with closing(prefetch(chunks, self._check, line)) as stream:
                try:
                    for checked in stream:
                        self.sink.add(checked)
                        line += checked.lines
                except LineTooLong:  # it starts the chunk after the last one consumed
                    self.reject(line, self.too_long)
            if source.blank_lines > 1:
                self.reject(line + 1, "the line is empty")
        first_line = 2 if self.profile.header else 1
        return LayoutResult(
            sequence=self.identity.sequence or 0,
            period_start=None,
            period_end=None,
            detail_count=line - first_line,
        )

    def _columns(self, first: bytes, *, by_index: bool = False) -> None:
        """Locate every mapped field: by header name, or by index in a header-less file."""
        try:
            names = first.decode("utf-8").split(self.profile.delimiter)
        except UnicodeDecodeError:
            self.reject(1, "the line is not UTF-8 text")
        self.width = len(names)
        for name in PROFILE_FIELDS:
            column = self.profile.columns.get(name)
            if column is None:
                continue
            if by_index:
                if not column.isdigit() or int(column) >= self.width:
                    self.reject(1, f"the row has {self.width} fields, so column {column} ({name}) is missing")
                self.index[name] = int(column)
            elif column not in names:
                self.reject(1, f"the header row lacks the column {show_text(column, None)} ({name})")
            else:
                self.index[name] = names.index(column)

    def _field_bytes(self, name: str | None) -> int:
        """The longest valid value of a column under this profile."""
        if name is None:
            return UNMAPPED_BYTES
        if name == "txn_type":
            return max((len(value.encode()) for value in self.profile.txn_types), default=0)
        if name == "partner_datetime":  # any strftime format: 4 bytes a character is plenty
            return 32 + 4 * len(self.profile.datetime_format.encode())
        if name == "dollars" and self.profile.amount_unit == "cents":
            return 12
        return F.FIELD_BYTES[name]

    def _limit_lines(self) -> None:
        """The longest valid row from the located columns, and the bound on every line."""
        fields = self._raw_fields()
        longest = sum(map(self._field_bytes, fields)) + (self.width - 1) * len(self.separator) + 1
        longest += len(_BOM)
        self.max_line = F.LINE_SLACK * longest
        self.too_long = too_long(self.max_line, longest)

    def _raw_fields(self) -> list[str | None]:
        """The canonical field each column of a line holds (None where no field maps)."""
        by_column = {at: name for name, at in self.index.items()}
        return [by_column.get(i) for i in range(self.width)]



    def _prepare(self, chunk: bytes, first: int) -> pl.DataFrame:
        """The chunk's rows as String columns, the canonical fields named; structure checked."""
        frame = self._split(chunk, first)
        rows = frame.height
        return frame.with_columns(
            pl.int_range(first, first + rows, dtype=pl.Int64).alias("line_number"),
            *[
                (
                    pl.col(f"column_{self.index[name] + 1}")
                    if name in self.index
                    else pl.lit(None, pl.String)
                ).alias(name)
                for name in F.PARTNER_FIELDS
            ],
        )

    def _consume(self, frame: pl.DataFrame, chunk: bytes, first: int, *, keep: bool) -> CheckedChunk | None:
        """Check the amounts of a prepared chunk and validate its records (when ``keep``)."""
        self._check_amounts(frame, chunk, first)
        if not keep:
            return None
        raw = [f"column_{i + 1}" for i in range(self.width)]
        frame = frame.select("line_number", *F.PARTNER_FIELDS, *raw)
        sponsor, day = self.identity.sponsor_code, self.identity.business_date
        work = F.annotate(frame, self.rules)
        good, bad = F.finish(work, frame.columns, self.rules, sponsor_code=sponsor, business_date=day)
        rejected = bad.select(
            pl.lit(records.PARTNER).cast(records.SIDE).alias("side"),
            pl.lit(self.identity.file_name).alias("file_name"),
            "line_number",
            "reason",
            raw_line_expr(raw, self._raw_fields(), self.profile.delimiter).alias("raw_line"),
        )
        return CheckedChunk(frame.height, good, rejected)

    def _split(self, chunk: bytes, first: int) -> pl.DataFrame:
        """The chunk as String columns ``column_1``..``column_n``; a malformed line rejects the file."""
        schema = {f"column_{i + 1}": pl.String for i in range(self.width)}
        try:
            frame = pl.read_csv(
                chunk,
                separator=self.profile.delimiter,
                has_header=False,
                quote_char=None,
                schema=schema,
            )
        except pl.exceptions.PolarsError:
            frame = None
        if frame is not None and chunk.count(self.separator) != frame.height * (self.width - 1):
            frame = None
        if frame is not None and (len(chunk) <= self.max_line or self._line_bound(frame) <= self.max_line):
            return frame
        lines = chunk.split(b"\n")[:-1]
        for index, raw in enumerate(lines):
            if len(raw) > self.max_line:
                self._prefix(chunk, first, index)
                self.reject(first + index, self.too_long)
            line = raw.removesuffix(b"\r")
            problem = None
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                problem = "the line is not UTF-8 text"
            if problem is None and not line:
                problem = "the line is empty"
            elif problem is None and line.count(self.separator) != self.width - 1:
                problem = f"the row has {line.count(self.separator) + 1} fields, expected {self.width}"
            if problem is not None:
                self._prefix(chunk, first, index)
                self.reject(first + index, problem)
        if frame is not None:  # only the length of a line was in doubt, and none is too long
            return frame
        raise AssertionError("a chunk the reader refused has no malformed line")  # pragma: no cover

    def _line_bound(self, frame: pl.DataFrame) -> int:
        """At least the length of the chunk's longest line (cheap: column maxima)."""
        longest = frame.select(pl.sum_horizontal(pl.all().str.len_bytes().max())).item()
        return int(longest or 0) + (self.width - 1) * len(self.separator) + 1

    def _check_amounts(self, frame: pl.DataFrame, chunk: bytes, first: int) -> None:
        """Miles and the amount must be numbers: otherwise the layout is not what the profile says."""
        amount = F.INTEGER_RE if self.profile.amount_unit == "cents" else F.DECIMAL_RE
        found = F.first_bad_amount(frame, amount)
        if found is None:
            return
        index, name, value = found
        self._prefix(chunk, first, index)
        kind = "an integer" if name == "miles" or self.profile.amount_unit == "cents" else "a decimal number"
        column = self.profile.columns[name]
        shown = "is empty" if value is None else f"{show_text(value, name)} is not {kind}"
        self.reject(first + index, f"{name} (column {show_text(column, None)}) {shown}")


def parse_csv(path: Path, identity: FileIdentity, profile: CsvProfile, sink: RecordSink) -> LayoutResult:
    """Parse a partner file of a CSV profile (see the module docstring) into ``sink``."""
    return _CsvParser(path, identity, profile, sink).run()

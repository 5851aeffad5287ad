"""The standard ``%%`` layout: H1, H2, D records, T1, T2 (spec §2.1, §2.2).

A big sponsor's file holds ten million records, so the body is never read
line by line in Python. It is streamed in chunks cut at line breaks, and
each chunk is split into String columns by Polars' CSV reader with ``%`` as
the separator: a ``%%`` separator becomes two ``%`` around an empty column,
which is skipped. The split is then proven exact with whole-chunk facts
(see ``_exact``); a chunk that fails them takes a slow path that finds the
malformed line, or splits the chunk exactly when there is none (a lone
``%`` inside a value is a bad value, not a bad line). Control totals are
summed per chunk; headers and trailers are checked in plain Python.

A file-level problem is reported for the first line that has one: before
raising for a line, the lines above it in its chunk are checked too.
"""

from __future__ import annotations

import os
from contextlib import closing
from pathlib import Path
from typing import Any, NoReturn

import polars as pl

from reconciliation import records
from reconciliation.errors import FileRejected
from reconciliation.parsing import fields as F
from reconciliation.parsing.outer import LONGEST_OUTER, ControlTotals, OuterRecords
from reconciliation.parsing.reading import (
    ChunkParser,
    LineFile,
    LineTooLong,
    describe,
    first_non_ascii,
    open_input,
    prefetch,
    too_long,
)
from reconciliation.parsing.result import CheckedChunk, FileIdentity, LayoutResult
from reconciliation.parsing.sink import RecordSink
from reconciliation.privacy import raw_line_expr, show_text

#: Bytes of detail lines checked at a time: what bounds a parse's memory
#: (a few chunks are alive at once, see ``reading.prefetch``).
CHUNK_BYTES = 16 << 20
#: Read bytes as they are: no header, no quoting, every value a String.
_RAW: dict[str, Any] = {"has_header": False, "quote_char": None}


def longest_record(side: str) -> int:
    """Bytes of the longest valid record of a side's file, a ``\\r`` included (spec §2.1)."""
    fields = F.PLATFORM_FIELDS if side == records.PLATFORM else F.PARTNER_FIELDS
    detail = len("D") + sum(F.FIELD_BYTES[name] for name in fields) + 2 * len(fields)
    return max(detail, LONGEST_OUTER) + 1


class _StandardParser(ChunkParser):
    """Parses one standard file; state lives only for the duration of ``run``."""

    def __init__(self, path: Path, identity: FileIdentity, sink: RecordSink) -> None:
        self.path = path
        self.identity = identity
        self.side = identity.side
        self.sink = sink
        self.outer = OuterRecords(identity, self.reject)
        self.width = 16 if self.side == records.PLATFORM else 14
        self.names = ("rt", *(F.PLATFORM_FIELDS if self.side == records.PLATFORM else F.PARTNER_FIELDS))
        self.schema = {f"column_{i + 1}": pl.String for i in range(2 * self.width - 1)}
        self.fields_at = [f"column_{i + 1}" for i in range(0, 2 * self.width - 1, 2)]
        self.rules = F.RecordRules(side=self.side, fields=self.names[1:])
        self.totals = ControlTotals()  # over every D record, rejected ones included
        self.longest = longest_record(self.side)
        self.max_line = F.LINE_SLACK * self.longest
        self.too_long = too_long(self.max_line, self.longest)

    def reject(self, line: int | None, problem: str) -> NoReturn:
        raise FileRejected(self.identity.file_name, line, problem)

    # -- whole file -----------------------------------------------------------------

    def run(self) -> LayoutResult:
        with open_input(self.path) as handle:
            source = LineFile(handle.fileno(), os.fstat(handle.fileno()).st_size, self.max_line)
            if source.size == 0:
                self.reject(None, "the file is empty")
            if source.end == 0:
                self.reject(1, "the file has no records, only empty lines")
            try:
                spans = source.outer_lines()
                if spans is None:
                    self.outer.short_file(source.lines())
            except LineTooLong as exc:
                self.reject(source.line_number(exc.offset), self.too_long)
            h1, h2, t1, t2 = spans
            sequence = self.outer.h1(source.line(h1), 1)
            period = self.outer.h2(source.line(h2), 2)
            rows = self._body(source, h2[1] + 1, t1[0])
            self.outer.trailers(source.line(t1), source.line(t2), rows, self.totals)
            if source.blank_lines > 1:
                self.reject(rows + 6, "the line is empty")
        return LayoutResult(sequence, period[0], period[1], rows)

    # -- body ----------------------------------------------------------------------------------

    def _body(self, source: LineFile, start: int, stop: int) -> int:
        """Parse the D records in [start, stop); returns how many there are."""
        rows = 0
        with closing(prefetch(source.chunks(start, stop, CHUNK_BYTES), self._check, 3)) as stream:
            try:
                for checked in stream:
                    self.sink.add(checked)
                    rows += checked.lines
            except LineTooLong:  # it starts the chunk after the last one consumed
                self.reject(3 + rows, self.too_long)
        return rows


    def _prepare(self, chunk: bytes, first: int) -> pl.DataFrame:
        """The chunk's D records as String columns plus ``line_number``; structure checked."""
        if not chunk.isascii():
            at = first_non_ascii(chunk)
            start = chunk.rfind(b"\n", 0, at) + 1
            if start:
                self._chunk(chunk[:start], first)
            self.reject(
                first + chunk.count(b"\n", 0, at),
                f"the file is not ASCII (byte 0x{chunk[at]:02X} at column {at - start + 1})",
            )
        frame = self._split(chunk, first)
        kinds = frame["rt"]
        if kinds.null_count() or not (kinds == "D").all():
            index = int((kinds != "D").fill_null(True).arg_true()[0])
            self._prefix(chunk, first, index)
            self.reject(first + index, self._line_problem(b"", kinds[index]))
        return frame.with_columns(
            pl.int_range(first, first + frame.height, dtype=pl.Int64).alias("line_number")
        )

    def _consume(self, frame: pl.DataFrame, chunk: bytes, first: int, *, keep: bool) -> CheckedChunk | None:
        """Validate a prepared chunk, add it to the totals and convert its records (when ``keep``)."""
        work = F.annotate(frame, self.rules)
        valid = bool(work["_ok"].all())
        if not (work["ok_miles"].all() and work["ok_dollars"].all()):
            self._check_amounts(work, chunk, first)
            self._add_totals_exact(work)
        elif not (valid and keep):
            self.totals.add(work, pl.col("miles").cast(pl.Int64), pl.col("dollars").cast(records.MONEY), 2)
        if not keep:
            return None
        sponsor, day = self.identity.sponsor_code, self.identity.business_date
        good, bad = F.finish(work, frame.columns, self.rules, sponsor_code=sponsor, business_date=day)
        if valid:  # every record is in ``good``, amounts already converted
            self.totals.add(good, pl.col("miles"), pl.col("dollars"), 2)
        return CheckedChunk(frame.height, good, self._rejected(bad))

    def _line_problem(self, line: bytes, kind: str | None) -> str:
        if kind == "D":
            return f"the D record has {line.count(b'%%') + 1} fields, expected {self.width}"
        return f"expected a D record or the T1 record, found {describe(kind)}"

    def _split(self, chunk: bytes, first: int) -> pl.DataFrame:
        """The chunk as String columns rt + fields, or the first malformed line rejected.

        The fast path reads only the field columns; ``_exact`` proves it right.
        """
        frame: pl.DataFrame | None
        try:
            frame = pl.read_csv(chunk, **_RAW, separator="%", schema=self.schema, columns=self.fields_at)
        except pl.exceptions.PolarsError:
            frame = None
        if frame is not None and not self._exact(chunk, frame):
            frame = None
        if frame is not None and len(chunk) > self.max_line and self._line_bound(frame) > self.max_line:
            frame = None  # a line may be too long: the slow path measures each one
        if frame is None:
            return self._slow_split(chunk, first)
        return frame.rename(dict(zip(frame.columns, self.names, strict=True)))

    def _exact(self, chunk: bytes, frame: pl.DataFrame) -> bool:
        """Whether the fast split is the exact ``%%`` split of every line.

        A line whose last field column is not null has at least the
        ``2 x (fields - 1)`` percent signs of a full record; the others are
        counted one by one. Then the bytes add up only if every line has
        exactly that many and the skipped in-between columns are empty:
        chunk length = field lengths + percent signs + line breaks.
        """
        rows, width = frame.height, 2 * (self.width - 1)
        breaks = rows + (chunk.count(b"\r\n") if b"\r" in chunk else 0)
        lengths = frame.select(pl.sum_horizontal(pl.all().str.len_bytes().sum())).item()
        if lengths + rows * width + breaks != len(chunk):
            return False
        last = frame.columns[-1]
        if not frame[last].null_count():
            return True
        try:
            lines = pl.read_csv(chunk, **_RAW, separator="\x01", schema={"line": pl.String})
        except pl.exceptions.PolarsError:
            return False
        if lines.height != rows:
            return False
        short = lines.filter(frame[last].is_null())["line"]
        return bool((short.str.count_matches("%", literal=True) == width).all())

    def _line_bound(self, frame: pl.DataFrame) -> int:
        """At least the length of the longest line of an exactly split chunk (cheap: column maxima)."""
        longest = frame.select(pl.sum_horizontal(pl.all().str.len_bytes().max())).item()
        return int(longest or 0) + 2 * (self.width - 1) + 1

    def _slow_split(self, chunk: bytes, first: int) -> pl.DataFrame:
        """Find the first line with a structural problem; else split the chunk exactly."""
        lines = chunk.split(b"\n")[:-1]
        for index, raw in enumerate(lines):
            if len(raw) > self.max_line:
                self._prefix(chunk, first, index)
                self.reject(first + index, self.too_long)
            line = raw.removesuffix(b"\r")
            kind = line.split(b"%%", 1)[0].decode("ascii")
            if not line or kind != "D" or line.count(b"%%") != self.width - 1:
                self._prefix(chunk, first, index)
                if not line:
                    self.reject(first + index, "the line is empty")
                self.reject(first + index, self._line_problem(line, kind))
        rows = [[v.decode() or None for v in raw.removesuffix(b"\r").split(b"%%")] for raw in lines]
        return pl.DataFrame(rows, schema=dict.fromkeys(self.names, pl.String), orient="row")

    def _check_amounts(self, work: pl.DataFrame, chunk: bytes, first: int) -> None:
        """Miles and dollars of every D record must be numbers, or totals mean nothing."""
        found = F.first_bad_amount(work, F.DECIMAL_RE)
        if found is not None:
            index, name, value = found
            self._prefix(chunk, first, index)
            kind = "an integer" if name == "miles" else "a decimal number"
            shown = f"{name} is empty" if value is None else f"{name} {show_text(value, name)} is not {kind}"
            self.reject(first + index, f"D record {shown}, so the control totals cannot be verified")

    def _add_totals_exact(self, work: pl.DataFrame) -> None:
        """Totals when some amounts are integers or decimals of any size or scale."""
        dollars = pl.col("dollars")
        point = dollars.str.find(".", literal=True)
        digits = work.select(
            pl.when(point.is_null()).then(0).otherwise(dollars.str.len_bytes() - point - 1).max(),
            pl.when(point.is_null()).then(dollars.str.len_bytes()).otherwise(point).max(),
            pl.col("miles").str.len_bytes().max(),
        ).row(0)
        scale, whole, miles_digits = (int(v or 0) for v in digits)
        if scale + whole > 38 or miles_digits > 38:
            self.reject(None, "a D record's miles or dollars are too large to total")
        self.totals.add(work, pl.col("miles").cast(pl.Int128), dollars.cast(pl.Decimal(38, scale)), scale)

    def _rejected(self, bad: pl.DataFrame) -> pl.DataFrame:
        """Rejected rows with their raw line rebuilt, the collector masked."""
        return bad.select(
            pl.lit(self.side).cast(records.SIDE).alias("side"),
            pl.lit(self.identity.file_name).alias("file_name"),
            pl.col("line_number").cast(pl.Int64),
            pl.col("reason"),
            raw_line_expr(list(self.names), list(self.names), "%%").alias("raw_line"),
        )


def parse_standard(path: Path, identity: FileIdentity, sink: RecordSink) -> LayoutResult:
    """Parse a file of the standard ``%%`` layout (see the module docstring) into ``sink``."""
    return _StandardParser(path, identity, sink).run()

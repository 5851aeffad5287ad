"""What parsing hands back: a whole file's result, and what passes between its stages.

``ParsedFile`` is the contract with the rest of the run: the file's identity
and control figures, its rejected records, and its valid records either in
memory or spilled to one Parquet file (``scan``/``frame`` read them the same
way from either place). ``FileIdentity``, ``CheckedChunk`` and
``LayoutResult`` are what ``parse_file``, a layout parser and its chunks
hand each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import polars as pl


@dataclass(frozen=True)
class ParsedFile:
    """One parsed input file.

    Attributes:
        side: ``PARTNER`` or ``PLATFORM``.
        path: Where the file was read.
        file_name: Its base name.
        sha256: Hex digest of the file's bytes (for audit and idempotence).
        sponsor_code: The file's sponsor.
        business_date: The file's business date.
        sequence: The file's sequence number (its name's ``NNN``).
        period_start: UTC start of the covered interval (H2), None for CSV profiles.
        period_end: UTC end of the covered interval (H2), None for CSV profiles.
        detail_count: Number of detail records read, rejected ones included.
        records: Valid records, ``records.RECORD_SCHEMA``, sorted by line_number;
            None when they were spilled to ``records_path`` (read them with ``scan``).
        rejected: Rejected records, ``records.REJECTED_SCHEMA``, sorted by line_number.
        usable_count: Number of valid records (``detail_count`` minus the rejected ones).
        records_path: The Parquet file holding the valid records, when spilled.
    """

    side: str
    path: Path
    file_name: str
    sha256: str
    sponsor_code: str
    business_date: date
    sequence: int
    period_start: datetime | None
    period_end: datetime | None
    detail_count: int
    records: pl.DataFrame | None
    rejected: pl.DataFrame
    usable_count: int
    records_path: Path | None = None

    def scan(self, *columns: str) -> pl.LazyFrame:
        """The valid records (only ``columns`` when given), in line order, wherever they are kept."""
        lazy = self.records.lazy() if self.records is not None else pl.scan_parquet(self._spilled())
        return lazy.select(columns) if columns else lazy

    def frame(self, *columns: str) -> pl.DataFrame:
        """The valid records (only ``columns`` when given) in memory."""
        if self.records is not None:
            return self.records.select(columns) if columns else self.records
        return self.scan(*columns).collect()

    def _spilled(self) -> Path:
        if self.records_path is None:
            raise ValueError(f"{self.file_name}: the parsed records are neither in memory nor spilled")
        return self.records_path


@dataclass(frozen=True)
class FileIdentity:
    """Who and what a file is for, as its name and the caller say."""

    file_name: str
    side: str
    sponsor_code: str
    business_date: date
    sequence: int | None


@dataclass(frozen=True)
class CheckedChunk:
    """One chunk of detail lines, validated, on its way to the record sink.

    Attributes:
        lines: How many detail lines the chunk held (valid and rejected).
        records: The valid ones as ``records.RECORD_SCHEMA`` with a null
            ``collector_hash``, plus the raw ``collector_number`` as a last
            column: the sink hashes it and drops it.
        rejected: The rejected ones as ``records.REJECTED_SCHEMA``.
    """

    lines: int
    records: pl.DataFrame
    rejected: pl.DataFrame


@dataclass(frozen=True)
class LayoutResult:
    """What a layout parser hands back to ``parse_file`` (the records went to the sink)."""

    sequence: int
    period_start: datetime | None
    period_end: datetime | None
    detail_count: int

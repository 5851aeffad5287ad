"""Input file parsers: the standard ``%%`` layout and configured CSV profiles.

``parse_file`` is the one entry point. It reads a file of either side, checks
it as a whole (spec §2.2: a file-level problem raises ``FileRejected`` and
none of its records is used), validates every detail record, and returns the
valid ones normalized to ``records.RECORD_SCHEMA`` beside the rejected ones.
Full collector numbers never leave this package.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import polars as pl

from reconciliation import records
from reconciliation.config import CsvProfile
from reconciliation.errors import FileRejected
from reconciliation.inbox import PARTNER_PATTERN, PLATFORM_PATTERN, match_name
from reconciliation.parsing.reading import LINK_PROBLEM, open_input
from reconciliation.privacy import CollectorHasher

__all__ = ["ParsedFile", "open_input", "parse_file"]


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


_HASHERS: dict[bytes, CollectorHasher] = {}
_HASHERS_LOCK = threading.Lock()


def hasher_for(key: bytes) -> CollectorHasher:
    """One hasher per key for the process, so both sides of a run share its memory."""
    digest = hashlib.sha256(key).digest()
    with _HASHERS_LOCK:
        if digest not in _HASHERS:
            _HASHERS.clear()  # a new key: forget numbers hashed under the old one
            _HASHERS[digest] = CollectorHasher(key)
        return _HASHERS[digest]


def identify(
    path: Path,
    side: str,
    profile: CsvProfile | None,
    sponsor_code: str | None,
    business_date: date | None,
) -> FileIdentity:
    """Sponsor, date and sequence of a file from its name, checked against the caller's.

    Raises:
        FileRejected: the name does not follow the expected pattern and the
            caller did not say whose file it is, or the name says otherwise.
    """
    name = path.name
    if side not in records.SIDES:
        raise ValueError(f"side must be PARTNER or PLATFORM, not {side!r}")
    standard = PLATFORM_PATTERN if side == records.PLATFORM else PARTNER_PATTERN
    pattern = profile.file_pattern if profile is not None else standard
    found = match_name(pattern, name)
    if found is None:
        if sponsor_code is None or business_date is None:
            raise FileRejected(name, None, f"the file name does not follow the pattern {pattern}")
        return FileIdentity(name, side, sponsor_code, business_date, None)
    sponsor, day, sequence = found
    if sponsor_code is not None and sponsor != sponsor_code:
        raise FileRejected(name, None, f"the file name's sponsor {sponsor} is not {sponsor_code}")
    if business_date is not None and day != business_date:
        raise FileRejected(name, None, f"the file name's business date {day} is not {business_date}")
    return FileIdentity(name, side, sponsor, day, sequence)


class FileDigest(threading.Thread):
    """SHA-256 of a file, computed in a thread beside the parse.

    Hashing 1.5 GB takes about a second and releases the GIL, so it runs
    while the parser works instead of before it; ``cancel`` stops it when
    the parse fails.
    """

    def __init__(self, path: Path) -> None:
        super().__init__(name=f"sha256-{path.name}", daemon=True)
        self.path = path
        self.cancelled = threading.Event()
        self.error: BaseException | None = None
        self.hexdigest = ""

    def run(self) -> None:
        digest, buffer = hashlib.sha256(), bytearray(8 << 20)  # one buffer: no page faults per read
        try:
            with open_input(self.path) as handle:
                while not self.cancelled.is_set() and (size := handle.readinto(buffer)):
                    digest.update(memoryview(buffer)[:size])
        except (OSError, FileRejected) as exc:
            self.error = exc
        self.hexdigest = digest.hexdigest()

    def cancel(self) -> None:
        self.cancelled.set()
        self.join()

    def result(self) -> str:
        self.join()
        if self.error is not None:
            raise self.error
        return self.hexdigest


def sort_lines(frame: pl.DataFrame) -> pl.DataFrame:
    """Guarantee line order (chunks are built in order, but never rely on it silently)."""
    return frame.sort("line_number") if not frame["line_number"].is_sorted() else frame


def parse_file(
    path: Path,
    side: str,
    *,
    hash_key: bytes,
    profile: CsvProfile | None = None,
    sponsor_code: str | None = None,
    business_date: date | None = None,
    spill_to: Path | None = None,
) -> ParsedFile:
    """Parse one input file of either side.

    Args:
        path: The file.
        side: ``PARTNER`` or ``PLATFORM``.
        hash_key: Key of the collector hash (spec §7).
        profile: A CSV profile for a partner file, None for the standard ``%%`` layout.
        sponsor_code: Expected sponsor; defaults to the file name's.
        business_date: Expected business date; defaults to the file name's.
        spill_to: Write the valid records to this Parquet file instead of
            keeping them in memory (``ParsedFile.records`` is then None).

    Raises:
        FileRejected: the file is unusable as a whole (spec §2.2), naming the
            file, the line and the first problem.
    """
    from reconciliation.parsing.csv_profile import parse_csv
    from reconciliation.parsing.standard import parse_standard

    path = Path(path)
    identity = identify(path, side, profile, sponsor_code, business_date)
    if path.is_symlink():
        raise FileRejected(identity.file_name, None, LINK_PROBLEM)
    hasher = hasher_for(hash_key)
    digest = FileDigest(path)
    digest.start()
    try:
        if profile is None:
            parsed = parse_standard(path, identity, hasher)
        else:
            parsed = parse_csv(path, identity, profile, hasher)
    except BaseException:
        digest.cancel()
        raise
    good = sort_lines(parsed.records)
    if spill_to is not None:
        spill_to.parent.mkdir(parents=True, exist_ok=True)
        good.write_parquet(spill_to, compression="lz4")
    return ParsedFile(
        side=side,
        path=path,
        file_name=identity.file_name,
        sha256=digest.result(),
        sponsor_code=identity.sponsor_code,
        business_date=identity.business_date,
        sequence=parsed.sequence,
        period_start=parsed.period_start,
        period_end=parsed.period_end,
        detail_count=parsed.detail_count,
        records=None if spill_to is not None else good,
        rejected=sort_lines(parsed.rejected),
        usable_count=good.height,
        records_path=spill_to,
    )


@dataclass(frozen=True)
class LayoutResult:
    """What a layout parser hands back to ``parse_file``."""

    sequence: int
    period_start: datetime | None
    period_end: datetime | None
    detail_count: int
    records: pl.DataFrame
    rejected: pl.DataFrame

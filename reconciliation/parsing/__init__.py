"""Input file parsers: the standard ``%%`` layout and configured CSV profiles.

``parse_file`` is the one entry point. It reads a file of either side, checks
it as a whole (spec §2.2: a file-level problem raises ``FileRejected`` and
none of its records is used), validates every detail record, and returns the
valid ones normalized to ``records.RECORD_SCHEMA`` beside the rejected ones.
Full collector numbers never leave this package.
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import queue
import re
import threading
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import numpy as np
import polars as pl

from reconciliation import records
from reconciliation.config import CsvProfile
from reconciliation.errors import FileRejected
from reconciliation.inbox import PARTNER_PATTERN, PLATFORM_PATTERN, match_name
from reconciliation.privacy import CollectorHasher

__all__ = ["ParsedFile", "parse_file"]


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
        records: Valid records, ``records.RECORD_SCHEMA``, sorted by line_number.
        rejected: Rejected records, ``records.REJECTED_SCHEMA``, sorted by line_number.
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
    records: pl.DataFrame
    rejected: pl.DataFrame


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


#: Why a symbolic link is not read (the SFTP download refuses links for the same reason).
LINK_PROBLEM = (
    "the file is a symbolic link, and only regular files are read as input "
    "(copy the file itself into the inbox)"
)


def open_input(path: Path) -> io.FileIO:
    """Open an input file for reading, refusing a symbolic link.

    A link could make a run read any file the process may read, outside the
    inbox, so every link is refused, one pointing inside the inbox too:
    that is the simplest rule to state and to check. ``O_NOFOLLOW`` makes
    the refusal hold even if the file is swapped for a link after it was listed.

    Raises:
        FileRejected: the file is a symbolic link.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise FileRejected(path.name, None, LINK_PROBLEM) from None
        raise
    return io.FileIO(fd, "rb")


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
) -> ParsedFile:
    """Parse one input file of either side.

    Args:
        path: The file.
        side: ``PARTNER`` or ``PLATFORM``.
        hash_key: Key of the collector hash (spec §7).
        profile: A CSV profile for a partner file, None for the standard ``%%`` layout.
        sponsor_code: Expected sponsor; defaults to the file name's.
        business_date: Expected business date; defaults to the file name's.

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
        records=sort_lines(parsed.records),
        rejected=sort_lines(parsed.rejected),
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


# -- byte-level helpers shared by the layouts ------------------------------------------------

_NON_ASCII = re.compile(rb"[\x80-\xff]")
RECORD_TYPES = ("H1", "H2", "D", "T1", "T2")


class LineTooLong(Exception):
    """A line is longer than any record of its layout may be.

    Attributes:
        offset: Where the line starts in the file.
    """

    def __init__(self, offset: int) -> None:
        super().__init__(f"the line at byte {offset} is too long")
        self.offset = offset


def too_long(limit: int, longest: int) -> str:
    """The problem of a line longer than ``limit`` bytes (``longest``: the longest valid record)."""
    return f"the line is over {limit} bytes long, and no valid record is longer than {longest}"


class LineFile:
    """Byte ranges of an open file whose end is normalized, read with bounded buffers.

    ``end`` is where the last line's text ends once the final line break and
    any empty lines after it are set aside; ``blank_lines`` counts those
    empty lines (spec §2.1 tolerates one).

    ``max_line`` bounds every line: no method reads more than that much of
    one line, so a file of any shape (a 2 GiB line without a line feed, say)
    costs at most a chunk of memory, and ``LineTooLong`` is raised as soon as
    a line is known to run past it.
    """

    def __init__(self, fd: int, size: int, max_line: int) -> None:
        self.fd = fd
        self.size = size
        self.max_line = max_line
        self.end, breaks = self._strip_line_breaks(size)
        self.blank_lines = max(breaks - 1, 0)

    def _strip_line_breaks(self, end: int, step: int = 1 << 16) -> tuple[int, int]:
        """Where the content ends once the line breaks at ``end`` are set aside, and how many.

        Read backwards a block at a time, each block's trailing ``\\n`` and
        ``\\r\\n`` found with bytes methods: a file ending in millions of line
        feeds costs a few reads, not one each.
        """
        breaks = 0
        while end > 0:
            base = max(0, end - step)
            block = self.read(base, end)
            tail = block[len(block.rstrip(b"\r\n")) :]
            if tail.endswith(b"\r"):  # a lone carriage return ends the line breaks
                tail = b""
            elif (lone := tail.rfind(b"\r\r")) >= 0:
                tail = tail[lone + 1 :]
            breaks += tail.count(b"\n")
            if len(tail) < len(block):
                return end - len(tail), breaks
            end = base - 1 if block.startswith(b"\n") and self.read(max(0, base - 1), base) == b"\r" else base
        return 0, breaks

    def read(self, start: int, stop: int) -> bytes:
        """The bytes in [start, stop)."""
        parts = []
        while start < stop:
            block = os.pread(self.fd, min(stop - start, 1 << 30), start)
            if not block:
                break
            parts.append(block)
            start += len(block)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def find(self, start: int, stop: int, step: int = 1 << 16) -> int:
        """Offset of the first line feed in [start, stop), or -1."""
        while start < stop:
            block = self.read(start, min(stop, start + step))
            at = block.find(b"\n")
            if at >= 0:
                return start + at
            start += len(block)
        return -1

    def rfind(self, floor: int, stop: int, step: int = 1 << 16) -> int:
        """Offset of the last line feed in [floor, stop), or -1."""
        while stop > floor:
            begin = max(floor, stop - step)
            at = self.read(begin, stop).rfind(b"\n")
            if at >= 0:
                return begin + at
            stop = begin
        return -1

    def line_end(self, start: int, stop: int) -> int:
        """Where the line starting at ``start`` ends: its line feed, or ``stop``.

        Raises:
            LineTooLong: the line is longer than ``max_line``.
        """
        at = self.find(start, min(stop, start + self.max_line + 1))
        if at >= 0:
            return at
        if stop - start > self.max_line:
            raise LineTooLong(start)
        return stop

    def first_long_line(self, start: int) -> int:
        """Offset of the first line at or after ``start`` longer than ``max_line`` (end if none)."""
        step = max(1 << 20, self.max_line + 1)
        line_start = pos = start
        while pos < self.end:
            block = self.read(pos, min(self.end, pos + step))
            feeds = np.flatnonzero(np.frombuffer(block, np.uint8) == 10) + pos
            starts = np.concatenate(([line_start], feeds + 1))
            ends = np.concatenate((feeds, [pos + len(block)]))
            over = np.flatnonzero(ends - starts > self.max_line)
            if over.size:
                return int(starts[over[0]])
            line_start, pos = int(starts[-1]), pos + len(block)
        return self.end

    def line_number(self, offset: int, step: int = 8 << 20) -> int:
        """1-based number of the line starting at ``offset`` (counted in bounded blocks)."""
        count, pos = 1, 0
        while pos < offset:
            block = self.read(pos, min(offset, pos + step))
            count += block.count(b"\n")
            pos += len(block)
        return count

    def outer_lines(self) -> tuple[tuple[int, int], ...] | None:
        """Spans of the first two and last two lines; None for fewer than 4 lines.

        The body is then everything from the third line up to the last two,
        ``[spans[1][1] + 1, spans[2][0])``. Only the first and last
        ``max_line`` bytes of a line are ever looked at.

        Raises:
            LineTooLong: one of these lines, or a line between them when one
                of the last two is too long, is longer than ``max_line``.
        """
        n1 = self.line_end(0, self.end)
        if n1 >= self.end:
            return None
        n2 = self.line_end(n1 + 1, self.end)
        if n2 >= self.end:
            return None
        p2 = self.rfind(max(n2, self.end - self.max_line - 1), self.end)
        if p2 < 0:
            raise LineTooLong(self.first_long_line(n2 + 1))
        if p2 == n2:
            return None
        p1 = self.rfind(max(n2, p2 - self.max_line - 1), p2)
        if p1 < 0:
            raise LineTooLong(self.first_long_line(n2 + 1))
        return (0, n1), (n1 + 1, n2), (p1 + 1, p2), (p2 + 1, self.end)

    def lines(self) -> list[bytes]:
        """All lines of a file that ``outer_lines`` found to have fewer than 4."""
        out, start = [], 0
        while start <= self.end:
            stop = self.line_end(start, self.end)
            out.append(self.read(start, stop))
            start = stop + 1
        return out

    def line(self, span: tuple[int, int]) -> bytes:
        """One line's bytes (without its line feed)."""
        return self.read(*span)

    def chunks(self, start: int, stop: int, size: int) -> Iterator[bytes]:
        """Blocks of whole lines covering [start, stop), each ending with a line feed.

        The last line may lack its line feed in the file (the end of a file's
        content); it gets one here, so every block is alike. A line longer
        than ``size`` is a block of its own if it fits ``max_line``.

        Raises:
            LineTooLong: a line that is not in a block yet is longer than
                ``max_line`` (it starts the block that would come next).
        """
        while start < stop:
            cut = stop if start + size >= stop else self.rfind(start, start + size) + 1
            if cut <= start:  # a line longer than a chunk
                at = self.line_end(start, stop)
                cut = stop if at >= stop else at + 1
            block = self.read(start, cut)
            start = cut
            yield block if block.endswith(b"\n") else block + b"\n"


def prefetch(
    chunks: Iterator[bytes], prepare: Callable[[bytes, int], pl.DataFrame], first: int
) -> Generator[tuple[bytes, int, pl.DataFrame], None, None]:
    """(chunk, first line, prepared frame) for each chunk, prepared one chunk ahead in a thread.

    Splitting the next chunk overlaps with validating the current one, so
    both cores stay busy. A problem found while preparing is raised when the
    consumer reaches that chunk, after the problems of the chunks before it.
    Close the iterator (``contextlib.closing``) before the file it reads.
    """
    handoff: queue.Queue[object] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        line = first
        try:
            for chunk in chunks:
                frame = prepare(chunk, line)
                if not put((chunk, line, frame)):
                    return
                line += frame.height
        except BaseException as exc:  # handed over, raised in the consumer's order
            put(exc)
            return
        put(None)

    worker = threading.Thread(target=run, name="parse-prefetch", daemon=True)
    worker.start()
    try:
        while (item := handoff.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        worker.join()


def first_non_ascii(data: bytes) -> int:
    """Offset of the first byte above 0x7F (the data must have one)."""
    found = _NON_ASCII.search(data)
    assert found is not None
    return found.start()


def line_offset(chunk: bytes, index: int) -> int:
    """Byte offset where 0-based line ``index`` of ``chunk`` starts."""
    at = 0
    for _ in range(index):
        at = chunk.index(b"\n", at) + 1
    return at


def describe(kind: str | None, *, empty_line: bool = False) -> str:
    """How to name what was found where a given record was expected."""
    if empty_line:
        return "an empty line"
    if kind in RECORD_TYPES:
        return f"a {kind} record"
    if not kind:
        return "a record without a type"
    if re.fullmatch(r"[A-Za-z0-9]{1,4}", kind):
        return f"a record of type '{kind}'"
    return "an unrecognized record"

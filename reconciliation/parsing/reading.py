"""Reading input files with bounded memory: lines, chunks and the checks on raw bytes.

Both layouts read through ``LineFile``: byte ranges of an open file, each
line bounded by the longest record its layout may hold, so a file of any
shape (a 2 GiB line without a line feed, millions of empty lines) costs at
most a chunk of memory. ``open_input`` opens an input file and refuses a
symbolic link; ``prefetch`` checks the next chunk while the current one is
stored.
"""

from __future__ import annotations

import errno
import io
import os
import queue
import re
import threading
from collections.abc import Callable, Generator, Iterator
from pathlib import Path

import numpy as np
import polars as pl

from reconciliation.errors import FileRejected
from reconciliation.parsing.result import CheckedChunk

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
    chunks: Iterator[bytes], check: Callable[[bytes, int], CheckedChunk], first: int
) -> Generator[CheckedChunk, None, None]:
    """Each chunk checked (split, validated, converted) one chunk ahead in a thread.

    Polars releases the GIL, so checking the next chunk overlaps with the
    consumer hashing and storing the current one, and both cores stay
    busy; at most four chunks are alive at once (being checked, handed
    over, being hashed, and with a spill file being written), which bounds
    the memory of a parse. A problem found while
    checking is raised when the consumer reaches that chunk, after the
    chunks before it. Close the iterator (``contextlib.closing``) before
    the file it reads.
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
                checked = check(chunk, line)
                del chunk  # the chunk's bytes are not kept while waiting for the consumer
                if not put(checked):
                    return
                line += checked.lines
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
            assert isinstance(item, CheckedChunk)
            yield item
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


class ChunkParser:
    """What both layouts' parsers do with a chunk of whole lines, given how they prepare and consume one.

    ``_prepare`` splits a chunk and checks its structure; ``_consume``
    checks its fields and, when ``keep``, converts its records. A problem
    found inside a chunk first checks the lines above it (``_prefix``), so
    the file's earliest problem is the one reported.
    """

    def _prepare(self, chunk: bytes, first: int) -> pl.DataFrame:
        raise NotImplementedError

    def _consume(self, frame: pl.DataFrame, chunk: bytes, first: int, *, keep: bool) -> CheckedChunk | None:
        raise NotImplementedError

    def _check(self, chunk: bytes, first: int) -> CheckedChunk:
        """Split, check and validate one chunk of whole lines starting at line ``first``."""
        checked = self._consume(self._prepare(chunk, first), chunk, first, keep=True)
        assert checked is not None
        return checked

    def _chunk(self, chunk: bytes, first: int) -> None:
        """Check the lines above a problem (an earlier problem wins); nothing is kept."""
        self._consume(self._prepare(chunk, first), chunk, first, keep=False)

    def _prefix(self, chunk: bytes, first: int, index: int) -> None:
        """Check the lines of ``chunk`` above line ``index`` (an earlier problem wins)."""
        if index:
            self._chunk(chunk[: line_offset(chunk, index)], first)

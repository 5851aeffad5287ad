"""Where a file's checked chunks end: collector numbers hashed, records kept or spilled.

A chunk leaves the validating thread with its valid records still holding
the raw collector number. The sink, in the consuming thread, hashes it
(``hashlib`` holds the GIL, so this overlaps with the next chunk's Polars
work, which does not) and drops it, then keeps the records in memory or
appends them to ONE Parquet file as a row group, written in a thread of its
own while the next chunk is hashed: with ``spill_to`` the peak memory of a
parse is a few chunks, not the file. Rejected records are
always kept in memory (they are few, and the run writes them as they are).

The Parquet file is written under a ``.partial`` name and renamed when the
whole file has been read and its trailers agree, so a rejected or failed
parse never leaves records behind that look usable.
"""

from __future__ import annotations

import contextlib
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq

from reconciliation import records
from reconciliation.parsing.result import CheckedChunk
from reconciliation.privacy import CollectorHasher

#: Parquet settings of a spilled file: LZ4 is cheap to write and read back
#: (a third of the bytes of no compression for 0.2 CPU s per million
#: records); plain encoding (no dictionaries) and statistics on
#: ``line_number`` alone write in half the CPU time of the defaults (0.55
#: against 1.05 s per million records), the columns being mostly distinct ids.
PARQUET_OPTIONS: dict[str, Any] = {
    "compression": "lz4",
    "use_dictionary": False,
    "write_statistics": ["line_number"],
}


@dataclass(frozen=True)
class StoredRecords:
    """What a sink holds once the file is read: the records (None when spilled) and the rejected."""

    records: pl.DataFrame | None
    rejected: pl.DataFrame
    count: int
    path: Path | None


class RecordSink:
    """The last stage of every chunk: hash, then keep in memory or append to ``spill_to``.

    Args:
        hasher: Hashes the collector numbers.
        spill_to: The Parquet file to write, or None to keep the records in memory.
    """

    def __init__(self, hasher: CollectorHasher, spill_to: Path | None = None) -> None:
        self.hasher = hasher
        self.path = spill_to
        self.partial = None if spill_to is None else spill_to.with_name(spill_to.name + ".partial")
        self.writer: pq.ParquetWriter | None = None
        self.writing: ThreadPoolExecutor | None = None
        self.written: Future[None] | None = None
        self.kept: list[pl.DataFrame] = []
        self.rejected: list[pl.DataFrame] = []
        self.count = 0
        self.last_line = 0

    def add(self, chunk: CheckedChunk) -> None:
        """Hash and store a chunk's valid records, keep its rejected ones."""
        if chunk.rejected.height:
            self.rejected.append(chunk.rejected)
        found = chunk.records
        if not found.height:
            return
        lines = found["line_number"]
        if int(lines[0]) <= self.last_line or not lines.is_sorted():  # pragma: no cover - a bug, not input
            raise AssertionError("chunks must reach the sink in line order")
        self.last_line = int(lines[-1])
        hashes = self.hasher.hash(found["collector_number"], validated=True)
        done = found.drop("collector_number").with_columns(hashes.alias("collector_hash"))
        self.count += done.height
        if self.partial is None:
            self.kept.append(done)
        else:
            self._write(done)

    def _write(self, done: pl.DataFrame) -> None:
        """Append a row group in a writing thread (pyarrow releases the GIL): the next chunk's
        collector numbers are hashed meanwhile. One write at a time, so at most one chunk waits."""
        writer = self._open()
        if self.writing is None:
            self.writing = ThreadPoolExecutor(max_workers=1, thread_name_prefix="parse-spill")
        self._wait()
        self.written = self.writing.submit(lambda: writer.write_table(done.to_arrow()))

    def _wait(self) -> None:
        if self.written is not None:
            written, self.written = self.written, None
            written.result()

    def _open(self) -> pq.ParquetWriter:
        if self.writer is None:
            assert self.partial is not None
            self.partial.parent.mkdir(parents=True, exist_ok=True)
            schema = records.empty_records().to_arrow().schema
            self.writer = pq.ParquetWriter(self.partial, schema, **PARQUET_OPTIONS)
        return self.writer

    def _stop_writing(self) -> None:
        if self.writing is not None:
            self.writing.shutdown(wait=True)
            self.writing = None

    def close(self) -> StoredRecords:
        """The file was read whole and is sound: hand over what was stored."""
        rejected = pl.concat(self.rejected, rechunk=False) if self.rejected else records.empty_rejected()
        if self.path is None:
            kept = pl.concat(self.kept, rechunk=False) if self.kept else records.empty_records()
            return StoredRecords(kept, rejected, self.count, None)
        assert self.partial is not None
        try:
            self._wait()
        finally:
            self._stop_writing()
        self._open().close()
        self.partial.replace(self.path)
        return StoredRecords(None, rejected, self.count, self.path)

    def abort(self) -> None:
        """The parse failed: drop everything, and the partial Parquet file."""
        self.kept.clear()
        with contextlib.suppress(Exception):
            self._wait()
        self._stop_writing()
        if self.writer is not None:
            with contextlib.suppress(Exception):
                self.writer.close()
        if self.partial is not None:
            self.partial.unlink(missing_ok=True)

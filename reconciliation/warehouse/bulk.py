"""Loading a day's records from where the parse left them, a slice at a time.

A run's ``recon_record`` rows are the parsed records plus the place matching
gave each. The records are already on disk as Parquet (the parse spilled
them there), so they are read back one slice at a time, each slice joined
by position with its part of the decided columns and handed to
``insert_frame`` (Arrow to DuckDB, ``COPY`` to PostgreSQL): the day is never
one frame in this process.

DuckDB can read the Parquet file itself (``INSERT … SELECT … FROM
read_parquet(…) POSITIONAL JOIN …``), and that was built and measured: it
inserts on one thread, 3.5-3.9 s per million records against 2.5 s for the
slices, so the slices won.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from reconciliation.warehouse.db import insert_frame

#: Records read from the Parquet file per slice.
SLICE = 1_000_000


@dataclass(frozen=True)
class Rows:
    """Rows to load: records (a frame, or a Parquet file of them) plus columns decided for them.

    Attributes:
        records: The records, in memory or as the Parquet file holding them.
        decided: Columns for the same rows in the same order (e.g. ``disposition``).
        constants: Columns with one value for every row (e.g. ``run_id``).
    """

    records: pl.DataFrame | Path
    decided: pl.DataFrame
    constants: dict[str, Any] = field(default_factory=dict)


def insert_rows(conn: Connection, table: sa.Table, rows: Rows) -> int:
    """Bulk-insert ``rows`` into ``table`` inside the connection's transaction.

    Returns:
        The number of rows written.
    """
    if rows.decided.height == 0:
        return 0
    written = 0
    for part in _slices(rows):
        written += insert_frame(conn, table, part)
    return written


def _slices(rows: Rows) -> Iterator[pl.DataFrame]:
    """The rows with their decided and constant columns, a slice at a time."""
    constants = [pl.lit(value).alias(name) for name, value in rows.constants.items()]
    if isinstance(rows.records, pl.DataFrame):
        _same_length(rows.records.height, rows.decided.height, "the records")
        yield pl.concat([rows.records, rows.decided], how="horizontal").with_columns(constants)
        return
    import pyarrow.parquet as pq

    source = pq.ParquetFile(rows.records)
    _same_length(source.metadata.num_rows, rows.decided.height, rows.records.name)
    start = 0
    for batch in source.iter_batches(batch_size=SLICE):
        part = pl.from_arrow(batch)
        assert isinstance(part, pl.DataFrame)
        yield pl.concat([part, rows.decided.slice(start, part.height)], how="horizontal").with_columns(
            constants)
        start += part.height


def _same_length(records: int, decided: int, what: str) -> None:
    """Refuse to join by position columns that are not of one length (nothing is written)."""
    if records != decided:
        raise ValueError(f"{what} holds {records} records, not {decided}")


__all__ = ["SLICE", "Rows", "insert_rows"]

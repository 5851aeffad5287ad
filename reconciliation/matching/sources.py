"""Where the candidates' full records are: matching holds only the columns its rules read.

A day of ten million records a side is mostly fields no rule compares:
store, device, terminal and trace ids, the POS transaction id, the masked
collector. Matching keeps the columns the rules read for every record
(``MATCH_COLUMNS``) and gathers the others (``DETAIL_COLUMNS``) by ``rid``
only for the few records that need them: fallback candidates, break rows
and the records behind PENDING breaks.

The candidates are laid out in segments (pending partner, today's partner,
pending platform, today's platform; see ``candidates.build_candidates``);
each segment's full records are either a frame in memory or the Parquet file
the parse spilled them to, in the same row order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from reconciliation.records import RECORD_SCHEMA, SUCCESS_CODES

#: The record columns matching reads for every candidate.
MATCH_COLUMNS = ("side", "business_date", "line_number", "txn_type", "confirmation_number",
                 "original_confirmation_number", "ts", "units", "miles", "dollars", "response_code",
                 "origin")

#: The record columns gathered only for the candidates that need them.
DETAIL_COLUMNS = tuple(c for c in RECORD_SCHEMA.names() if c not in MATCH_COLUMNS)

#: The response code as matching reads it: a success code, any other code, or null (no code).
OUTCOME = pl.Enum([*SUCCESS_CODES, "OTHER"])


def outcome_code(column: str = "response_code") -> pl.Expr:
    """The response code as ``OUTCOME``: one byte a record instead of a string.

    Matching only asks whether a code is a success code, another code, or
    missing (spec §4's success, declined and unknown outcome), so the exact
    declined code is not kept; the records written keep it.
    """
    code = pl.col(column)
    known = code.replace_strict({c: c for c in SUCCESS_CODES}, default="OTHER", return_dtype=OUTCOME)
    return pl.when(code.is_not_null()).then(known).alias(column)


@dataclass(frozen=True)
class Segment:
    """A run of candidates with consecutive ``rid``s and where their full records are.

    Attributes:
        side: Whose records: PARTNER or PLATFORM.
        pending: Re-entering records of PENDING breaks, rather than this day's.
        start: The first ``rid``.
        length: How many candidates.
        frame: Their full records in ``rid`` order, when in memory.
        path: Else the Parquet file holding them, row ``i`` being ``rid`` ``start + i``.
    """

    side: str
    pending: bool
    start: int
    length: int
    frame: pl.DataFrame | None = None
    path: Path | None = None

    def take(self, positions: pl.Series, columns: Sequence[str]) -> pl.DataFrame:
        """The columns of the records at ``positions`` (row offsets in the segment), in their order."""
        if self.frame is not None:
            return self.frame.select(pl.col(columns).gather(positions))
        if self.path is None:
            raise ValueError("a segment needs its records in memory or in a Parquet file")
        wanted = pl.DataFrame({"_pos": positions.cast(pl.Int64)})
        found = _take_from_parquet(self.path, wanted["_pos"].unique().sort(), columns)
        return wanted.join(found, on="_pos", how="left", maintain_order="left").select(columns)


def _take_from_parquet(path: Path, positions: pl.Series, columns: Sequence[str]) -> pl.DataFrame:
    """``_pos`` and ``columns`` of the rows at sorted, distinct ``positions`` of a Parquet file.

    One row group is decoded at a time and only its wanted rows are kept, so
    memory follows the rows asked for, not the file (a streamed scan with a
    row index and a semi join held about 0.2 GB per million records).
    """
    import pyarrow.parquet as pq

    source = pq.ParquetFile(path)
    parts = []
    start = 0
    for group in range(source.num_row_groups):
        rows = source.metadata.row_group(group).num_rows
        mine = positions.filter((positions >= start) & (positions < start + rows))
        if mine.len():
            table = source.read_row_group(group, columns=list(columns))
            got = pl.from_arrow(table.take((mine - start).to_arrow()))
            assert isinstance(got, pl.DataFrame)
            parts.append(got.with_columns(_pos=mine))
        start += rows
    if not parts:
        return pl.DataFrame(schema={**{c: RECORD_SCHEMA[c] for c in columns}, "_pos": pl.Int64})
    return pl.concat(parts)


@dataclass(frozen=True)
class RecordSource:
    """The full records of one run's candidates, gathered by ``rid``."""

    segments: tuple[Segment, ...]

    def gather(self, rids: pl.Series, columns: Sequence[str]) -> pl.DataFrame:
        """``columns`` of the candidates at ``rids``, in their order; null rows for null ``rid``s."""
        schema = {c: RECORD_SCHEMA[c] for c in columns}
        asked = pl.DataFrame({"_rid": rids.cast(pl.Int64)}).with_row_index("_i")
        pieces = []
        for seg in self.segments:
            mine = asked.filter(pl.col("_rid").is_between(seg.start, seg.start + seg.length - 1))
            if mine.height:
                got = seg.take(mine["_rid"] - seg.start, columns)
                pieces.append(pl.concat([mine.select("_i"), got.cast(schema)], how="horizontal"))  # type: ignore[arg-type]
        empty = pl.DataFrame(schema={"_i": pl.UInt32, **schema})
        found = pl.concat([empty, *pieces]) if pieces else empty
        return asked.select("_i").join(found, on="_i", how="left", maintain_order="left").select(columns)

    def pending_break_ids(self) -> pl.Series:
        """The PENDING break of each re-entering record, in ``rid`` order.

        Kept with the pending records rather than as a candidates' column,
        which would be null for every one of the day's millions of records.
        """
        ids = [seg.frame.get_column("pending_break_id") for seg in self.segments
               if seg.pending and seg.frame is not None]
        return pl.concat(ids).alias("break_id") if ids else pl.Series("break_id", [], dtype=pl.Int64)


__all__ = ["DETAIL_COLUMNS", "MATCH_COLUMNS", "OUTCOME", "RecordSource", "Segment", "outcome_code"]

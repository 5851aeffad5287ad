"""The candidates of one run and everything pairing decided about them (spec §4 steps 1-5).

``Candidates`` is what every break rule reads: the records (this day's and
the re-entering pending ones, ``rid`` = row index), their flags, the pairs
of steps 2-3, the settlements of steps 4-5, and the reversal look-ups of
step 8. Sets of records are boolean masks over the rows, computed once on
first use and shared by the rules that read them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property
from pathlib import Path

import polars as pl

from reconciliation.matching import checks, pairing
from reconciliation.matching.pairing import at_rids, mask, positions, with_rid
from reconciliation.matching.params import MatchParams
from reconciliation.matching.sources import MATCH_COLUMNS, OUTCOME, RecordSource, Segment, outcome_code
from reconciliation.records import MONEY, ORIGIN_SYSTEM, PARTNER, PLATFORM, REDEEM, REVERSE

#: The one field the candidates keep aside, for the records that have one: most records are
#: REDEEMs without an original number, and a column of twenty million mostly empty strings
#: still costs 16 bytes a row (0.3 GB at ten million records a side).
ORIGINAL = "original_confirmation_number"
#: One cent: ``cents`` times this is the record's dollars.
CENT = Decimal("0.01")


def build_candidates(partner: pl.DataFrame | pl.LazyFrame, platform: pl.DataFrame | pl.LazyFrame,
                     pending: pl.DataFrame, spilled: Mapping[str, Path] | None = None
                     ) -> tuple[pl.DataFrame, pl.DataFrame, RecordSource]:
    """Pending and this day's records of both sides, ``rid`` in (side, business date, line) order.

    Only ``MATCH_COLUMNS`` are kept, in the compact form of ``_compact``;
    the original confirmation numbers are returned apart (``rid``, ``ORIGINAL``;
    only the records that have one), and the returned source gathers the
    other fields by ``rid``. A side in ``spilled`` has its full records in that Parquet file,
    in line order, and may be passed as a lazy scan of it: every lazy side is
    read straight into the candidates, so a day's key columns are in memory
    once, not once as the side's frame and again as the candidates. Any other
    side's frame holds full records.
    """
    parts: list[pl.LazyFrame] = []
    layout: list[tuple[str, bool, pl.DataFrame | None, int | None]] = []
    for side, today in ((PARTNER, partner), (PLATFORM, platform)):
        if pending.height:
            mine = pending.filter(pl.col("side") == side).sort("business_date", "line_number")
            parts.append(_compact(mine.lazy().select(MATCH_COLUMNS)).with_columns(is_pending=pl.lit(True)))
            layout.append((side, True, mine, mine.height))
        path = (spilled or {}).get(side)
        if isinstance(today, pl.LazyFrame):
            if path is None:
                raise ValueError(f"the {side.lower()} records are passed lazily but not spilled")
            length = None
        else:
            if not today.get_column("line_number").is_sorted():
                if path is not None:
                    raise ValueError(f"the spilled {side.lower()} records are not in line order")
                today = today.sort("business_date", "line_number")
            length = today.height
        parts.append(_compact(today.lazy().select(MATCH_COLUMNS)).with_columns(is_pending=pl.lit(False)))
        layout.append((side, False, None if path or isinstance(today, pl.LazyFrame) else today, length))
    cands, originals = _column_by_column(pl.concat(parts, how="vertical_relaxed"))
    segments, start = [], 0
    for side, is_pending, frame, length in layout:
        if length is None:  # read lazily: this day's records of the side, counted where they landed
            length = cands.select(((pl.col("side") == side) & ~pl.col("is_pending")).sum()).item()
            if not cands.get_column("line_number").slice(start, length).is_sorted():
                raise ValueError(f"the spilled {side.lower()} records are not in line order")
        path = None if is_pending else (spilled or {}).get(side)
        segments.append(Segment(side, is_pending, start, length, frame=frame, path=path))
        start += length
    return cands, originals, RecordSource(tuple(segments))


def _column_by_column(records: pl.LazyFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The records read one column at a time, each into one chunk (their ``rid`` is the row index).

    Read from Parquet in one go, every column comes in one chunk per row
    group, all of them decoded at once; and once a frame's columns are
    chunked differently (the flags matching adds come in one chunk), Polars
    copies the whole frame into single chunks on the next filter or drop
    (1.5 GB at once at 10 million records a side). Read a column at a time
    and made one chunk, the day is decoded one column at a time and never
    copied whole. ``ORIGINAL`` is read the same way and kept only where it is
    set, as a frame of its own (``rid``, ``ORIGINAL``).
    """
    names = [n for n in records.collect_schema().names() if n != ORIGINAL]
    columns = [records.select(name).collect().to_series().rechunk() for name in names]
    rid = pl.int_range(0, columns[0].len() if columns else 0, dtype=pl.Int64, eager=True).alias("rid")
    original = records.select(ORIGINAL).collect().to_series()
    originals = pl.DataFrame([rid, original]).filter(pl.col(ORIGINAL).is_not_null()).rechunk()
    return pl.DataFrame(columns), originals


def _compact(records: pl.LazyFrame) -> pl.LazyFrame:
    """The match columns as the candidates hold them, in about half the bytes of the records' types.

    Lines are 32-bit, units and miles 16-bit (the parser allows 3-digit
    units and 4-digit miles; a value that does not fit fails the cast, it
    is never cut), dollars are whole cents (``cents``, 64-bit; the records' Decimal
    is 128-bit) and the response code is an ``OUTCOME``. Compared in
    cents, amounts are compared exactly; ``Candidates.fields`` gives the
    records' own types back to the few rows that become breaks.
    """
    return _outcome(records).with_columns(
        pl.col("line_number").cast(pl.Int32), pl.col("units", "miles").cast(pl.Int16),
        cents=pl.col("dollars").cast(MONEY).to_physical().cast(pl.Int64),
    ).drop("dollars")


def _outcome(records: pl.LazyFrame) -> pl.LazyFrame:
    """The records with their response code as ``OUTCOME`` (unless they already hold it so)."""
    if records.collect_schema()["response_code"] == OUTCOME:
        return records
    return records.with_columns(outcome_code())


def _refunds(cands: pl.DataFrame, originals: pl.DataFrame, paired_q: pl.Series) -> pl.DataFrame:
    """Platform REDEEMs that a free SYSTEM REVERSE refunds: ``q_rid`` -> ``refund_rid``."""
    narrow = with_rid(cands.select("side", "dup", "txn_type", "origin", "confirmation_number",
                                   "ts").with_columns(paired=paired_q))
    platform = pl.col("side") == PLATFORM
    free = narrow.filter(platform & ~pl.col("dup") & (pl.col("txn_type") == REVERSE)
                         & (pl.col("origin") == ORIGIN_SYSTEM) & ~pl.col("paired")).collect()
    refunds = (
        free.join(originals, on="rid", how="left")
        .sort("ts", "rid")
        .unique("original_confirmation_number", keep="first")
        .select(confirmation_number="original_confirmation_number", refund_rid="rid")
    )
    redeems = narrow.filter(platform & ~pl.col("dup") & (pl.col("txn_type") == REDEEM)).select(
        "confirmation_number", q_rid="rid").collect()
    return redeems.join(refunds, on="confirmation_number", how="inner").select("q_rid", "refund_rid")


@dataclass(frozen=True)
class Candidates:
    """One run's candidates, paired and settled; the input of every break rule.

    Attributes:
        frame: The candidates: ``sources.MATCH_COLUMNS`` but ``response_code``
            and ``ORIGINAL``, compact (``_compact``: 32-bit lines, 16-bit
            units and miles, dollars as ``cents``), plus ``is_pending``, the
            financial flags and ``dup`` (a pending record's
            break id is in ``source``: ``RecordSource.pending_break_ids``).
            A candidate's ``rid`` is its row index, not a column
            (``pairing.positions``, ``pairing.with_rid``); ``fields`` reads
            the columns back in the records' own types.
        originals: ``rid`` and ``ORIGINAL`` of the candidates that have one.
        dup_ordinals: ``rid`` and ``ordinal`` of the duplicates (``pairing.mark_duplicates``).
        source: Their full records, gathered by ``rid``.
        history: The sponsor's earlier records that reversal look-ups may find.
        pairs: Every pair of steps 2-3 (``p_rid``, ``q_rid``, ``rule``).
        successful: The pairs whose partner record succeeded (step 6 compares them).
        auto_refunded: Unknown-outcome pairs whose REDEEM a SYSTEM REVERSE
            refunded (step 4), with ``refund_rid``.
        not_refunded: Unknown-outcome pairs without a refund (step 4).
        lone_refunds: Unpaired platform REDEEMs settled with their refund (step 5):
            ``q_rid``, ``refund_rid``.
    """

    frame: pl.DataFrame
    originals: pl.DataFrame
    dup_ordinals: pl.DataFrame
    source: RecordSource
    history: pl.DataFrame
    pairs: pl.DataFrame
    successful: pl.DataFrame
    auto_refunded: pl.DataFrame
    not_refunded: pl.DataFrame
    lone_refunds: pl.DataFrame

    @classmethod
    def build(cls, partner: pl.DataFrame | pl.LazyFrame, platform: pl.DataFrame | pl.LazyFrame,
              pending: pl.DataFrame,
              history: pl.DataFrame, params: MatchParams,
              spilled: Mapping[str, Path] | None = None) -> Candidates:
        """Steps 1-5: mark duplicates, pair by key then fallback, settle refunds.

        ``spilled`` names the Parquet files holding a side's full records
        (``build_candidates``).
        """
        cands, originals, source = build_candidates(partner, platform, pending, spilled)
        # The response code is only read as the flags it gives.
        cands, dup_ordinals = pairing.mark_duplicates(pairing.classify(cands).drop("response_code"))
        n = cands.height
        key = pairing.key_pairs(cands)
        fallback = pairing.fallback_pairs(cands, mask(n, key["q_rid"]), params.tolerance, source)
        pairs = pl.concat([key, fallback])
        unknown_p = cands.get_column("unknown").gather(pairs["p_rid"])
        paired_q = mask(n, pairs["q_rid"])
        refunds = _refunds(cands, originals, paired_q)
        unknown = pairs.filter(unknown_p).join(refunds, on="q_rid", how="left")
        return cls(
            frame=cands,
            originals=originals,
            dup_ordinals=dup_ordinals,
            source=source,
            history=history,
            pairs=pairs,
            successful=pairs.filter(~unknown_p),
            auto_refunded=unknown.filter(pl.col("refund_rid").is_not_null()),
            not_refunded=unknown.filter(pl.col("refund_rid").is_null()),
            lone_refunds=refunds.filter(~paired_q.gather(refunds["q_rid"])),
        )

    @property
    def n(self) -> int:
        """How many candidates."""
        return self.frame.height

    def column(self, name: str) -> pl.Series:
        """One column of the candidates."""
        return self.frame.get_column(name)

    def fields(self, rids: pl.Series, names: Sequence[str], prefix: str = "") -> list[pl.Series]:
        """Record fields of the candidates at ``rids`` (a null gives nulls) in the records' own types.

        The compact columns are widened back (``cents`` becomes ``dollars``)
        and ``ORIGINAL`` is found in ``originals``: only the rows that become
        breaks or matches are ever read this way.
        """
        out = []
        for name in names:
            if name == "rid":
                found = rids.cast(pl.Int64)
            elif name == ORIGINAL:
                found = at_rids(rids, self.originals, ORIGINAL)
            elif name == "dollars":
                found = (self.column("cents").gather(rids).cast(pl.Decimal(38, 0))
                         * pl.Series([CENT], dtype=pl.Decimal(38, 2))).cast(MONEY)
            elif name in ("line_number", "units", "miles"):
                found = self.column(name).gather(rids).cast(pl.Int64)
            else:
                found = self.column(name).gather(rids)
            out.append(found.alias(f"{prefix}{name}"))
        return out

    def rids(self, which: pl.Series) -> pl.Series:
        """The ``rid`` of the candidates a mask selects."""
        return positions(which)

    @cached_property
    def paired_p(self) -> pl.Series:
        """Partner records in a pair."""
        return mask(self.n, self.pairs["p_rid"])

    @cached_property
    def paired_q(self) -> pl.Series:
        """Platform records in a pair."""
        return mask(self.n, self.pairs["q_rid"])

    @cached_property
    def settled(self) -> pl.Series:
        """Records settled by an automatic refund (steps 4-5)."""
        auto, lone = self.auto_refunded, self.lone_refunds
        return mask(self.n, pl.concat([auto["p_rid"], auto["q_rid"], auto["refund_rid"],
                                       lone["q_rid"], lone["refund_rid"]]))

    @cached_property
    def fresh(self) -> pl.Series:
        """This day's records that are not duplicates."""
        return ~self.column("is_pending") & ~self.column("dup")

    @cached_property
    def unpaired_partner(self) -> pl.Series:
        """Step 7: this day's successful partner records left unpaired."""
        return self.fresh & (self.column("side") == PARTNER) & self.column("success") & ~self.paired_p

    @cached_property
    def unpaired_platform(self) -> pl.Series:
        """Step 7 (and 4): this day's platform records left unpaired and unsettled, or not refunded."""
        return self.fresh & (self.column("side") == PLATFORM) & (
            (~self.paired_q & ~self.settled) | mask(self.n, self.not_refunded["q_rid"]))

    @cached_property
    def events(self) -> pl.Series:
        """The records rules 8-9 check, one per event.

        On the platform record where there is one; never on an event that a
        pending (already checked) record belongs to.
        """
        side = self.column("side")
        pairs = self.pairs
        partner_pending_q = mask(self.n, pairs.filter(
            self.column("is_pending").gather(pairs["p_rid"]))["q_rid"])
        return self.fresh & (((side == PLATFORM) & ~partner_pending_q)
                             | ((side == PARTNER) & self.column("success") & ~self.paired_p))

    @cached_property
    def reversals(self) -> pl.DataFrame:
        """Step 8's look-ups: each REVERSE event with its REDEEM and its rank among that REDEEM's REVERSEs."""
        return checks.look_up_reversals(self.frame, self.originals, self.events, self.history)

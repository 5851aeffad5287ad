"""The run summary: counts and totals per side that prove conservation.

Every D record of every used file ends in exactly one place (spec §6):
records = rejected + declined + matched + settled + in_break, per side. The
summary is computed from the same frames that are written, and a run whose
summary does not balance fails instead of committing.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import polars as pl

from reconciliation.records import MONEY, PARTNER, PLATFORM, REDEEM, REVERSE
from reconciliation.warehouse.schema import BREAK_TYPES

ZERO = Decimal("0.00")


def _count(frame: pl.DataFrame, **equal: str) -> int:
    mask = pl.lit(True)
    for column, value in equal.items():
        mask = mask & (pl.col(column).cast(pl.String) == value)
    return frame.filter(mask).height


#: (side, disposition, txn_type) -> (count, miles, dollars) of a run's records.
RecordTotals = dict[tuple[str, str, str], tuple[int, int, Decimal]]


def record_totals(records: pl.DataFrame) -> RecordTotals:
    """(side, disposition, txn_type) -> (count, miles, dollars): one pass over the records.

    The records carry ``side``, ``disposition``, ``txn_type``, ``miles`` and
    ``dollars``, or whole ``cents`` as matching's candidates do; either way
    the sum is taken in whole cents, exactly. Taken as soon as matching has
    placed the records, the totals let their columns go before the write.
    """
    cents = pl.col("cents") if "cents" in records.columns else pl.col("dollars").cast(MONEY).to_physical()
    # The streaming engine: the in-memory group-by of 20 million rows took
    # 2.6 s and 5 GB more than the frame itself; streamed, 0.2 s and nothing.
    totals = records.lazy().group_by("side", "disposition", "txn_type").agg(
        pl.len().alias("n"), pl.col("miles").cast(pl.Int64).sum(), cents.cast(pl.Int128).sum().alias("cents"),
    ).collect(engine="streaming")
    return {(str(r[0]), str(r[1]), str(r[2])): (r[3], r[4], Decimal(r[5]).scaleb(-2))
            for r in totals.iter_rows()}


class _Totals(dict[tuple[str, str], tuple[int, int, Any]]):
    """One side's (disposition, txn_type) -> (count, miles, dollars)."""

    def count(self, disposition: str | None = None, txn: str | None = None) -> int:
        return sum(n for (d, t), (n, _, _) in self.items() if disposition in (None, d) and txn in (None, t))

    def amount(self, txn: str, index: int) -> Any:
        """Miles (index 1) or dollars (index 2) of one transaction type."""
        return sum((v[index] or 0 for (_, t), v in self.items() if t == txn), start=0)


def summary_rows(run_id: int, sponsor: str, day: date, parsed: dict[str, Any],
                 totals: RecordTotals, breaks: pl.DataFrame) -> pl.DataFrame:
    """One row per side (PARTNER, PLATFORM) plus a BOTH row for pair-level breaks.

    Args:
        run_id: The run.
        sponsor: Its sponsor.
        day: Its business date.
        parsed: side -> ParsedFile (detail counts and rejected records).
        totals: ``record_totals`` of this day's usable records with their ``disposition``.
        breaks: Every break the run raised (with ``side`` and ``delta_dollars``).
    """
    # Counted and summed per (side, type) in one pass: filtering a million breaks per side
    # copied every column of each side's rows.
    by_side_type = breaks.group_by("side", "break_type").agg(
        n=pl.len(), stake=pl.col("delta_dollars").abs().sum())
    rows = []
    for side in (PARTNER, PLATFORM, "BOTH"):
        mine = _Totals({key[1:]: value for key, value in totals.items() if key[0] == side})
        count, amount = mine.count, mine.amount
        side_rows = by_side_type.filter(pl.col("side") == side)
        by_type = dict(side_rows.select("break_type", "n").iter_rows())
        row: dict[str, Any] = {
            "run_id": run_id, "sponsor_code": sponsor, "business_date": day, "side": side,
            "records": parsed[side].detail_count if side in parsed else 0,
            "rejected": parsed[side].rejected.height if side in parsed else 0,
            "declined": count("DECLINED"),
            "matched": count("MATCHED"),
            "settled": count("SETTLED"),
            "in_break": count("BREAK") + count("DUPLICATE"),
            "redeem_count": count(txn=REDEEM),
            "redeem_miles": int(amount(REDEEM, 1)),
            "redeem_dollars": Decimal(amount(REDEEM, 2)).quantize(ZERO),
            "reverse_count": count(txn=REVERSE),
            "reverse_miles": int(amount(REVERSE, 1)),
            "reverse_dollars": Decimal(amount(REVERSE, 2)).quantize(ZERO),
            "breaks_total": int(side_rows["n"].sum()),
            "money_at_stake": Decimal(side_rows["stake"].sum() or 0).quantize(ZERO),
        }
        for break_type in BREAK_TYPES:
            row[f"breaks_{break_type.lower()}"] = int(by_type.get(break_type, 0))
        rows.append(row)
    frame = pl.DataFrame(rows)
    return frame.with_columns(
        pl.col("redeem_dollars", "reverse_dollars", "money_at_stake").cast(MONEY))


def check_conservation(summary: pl.DataFrame) -> None:
    """Raise when a side's records do not all end in exactly one place."""
    for row in summary.iter_rows(named=True):
        placed = row["rejected"] + row["declined"] + row["matched"] + row["settled"] \
            + row["in_break"]
        if placed != row["records"]:
            raise AssertionError(
                f"conservation violated on the {row['side']} side: {row['records']} records read, "
                f"{placed} placed")


def money_at_stake(breaks: pl.DataFrame) -> Decimal:
    """Sum of |delta_dollars| over breaks."""
    if breaks.height == 0:
        return ZERO
    total = breaks["delta_dollars"].abs().sum()
    return Decimal(total or 0).quantize(ZERO)


def outcome_counts(summary: pl.DataFrame, breaks: pl.DataFrame, matched_pairs: int
                   ) -> dict[str, int]:
    """Counts for the end-of-run summary line."""
    by_side = {r["side"]: r for r in summary.iter_rows(named=True)}
    counts = {
        "partner_records": by_side[PARTNER]["records"],
        "platform_records": by_side[PLATFORM]["records"],
        "rejected": by_side[PARTNER]["rejected"] + by_side[PLATFORM]["rejected"],
        "declined": by_side[PARTNER]["declined"],
        "matched_pairs": matched_pairs,
        "breaks": breaks.height,
    }
    for break_type in BREAK_TYPES:
        counts[break_type] = _count(breaks, break_type=break_type)
    return counts

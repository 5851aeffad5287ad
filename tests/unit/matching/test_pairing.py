"""Step 1 at scale: the hash prefilter of ``mark_duplicates`` never changes its answer."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciliation.matching.pairing import KEY, mark_duplicates
from reconciliation.records import SIDE, TXN_TYPE

ROWS = st.lists(
    st.tuples(st.sampled_from(["PARTNER", "PLATFORM"]), st.sampled_from(["REDEEM", "REVERSE"]),
              st.one_of(st.none(), st.sampled_from(["A1", "A2", "B7", "C9"])), st.booleans()),
    max_size=40,
)


def frame(rows: list[tuple[str, str, str | None, bool]]) -> pl.DataFrame:
    sides, txns, numbers, financial = zip(*rows, strict=True) if rows else ((), (), (), ())
    return pl.DataFrame({  # a candidate's rid is its row index
        "side": pl.Series(sides, dtype=pl.String).cast(SIDE),
        "txn_type": pl.Series(txns, dtype=pl.String).cast(TXN_TYPE),
        "confirmation_number": pl.Series(numbers, dtype=pl.String),
        "financial": pl.Series(financial, dtype=pl.Boolean),
    })


def naive(rows: list[tuple[str, str, str | None, bool]]) -> list[int | None]:
    seen: dict[tuple[str, str, str], int] = {}
    out: list[int | None] = []
    for side, txn, number, financial in rows:
        if number is None or not financial:
            out.append(None)
            continue
        seen[side, txn, number] = seen.get((side, txn, number), 0) + 1
        out.append(seen[side, txn, number] if seen[side, txn, number] > 1 else None)
    return out


@settings(max_examples=200, deadline=None)
@given(ROWS)
def test_duplicate_ordinals_equal_a_row_by_row_count(rows: list[tuple[str, str, str | None, bool]]) -> None:
    marked, ordinals = mark_duplicates(frame(rows))
    found: list[int | None] = [None] * len(rows)
    for rid, ordinal in ordinals.iter_rows():
        found[rid] = ordinal
    assert found == naive(rows)
    assert marked["dup"].to_list() == [o is not None for o in naive(rows)]


def test_the_same_number_on_both_sides_is_a_pair_not_a_duplicate() -> None:
    rows = [("PARTNER", "REDEEM", "A1", True), ("PLATFORM", "REDEEM", "A1", True),
            ("PARTNER", "REVERSE", "A1", True), ("PLATFORM", "REVERSE", "A1", True)]
    assert mark_duplicates(frame(rows))[0]["dup"].to_list() == [False] * 4
    assert KEY == ["side", "txn_type", "confirmation_number"]

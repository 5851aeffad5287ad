"""Steps 1-3 of spec §4: duplicates, key match and fallback match.

Candidates carry ``rid``, their row index, so a set of records is a boolean
mask or a list of positions and never needs a join to find its rows. All
work is vectorized except the fallback tie-break, a greedy assignment
(nearest free platform record, in partner order) that only runs over the
rare components where a record has more than one candidate.
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from reconciliation.matching.sources import RecordSource
from reconciliation.records import PARTNER, PLATFORM, SUCCESS_CODES

KEY = ["side", "txn_type", "confirmation_number"]

#: How a pair or settlement was made (``recon_match.rule``): one byte a row, not a string.
RULE = pl.Enum(["KEY", "FALLBACK", "REFUND"])


def positions(which: pl.Series) -> pl.Series:
    """The ``rid`` of the candidates a boolean mask selects, in order.

    A candidate's ``rid`` is its row index, computed where it is needed
    rather than kept as a column (8 bytes a record, 0.16 GB at ten million
    records a side).
    """
    return which.arg_true().cast(pl.Int64).alias("rid")


def at_rids(rids: pl.Series, table: pl.DataFrame, column: str) -> pl.Series:
    """``column`` of a table kept for a few candidates (``rid`` and values) at ``rids``, in order.

    Null where the table has no row for a ``rid`` (or the ``rid`` is null).
    """
    wanted = rids.cast(pl.Int64).alias("rid").to_frame()
    return wanted.join(table, on="rid", how="left", maintain_order="left").get_column(column)


def with_rid(cands: pl.DataFrame) -> pl.LazyFrame:
    """The candidates as a lazy frame with their ``rid`` (64-bit), made as a query streams."""
    return cands.lazy().with_row_index("rid").with_columns(pl.col("rid").cast(pl.Int64))


def mask(n: int, positions: pl.Series) -> pl.Series:
    """A boolean Series of length ``n``, true at ``positions`` (nulls ignored)."""
    idx = positions.drop_nulls()
    if n == 0:
        return pl.Series(dtype=pl.Boolean)
    return pl.repeat(False, n, dtype=pl.Boolean, eager=True).scatter(idx, True)


def classify(cands: pl.DataFrame) -> pl.DataFrame:
    """Add the financial flags: success, unknown outcome, declined, financial.

    Platform records are all financial. A partner record is successful with
    0000/0001, of unknown outcome with no code, declined otherwise.
    """
    is_partner = pl.col("side") == PARTNER
    code = pl.col("response_code")
    declined = is_partner & code.is_not_null() & ~code.is_in(SUCCESS_CODES)
    return cands.with_columns(
        success=is_partner & code.is_in(SUCCESS_CODES).fill_null(False),
        unknown=is_partner & code.is_null(),
        declined=declined,
        financial=~declined,
    )


def mark_duplicates(cands: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Step 1: the second and later financial records with the same key are duplicates.

    Adds ``dup`` (bool) to the candidates, and returns beside them each
    duplicate's ``rid`` and ``ordinal`` (2 for the first duplicate of a key,
    3 for the next, ...): a few records, not a column of every record.
    Earlier means earlier business date, then lower line number, which is
    ``rid`` order within a side; records without a confirmation number never count.
    """
    suspects = _repeated_numbers(cands)
    repeated = cands.select(pl.col(KEY).gather(suspects)).with_columns(rid=suspects).filter(
        pl.struct(KEY).is_duplicated())
    ordinals = repeated.select("rid", ordinal=pl.int_range(1, pl.len() + 1).over(KEY))
    # 32 bits: a key repeated more than two billion times in one run is not a night's file.
    ordinals = ordinals.filter(pl.col("ordinal") > 1).with_columns(pl.col("ordinal").cast(pl.Int32))
    ordinals = ordinals.sort("rid")
    return cands.with_columns(dup=mask(cands.height, ordinals["rid"])), ordinals


def _repeated_numbers(cands: pl.DataFrame) -> pl.Series:
    """The ``rid`` (in order) of financial records whose key's 64-bit hash occurs more than once.

    A cheap superset of the records with a repeated key: sorting 64-bit
    hashes is several times faster than comparing (side, type, number)
    structs over millions of rows, and the exact comparison then runs on the
    few left. The number's hash has its top two bits flipped by side and
    type, so the two sides of every matched pair do not land in the
    superset. The hashes are computed in one streamed pass that copies no key.
    """
    side, txn = (pl.col(c).to_physical().cast(pl.UInt64) for c in ("side", "txn_type"))
    group = side * 2 + txn
    hashed = with_rid(cands).filter(pl.col("financial") & pl.col("confirmation_number").is_not_null()).select(
        "rid", h=pl.col("confirmation_number").hash().xor(group * pl.lit(1 << 62, dtype=pl.UInt64))
    ).collect(engine="streaming")
    ordered = hashed.get_column("h").sort()
    twice = ordered.filter(ordered == ordered.shift(1))
    # Streamed, the rows may come back out of order: the few suspects are put back in ``rid`` order.
    return hashed.filter(pl.col("h").is_in(twice.implode())).get_column("rid").sort()


#: Key pairs are joined in this many parts, by the key's hash: records with equal keys are in the
#: same part, and each join holds a quarter of the day (0.6 GB less at ten million records a side).
KEY_PARTS = 4


def key_pairs(cands: pl.DataFrame) -> pl.DataFrame:
    """Step 2: successful partner and platform records with equal (txn_type, confirmation).

    Returns:
        Frame of ``p_rid``, ``q_rid`` with ``rule`` = KEY.
    """
    usable = ~pl.col("dup") & pl.col("confirmation_number").is_not_null()
    # Back in partner order without a sort: duplicates are excluded, so each
    # partner record has at most one pair, and its platform record can be
    # placed at the partner record's row (linear, where sorting is not).
    q_of = pl.repeat(None, cands.height, dtype=pl.Int64, eager=True)
    found = 0
    for part in range(KEY_PARTS):
        mine = usable & (pl.col("confirmation_number").hash() % KEY_PARTS == part)
        partner = with_rid(cands).filter(mine & (pl.col("side") == PARTNER) & pl.col("success")).select(
            "txn_type", "confirmation_number", p_rid="rid")
        platform = with_rid(cands).filter(mine & (pl.col("side") == PLATFORM)).select(
            "txn_type", "confirmation_number", q_rid="rid")
        # Streamed, filters included: at 10 million records a side this join is
        # 1.6x faster than in memory, and neither side is copied whole before it;
        # the streaming engine does not keep row order.
        pairs = partner.join(platform, on=["txn_type", "confirmation_number"], how="inner")
        these = pairs.select("p_rid", "q_rid").collect(engine="streaming")
        q_of = q_of.scatter(these["p_rid"], these["q_rid"])
        found += these.height
    if cands.height - q_of.null_count() != found:
        raise AssertionError("a partner record was paired twice by key (duplicates not excluded)")
    return pl.DataFrame({"p_rid": q_of.is_not_null().arg_true().cast(pl.Int64), "q_rid": q_of.drop_nulls()}
                        ).with_columns(rule=pl.lit("KEY", dtype=RULE))


def fallback_pairs(cands: pl.DataFrame, taken: pl.Series, tolerance: timedelta,
                   source: RecordSource) -> pl.DataFrame:
    """Step 3: partner records without a confirmation number, by store/device/trace and time.

    Each partner record (in business date, line order) takes the nearest
    still-free platform record within the tolerance; ties go to the earlier
    platform record. Each record is used at most once.

    Args:
        cands: Classified candidates with ``dup``.
        taken: Boolean mask of platform records already paired by key.
        tolerance: Largest allowed |partner_datetime - platform_datetime|.
        source: The candidates' full records: the store, device and trace
            ids are gathered only for the records that may pair here.
    """
    ids = ("store_id", "device_id", "trace_id")
    keys = ["txn_type", *ids]
    narrow = with_rid(cands.select("side", "confirmation_number", "success", "unknown", "dup", "ts",
                                   "txn_type").with_columns(taken=taken))
    partner = narrow.filter(
        (pl.col("side") == PARTNER) & ~pl.col("dup") & pl.col("confirmation_number").is_null()
        & (pl.col("success") | pl.col("unknown"))
    ).select("txn_type", p_rid="rid", p_ts="ts").collect()
    if partner.height == 0:
        return pl.DataFrame(schema={"p_rid": pl.Int64, "q_rid": pl.Int64, "rule": RULE})
    platform = narrow.filter((pl.col("side") == PLATFORM) & ~pl.col("dup") & ~pl.col("taken")).select(
        "txn_type", q_rid="rid", q_ts="ts").collect()
    partner = pl.concat([partner, source.gather(partner["p_rid"], ids)], how="horizontal")
    platform = pl.concat([platform, source.gather(platform["q_rid"], ids)], how="horizontal")
    tol_us = int(tolerance / timedelta(microseconds=1))
    cand = (
        partner.join(platform, on=keys, how="inner")
        .with_columns(gap=(pl.col("p_ts") - pl.col("q_ts")).dt.total_microseconds().abs())
        .filter(pl.col("gap") <= tol_us)
        .with_columns(deg_p=pl.len().over("p_rid"), deg_q=pl.len().over("q_rid"))
    )
    simple = cand.filter((pl.col("deg_p") == 1) & (pl.col("deg_q") == 1)).select("p_rid", "q_rid")
    # rid order is (business date, line) order within a side.
    contested = cand.filter((pl.col("deg_p") > 1) | (pl.col("deg_q") > 1)).sort("p_rid", "gap", "q_rid")
    chosen: list[tuple[int, int]] = []
    used: set[int] = set()
    done: set[int] = set()
    for p_rid, q_rid in contested.select("p_rid", "q_rid").iter_rows():
        if p_rid in done or q_rid in used:
            continue
        chosen.append((p_rid, q_rid))
        used.add(q_rid)
        done.add(p_rid)
    greedy = pl.DataFrame(chosen, schema={"p_rid": pl.Int64, "q_rid": pl.Int64}, orient="row")
    return pl.concat([simple, greedy]).with_columns(rule=pl.lit("FALLBACK", dtype=RULE))

"""Steps 1-3 of spec §4: duplicates, key match and fallback match.

All work is vectorized joins except the fallback tie-break, which is a
greedy assignment (nearest free platform record, in partner order) that only
runs over the rare components where a record has more than one candidate.
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from reconciliation.records import PARTNER, PLATFORM, SUCCESS_CODES

#: Columns that identify a candidate and order it (business date, then line).
ORDER = ["business_date", "line_number"]


def classify(cands: pl.DataFrame) -> pl.DataFrame:
    """Add the financial flags: success, unknown outcome, declined, financial.

    Platform records are all financial. A partner record is successful with
    0000/0001, of unknown outcome with no code, declined otherwise.
    """
    is_partner = pl.col("side") == PARTNER
    return cands.with_columns(
        success=pl.when(is_partner).then(pl.col("response_code").is_in(SUCCESS_CODES)).otherwise(False),
        unknown=is_partner & pl.col("response_code").is_null(),
        declined=is_partner & pl.col("response_code").is_not_null()
        & ~pl.col("response_code").is_in(SUCCESS_CODES),
    ).with_columns(
        financial=~pl.col("declined"),
    )


def mark_duplicates(cands: pl.DataFrame) -> pl.DataFrame:
    """Step 1: the second and later financial records with the same key are duplicates.

    Adds ``dup`` (bool) and ``dup_ordinal`` (1 for the first holder of a key,
    2 for its first duplicate, ...). Earlier means earlier business date, then
    lower line number; records without a confirmation number never count.
    """
    keyed = pl.col("financial") & pl.col("confirmation_number").is_not_null()
    # ``cands`` is sorted by rid, which follows (side, business_date, line).
    ordinal = pl.int_range(1, pl.len() + 1).over(
        ["side", "txn_type", "confirmation_number", "financial"])
    return cands.sort("rid").with_columns(
        dup_ordinal=pl.when(keyed).then(ordinal).cast(pl.Int64)
    ).with_columns(dup=pl.col("dup_ordinal").fill_null(1) > 1)


def key_pairs(cands: pl.DataFrame) -> pl.DataFrame:
    """Step 2: successful partner and platform records with equal (txn_type, confirmation).

    Returns:
        Frame of ``p_rid``, ``q_rid`` with ``rule`` = KEY.
    """
    live = ~pl.col("dup") & pl.col("confirmation_number").is_not_null()
    partner = cands.filter(live & (pl.col("side") == PARTNER) & pl.col("success")).select(
        "txn_type", "confirmation_number", p_rid="rid")
    platform = cands.filter(live & (pl.col("side") == PLATFORM)).select(
        "txn_type", "confirmation_number", q_rid="rid")
    return partner.join(platform, on=["txn_type", "confirmation_number"], how="inner").select(
        "p_rid", "q_rid", rule=pl.lit("KEY"))


def fallback_pairs(cands: pl.DataFrame, taken: pl.Series, tolerance: timedelta) -> pl.DataFrame:
    """Step 3: partner records without a confirmation number, by store/device/trace and time.

    Each partner record (in business date, line order) takes the nearest
    still-free platform record within the tolerance; ties go to the earlier
    platform record. Each record is used at most once.

    Args:
        cands: Classified candidates with ``dup``.
        taken: ``rid`` of platform records already paired by key.
        tolerance: Largest allowed |partner_datetime - platform_datetime|.
    """
    keys = ["txn_type", "store_id", "device_id", "trace_id"]
    partner = cands.filter(
        (pl.col("side") == PARTNER) & ~pl.col("dup") & pl.col("confirmation_number").is_null()
        & (pl.col("success") | pl.col("unknown"))
    ).select(*keys, p_rid="rid", p_ts="ts", p_bd="business_date", p_line="line_number")
    platform = cands.filter(
        (pl.col("side") == PLATFORM) & ~pl.col("dup") & ~pl.col("rid").is_in(taken.implode())
    ).select(*keys, q_rid="rid", q_ts="ts", q_bd="business_date", q_line="line_number")
    tol_us = int(tolerance / timedelta(microseconds=1))
    cand = (
        partner.join(platform, on=keys, how="inner")
        .with_columns(gap=(pl.col("p_ts") - pl.col("q_ts")).dt.total_microseconds().abs())
        .filter(pl.col("gap") <= tol_us)
    )
    if cand.height == 0:
        return pl.DataFrame(schema={"p_rid": pl.Int64, "q_rid": pl.Int64, "rule": pl.String})
    cand = cand.with_columns(
        deg_p=pl.len().over("p_rid"), deg_q=pl.len().over("q_rid")
    )
    simple = cand.filter((pl.col("deg_p") == 1) & (pl.col("deg_q") == 1)).select("p_rid", "q_rid")
    contested = cand.filter((pl.col("deg_p") > 1) | (pl.col("deg_q") > 1)).sort(
        "p_bd", "p_line", "gap", "q_bd", "q_line")
    chosen: list[tuple[int, int]] = []
    used: set[int] = set()
    done: set[int] = set()
    # Rows are sorted by partner order, then preference: the first free one wins.
    for p_rid, q_rid in contested.select("p_rid", "q_rid").iter_rows():
        if p_rid in done or q_rid in used:
            continue
        chosen.append((p_rid, q_rid))
        used.add(q_rid)
        done.add(p_rid)
    greedy = pl.DataFrame(chosen, schema={"p_rid": pl.Int64, "q_rid": pl.Int64}, orient="row")
    return pl.concat([simple, greedy]).with_columns(rule=pl.lit("FALLBACK"))

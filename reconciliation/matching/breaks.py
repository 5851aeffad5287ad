"""Break rows: one schema for every break type, built from records or pairs.

Rules produce "wide" frames with the partner record's fields prefixed ``p_``
and the platform record's ``q_`` (either side may be null); ``break_rows``
turns them into the warehouse's break columns, so every rule fills the same
columns the same way. The fields that only identify a record for reviewers
are filled once for all rules' rows (``with_details``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import polars as pl

from reconciliation.matching.sources import RecordSource
from reconciliation.records import MONEY, UTC_TS

if TYPE_CHECKING:  # the candidates import the rules' helpers' module, not the other way round
    from reconciliation.matching.candidates import Candidates

#: Record fields carried into a break, per side, from the candidates.
FIELDS = (
    "rid", "business_date", "line_number", "txn_type", "confirmation_number",
    "original_confirmation_number", "ts", "units", "miles", "dollars",
)

#: Break columns that only identify a record for reviewers: filled by
#: ``with_details`` from the records' full fields once the rules have run.
DETAIL_FIELDS = ("trace_id", "store_id", "device_id", "pos_transaction_id", "collector_last4",
                 "collector_hash")

#: Columns of the engine's break frame, before run ids and statuses are assigned.
BREAK_SCHEMA = pl.Schema({
    "break_type": pl.String(),
    "side": pl.String(),
    "business_date": pl.Date(),
    "txn_type": pl.String(),
    "confirmation_number": pl.String(),
    "trace_id": pl.String(),
    "store_id": pl.String(),
    "device_id": pl.String(),
    "partner_miles": pl.Int64(),
    "platform_miles": pl.Int64(),
    "partner_dollars": MONEY,
    "platform_dollars": MONEY,
    "delta_dollars": MONEY,
    "detail": pl.String(),
    "partner_line": pl.Int64(),
    "platform_line": pl.Int64(),
    "partner_business_date": pl.Date(),
    "platform_business_date": pl.Date(),
    "partner_ts": UTC_TS,
    "platform_ts": UTC_TS,
    "partner_units": pl.Int64(),
    "platform_units": pl.Int64(),
    "original_confirmation_number": pl.String(),
    "pos_transaction_id": pl.String(),
    "collector_last4": pl.String(),
    "collector_hash": pl.Int64(),
    "key_suffix": pl.String(),
    "record_rid": pl.Int64(),
})

#: What a rule returns: BREAK_SCHEMA plus the ``rid`` of the partner and the
#: platform record behind each break (null where there is none).
RULE_SCHEMA = pl.Schema({**BREAK_SCHEMA, "partner_rid": pl.Int64(), "platform_rid": pl.Int64()})


def empty_breaks() -> pl.DataFrame:
    """An empty frame of a rule's break rows."""
    return pl.DataFrame(schema=RULE_SCHEMA)


def with_details(breaks: pl.DataFrame, source: RecordSource) -> pl.DataFrame:
    """The rules' break rows with ``DETAIL_FIELDS`` filled in and the two ``rid`` columns dropped.

    Gathered once for every break (a few per cent of the records) instead of
    carrying these fields through matching for all of them. Each is the
    platform record's value, else the partner record's, as for the other
    fields of a break; the POS transaction id is the partner record's.
    """
    p = source.gather(breaks["partner_rid"], DETAIL_FIELDS)
    q = source.gather(breaks["platform_rid"], DETAIL_FIELDS)
    filled = [q[c].fill_null(p[c]) for c in DETAIL_FIELDS if c != "pos_transaction_id"]
    return breaks.with_columns(*filled, p["pos_transaction_id"]).drop("partner_rid", "platform_rid")


def records_wide(c: Candidates, rids: pl.Series, side: str) -> pl.DataFrame:
    """Wide form of single records of one side, taken from the candidates by ``rid``.

    ``rid`` is the row index of the candidates, so records are gathered by
    position instead of joined: only the rows that become breaks are ever widened.
    """
    mine, other = ("p_", "q_") if side == "PARTNER" else ("q_", "p_")
    nulls = pl.Series(dtype=pl.Int64, values=[None] * len(rids))
    return pl.DataFrame([*c.fields(rids, FIELDS, mine), *c.fields(nulls, FIELDS, other)])


def pairs_wide(pairs: pl.DataFrame, c: Candidates) -> pl.DataFrame:
    """Wide form of pairs: ``pairs`` holds ``p_rid`` and ``q_rid`` (plus any extra columns)."""
    extra = [pairs.get_column(col) for col in pairs.columns if col not in ("p_rid", "q_rid")]
    return pl.DataFrame([*c.fields(pairs["p_rid"], FIELDS, "p_"), *c.fields(pairs["q_rid"], FIELDS, "q_"),
                         *extra])


def fmt(template: str, *args: pl.Expr | str) -> pl.Expr:
    """Like ``pl.format``, built on ``concat_str``.

    ``pl.format`` with a column as the first argument panics on some gathered
    string columns in Polars 2.1; concatenation does the same job safely.
    """
    pieces = template.split("{}")
    if len(pieces) != len(args) + 1:
        raise ValueError(f"template {template!r} takes {len(pieces) - 1} arguments")
    parts: list[pl.Expr] = []
    for literal, arg in zip(pieces, [*args, None], strict=True):
        if literal:
            parts.append(pl.lit(literal))
        if arg is not None:
            expr = pl.col(arg) if isinstance(arg, str) else arg
            parts.append(expr.cast(pl.String))
    return pl.concat_str(parts, ignore_nulls=False)


def _money(expr: pl.Expr) -> pl.Expr:
    return fmt("${}", expr.cast(pl.String))


def break_rows(wide: pl.DataFrame, break_type: str, side: str, detail: pl.Expr,
               delta: pl.Expr | None = None, key_suffix: pl.Expr | None = None,
               business_date: pl.Expr | None = None) -> pl.DataFrame:
    """Turn a wide frame into break rows of one type.

    Args:
        wide: ``p_*``/``q_*`` fields of the records behind each break.
        break_type: The spec's break type.
        side: PARTNER, PLATFORM or BOTH.
        detail: A sentence for reviewers, evaluated on ``wide``.
        delta: Signed money at stake; default platform − partner dollars.
        key_suffix: The break key's last part; default the confirmation number,
            or ``L<line>`` for a record without one.
        business_date: Default: the earlier of the two records' business dates.
    """
    if wide.height == 0:
        return empty_breaks()
    pick = {"PARTNER": "p_", "PLATFORM": "q_"}.get(side)

    def field(name: str) -> pl.Expr:
        if pick:
            return pl.col(f"{pick}{name}")
        return pl.coalesce(pl.col(f"q_{name}"), pl.col(f"p_{name}"))

    suffix = key_suffix if key_suffix is not None else pl.coalesce(
        field("confirmation_number"), fmt("L{}", field("line_number")))
    default_delta = (
        pl.col("q_dollars").fill_null(pl.lit(0).cast(MONEY))
        - pl.col("p_dollars").fill_null(pl.lit(0).cast(MONEY))
    )
    record_rid = field("rid") if pick else pl.lit(None, dtype=pl.Int64)
    out = wide.select(
        break_type=pl.lit(break_type),
        side=pl.lit(side),
        business_date=business_date if business_date is not None else pl.min_horizontal(
            pl.col("p_business_date"), pl.col("q_business_date")),
        txn_type=field("txn_type").cast(pl.String),
        confirmation_number=field("confirmation_number"),
        trace_id=pl.lit(None, dtype=pl.String),
        store_id=pl.lit(None, dtype=pl.String),
        device_id=pl.lit(None, dtype=pl.String),
        partner_miles=pl.col("p_miles"),
        platform_miles=pl.col("q_miles"),
        partner_dollars=pl.col("p_dollars"),
        platform_dollars=pl.col("q_dollars"),
        delta_dollars=(delta if delta is not None else default_delta).cast(MONEY),
        detail=detail,
        partner_line=pl.col("p_line_number"),
        platform_line=pl.col("q_line_number"),
        partner_business_date=pl.col("p_business_date"),
        platform_business_date=pl.col("q_business_date"),
        partner_ts=pl.col("p_ts"),
        platform_ts=pl.col("q_ts"),
        partner_units=pl.col("p_units"),
        platform_units=pl.col("q_units"),
        original_confirmation_number=field("original_confirmation_number"),
        pos_transaction_id=pl.lit(None, dtype=pl.String),
        collector_last4=pl.lit(None, dtype=pl.String),
        collector_hash=pl.lit(None, dtype=pl.Int64),
        key_suffix=suffix,
        record_rid=record_rid,
        partner_rid=pl.col("p_rid"),
        platform_rid=pl.col("q_rid"),
    )
    return out.cast(dict(RULE_SCHEMA))  # type: ignore[arg-type]


def describe(side_label: str, prefix: str) -> pl.Expr:
    """``partner REDEEM C123 of $30.00 (285 miles)`` for the record with that prefix."""
    return fmt(
        "{} {} {} of {} ({} miles)",
        pl.lit(side_label),
        pl.col(f"{prefix}txn_type").cast(pl.String),
        pl.coalesce(pl.col(f"{prefix}confirmation_number"),
                    fmt("at line {}", pl.col(f"{prefix}line_number"))),
        _money(pl.col(f"{prefix}dollars")),
        pl.col(f"{prefix}miles"),
    )


def side_breaks(c: Candidates, rows: pl.DataFrame, break_type: str,
                detail: Callable[[pl.Expr, str], pl.Expr],
                delta: Callable[[str], pl.Expr] | None = None) -> pl.DataFrame:
    """Break rows for single flagged records of either side.

    Args:
        c: The run's candidates (``rid`` is the row index).
        rows: The flagged records: ``rid``, ``side_s`` (PARTNER or PLATFORM)
            and any extra columns the detail reads.
        break_type: The spec's break type.
        detail: ``detail(label, prefix)`` gives the sentence for the records
            of one side (label ``partner``/``platform``, prefix ``p_``/``q_``).
        delta: ``delta(prefix)`` gives the money at stake; default as ``break_rows``.
    """
    out = []
    extra = [c for c in rows.columns if c not in ("rid", "side_s")]
    for side, prefix in (("PARTNER", "p_"), ("PLATFORM", "q_")):
        mine = rows.filter(pl.col("side_s") == side)
        if mine.height == 0:
            continue
        wide = records_wide(c, mine["rid"], side).with_columns(*(mine[c] for c in extra))
        out.append(break_rows(wide, break_type, side, detail(describe(side.lower(), prefix), prefix),
                              delta=delta(prefix) if delta else None))
    return pl.concat(out) if out else empty_breaks()

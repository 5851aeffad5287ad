"""The ground truth: every break the generator injected, where it sits, and how it ends.

Tests, the demo and the end-to-end check compare the engine's breaks with
this file, so it names each break by the same natural key the warehouse uses
(sponsor, business date, type, side, txn_type, confirmation number) plus the
line the break sits on, and the status it must have once every generated day
has been reconciled in order.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl

from reconciliation.generate.batch import TRUTH_PARTS_SCHEMA
from reconciliation.generate.ids import conf_mix, conf_text
from reconciliation.generate.writers import TXN_TEXT
from reconciliation.records import PARTNER

TRUTH_SCHEMA = pl.Schema(
    {
        "sponsor_code": pl.String,
        "business_date": pl.Date,
        "break_type": pl.String,
        "side": pl.String,
        "txn_type": pl.String,
        "confirmation_number": pl.String,
        "line_number": pl.Int64,
        "expected_status": pl.String,
    }
)

REJECTED_TRUTH_SCHEMA = pl.Schema(
    {
        "sponsor_code": pl.String,
        "business_date": pl.Date,
        "side": pl.String,
        "line_number": pl.Int64,
        "reason_contains": pl.String,
    }
)

#: Where each tagged record landed: (sponsor index, day index, side, tag) -> line.
LINES_SCHEMA = pl.Schema(
    {"s": pl.Int32, "d": pl.Int32, "side": pl.String, "tag": pl.Int32, "line": pl.Int64}
)

SORT_KEY = ["sponsor_code", "business_date", "break_type", "side", "line_number"]


def _labels(sponsors: list[str], days: list[date]) -> list[pl.Expr]:
    return [
        pl.col("s").replace_strict(dict(enumerate(sponsors)), return_dtype=pl.String)
        .alias("sponsor_code"),
        pl.col("d").replace_strict(dict(enumerate(days)), return_dtype=pl.Date)
        .alias("business_date"),
    ]


def build_truth(
    parts: list[pl.DataFrame],
    lines: pl.DataFrame,
    sponsors: list[str],
    days: list[date],
    salt: int,
) -> pl.DataFrame:
    """Resolve the plan's break records to line numbers and printable keys.

    Raises:
        RuntimeError: a break points at a record that was never written (a
            generator bug: the truth must be exact).
    """
    if not parts:
        return pl.DataFrame(schema=TRUTH_SCHEMA)
    truth = pl.concat(parts).join(
        lines.rename({"side": "line_side"}), on=["s", "d", "line_side", "tag"], how="left"
    )
    if truth["line"].null_count():
        raise RuntimeError("ground truth refers to a record that was not written")
    return (
        truth.with_columns(conf_mix("conf", salt).alias("_mixed"))
        .select(
            *_labels(sponsors, days),
            "break_type",
            "side",
            pl.col("txn").replace_strict(TXN_TEXT, return_dtype=pl.String).alias("txn_type"),
            conf_text("conf", "_mixed").alias("confirmation_number"),
            pl.col("line").alias("line_number"),
            pl.col("status").alias("expected_status"),
        )
        .sort(SORT_KEY)
        .cast(dict(TRUTH_SCHEMA))  # type: ignore[arg-type]
    )


def build_rejected(
    parts: list[pl.DataFrame], lines: pl.DataFrame, sponsors: list[str], days: list[date]
) -> pl.DataFrame:
    """Resolve the plan's rejected partner records to line numbers."""
    if not parts:
        return pl.DataFrame(schema=REJECTED_TRUTH_SCHEMA)
    partner_lines = lines.filter(pl.col("side") == PARTNER).drop("side")
    frame = pl.concat(parts).join(partner_lines, on=["s", "d", "tag"], how="left")
    if frame["line"].null_count():
        raise RuntimeError("rejected-record truth refers to a record that was not written")
    return frame.select(
        *_labels(sponsors, days),
        pl.lit(PARTNER).alias("side"),
        pl.col("line").alias("line_number"),
        pl.col("reason").alias("reason_contains"),
    ).sort(["sponsor_code", "business_date", "side", "line_number"])


def empty_parts() -> pl.DataFrame:
    """An empty frame of plan break records."""
    return pl.DataFrame(schema=TRUTH_PARTS_SCHEMA)


def write_csv(frame: pl.DataFrame, path: Path) -> None:
    """Write a truth frame as CSV: ISO dates, empty cells for absent values."""
    frame.write_csv(path)


def read_truth(path: Path) -> pl.DataFrame:
    """Read a ``ground_truth.csv`` back with its proper types (for tests and checks)."""
    return pl.read_csv(path, schema=TRUTH_SCHEMA)

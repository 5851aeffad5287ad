"""Clean normalized files for gate tests, and the one-column mutations that break them.

Until the parser lands the gate is fed frames built directly in
``RECORD_SCHEMA``, wrapped in a ``ParsedFile``-like namespace.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import polars as pl

from reconciliation.parsing import ParsedFile
from reconciliation.records import PARTNER, PLATFORM, RECORD_SCHEMA, empty_rejected

EST = timezone(timedelta(hours=-5))
DAY = date(2026, 11, 20)
#: The standard layout's header period: business day DAY in EST, as UTC instants.
PERIOD = (datetime(2026, 11, 20, 5, tzinfo=UTC), datetime(2026, 11, 21, 5, tzinfo=UTC))
#: Records per clean file: one bad record is 0.5%, under the 1% warning rates.
N = 200


def clean_records(side: str, n: int = N, sponsor: str = "ABCD") -> pl.DataFrame:
    """``n`` records that pass every expectation of the side's suite."""
    rows = []
    for i in range(n):
        units = 1 + i % 7
        at = datetime(2026, 11, 20, 8, tzinfo=EST) + timedelta(minutes=3 * i)
        declined = side == PARTNER and i % 10 == 9
        rows.append({
            "side": side, "sponsor_code": sponsor, "business_date": DAY, "line_number": i + 3,
            "txn_type": "REVERSE" if i % 20 == 19 else "REDEEM",
            "confirmation_number": None if declined else f"C{i:07d}",
            "original_confirmation_number": f"C{i - 1:07d}" if i % 20 == 19 else None,
            "ts": at.astimezone(UTC), "partner_ts": at.astimezone(UTC),
            "store_id": f"{i % 50:04d}", "device_id": f"{i % 9:03d}",
            "card_terminal_id": None if side == PARTNER else "T01", "trace_id": f"{i:012d}",
            "pos_transaction_id": f"R{i}" if side == PARTNER else None,
            "collector_last4": f"{i % 10_000:04d}", "collector_hash": i,
            "units": units, "miles": units * 95, "dollars": Decimal(units * 10),
            "response_code": ("0051" if i % 10 == 9 else None if i % 10 == 8 else "0000")
            if side == PARTNER else "0000",
            "origin": None if side == PARTNER else "POS",
        })
    return pl.DataFrame(rows, schema=RECORD_SCHEMA)


def parsed_file(side: str, records: pl.DataFrame | None = None, **fields: Any) -> Any:
    """A ``ParsedFile`` of the standard layout around ``records``.

    A ``profile`` among ``fields`` makes it a namespace with that extra
    attribute, the way a caller may hand the gate its partner layout.
    """
    records = clean_records(side) if records is None else records
    prefix = "AMCASH_RECON" if side == PLATFORM else "AMCASH_POS"
    base: dict[str, Any] = {
        "side": side, "file_name": f"{prefix}_ABCD_{DAY:%Y%m%d}_001.txt", "sha256": "0" * 64,
        "sponsor_code": "ABCD", "business_date": DAY, "sequence": 1,
        "period_start": PERIOD[0], "period_end": PERIOD[1], "detail_count": records.height,
        "records": records, "rejected": empty_rejected(), "usable_count": records.height,
    }
    base.update(fields)
    base.setdefault("path", Path(base["file_name"]))
    profile = base.pop("profile", None)
    parsed = ParsedFile(**base)
    if profile is None:
        return parsed
    return SimpleNamespace(**vars(parsed), profile=profile, scan=parsed.scan, frame=parsed.frame)


def set_rows(records: pl.DataFrame, rows: int, **values: Any) -> pl.DataFrame:
    """Set columns of the first ``rows`` records, widening enum columns to strings if needed."""
    out = records
    for column, value in values.items():
        dtype = out.schema[column]
        if isinstance(dtype, pl.Enum) and value is not None and value not in dtype.categories:
            out = out.with_columns(pl.col(column).cast(pl.String))
            dtype = pl.String()
        out = out.with_columns(
            pl.when(pl.int_range(pl.len()) < rows).then(pl.lit(value, dtype=dtype))
            .otherwise(pl.col(column)).alias(column))
    return out


def shift_rows(records: pl.DataFrame, rows: int, column: str, delta: Any) -> pl.DataFrame:
    """Add ``delta`` to a column of the first ``rows`` records."""
    return records.with_columns(
        pl.when(pl.int_range(pl.len()) < rows).then(pl.col(column) + delta)
        .otherwise(pl.col(column)).alias(column))

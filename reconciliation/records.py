"""The canonical record schema shared by both sides after normalization.

Every parser (the built-in ``%%`` layout and every CSV profile) produces
frames with exactly these columns and types, so that matching, validation,
the warehouse and the reports never care which layout a record came from.
Collector numbers never appear here in full: only the last four digits and a
keyed hash (spec §7).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

import polars as pl

PARTNER: Final = "PARTNER"
PLATFORM: Final = "PLATFORM"
BOTH: Final = "BOTH"
SIDES: Final = (PARTNER, PLATFORM)

REDEEM: Final = "REDEEM"
REVERSE: Final = "REVERSE"
TXN_TYPES: Final = (REDEEM, REVERSE)

SUCCESS_CODES: Final = ("0000", "0001")
ORIGIN_POS: Final = "POS"
ORIGIN_SYSTEM: Final = "SYSTEM"

#: Money is exact: 2 decimal places, up to 10 digits before the point.
MONEY: Final = pl.Decimal(12, 2)
UTC_TS: Final = pl.Datetime("us", "UTC")
SIDE: Final = pl.Enum([PARTNER, PLATFORM])
TXN_TYPE: Final = pl.Enum([REDEEM, REVERSE])
ORIGIN: Final = pl.Enum([ORIGIN_POS, ORIGIN_SYSTEM])

#: Columns of a normalized record, in order. ``ts`` is the record's own
#: side's time (platform_datetime on the platform side, partner_datetime on
#: the partner side); ``partner_ts`` is the POS's time on both sides.
#: ``collector_hash`` is the first 8 bytes of HMAC-SHA256(key, number) as a
#: signed big-endian integer, null when the file carries a masked number.
#: Columns a side does not have (card_terminal_id and origin on the partner
#: side, pos_transaction_id on the platform side) are null.
RECORD_SCHEMA: Final = pl.Schema(
    {
        "side": SIDE,
        "sponsor_code": pl.String(),
        "business_date": pl.Date(),
        "line_number": pl.Int64(),
        "txn_type": TXN_TYPE,
        "confirmation_number": pl.String(),
        "original_confirmation_number": pl.String(),
        "ts": UTC_TS,
        "partner_ts": UTC_TS,
        "store_id": pl.String(),
        "device_id": pl.String(),
        "card_terminal_id": pl.String(),
        "trace_id": pl.String(),
        "pos_transaction_id": pl.String(),
        "collector_last4": pl.String(),
        "collector_hash": pl.Int64(),
        "units": pl.Int64(),
        "miles": pl.Int64(),
        "dollars": MONEY,
        "response_code": pl.String(),
        "origin": ORIGIN,
    }
)

#: A record rejected on its own (spec §2.2) while the rest of its file is used.
REJECTED_SCHEMA: Final = pl.Schema(
    {
        "side": SIDE,
        "file_name": pl.String(),
        "line_number": pl.Int64(),
        "reason": pl.String(),
        "raw_line": pl.String(),
    }
)


def empty_records() -> pl.DataFrame:
    """An empty frame of normalized records."""
    return pl.DataFrame(schema=RECORD_SCHEMA)


def empty_rejected() -> pl.DataFrame:
    """An empty frame of rejected records."""
    return pl.DataFrame(schema=REJECTED_SCHEMA)


def to_money(value: str | int | float | Decimal) -> Decimal:
    """Quantize a value to cents without passing through float arithmetic."""
    return Decimal(str(value)).quantize(Decimal("0.01"))

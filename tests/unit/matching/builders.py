"""Small builders of normalized records for engine tests."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import polars as pl

from reconciliation.records import RECORD_SCHEMA

EST = timezone(timedelta(hours=-5))
DAY = date(2026, 11, 20)


def rec(side: str, line: int, txn: str = "REDEEM", conf: str | None = "C1", *,
        orig: str | None = None, at: str = "12:00:00", day: date = DAY, units: int = 1,
        miles: int | None = None, dollars: str | None = None, code: str | None = "0000",
        origin: str | None = None, store: str = "0001", device: str = "001",
        trace: str | None = None, collector: int | None = 11, bdate: date | None = None,
        ) -> dict[str, Any]:
    """One normalized record; times are EST wall-clock on ``day``."""
    hh, mm, ss = (int(x) for x in at.split(":"))
    ts = datetime(day.year, day.month, day.day, hh, mm, ss, tzinfo=EST).astimezone(UTC)
    return {
        "side": side, "sponsor_code": "ABCD", "business_date": bdate or day, "line_number": line,
        "txn_type": txn, "confirmation_number": conf, "original_confirmation_number": orig,
        "ts": ts, "partner_ts": ts, "store_id": store, "device_id": device,
        "card_terminal_id": None, "trace_id": trace or f"{line:012d}",
        "pos_transaction_id": None, "collector_last4": "1234", "collector_hash": collector,
        "units": units, "miles": miles if miles is not None else units * 95,
        "dollars": Decimal(dollars) if dollars is not None else Decimal(units * 10),
        "response_code": code if side == "PARTNER" else "0000",
        "origin": (origin or "POS") if side == "PLATFORM" else None,
    }


def frame(*rows: dict[str, Any]) -> pl.DataFrame:
    """A RECORD_SCHEMA frame of the given records."""
    return pl.DataFrame(list(rows), schema=RECORD_SCHEMA, orient="row") if rows else \
        pl.DataFrame(schema=RECORD_SCHEMA)


def pending(*rows: tuple[dict[str, Any], int]) -> pl.DataFrame:
    """Pending records with their break ids."""
    base = frame(*(r for r, _ in rows))
    return base.with_columns(pending_break_id=pl.Series([b for _, b in rows], dtype=pl.Int64))


def P(line: int, *args: Any, **kw: Any) -> dict[str, Any]:
    """A partner record."""
    return rec("PARTNER", line, *args, **kw)


def Q(line: int, *args: Any, **kw: Any) -> dict[str, Any]:
    """A platform record."""
    return rec("PLATFORM", line, *args, **kw)

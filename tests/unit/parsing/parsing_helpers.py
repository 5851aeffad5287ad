"""Builders of small input files for the parser tests.

A test states only what differs from a valid file: ``d_line`` takes field
overrides, ``standard_file`` computes the trailers from the D lines (over
every D line, as the spec says) unless a test overrides them.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from pathlib import Path

from reconciliation.parsing.fields import PARTNER_FIELDS, PLATFORM_FIELDS

KEY = b"test-hash-key"
SPONSOR = "ABCD"
DAY = "20261120"
PLATFORM_NAME = f"AMCASH_RECON_{SPONSOR}_{DAY}_001.txt"
PARTNER_NAME = f"AMCASH_POS_{SPONSOR}_{DAY}_001.txt"

PLATFORM_VALUES = {
    "txn_type": "REDEEM",
    "confirmation_number": "CONF0001",
    "original_confirmation_number": "",
    "platform_datetime": "2026-11-20T10:15:30-05:00",
    "partner_datetime": "2026-11-20T10:15:29-05:00",
    "store_id": "1234",
    "device_id": "001",
    "card_terminal_id": "TERM01",
    "trace_id": "000000123456",
    "collector_number": "6012345678901234",
    "units": "2",
    "miles": "190",
    "dollars": "20.00",
    "response_code": "0000",
    "origin": "POS",
}
PARTNER_VALUES = {
    name: PLATFORM_VALUES.get(name, "") for name in PARTNER_FIELDS if name != "pos_transaction_id"
} | {"pos_transaction_id": "RCPT0001"}


def fields_of(side: str) -> tuple[str, ...]:
    return PLATFORM_FIELDS if side == "PLATFORM" else PARTNER_FIELDS


def d_line(side: str, **values: str) -> str:
    """A D record of ``side``; keyword arguments override the valid defaults."""
    base = PLATFORM_VALUES if side == "PLATFORM" else PARTNER_VALUES
    unknown = set(values) - set(base)
    assert not unknown, unknown
    merged = base | values
    return "%%".join(["D", *(merged[name] for name in fields_of(side))])


def _number(text: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation:
        return Decimal(0)


def trailers(side: str, details: list[str]) -> tuple[str, str]:
    """T1 and T2 lines computed over every D line."""
    names = fields_of(side)
    miles_at, dollars_at = 1 + names.index("miles"), 1 + names.index("dollars")
    counts = {"REDEEM": 0, "REVERSE": 0}
    miles = {"REDEEM": Decimal(0), "REVERSE": Decimal(0)}
    dollars = {"REDEEM": Decimal(0), "REVERSE": Decimal(0)}
    for line in details:
        parts = line.split("%%")
        kind = parts[1] if len(parts) > 1 else ""
        if kind in counts and len(parts) > dollars_at:
            counts[kind] += 1
            miles[kind] += _number(parts[miles_at])
            dollars[kind] += _number(parts[dollars_at])
    n = len(details)
    net = dollars["REDEEM"] - dollars["REVERSE"]
    t1 = f"T1%%{counts['REDEEM']}%%{miles['REDEEM']}%%{counts['REVERSE']}%%{miles['REVERSE']}"
    t2 = f"T2%%{n}%%{n + 4}%%{miles['REDEEM'] - miles['REVERSE']}%%{net:.2f}"
    return t1, t2


def standard_file(
    side: str,
    details: list[str] | None = None,
    *,
    h1: str | None = None,
    h2: str | None = None,
    t1: str | None = None,
    t2: str | None = None,
    eol: str = "\n",
    final_newline: bool = True,
) -> str:
    """A whole standard file; header and trailer lines may be replaced."""
    details = [d_line(side)] if details is None else details
    file_type = "RECON" if side == "PLATFORM" else "POS"
    h1 = h1 or f"H1%%{file_type}%%2026-11-21T01:00:00-05:00%%AMCASH%%PROD%%001"
    h2 = h2 or "H2%%ABCD%%2026-11-20%%2026-11-20T00:00:00-05:00%%2026-11-21T00:00:00-05:00"
    auto_t1, auto_t2 = trailers(side, details)
    lines = [h1, h2, *details, t1 or auto_t1, t2 or auto_t2]
    return eol.join(lines) + (eol if final_newline else "")


def write(folder: Path, side: str, content: str | bytes, name: str | None = None) -> Path:
    """Write a file under its standard name (or ``name``) and return its path."""
    path = folder / (name or (PLATFORM_NAME if side == "PLATFORM" else PARTNER_NAME))
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path

"""A deliberately simple, independent reader of generated files, for checking the generator.

It shares no code with the generator's writers (nor with the project's
parser, which is tested on its own): plain string splitting and the
standard library, so a bug in the generator cannot hide behind the same bug
here.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

EST = timezone(timedelta(hours=-5))

PLATFORM_FIELDS = ("txn", "conf", "orig", "ts", "pts", "store", "device", "terminal", "trace",
                   "collector", "units", "miles", "dollars", "resp", "origin")
PARTNER_FIELDS = ("txn", "conf", "orig", "pts", "store", "device", "trace", "receipt",
                  "collector", "units", "miles", "dollars", "resp")
CSV_COLUMNS = {"type": "txn", "confirmation": "conf", "original_confirmation": "orig",
               "local_time": "pts", "store": "store", "lane": "device", "trace": "trace",
               "receipt": "receipt", "card": "collector", "units": "units", "miles": "miles",
               "amount_cents": "cents", "response": "resp"}


@dataclass
class Rec:
    """One D record as read back."""

    sponsor: str
    bd: date
    side: str
    line: int
    txn: str
    conf: str
    orig: str
    ts: int
    pts: int
    store: str
    device: str
    trace: str
    collector: str
    units: int
    miles: int
    cents: int
    resp: str
    origin: str
    reject: str = ""

    @property
    def successful(self) -> bool:
        return self.side == "PLATFORM" or self.resp in ("0000", "0001")


def _epoch(text: str, zone: timezone | ZoneInfo = EST, fmt: str | None = None) -> int | None:
    try:
        value = datetime.strptime(text, fmt) if fmt else datetime.fromisoformat(text)
    except ValueError:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    return int(value.timestamp())


def _rec(sponsor: str, bd: date, side: str, line: int, raw: dict[str, str], ts: int | None,
         pts: int | None, cents: int) -> Rec:
    reject = ""
    if raw["txn"] not in ("REDEEM", "REVERSE"):
        reject = "txn_type"
    elif pts is None or ts is None:
        reject = "partner_datetime"
    elif not (raw["store"].isdigit() and len(raw["store"]) == 4):
        reject = "store_id"
    elif (raw["txn"] == "REVERSE") != bool(raw["orig"]):
        reject = "original_confirmation_number"
    return Rec(sponsor, bd, side, line, raw["txn"], raw["conf"], raw["orig"], ts or 0, pts or 0,
               raw["store"], raw["device"], raw["trace"], raw["collector"], int(raw["units"]),
               int(raw["miles"]), cents, raw["resp"], raw.get("origin", ""), reject)


def read_standard(path: Path) -> tuple[list[str], list[Rec]]:
    """All lines and the D records of a standard-layout file."""
    lines = path.read_text(encoding="ascii").split("\n")
    assert lines[-1] == ""
    lines = lines[:-1]
    _, kind, sponsor, stamp, _ = path.name.split("_")
    side = "PLATFORM" if kind == "RECON" else "PARTNER"
    bd = datetime.strptime(stamp, "%Y%m%d").date()
    names = PLATFORM_FIELDS if side == "PLATFORM" else PARTNER_FIELDS
    records = []
    for number, line in enumerate(lines[2:-2], start=3):
        fields = line.split("%%")
        assert fields[0] == "D" and len(fields) == len(names) + 1, (path.name, number)
        raw = dict(zip(names, fields[1:], strict=True))
        pts = _epoch(raw["pts"])
        ts = _epoch(raw["ts"]) if side == "PLATFORM" else pts
        whole, cents = raw["dollars"].split(".")
        records.append(_rec(sponsor, bd, side, number, raw, ts, pts, int(whole) * 100 + int(cents)))
    return lines, records


def read_csv_cents(path: Path) -> tuple[list[str], list[Rec]]:
    """The header and the records of a file in the shipped CSV profile (POSLOG_...csv)."""
    _, sponsor, stamp, _ = path.name.split("_")
    bd = datetime.strptime(stamp, "%Y%m%d").date()
    text = path.read_text(encoding="ascii")
    rows = list(csv.DictReader(text.splitlines()))
    records = []
    for number, row in enumerate(rows, start=2):
        raw = {CSV_COLUMNS[k]: v for k, v in row.items()}
        raw["txn"] = {"SALE": "REDEEM", "VOID": "REVERSE"}.get(raw["txn"], raw["txn"])
        pts = _epoch(raw["pts"], ZoneInfo("America/Toronto"), "%Y-%m-%d %H:%M:%S")
        records.append(_rec(sponsor, bd, "PARTNER", number, raw, pts, pts, int(raw["cents"])))
    return text.splitlines()[:1], records


def read_any(path: Path) -> list[Rec]:
    """The D records of any generated input file."""
    reader = read_csv_cents if path.suffix == ".csv" else read_standard
    return reader(path)[1]

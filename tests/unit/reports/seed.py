"""A realistic warehouse for report tests, written with the project's own writer.

Until reports can be tested on generated end-to-end data, this builds what
the engine would have written for two sponsors over 15 nights: runs (one
day re-run, one sponsor rejected), records with their dispositions, pairs,
rejected records, summaries from ``warehouse.summary``, and breaks of every
type raised through ``warehouse.writer`` (so 'raised', 'matched later' and
'opened' audit rows are the engine's own). A few old breaks were resolved by
a person, as the break workflow would.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import polars as pl
import sqlalchemy as sa

from reconciliation.records import MONEY, UTC_TS
from reconciliation.warehouse import summary as summaries
from reconciliation.warehouse.db import engine_for, ensure_schema, insert_frame, write_transaction
from reconciliation.warehouse.schema import (
    INITIAL_STATUS,
    SEVERITY,
    recon_break,
    recon_break_event,
    recon_match,
    recon_record,
    recon_rejected_record,
    recon_summary,
)
from reconciliation.warehouse.writer import apply_pending_updates, insert_breaks, insert_run, supersede

LAST_DAY = date(2026, 11, 20)
FIRST_DAY = LAST_DAY - timedelta(days=14)
EST = -5

BREAK_COLS: dict[str, Any] = {
    "sponsor_code": pl.String, "break_key": pl.String, "business_date": pl.Date,
    "break_type": pl.String, "severity": pl.String, "status": pl.String, "side": pl.String,
    "txn_type": pl.String, "confirmation_number": pl.String, "trace_id": pl.String,
    "store_id": pl.String, "device_id": pl.String, "partner_miles": pl.Int64,
    "platform_miles": pl.Int64, "partner_dollars": MONEY, "platform_dollars": MONEY,
    "delta_dollars": MONEY, "detail": pl.String, "partner_line": pl.Int64,
    "platform_line": pl.Int64, "partner_business_date": pl.Date, "platform_business_date": pl.Date,
    "partner_ts": UTC_TS, "platform_ts": UTC_TS, "partner_units": pl.Int64,
    "platform_units": pl.Int64, "original_confirmation_number": pl.String,
    "pos_transaction_id": pl.String, "collector_last4": pl.String, "collector_hash": pl.Int64,
}
RECORD_COLS: dict[str, Any] = {
    "side": pl.String, "sponsor_code": pl.String, "business_date": pl.Date,
    "line_number": pl.Int64, "txn_type": pl.String, "confirmation_number": pl.String,
    "original_confirmation_number": pl.String, "ts": UTC_TS, "origin": pl.String,
    "response_code": pl.String, "store_id": pl.String, "device_id": pl.String,
    "trace_id": pl.String, "units": pl.Int64, "miles": pl.Int64, "dollars": MONEY,
    "collector_last4": pl.String, "collector_hash": pl.Int64, "disposition": pl.String,
}


def run_clock(day: date) -> datetime:
    """When the nightly run of ``day`` happens: 02:00 EST the next morning."""
    return datetime.combine(day + timedelta(days=1), time(7), tzinfo=UTC)


@dataclass
class Day:
    """Records, pairs and breaks of one sponsor-day, built up transaction by transaction."""

    sponsor: str
    day: date
    rng: random.Random
    records: list[dict[str, Any]] = field(default_factory=list)
    pairs: list[dict[str, Any]] = field(default_factory=list)
    breaks: list[dict[str, Any]] = field(default_factory=list)
    rejected: dict[str, int] = field(default_factory=lambda: {"PARTNER": 0, "PLATFORM": 0})
    lines: dict[str, int] = field(default_factory=lambda: {"PARTNER": 2, "PLATFORM": 2})
    seq: int = 0

    def record(self, side: str, txn: str, units: int, disposition: str, *, conf: str | None,
               orig: str | None = None, code: str = "0000", dollars: Decimal | None = None,
               minutes: int = 0, origin: str | None = "POS", collector: str | None = None) -> dict[str, Any]:
        self.lines[side] += 1
        ts = datetime.combine(self.day, time(10), tzinfo=UTC) + timedelta(minutes=minutes)
        row = {"side": side, "sponsor_code": self.sponsor, "business_date": self.day,
               "line_number": self.lines[side], "txn_type": txn, "confirmation_number": conf,
               "original_confirmation_number": orig, "ts": ts,
               "origin": origin if side == "PLATFORM" else None, "response_code": code,
               "store_id": "0012", "device_id": "003", "trace_id": f"{self.rng.randrange(10**11, 10**12)}",
               "units": units, "miles": units * 95,
               "dollars": dollars if dollars is not None else Decimal(units * 10).quantize(Decimal("0.01")),
               "collector_last4": collector or f"{self.rng.randrange(10000):04d}",
               "collector_hash": self.rng.randrange(-2**62, 2**62), "disposition": disposition}
        self.records.append(row)
        return row

    def conf(self) -> str:
        self.seq += 1
        return f"{self.sponsor[:2]}{self.day:%m%d}{self.seq:05d}"

    def pair(self, txn: str = "REDEEM", units: int | None = None, partner_units: int | None = None,
             orig: str | None = None, drift: int = 0, dollars: Decimal | None = None
             ) -> tuple[dict[str, Any], dict[str, Any]]:
        units = units or self.rng.randint(1, 5)
        conf, minutes = self.conf(), self.rng.randint(0, 600)
        q = self.record("PLATFORM", txn, units, "MATCHED", conf=conf, orig=orig, minutes=minutes,
                        dollars=dollars)
        p = self.record("PARTNER", txn, partner_units or units, "MATCHED", conf=conf, orig=orig,
                        minutes=minutes + drift, collector=q["collector_last4"], dollars=dollars)
        self.pairs.append({"txn_type": txn, "confirmation_number": conf, "rule": "KEY",
                           "outcome": "MATCHED", "partner_line": p["line_number"],
                           "platform_line": q["line_number"], "partner_business_date": self.day,
                           "platform_business_date": self.day})
        return p, q

    def brk(self, break_type: str, side: str, p: dict[str, Any] | None, q: dict[str, Any] | None,
            detail: str, delta: Decimal | None = None, suffix: str | None = None) -> None:
        base = q or p
        assert base is not None
        if delta is None:
            delta = (q["dollars"] if q else Decimal("0.00")) - (p["dollars"] if p else Decimal("0.00"))
        self.breaks.append({
            "sponsor_code": self.sponsor, "business_date": self.day, "break_type": break_type,
            "break_key": f"{self.sponsor}|{self.day}|{break_type}|{side}|{base['txn_type']}|"
                         f"{suffix or base['confirmation_number']}",
            "severity": SEVERITY[break_type], "status": INITIAL_STATUS[break_type], "side": side,
            "txn_type": base["txn_type"], "confirmation_number": base["confirmation_number"],
            "trace_id": base["trace_id"], "store_id": base["store_id"], "device_id": base["device_id"],
            "partner_miles": p and p["miles"], "platform_miles": q and q["miles"],
            "partner_dollars": p and p["dollars"], "platform_dollars": q and q["dollars"],
            "delta_dollars": delta, "detail": detail,
            "partner_line": p and p["line_number"], "platform_line": q and q["line_number"],
            "partner_business_date": p and self.day, "platform_business_date": q and self.day,
            "partner_ts": p and p["ts"], "platform_ts": q and q["ts"],
            "partner_units": p and p["units"], "platform_units": q and q["units"],
            "original_confirmation_number": base["original_confirmation_number"],
            "pos_transaction_id": p and f"R{p['line_number']:06d}",
            "collector_last4": base["collector_last4"], "collector_hash": base["collector_hash"]})


def build_day(sponsor: str, day: date, rng: random.Random, kinds: list[str]) -> Day:
    """A plausible night: matched sales and voids, declines, and the breaks named in ``kinds``."""
    d = Day(sponsor, day, rng)
    sales = [d.pair() for _ in range(rng.randint(18, 30))]
    for p, _ in sales[:3]:
        d.pair("REVERSE", units=p["units"], orig=p["confirmation_number"])
    for code in ("0051", "0065", ""):
        d.record("PARTNER", "REDEEM", 2, "DECLINED", conf=None if not code else d.conf(), code=code)
    for kind in kinds:
        if kind == "MISSING_ON_PLATFORM":
            p = d.record("PARTNER", "REDEEM", rng.randint(1, 8), "BREAK", conf=d.conf())
            d.brk(kind, "PARTNER", p, None, "partner REDEEM with no platform record")
        elif kind == "MISSING_AT_PARTNER":
            q = d.record("PLATFORM", "REDEEM", rng.randint(1, 8), "BREAK", conf=d.conf())
            d.brk(kind, "PLATFORM", None, q, "platform REDEEM not in the partner's file")
        elif kind == "AMOUNT_MISMATCH":
            p, q = d.pair(units=2, partner_units=3)
            d.brk(kind, "BOTH", p, q, "units 3/2, miles 285/190, dollars $30.00/$20.00 (partner/platform)")
        elif kind == "TIMESTAMP_DRIFT":
            p, q = d.pair(drift=25)
            d.brk(kind, "BOTH", p, q, "partner time 25 min after the platform's", delta=Decimal("0.00"))
        elif kind == "DUPLICATE":
            _, q0 = sales[-1]
            q = d.record("PLATFORM", "REDEEM", q0["units"], "DUPLICATE", conf=q0["confirmation_number"])
            d.brk(kind, "PLATFORM", None, q, "second platform REDEEM with this confirmation number",
                  suffix=f"{q0['confirmation_number']}#2")
        elif kind == "ORPHAN_REVERSAL":
            p, q = d.pair("REVERSE", units=1, orig="ZZ99999999")
            d.brk(kind, "PLATFORM", None, q, "REVERSE of ZZ99999999, which is not in the look-back",
                  delta=q["dollars"])
        elif kind == "CONVERSION_ERROR":
            p, q = d.pair(units=2, dollars=Decimal("25.00"))
            d.brk(kind, "PLATFORM", None, q, "2 units should be 190 miles and $20.00; got 190 and $25.00",
                  delta=Decimal("5.00"))
        elif kind == "DAILY_LIMIT_EXCEEDED":
            _, q = sales[0]
            d.brk(kind, "PLATFORM", None, q, f"collector ending {q['collector_last4']} reached $790.00 "
                  f"in limit day {day} (limit $750.00)", delta=Decimal("40.00"),
                  suffix=str(q["collector_hash"]))
    return d


def write_day(conn: sa.Connection, d: Day, *, version: int = 1, pending: pl.DataFrame | None = None
              ) -> int:
    """Write one SUCCEEDED run the way the pipeline does, in the caller's transaction."""
    now = run_clock(d.day) + timedelta(minutes=version - 1)
    supersede(conn, d.sponsor, d.day)
    records = pl.DataFrame(d.records, schema=RECORD_COLS)
    for side in ("PARTNER", "PLATFORM"):
        d.rejected[side] = 1 if d.rng.random() < 0.3 else 0
    detail = {s: records.filter(pl.col("side") == s).height + d.rejected[s] for s in d.rejected}
    run_id = insert_run(conn, {
        "sponsor_code": d.sponsor, "business_date": d.day, "version": version, "status": "SUCCEEDED",
        "is_current": True, "started_at": now, "finished_at": now + timedelta(seconds=40),
        "partner_file": f"AMCASH_POS_{d.sponsor}_{d.day:%Y%m%d}_{version:03d}.txt",
        "platform_file": f"AMCASH_RECON_{d.sponsor}_{d.day:%Y%m%d}_{version:03d}.txt",
        "partner_sha256": f"{d.rng.getrandbits(256):064x}",
        "platform_sha256": f"{d.rng.getrandbits(256):064x}",
        "partner_records": detail["PARTNER"], "platform_records": detail["PLATFORM"],
        "rejected_records": sum(d.rejected.values()), "matched_pairs": len(d.pairs),
        "triggered_by": "cli", "partner_profile": "standard"})
    if pending is not None and pending.height:
        apply_pending_updates(conn, pending, run_id, d.day, now)
    breaks = insert_breaks(conn, pl.DataFrame(d.breaks, schema=BREAK_COLS), run_id=run_id,
                           sponsor=d.sponsor, previous_runs=[], now=now)
    ids = pl.lit(run_id, dtype=pl.Int64)
    insert_frame(conn, recon_record, records.with_columns(run_id=ids))
    insert_frame(conn, recon_match, pl.DataFrame(d.pairs).with_columns(
        run_id=ids, sponsor_code=pl.lit(d.sponsor), business_date=pl.lit(d.day)))
    rejected = [{"side": s, "file_name": f"AMCASH_{'POS' if s == 'PARTNER' else 'RECON'}_{d.sponsor}_"
                 f"{d.day:%Y%m%d}_001.txt", "line_number": 3 + 40,
                 "reason": "field units: 'X2' is not a number",
                 "raw_line": "D%%REDEEM%%...%%************4242%%X2%%190%%20.00%%0000"}
                for s, n in d.rejected.items() for _ in range(n)]
    if rejected:
        insert_frame(conn, recon_rejected_record, pl.DataFrame(rejected).with_columns(run_id=ids))
    parsed = {s: SimpleNamespace(detail_count=detail[s], rejected=pl.DataFrame({"x": [0] * d.rejected[s]}))
              for s in d.rejected}
    summary = summaries.summary_rows(run_id, d.sponsor, d.day, parsed, summaries.record_totals(records),
                                     breaks)
    summaries.check_conservation(summary)
    insert_frame(conn, recon_summary, summary)
    return run_id


KINDS = ["MISSING_ON_PLATFORM", "MISSING_AT_PARTNER", "AMOUNT_MISMATCH", "TIMESTAMP_DRIFT", "DUPLICATE",
         "ORPHAN_REVERSAL", "CONVERSION_ERROR", "DAILY_LIMIT_EXCEEDED"]


def _pending_updates(conn: sa.Connection, sponsor: str, day: date, rng: random.Random) -> pl.DataFrame:
    """What the run of ``day`` does to the previous day's pending breaks: match some, open the rest."""
    rows = conn.execute(sa.select(recon_break.c.break_id).where(
        recon_break.c.sponsor_code == sponsor, recon_break.c.business_date == day - timedelta(days=1),
        recon_break.c.status == "PENDING")).scalars().all()
    out = []
    for break_id in rows:
        matched = rng.random() < 0.5
        out.append({"break_id": break_id, "new_status": "RESOLVED" if matched else "OPEN",
                    "resolution": "MATCHED_LATER" if matched else None})
    return pl.DataFrame(out, schema={"break_id": pl.Int64, "new_status": pl.String, "resolution": pl.String})


def resolve_by_person(conn: sa.Connection, break_id: int, who: str, at: datetime, note: str) -> None:
    """A person's resolution, as the break workflow writes it."""
    old = conn.execute(sa.select(recon_break.c.status).where(recon_break.c.break_id == break_id)).scalar_one()
    conn.execute(recon_break.update().where(recon_break.c.break_id == break_id).values(
        status="RESOLVED", resolution="RESOLVED_BY_USER", resolved_by=who, resolved_date=at.date(),
        note=note, updated_at=at))
    conn.execute(recon_break_event.insert().values(
        break_id=break_id, run_id=None, changed_at=at, old_status=old, new_status="RESOLVED",
        old_resolution=None, resolution="RESOLVED_BY_USER", changed_by=who, note=note))


def seed(url: str) -> dict[str, Any]:
    """Fill an empty warehouse; returns facts tests use (run ids by sponsor-day)."""
    engine = engine_for(url)
    ensure_schema(engine)
    rng = random.Random(20261120)
    runs: dict[tuple[str, date], int] = {}
    plan = [("ABCD", FIRST_DAY + timedelta(days=i)) for i in range(15)] + [
        ("WXYZ", LAST_DAY - timedelta(days=i)) for i in (2, 1, 0)]
    plan.sort(key=lambda sd: (sd[1], sd[0]))
    for sponsor, day in plan:
        kinds = rng.sample(KINDS, rng.randint(2, 5))
        if day == LAST_DAY and sponsor == "ABCD":
            kinds = KINDS
        with write_transaction(engine) as conn:
            pending: pl.DataFrame | None = _pending_updates(conn, sponsor, day, rng)
            if day == LAST_DAY and sponsor == "ABCD":  # first attempt, superseded below
                write_day(conn, build_day(sponsor, day, random.Random(1), kinds[:3]), pending=pending)
                pending = None
            version = 2 if (day == LAST_DAY and sponsor == "ABCD") else 1
            runs[(sponsor, day)] = write_day(conn, build_day(sponsor, day, rng, kinds), version=version,
                                             pending=pending)
            if day == FIRST_DAY + timedelta(days=9):
                old = conn.execute(sa.select(recon_break.c.break_id).where(
                    recon_break.c.status == "OPEN", recon_break.c.business_date < day)
                    .order_by(recon_break.c.break_id).limit(3)).scalars().all()
                for i, break_id in enumerate(old):
                    resolve_by_person(conn, break_id, "a.finance", run_clock(day) + timedelta(hours=i + 1),
                                      "partner confirmed the adjustment in its ledger")
    with write_transaction(engine) as conn:
        insert_run(conn, {"sponsor_code": "QRST", "business_date": LAST_DAY, "version": 1,
                          "status": "REJECTED", "is_current": False, "started_at": run_clock(LAST_DAY),
                          "finished_at": run_clock(LAST_DAY),
                          "partner_file": "AMCASH_POS_QRST_20261120_001.txt",
                          "error": "AMCASH_POS_QRST_20261120_001.txt, line 41: T1 redeem_miles 9120 differs "
                                   "from the D records' 9025"})
    return {"runs": runs}

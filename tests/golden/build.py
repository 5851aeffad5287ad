"""Render the golden cases' input files from compact definitions.

Each case is a folder under tests/golden/ holding the input files (as the
partner and the platform would deliver them) beside ``expected_breaks.csv``
(and, where the case is about them, ``expected_runs.csv`` and
``expected_rejected.csv``). The files are committed; this script is how they
were written: ``python tests/golden/build.py`` rewrites them all (but
``csv_partner_profile``, a partner CSV layout, which its ``case.md`` describes
and this script leaves alone).
"""

from __future__ import annotations

import csv
import shutil
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

HERE = Path(__file__).parent
D1 = date(2026, 11, 20)
D2 = date(2026, 11, 21)


@dataclass
class Rec:
    """One transaction as either side logs it."""

    txn: str = "REDEEM"
    conf: str = ""
    orig: str = ""
    time: str = "12:00:00"
    units: int = 1
    miles: int | None = None
    dollars: str | None = None
    code: str = "0000"
    origin: str = "POS"
    store: str = "0001"
    device: str = "001"
    trace: str = "000000000001"
    collector: str = "4000123412341234"
    pos_id: str = "RCPT1"
    raw: str | None = None  # a literal D line, for records that must be malformed

    def amounts(self) -> tuple[int, str]:
        miles = self.miles if self.miles is not None else self.units * 95
        dollars = self.dollars if self.dollars is not None else f"{self.units * 10}.00"
        return miles, dollars


@dataclass
class Day:
    """One sponsor-day: the two sides' records."""

    sponsor: str = "ABCD"
    day: date = D1
    platform: list[Rec] = field(default_factory=list)
    partner: list[Rec] = field(default_factory=list)
    seq: int = 1
    platform_seq: int | None = None


def _stamp(day: date, time: str) -> str:
    # "+1 00:02:00" means the next day's 00:02.
    if time.startswith("+1 "):
        return f"{(day + timedelta(days=1)).isoformat()}T{time[3:]}"
    return f"{day.isoformat()}T{time}"


def platform_line(day: date, r: Rec) -> str:
    if r.raw is not None:
        return r.raw
    miles, dollars = r.amounts()
    return "%%".join(["D", r.txn, r.conf, r.orig, _stamp(day, r.time) + "-05:00", _stamp(day, r.time),
                      r.store, r.device, "T1", r.trace, r.collector, str(r.units), str(miles),
                      dollars, r.code if r.code in ("0000", "0001") else "0000", r.origin])


def partner_line(day: date, r: Rec) -> str:
    if r.raw is not None:
        return r.raw
    miles, dollars = r.amounts()
    return "%%".join(["D", r.txn, r.conf, r.orig, _stamp(day, r.time), r.store, r.device, r.trace,
                      r.pos_id, r.collector, str(r.units), str(miles), dollars, r.code])


def render(kind: str, sponsor: str, day: date, seq: int, lines: list[str]) -> str:
    """A whole standard-layout file with correct headers and trailers."""
    counts = {"REDEEM": [0, 0, Decimal(0)], "REVERSE": [0, 0, Decimal(0)]}
    for line in lines:
        f = line.split("%%")
        if f[1] in counts and len(f) > 3:
            try:
                miles, dollars = int(f[-3 if kind == "POS" else -4]), Decimal(f[-2 if kind == "POS" else -3])
            except Exception:
                continue
            counts[f[1]][0] += 1
            counts[f[1]][1] += miles
            counts[f[1]][2] += dollars
    rd, rv = counts["REDEEM"], counts["REVERSE"]
    ymd = day.strftime("%Y%m%d")
    out = [
        f"H1%%{kind}%%{day.isoformat()}T23:59:59-05:00%%{'AIRMILES' if kind == 'RECON' else 'POSVENDOR'}"
        f"%%PROD%%{seq:03d}",
        f"H2%%{sponsor}%%{ymd}%%{day.isoformat()}T00:00:00-05:00%%"
        f"{(day + timedelta(days=1)).isoformat()}T00:00:00-05:00",
        *lines,
        f"T1%%{rd[0]}%%{rd[1]}%%{rv[0]}%%{rv[1]}",
        f"T2%%{len(lines)}%%{len(lines) + 4}%%{rd[1] - rv[1]}%%{rd[2] - rv[2]:.2f}",
    ]
    return "\n".join(out) + "\n"


def write_day(folder: Path, d: Day) -> None:
    ymd = d.day.strftime("%Y%m%d")
    pseq = d.platform_seq or d.seq
    (folder / f"AMCASH_RECON_{d.sponsor}_{ymd}_{pseq:03d}.txt").write_text(
        render("RECON", d.sponsor, d.day, pseq, [platform_line(d.day, r) for r in d.platform]))
    (folder / f"AMCASH_POS_{d.sponsor}_{ymd}_{d.seq:03d}.txt").write_text(
        render("POS", d.sponsor, d.day, d.seq, [partner_line(d.day, r) for r in d.partner]))


def write_expected(folder: Path, name: str, header: list[str], rows: list[tuple]) -> None:
    with (folder / name).open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


#: The columns a golden case pins, money included: miles of each side (empty: no record on that
#: side) and delta_dollars (platform − partner dollars, a missing side counting zero; see
#: docs/decisions.md "Breaks"). Each expected value is written here by hand from the spec.
BREAK_HEADER = ["sponsor_code", "business_date", "break_type", "side", "txn_type",
                "confirmation_number", "status", "partner_miles", "platform_miles", "delta_dollars"]


def case(name: str, days: list[Day], breaks: list[tuple], note: str,
         runs: list[tuple] | None = None, rejected: list[tuple] | None = None) -> None:
    folder = HERE / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    for d in days:
        write_day(folder, d)
    (folder / "case.md").write_text(note.strip() + "\n")
    write_expected(folder, "expected_breaks.csv", BREAK_HEADER, sorted(breaks))
    if runs is not None:
        write_expected(folder, "expected_runs.csv",
                       ["sponsor_code", "business_date", "status", "error_contains"], runs)
    if rejected is not None:
        write_expected(folder, "expected_rejected.csv",
                       ["side", "line_number", "reason_contains"], rejected)


def m(conf: str, **kw) -> tuple[Rec, Rec]:
    """A matched pair: the same transaction on both sides."""
    return Rec(conf=conf, **kw), Rec(conf=conf, **kw)


def build() -> None:
    a, b = m("K1")
    case("key_match", [Day(platform=[a], partner=[b])], [],
         "§4.2: equal (txn_type, confirmation_number) pair; no break.")
    case("missing_on_platform", [Day(partner=[Rec(conf="M1")])],
         [("ABCD", D1, "MISSING_ON_PLATFORM", "PARTNER", "REDEEM", "M1", "PENDING", 95, "", "-10.00")],
         "§4.7: a successful partner record with no platform record, raised PENDING.")
    case("missing_at_partner", [Day(platform=[Rec(conf="M2")])],
         [("ABCD", D1, "MISSING_AT_PARTNER", "PLATFORM", "REDEEM", "M2", "PENDING", "", 95, "10.00")],
         "§4.7: a platform record with no partner record, raised PENDING.")
    case("declined", [Day(partner=[Rec(code="0051", trace="000000000002"),
                                   Rec(code="0065", trace="000000000003")])], [],
         "§4: partner records with other codes are declined: counted, never a break.")
    a, b = m("K1")
    case("duplicate", [Day(platform=[a, Rec(conf="K1", time="12:05:00")],
                           partner=[b, Rec(conf="K1", time="12:05:00")])],
         [("ABCD", D1, "DUPLICATE", "PARTNER", "REDEEM", "K1", "OPEN", 95, "", "-10.00"),
          ("ABCD", D1, "DUPLICATE", "PLATFORM", "REDEEM", "K1", "OPEN", "", 95, "10.00")],
         "§4.1: the later record with the same (txn_type, confirmation) is a DUPLICATE on its side.")
    case("fallback_match", [Day(
        platform=[Rec(conf="F1", time="12:03:00", trace="000000000777"),
                  Rec(conf="F2", time="12:08:00", trace="000000000777")],
        partner=[Rec(conf="", time="12:00:00", trace="000000000777"),
                 Rec(conf="", time="12:04:00", trace="000000000777")])], [],
        "§4.3: partner records without confirmation match by store/device/trace within 10 minutes, "
        "each taking the nearest free platform record in partner order.")
    case("unknown_outcome_not_refunded", [Day(
        platform=[Rec(conf="U1", trace="000000000005")],
        partner=[Rec(conf="", code="", trace="000000000005")])],
        [("ABCD", D1, "MISSING_AT_PARTNER", "PLATFORM", "REDEEM", "U1", "PENDING", "", 95, "10.00")],
        "§4.4: the POS got no response and the platform did not refund: miles taken, no discount.")
    case("unknown_outcome_auto_refunded", [Day(
        platform=[Rec(conf="U2", trace="000000000006"),
                  Rec(txn="REVERSE", conf="S2", orig="U2", origin="SYSTEM", time="12:20:00",
                      trace="000000000006")],
        partner=[Rec(conf="", code="", trace="000000000006")])], [],
        "§4.4: the platform refunded automatically; REDEEM, refund and partner record are settled.")
    case("auto_refund_without_partner", [Day(platform=[
        Rec(conf="U3"), Rec(txn="REVERSE", conf="S3", orig="U3", origin="SYSTEM", time="12:19:00")])],
        [], "§4.5: a REDEEM refunded by a SYSTEM REVERSE with no partner record is settled.")
    a, b = m("K4")
    case("system_refund_of_paired_redeem", [Day(
        platform=[a, Rec(txn="REVERSE", conf="S4", orig="K4", origin="SYSTEM", time="12:20:00")],
        partner=[b])],
        [("ABCD", D1, "MISSING_AT_PARTNER", "PLATFORM", "REVERSE", "S4", "PENDING", "", 95, "10.00")],
        "§4.7: miles refunded although the discount was given.")
    case("amount_mismatch", [Day(platform=[Rec(conf="A1", units=2)], partner=[Rec(conf="A1", units=3)])],
         [("ABCD", D1, "AMOUNT_MISMATCH", "BOTH", "REDEEM", "A1", "OPEN", 285, 190, "-10.00")],
         "§4.6: a pair whose units, miles or dollars differ.")
    case("timestamp_drift", [Day(platform=[Rec(conf="T1", time="12:00:00")],
                                 partner=[Rec(conf="T1", time="12:30:00")])],
         [("ABCD", D1, "TIMESTAMP_DRIFT", "BOTH", "REDEEM", "T1", "OPEN", 95, 95, "0.00")],
         "§4.6: a KEY pair whose times differ by more than the tolerance.")
    a, b = m("R1", txn="REVERSE", orig="NOPE")
    case("orphan_reversal", [Day(platform=[a], partner=[b])],
         [("ABCD", D1, "ORPHAN_REVERSAL", "PLATFORM", "REVERSE", "R1", "OPEN", "", 95, "10.00")],
         "§4.8: a REVERSE whose REDEEM is found nowhere.")
    a, b = m("L1")
    c, d = m("L2", txn="REVERSE", orig="L1", time="09:00:00")
    e, f = m("L3", time="22:00:00")
    g, h = m("L4", txn="REVERSE", orig="L3", time="02:30:00")
    case("late_reversal", [Day(platform=[a, e], partner=[b, f]),
                           Day(day=D2, platform=[g, c], partner=[h, d])],
         [("ABCD", D2, "LATE_REVERSAL", "PLATFORM", "REVERSE", "L2", "OPEN", "", 95, "10.00")],
         "§4.8: a REVERSE after D+1 03:00 of its REDEEM's business day is late (found in warehouse "
         "history); one at 02:30 is in time.")
    a, b = m("D1")
    c, d = m("D2", txn="REVERSE", orig="D1", time="12:10:00")
    e, f = m("D3", txn="REVERSE", orig="D1", time="12:20:00")
    case("double_reversal", [Day(platform=[a, c, e], partner=[b, d, f])],
         [("ABCD", D1, "DOUBLE_REVERSAL", "PLATFORM", "REVERSE", "D3", "OPEN", "", 95, "10.00")],
         "§4.8: every REVERSE of a REDEEM after the first (by time) is a DOUBLE_REVERSAL.")
    a, b = m("V1", units=3)
    c, d = m("V2", txn="REVERSE", orig="V1", time="12:10:00", units=1)
    case("reversal_mismatch", [Day(platform=[a, c], partner=[b, d])],
         [("ABCD", D1, "REVERSAL_MISMATCH", "PLATFORM", "REVERSE", "V2", "OPEN", "", 95, "10.00")],
         "§4.8: a REVERSE whose miles differ from its REDEEM's.")
    a, b = m("C1", units=2, miles=200)
    case("conversion_error", [Day(platform=[a], partner=[b])],
         [("ABCD", D1, "CONVERSION_ERROR", "PLATFORM", "REDEEM", "C1", "OPEN", "", 200, "0.00")],
         "§4.9: miles ≠ units × 95 (checked once, on the platform record).")
    big = "4000999988887777"
    pairs_a = [m(f"X{i}", units=20, dollars="200.00", miles=1900, collector=big,
                 time=f"1{i}:00:00", trace=f"00000000010{i}") for i in range(2)]
    pairs_b = [m(f"Y{i}", units=20, dollars="200.00", miles=1900, collector=big,
                 time=f"1{i}:30:00", trace=f"00000000020{i}") for i in range(2)]
    case("daily_limit", [
        Day(sponsor="ABCD", platform=[p[0] for p in pairs_a], partner=[p[1] for p in pairs_a]),
        Day(sponsor="EFGH", platform=[p[0] for p in pairs_b], partner=[p[1] for p in pairs_b]),
        Day(sponsor="ABCD", day=D2), Day(sponsor="EFGH", day=D2)],
        [("EFGH", D1, "DAILY_LIMIT_EXCEEDED", "PLATFORM", "REDEEM", "Y1", "OPEN", "", 1900, "50.00")],
        "§4.10: $400 at each of two sponsors in one limit day; the REDEEM that crosses $750 (in time "
        "order, over both sponsors) carries the break, raised once both dates are covered.")
    case("carry_forward_resolved", [
        Day(partner=[Rec(conf="N1", time="23:58:00")]),
        Day(day=D2, platform=[Rec(conf="N1", time="00:02:00")])],
        [("ABCD", D1, "MISSING_ON_PLATFORM", "PARTNER", "REDEEM", "N1", "RESOLVED", 95, "", "-10.00")],
        "§5: a record pending on D matches in D+1's file: RESOLVED (MATCHED_LATER).")
    case("carry_forward_opens", [Day(partner=[Rec(conf="N2")]), Day(day=D2)],
         [("ABCD", D1, "MISSING_ON_PLATFORM", "PARTNER", "REDEEM", "N2", "OPEN", 95, "", "-10.00")],
         "§5: still unmatched at the end of D+grace_days: OPEN.")
    a, b = m("S1")
    folder_days = [Day(platform=[Rec(conf="OLD")], partner=[Rec(conf="OLD2")]),
                   Day(platform=[a], partner=[b], seq=2)]
    case("resubmission", folder_days, [],
         "§2: the highest sequence supersedes lower ones (not merged): only 002's records count.")
    bad = [
        Rec(raw="D%%REFUND%%Z1%%%%2026-11-20T12:00:00%%0001%%001%%000000000011%%R%%4000123412341234"
                "%%1%%95%%10.00%%0000"),
        Rec(raw="D%%REDEEM%%Z2%%%%2026-11-20T25:00:00%%0001%%001%%000000000012%%R%%4000123412341234"
                "%%1%%95%%10.00%%0000"),
        Rec(raw="D%%REDEEM%%Z3%%%%2026-11-20T12:00:00%%00A1%%001%%000000000013%%R%%4000123412341234"
                "%%1%%95%%10.00%%0000"),
        Rec(raw="D%%REVERSE%%Z4%%%%2026-11-20T12:00:00%%0001%%001%%000000000014%%R%%4000123412341234"
                "%%1%%95%%10.00%%0000"),
        Rec(raw="D%%REDEEM%%Z5%%Z1%%2026-11-20T12:00:00%%0001%%001%%000000000015%%R%%4000123412341234"
                "%%1%%95%%10.00%%0000"),
        Rec(raw="D%%REDEEM%%Z6%%%%2026-11-20T12:00:00%%0001%%001%%000000000016%%R%%4000123412341234"
                "%%x%%95%%10.00%%0051"),
    ]
    case("rejected_records", [Day(partner=bad)], [],
         "§2.2: records with an invalid field are rejected with their line and reason; the rest of "
         "the file is used.",
         rejected=[("PARTNER", 3, "txn_type"), ("PARTNER", 4, "partner_datetime"),
                   ("PARTNER", 5, "store_id"), ("PARTNER", 6, "original_confirmation_number"),
                   ("PARTNER", 7, "original_confirmation_number"), ("PARTNER", 8, "units")])


#: File-level rejections (spec §2.2): case name -> (mutation of the partner file, error fragment).
FILE_REJECTIONS = {
    "reject_empty_file": (lambda text: "", "empty"),
    "reject_not_ascii": (lambda text: text.replace("RCPT1", "RÇPT1", 1), "ASCII"),
    "reject_missing_trailer": (lambda text: "\n".join(text.splitlines()[:-1]) + "\n", "T2"),
    "reject_field_count": (lambda text: text.replace("%%RCPT1%%", "%%RCPT1%%X%%", 1), "fields"),
    "reject_header_mismatch": (lambda text: text.replace("H2%%ABCD", "H2%%WXYZ", 1), "sponsor"),
    "reject_trailer_total": (lambda text: text.replace("T1%%2%%", "T1%%3%%", 1), "redeem_count"),
    "reject_miles_not_integer": (lambda text: text.replace("%%95%%10.00", "%%9x%%10.00", 1), "miles"),
    "reject_out_of_order": (
        lambda text: "\n".join([text.splitlines()[1], text.splitlines()[0], *text.splitlines()[2:]])
        + "\n", "H1"),
}


def build_rejections() -> None:
    """One folder per whole-file rejection reason: a sound platform file, a broken partner file."""
    for name, (mutate, fragment) in FILE_REJECTIONS.items():
        a, b = m("K1")
        c, d = m("K2", time="13:00:00", trace="000000000002")
        case(name, [Day(platform=[a, c], partner=[b, d])], [],
             f"§2.2: the partner file is rejected ({fragment}); none of its records is used.",
             runs=[("ABCD", D1, "REJECTED", fragment)])
        path = HERE / name / f"AMCASH_POS_ABCD_{D1:%Y%m%d}_001.txt"
        path.write_bytes(mutate(path.read_text()).encode("utf-8"))


if __name__ == "__main__":
    build()
    build_rejections()

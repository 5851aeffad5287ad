"""One run's report as plain data, assembled once and rendered many ways.

The HTML page, the Excel workbook, the CSV and the partner's result file all
take a ``RunReport`` built here, so the four can never disagree on a total.
Money stays ``Decimal``; times are shown in the sponsor's reconciliation zone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import polars as pl
from sqlalchemy.engine import Connection

from reconciliation.config import Settings, Zone
from reconciliation.records import PARTNER, PLATFORM, REDEEM, REVERSE
from reconciliation.reports import queries
from reconciliation.reports.columns import ZERO, breaks_table, money_sum
from reconciliation.warehouse.schema import BREAK_TYPES, SEVERITY

HISTORY_DAYS = 14
SEVERITIES = ("HIGH", "MEDIUM", "LOW")
#: Aging buckets of carried open breaks: (first day, last day or None, label).
AGING_BUCKETS = ((1, 1, "1 day"), (2, 3, "2–3 days"), (4, 7, "4–7 days"),
                 (8, 14, "8–14 days"), (15, 30, "15–30 days"), (31, None, "over 30 days"))


@dataclass(frozen=True)
class ControlRow:
    """One line of the control-totals comparison; ``ties`` is None where sides need not agree."""

    label: str
    partner: int | Decimal
    platform: int | Decimal
    kind: str  # "int" or "money"
    ties: bool | None

    @property
    def difference(self) -> int | Decimal:
        """Platform minus partner, the same sign convention as ``delta_dollars``."""
        return self.platform - self.partner


@dataclass(frozen=True)
class Group:
    """Breaks of one type or severity: how many, how many still unresolved, money at stake."""

    name: str
    severity: str
    count: int
    unresolved: int
    money: Decimal


@dataclass(frozen=True)
class DayPoint:
    """One business date of the money-at-stake history."""

    day: date
    breaks: int
    money: Decimal
    state: str  # "current", "failed" (latest attempt did not succeed) or "none"


@dataclass
class RunReport:
    """Everything one sponsor-day report shows."""

    run: dict[str, Any]
    zone: Zone
    generated_at: datetime
    control: list[ControlRow]
    placement: dict[str, dict[str, int]]
    matched: list[dict[str, Any]]
    breaks: pl.DataFrame
    carried: pl.DataFrame
    history: list[DayPoint]
    rejected: list[dict[str, Any]]
    versions: list[dict[str, Any]]
    by_type: list[Group] = field(default_factory=list)
    by_severity: list[Group] = field(default_factory=list)
    aging: list[Group] = field(default_factory=list)

    @property
    def sponsor(self) -> str:
        return str(self.run["sponsor_code"])

    @property
    def business_date(self) -> date:
        day: date = self.run["business_date"]
        return day

    @property
    def version(self) -> int:
        return int(self.run["version"])

    @property
    def ties(self) -> bool:
        """Whether both sides' successful transactions agree in count, miles and dollars."""
        return all(row.ties for row in self.control if row.ties is not None)

    @property
    def money_at_stake(self) -> Decimal:
        return money_sum(self.breaks["money_at_stake"])

    @property
    def unresolved(self) -> int:
        return self.breaks.filter(pl.col("status") != "RESOLVED").height

    @property
    def carried_money(self) -> Decimal:
        return money_sum(self.carried["money_at_stake"])

    @property
    def matched_pairs(self) -> int:
        return sum(int(m["pairs"]) for m in self.matched)

    def files(self) -> list[dict[str, Any]]:
        """Both input files with their checksums and detail counts, platform first."""
        return [{"side": side, "name": self.run.get(f"{side.lower()}_file"),
                 "sha256": self.run.get(f"{side.lower()}_sha256"),
                 "records": self.run.get(f"{side.lower()}_records")} for side in (PLATFORM, PARTNER)]


def _side_totals(records: pl.DataFrame, side: str) -> dict[str, Any]:
    mine = records.filter(pl.col("side") == side)
    out: dict[str, Any] = {}
    for txn in (REDEEM, REVERSE):
        rows = mine.filter(pl.col("txn_type") == txn)
        out[f"{txn}_count"] = rows.height
        out[f"{txn}_miles"] = int(rows["miles"].sum() or 0)
        out[f"{txn}_dollars"] = money_sum(rows["dollars"])
    return out


def control_rows(run: dict[str, Any], summary: dict[str, dict[str, Any]],
                 records: pl.DataFrame) -> list[ControlRow]:
    """Both sides' control totals: what each file held and what moved money."""
    part, plat = _side_totals(records, PARTNER), _side_totals(records, PLATFORM)

    def s(side: str, key: str) -> int:
        return int(summary.get(side, {}).get(key) or 0)

    rows = [
        ControlRow("D records in file", int(run.get("partner_records") or 0),
                   int(run.get("platform_records") or 0), "int", None),
        ControlRow("Rejected records", s(PARTNER, "rejected"), s(PLATFORM, "rejected"), "int", None),
        ControlRow("Declined or no response", s(PARTNER, "declined"), s(PLATFORM, "declined"),
                   "int", None),
    ]
    for txn, label in ((REDEEM, "Redemptions"), (REVERSE, "Reversals")):
        rows += [
            ControlRow(f"{label}: count", part[f"{txn}_count"], plat[f"{txn}_count"], "int",
                       part[f"{txn}_count"] == plat[f"{txn}_count"]),
            ControlRow(f"{label}: miles", part[f"{txn}_miles"], plat[f"{txn}_miles"], "int",
                       part[f"{txn}_miles"] == plat[f"{txn}_miles"]),
            ControlRow(f"{label}: dollars", part[f"{txn}_dollars"], plat[f"{txn}_dollars"], "money",
                       part[f"{txn}_dollars"] == plat[f"{txn}_dollars"]),
        ]
    net_p = part[f"{REDEEM}_dollars"] - part[f"{REVERSE}_dollars"]
    net_q = plat[f"{REDEEM}_dollars"] - plat[f"{REVERSE}_dollars"]
    rows.append(ControlRow("Net dollars", net_p, net_q, "money", net_p == net_q))
    return rows


def _groups(frame: pl.DataFrame, column: str, names: tuple[str, ...]) -> list[Group]:
    out = []
    for name in names:
        rows = frame.filter(pl.col(column) == name)
        if rows.height:
            severity = SEVERITY.get(name, name)
            out.append(Group(name, severity, rows.height,
                             rows.filter(pl.col("status") != "RESOLVED").height,
                             money_sum(rows["money_at_stake"])))
    return out


def aging_groups(carried: pl.DataFrame) -> list[Group]:
    """Carried open breaks by age bucket (every bucket, empty ones too, for a steady chart)."""
    out = []
    for lo, hi, label in AGING_BUCKETS:
        age = pl.col("age_days")
        rows = carried.filter((age >= lo) & (age <= hi) if hi is not None else age >= lo)
        out.append(Group(label, "", rows.height, rows.height, money_sum(rows["money_at_stake"])))
    return out


def history(conn: Connection, sponsor: str, day: date) -> list[DayPoint]:
    """Breaks and money at stake of the sponsor's last ``HISTORY_DAYS`` business dates."""
    start = day - timedelta(days=HISTORY_DAYS - 1)
    frame = queries.breaks_for_days(conn, start, day, [sponsor])
    runs = queries.attempts(conn, start, day, [sponsor])
    points = []
    for offset in range(HISTORY_DAYS):
        d = start + timedelta(days=offset)
        rows = frame.filter(pl.col("report_date") == d)
        mine = runs.filter(pl.col("business_date") == d)
        if mine.filter(pl.col("is_current")).height:
            state = "current" if mine["status"][-1] == "SUCCEEDED" else "failed"
        else:
            state = "failed" if mine.height else "none"
        points.append(DayPoint(d, rows.height, money_sum(rows["delta_dollars"].abs()), state))
    return points


def build_run_report(conn: Connection, run_id: int, settings: Settings,
                     now: datetime | None = None) -> RunReport:
    """Read one run's report from the warehouse.

    Raises:
        ReconError: the run does not exist or did not succeed (nothing to report).
    """
    from reconciliation.errors import ReconError

    run = queries.run_row(conn, run_id)
    if run["status"] != "SUCCEEDED":
        raise ReconError(f"run {run_id} ({run['sponsor_code']} {run['business_date']} "
                         f"v{run['version']}) is {run['status']}: {run['error']}")
    sponsor, day = run["sponsor_code"], run["business_date"]
    zone = settings.zone_for(sponsor)
    breaks = breaks_table(queries.breaks_of_run(conn, run), zone, day)
    cutoff = run["finished_at"] or now or datetime.now(UTC)
    carried = breaks_table(queries.carried_open(conn, sponsor, day, cutoff, exclude_run=run_id),
                           zone, day, keep=("status_then",)).sort(
        ["age_days", "money_at_stake", "break_id"], descending=[True, True, False], nulls_last=True)
    summary = queries.summary_rows(conn, run_id)
    matched = queries.matches(conn, run)
    report = RunReport(
        run=run, zone=zone, generated_at=now or datetime.now(UTC),
        control=control_rows(run, summary, queries.financial_records(conn, run_id)),
        placement={side: {k: int(summary.get(side, {}).get(k) or 0) for k in (
            "records", "matched", "settled", "in_break", "declined", "rejected")}
            for side in (PARTNER, PLATFORM)},
        matched=_matched_groups(matched),
        breaks=breaks, carried=carried,
        history=history(conn, sponsor, day),
        rejected=queries.rejected_records(conn, run_id).to_dicts(),
        versions=queries.versions_of(conn, sponsor, day).to_dicts(),
    )
    report.by_type = _groups(breaks, "break_type", BREAK_TYPES)
    report.by_severity = _groups(breaks, "severity", SEVERITIES)
    report.aging = aging_groups(carried)
    return report


def _matched_groups(pairs: pl.DataFrame) -> list[dict[str, Any]]:
    """Pairs by rule, outcome and transaction type, with both sides' dollars."""
    out = []
    keys = pairs.select("rule", "outcome", "txn_type").unique().sort("outcome", "rule", "txn_type")
    for rule, outcome, txn in keys.iter_rows():
        rows = pairs.filter(pl.col("rule") == rule, pl.col("outcome") == outcome,
                            pl.col("txn_type") == txn)
        out.append({"rule": rule, "outcome": outcome, "txn_type": txn, "pairs": rows.height,
                    "partner_dollars": money_sum(rows["partner_dollars"]),
                    "platform_dollars": money_sum(rows["platform_dollars"])})
    return out


__all__ = ["ZERO", "ControlRow", "DayPoint", "Group", "RunReport", "build_run_report"]

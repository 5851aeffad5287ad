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
from reconciliation.reports.columns import ZERO, breaks_table, group_totals, money_sum
from reconciliation.warehouse import reports as queries
from reconciliation.warehouse.schema import BREAK_TYPES, SEVERITY

HISTORY_DAYS = 14
#: Rejected records read for a report (a garbled file can reject every line);
#: the report says how many there were in all.
REJECTED_LIMIT = 10_000
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
    rejected_total: int = 0
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


def _side_totals(totals: dict[tuple[str, str], tuple[int, int, Decimal]], side: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for txn in (REDEEM, REVERSE):
        count, miles, dollars = totals.get((side, txn), (0, 0, ZERO))
        out[f"{txn}_count"], out[f"{txn}_miles"], out[f"{txn}_dollars"] = count, miles, dollars
    return out


def control_rows(run: dict[str, Any], summary: dict[str, dict[str, Any]],
                 totals: dict[tuple[str, str], tuple[int, int, Decimal]]) -> list[ControlRow]:
    """Both sides' control totals: what each file held and what moved money.

    Args:
        run: The ``recon_run`` row.
        summary: The run's ``recon_summary`` rows by side.
        totals: ``queries.financial_totals`` of the run: count, miles and
            dollars of the successful transactions by (side, txn_type).
    """
    part, plat = _side_totals(totals, PARTNER), _side_totals(totals, PLATFORM)

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
    totals = group_totals(frame, column)
    return [Group(name, SEVERITY.get(name, name), *totals[name]) for name in names if name in totals]


def aging_groups(carried: pl.DataFrame) -> list[Group]:
    """Carried open breaks by age bucket (every bucket, empty ones too, for a steady chart)."""
    age = pl.col("age_days")
    bucket = pl.lit(None, dtype=pl.String)
    for lo, hi, label in reversed(AGING_BUCKETS):
        bucket = pl.when((age >= lo) & (age <= hi) if hi is not None else age >= lo).then(
            pl.lit(label)).otherwise(bucket)
    totals = group_totals(carried.select("age_days", "status", "money_at_stake").with_columns(
        bucket=bucket), "bucket")
    out = []
    for _, _, label in AGING_BUCKETS:
        count, _, money = totals.get(label, (0, 0, ZERO))
        out.append(Group(label, "", count, count, money))
    return out


#: What the history chart needs of a break.
HISTORY_COLUMNS = ("status", "delta_dollars")


def history(conn: Connection, sponsor: str, day: date) -> list[DayPoint]:
    """Breaks and money at stake of the sponsor's last ``HISTORY_DAYS`` business dates."""
    start = day - timedelta(days=HISTORY_DAYS - 1)
    frame = queries.breaks_for_days(conn, start, day, [sponsor], columns=HISTORY_COLUMNS)
    runs = queries.attempts(conn, start, day, [sponsor])
    totals = group_totals(frame.with_columns(money_at_stake=pl.col("delta_dollars").abs()), "report_date")
    points = []
    for offset in range(HISTORY_DAYS):
        d = start + timedelta(days=offset)
        count, _, money = totals.get(d, (0, 0, ZERO))
        mine = runs.filter(pl.col("business_date") == d)
        if mine.filter(pl.col("is_current")).height:
            state = "current" if mine["status"][-1] == "SUCCEEDED" else "failed"
        else:
            state = "failed" if mine.height else "none"
        points.append(DayPoint(d, count, money, state))
    return points


def build_run_report(conn: Connection, run_id: int, settings: Settings,
                     now: datetime | None = None, rejected_limit: int | None = REJECTED_LIMIT) -> RunReport:
    """Read one run's report from the warehouse.

    Totals (control totals, pairs, money) are summed in the warehouse or by
    Polars; only the breaks themselves, and at most ``rejected_limit``
    rejected records (``rejected_total`` counts them all), are read as rows.

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
    report = RunReport(
        run=run, zone=zone, generated_at=now or datetime.now(UTC),
        control=control_rows(run, summary, queries.financial_totals(conn, run_id)),
        placement={side: {k: int(summary.get(side, {}).get(k) or 0) for k in (
            "records", "matched", "settled", "in_break", "declined", "rejected")}
            for side in (PARTNER, PLATFORM)},
        matched=queries.matched_totals(conn, run),
        breaks=breaks, carried=carried,
        history=history(conn, sponsor, day),
        rejected=queries.rejected_records(conn, run_id, limit=rejected_limit).to_dicts(),
        versions=queries.versions_of(conn, sponsor, day).to_dicts(),
        rejected_total=queries.rejected_count(conn, run_id),
    )
    report.by_type = _groups(breaks, "break_type", BREAK_TYPES)
    report.by_severity = _groups(breaks, "severity", SEVERITIES)
    report.aging = aging_groups(carried)
    return report


__all__ = ["ZERO", "ControlRow", "DayPoint", "Group", "RunReport", "build_run_report"]

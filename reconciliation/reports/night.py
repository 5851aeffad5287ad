"""Views across sponsors: the night (one date) and a range of dates with trends.

The night view is the morning's landing page: one line per sponsor with its
status, money at stake and whether its control totals tie, linking to each
sponsor's run report; sponsors whose latest attempt failed come first. The
range view shows how breaks and money at stake move over weeks. Both read
the warehouse only, so any past night can be regenerated.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy.engine import Connection, Engine

from reconciliation.config import Settings
from reconciliation.reports import charts
from reconciliation.reports.columns import ZERO, group_totals, money_sum, spreadsheet_text
from reconciliation.reports.files import atomic_path, write_text
from reconciliation.reports.html import axis_money, money, render, title
from reconciliation.reports.model import control_rows
from reconciliation.warehouse import reports as queries
from reconciliation.warehouse.schema import BREAK_TYPES


@dataclass
class SponsorNight:
    """One sponsor's line in the night view."""

    sponsor: str
    latest: dict[str, Any]
    current: dict[str, Any] | None
    breaks: int = 0
    unresolved: int = 0
    money: Decimal = Decimal("0.00")
    ties: bool | None = None
    carried: int = 0
    carried_money: Decimal = Decimal("0.00")
    href: str | None = None

    @property
    def failed(self) -> bool:
        """The latest attempt did not succeed (the current version, if any, is older)."""
        return bool(self.latest["status"] != "SUCCEEDED")


@dataclass
class NightReport:
    """Every sponsor attempted for one business date."""

    day: date
    generated_at: datetime
    sponsors: list[SponsorNight]
    by_type: dict[str, tuple[int, Decimal]] = field(default_factory=dict)

    @property
    def money(self) -> Decimal:
        return sum((s.money for s in self.sponsors), Decimal("0.00"))


def report_dir(root: Path, sponsor: str, day: date, version: int) -> Path:
    """Where a run's reports live: ``<root>/<sponsor>/<date>/v<version>/``."""
    return root / sponsor / day.isoformat() / f"v{version}"


#: What the night and range views need of a break (totals, not the break itself).
TOTAL_COLUMNS = ("break_type", "status", "delta_dollars")


def _lean_breaks(conn: Connection, start: date, end: date, sponsors: list[str] | None) -> pl.DataFrame:
    return queries.breaks_for_days(conn, start, end, sponsors, columns=TOTAL_COLUMNS).with_columns(
        money_at_stake=pl.col("delta_dollars").abs())


def build_night(conn: Connection, day: date, settings: Settings, sponsors: list[str] | None = None,
                root: Path | None = None, here: Path | None = None) -> NightReport:
    """Read one night across sponsors; links point from ``here`` to reports under ``root``.

    Everything is a total: breaks are read as a few columns and summed by
    Polars, control totals are summed in the warehouse.
    """
    runs = queries.attempts(conn, day, day, sponsors)
    breaks = _lean_breaks(conn, day, day, sponsors)
    per_sponsor = group_totals(breaks, "sponsor_code")
    lines = []
    for sponsor in sorted(set(runs["sponsor_code"].to_list())):
        mine = runs.filter(pl.col("sponsor_code") == sponsor)
        current = mine.filter(pl.col("is_current"))
        line = SponsorNight(sponsor, mine.row(-1, named=True),
                            current.row(0, named=True) if current.height else None)
        if line.current is not None:
            run = line.current
            line.breaks, line.unresolved, line.money = per_sponsor.get(sponsor, (0, 0, ZERO))
            control = control_rows(run, queries.summary_rows(conn, run["run_id"]),
                                   queries.financial_totals(conn, run["run_id"]))
            line.ties = all(c.ties for c in control if c.ties is not None)
            cutoff = run["finished_at"] or datetime.now(UTC)
            carried = queries.carried_open(conn, sponsor, day, cutoff, exclude_run=run["run_id"],
                                           columns=("delta_dollars",))
            line.carried, line.carried_money = carried.height, money_sum(carried["delta_dollars"].abs())
            target = report_dir(root, sponsor, day, run["version"]) / "report.html" if root else None
            if target is not None and here is not None and target.exists():
                line.href = Path(os.path.relpath(target, here)).as_posix()
        lines.append(line)
    lines.sort(key=lambda s: (not s.failed, -s.money, s.sponsor))
    report = NightReport(day, datetime.now(UTC), lines)
    by_type = group_totals(breaks, "break_type")
    for break_type in BREAK_TYPES:
        if break_type in by_type:
            count, _, money = by_type[break_type]
            report.by_type[break_type] = (count, money)
    return report


def write_night(engine: Engine, settings: Settings, day: date, root: Path,
                sponsors: list[str] | None = None) -> Path:
    """Write ``<root>/night/<date>.html``; returns its path."""
    path = root / "night" / f"{day.isoformat()}.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    with engine.connect() as conn:
        night = build_night(conn, day, settings, sponsors, root, path.parent)
    by_sponsor = charts.hbars([
        charts.Bar(s.sponsor, s.money, f"{money(s.money)} · {s.breaks} breaks",
                   charts.SEVERITY_COLORS["HIGH"] if s.money else charts.MUTED)
        for s in night.sponsors if s.current is not None], label="Money at stake by sponsor",
        label_width=70)
    by_type = charts.hbars([
        charts.Bar(title(t), n, f"{n:,} · {money(m)}", charts.TYPE_COLORS[t])
        for t, (n, m) in night.by_type.items()], label="Breaks by type, all sponsors")
    html = render("night.html.j2", n=night, charts={"by_sponsor": by_sponsor, "by_type": by_type},
                  generated_at=night.generated_at, backend=engine.dialect.name,
                  regenerate=f"recon report --date {day}")
    return write_text(path, html)


@dataclass
class RangeReport:
    """Per-day and per-sponsor figures over a range of business dates."""

    start: date
    end: date
    generated_at: datetime
    days: list[dict[str, Any]]
    sponsors: list[dict[str, Any]]
    rows: list[dict[str, Any]]  # one per (date, sponsor) attempted
    totals: dict[str, Any]


def build_range(conn: Connection, start: date, end: date, sponsors: list[str] | None = None) -> RangeReport:
    """Read a range; every break counts once in totals (see ``queries.breaks_for_days``)."""
    runs = queries.attempts(conn, start, end, sponsors)
    breaks = _lean_breaks(conn, start, end, sponsors)
    none = (0, 0, ZERO)
    by_night = group_totals(breaks, "sponsor_code", "report_date")
    rows = []
    for (sponsor, day), mine in sorted(runs.group_by(["sponsor_code", "business_date"]),
                                       key=lambda g: (g[0][1], g[0][0])):
        current = mine.filter(pl.col("is_current"))
        latest = mine.sort("version").row(-1, named=True)
        count, unresolved, money = by_night.get((sponsor, day), none)
        rows.append({
            "day": day, "sponsor": sponsor, "status": latest["status"], "current": current.height > 0,
            "version": current["version"][0] if current.height else None,
            "partner_records": int(current["partner_records"].sum() or 0),
            "platform_records": int(current["platform_records"].sum() or 0),
            "matched_pairs": int(current["matched_pairs"].sum() or 0),
            "breaks": count, "unresolved": unresolved, "money": money, "error": latest["error"]})
    by_day = group_totals(breaks, "report_date")
    by_day_type = group_totals(breaks, "report_date", "break_type")
    days = []
    for offset in range((end - start).days + 1):
        day = start + timedelta(days=offset)
        that_day = [r for r in rows if r["day"] == day]
        count, unresolved, money = by_day.get(day, none)
        days.append({
            "day": day, "sponsors": sum(1 for r in that_day if r["current"]),
            "failed": sum(1 for r in that_day if r["status"] != "SUCCEEDED"),
            "matched_pairs": sum(r["matched_pairs"] for r in that_day),
            "breaks": count, "unresolved": unresolved, "money": money,
            "by_type": {t: by_day_type.get((day, t), none)[0] for t in BREAK_TYPES}})
    unique = breaks.unique("break_id")
    by_sponsor = group_totals(unique, "sponsor_code")
    per_sponsor = []
    for sponsor in sorted(set(runs["sponsor_code"].to_list())):
        count, unresolved, money = by_sponsor.get(sponsor, none)
        nights = [r for r in rows if r["sponsor"] == sponsor]
        per_sponsor.append({"sponsor": sponsor, "nights": sum(1 for r in nights if r["current"]),
                            "failed": sum(1 for r in nights if r["status"] != "SUCCEEDED"),
                            "breaks": count, "unresolved": unresolved, "money": money})
    totals = {"breaks": unique.height, "unresolved": unique.filter(pl.col("status") != "RESOLVED").height,
              "money": money_sum(unique["money_at_stake"]),
              "matched_pairs": sum(r["matched_pairs"] for r in rows),
              "failed": sum(1 for r in rows if r["status"] != "SUCCEEDED")}
    return RangeReport(start, end, datetime.now(UTC), days, per_sponsor, rows, totals)


def range_charts(rng: RangeReport) -> dict[str, Any]:
    """Trends: money at stake per date, breaks per date by type, and what is still unresolved."""
    def label(day: date) -> str:
        return f"{day:%m-%d}"

    stakes = charts.columns([
        charts.Column(label(d["day"]), ((d["money"], charts.ACCENT, "money at stake"),),
                      text=axis_money(d["money"]) if d["breaks"] else "",
                      tip=f"{d['day']}: {money(d['money'])} at stake, {d['breaks']} breaks",
                      missing=not d["sponsors"]) for d in rng.days],
        label="Money at stake per business date", axis=axis_money, width=1220, minimum=100)
    by_type = charts.columns([
        charts.Column(label(d["day"]), tuple((n, charts.TYPE_COLORS[t], f"{title(t)}: {n}")
                                             for t, n in d["by_type"].items()),
                      text=str(d["breaks"]) if d["breaks"] else "", tip=f"{d['day']}: {d['breaks']} breaks",
                      missing=not d["sponsors"]) for d in rng.days],
        label="Breaks per business date by type")
    unresolved = charts.line([(label(d["day"]), d["unresolved"]) for d in rng.days],
                             label="Breaks still unresolved, by business date",
                             color=charts.SEVERITY_COLORS["HIGH"])
    return {"stakes": stakes, "by_type": by_type, "unresolved": unresolved}


def write_range(engine: Engine, start: date, end: date, root: Path,
                sponsors: list[str] | None = None) -> dict[str, Path]:
    """Write ``<root>/range/<from>_<to>.html`` and a CSV of its per-day, per-sponsor lines."""
    out = root / "range"
    out.mkdir(parents=True, exist_ok=True)
    with engine.connect() as conn:
        rng = build_range(conn, start, end, sponsors)
    html = render("range.html.j2", g=rng, charts=range_charts(rng),
                  legend=charts.legend([(title(t), charts.TYPE_COLORS[t]) for t in BREAK_TYPES
                                        if any(d["by_type"][t] for d in rng.days)]),
                  generated_at=rng.generated_at, backend=engine.dialect.name,
                  regenerate=f"recon report --from {start} --to {end}")
    html_path = out / f"{start}_{end}.html"
    write_text(html_path, html)
    csv_path = out / f"{start}_{end}.csv"
    with atomic_path(csv_path) as tmp, tmp.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        names = ["day", "sponsor", "status", "version", "partner_records", "platform_records",
                 "matched_pairs", "breaks", "unresolved", "money"]
        writer.writerow([*names[:-1], "money_at_stake"])
        for r in rng.rows:
            writer.writerow([_range_cell(n, r[n]) for n in names])
    return {"html": html_path, "csv": csv_path}


def _range_cell(name: str, value: Any) -> Any:
    if value is None:
        return ""
    if name == "money":
        return f"{value:.2f}"
    return spreadsheet_text(value) if isinstance(value, str) else value

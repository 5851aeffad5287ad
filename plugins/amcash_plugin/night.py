"""The fan-in of the AM Cash DAG: the night's summary.

It runs when every sponsor is done, whatever happened to each, because the
morning's reader wants one place that says which sponsors reconciled, with
how many breaks and how much money at stake, and which did not and why. The
summary is also the night's verdict: it fails when a planned sponsor has no
successful run, so a partial night is never green.
"""

from __future__ import annotations

import json
import logging
from datetime import date
from decimal import Decimal
from typing import Any

from amcash_plugin.tasks import fail, settings

log = logging.getLogger(__name__)


def as_list(outcomes: Any) -> list[dict[str, Any]]:
    """The mapped reconcile results as a list (Airflow hands over a lone dict when one sponsor ran)."""
    if outcomes is None:
        return []
    if isinstance(outcomes, dict):
        return [outcomes]
    return [o for o in outcomes if o]


def night_summary(jobs: list[dict[str, Any]], outcomes: Any) -> dict[str, Any]:
    """Log the night per sponsor, refresh the night report, and fail if any sponsor did not succeed."""
    from reconciliation.pipeline import warehouse
    from reconciliation.warehouse.runs import break_totals, runs_of

    conf = settings()
    engine = warehouse(conf)
    by_sponsor = {(o["sponsor"], o["business_date"]): o for o in as_list(outcomes)}
    rows, problems = [], []
    with engine.connect() as conn:
        for job in jobs:
            sponsor, day = job["sponsor"], date.fromisoformat(job["business_date"])
            runs = runs_of(conn, sponsor, day)
            current = next((r for r in runs if r["is_current"]), None)
            latest = runs[0] if runs else None
            totals = break_totals(conn, current["run_id"]) if current is not None else {}
            breaks = {kind: count for kind, (count, _) in totals.items()}
            money = sum((stake for _, stake in totals.values()), start=Decimal("0"))
            outcome = by_sponsor.get((sponsor, job["business_date"]))
            row = {"sponsor": sponsor, "business_date": job["business_date"],
                   "status": outcome["status"] if outcome else (latest["status"] if latest else "NOT RUN"),
                   "current_version": current["version"] if current else None,
                   "breaks": sum(breaks.values()), "by_type": breaks, "money_at_stake": str(money)}
            rows.append(row)
            if outcome is None:
                reason = latest["error"] if latest is not None and latest["status"] != "SUCCEEDED" else \
                    "no run recorded tonight (see the sponsor's task logs)"
                problems.append(f"{sponsor} {row['status'] if latest else 'NOT RUN'}: {reason}")
            for later in (outcome or {}).get("cascade", []):
                if later["status"] != "SUCCEEDED":
                    problems.append(f"{sponsor} {later['business_date']} (cascade) {later['status']}: "
                                    f"{later['error']}")
    _log_table(rows)
    reports = _night_reports(engine, conf, jobs)
    summary = {"sponsors": rows, "reports": reports, "problems": problems}
    _write(conf, jobs, summary)
    if problems:
        fail(f"the night is incomplete: {'; '.join(problems)}")
    return summary


def _log_table(rows: list[dict[str, Any]]) -> None:
    log.info("%-7s %-10s %-13s %3s %7s %14s  %s", "sponsor", "date", "status", "v", "breaks", "at stake",
             "by type")
    for r in rows:
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(r["by_type"].items())) or "-"
        log.info("%-7s %-10s %-13s %3s %7d %14s  %s", r["sponsor"], r["business_date"], r["status"],
                 r["current_version"] or "-", r["breaks"], f"${Decimal(r['money_at_stake']):,.2f}", kinds)


def _night_reports(engine: Any, conf: Any, jobs: list[dict[str, Any]]) -> dict[str, str]:
    """Refresh the reports module's night view of each date, when the module is installed."""
    import importlib

    try:
        night = importlib.import_module("reconciliation.reports.night")
    except ModuleNotFoundError:
        return {}
    writer = getattr(night, "write_night", None)
    if writer is None:
        return {}
    out = {}
    for day in sorted({job["business_date"] for job in jobs}):
        sponsors = sorted({job["sponsor"] for job in jobs if job["business_date"] == day})
        try:
            out[day] = str(writer(engine, conf, date.fromisoformat(day), conf.reports_dir, sponsors))
            log.info("night report of %s: %s", day, out[day])
        except Exception:  # a report is not worth failing the verdict for
            log.exception("the night report of %s could not be written", day)
    return out


def _write(conf: Any, jobs: list[dict[str, Any]], summary: dict[str, Any]) -> None:
    days = sorted({job["business_date"] for job in jobs})
    path = conf.reports_dir / "night" / f"{days[0] if days else 'none'}-summary.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=2, default=str) + "\n")
    log.info("night summary written to %s", path)

"""The demo's closing summary: what the night produced, whether it is right, and where to look."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import polars as pl
import sqlalchemy as sa
from rich.console import Console
from rich.table import Table

BREAK_TYPES = ("MISSING_ON_PLATFORM", "MISSING_AT_PARTNER", "AMOUNT_MISMATCH", "TIMESTAMP_DRIFT", "DUPLICATE",
               "ORPHAN_REVERSAL", "LATE_REVERSAL", "DOUBLE_REVERSAL", "REVERSAL_MISMATCH", "CONVERSION_ERROR",
               "DAILY_LIMIT_EXCEEDED")


def _truth(night: Path) -> set[tuple[str, ...]]:
    truth = pl.read_csv(night / "ground_truth.csv", infer_schema=False)
    return {(r["sponsor_code"], r["business_date"], r["break_type"], r["side"], r["txn_type"],
             r["confirmation_number"] or "", r["expected_status"]) for r in truth.iter_rows(named=True)}


def report(var: Path, night: Path, sponsors: list[str], days: list[date], outbox: Path) -> bool:
    """Print the night and the places to look; True when every run succeeded and equals the truth."""
    from reconciliation.warehouse.db import dispose_all, engine_for
    from reconciliation.warehouse.schema import recon_break, recon_run

    console = Console(width=150)
    url = f"duckdb:///{var / 'warehouse.duckdb'}"
    if not (var / "warehouse.duckdb").exists():
        console.print(f"[red]no warehouse was written; see the logs in {var / 'logs'}[/red]")
        return False
    with engine_for(url).connect() as conn:
        runs = conn.execute(sa.select(recon_run).where(recon_run.c.is_current.is_(True))
                            .order_by(recon_run.c.business_date, recon_run.c.sponsor_code)).mappings().all()
        current = [r["run_id"] for r in runs]
        breaks = conn.execute(
            sa.select(recon_break).where(recon_break.c.run_id.in_(current))).mappings().all()
    dispose_all()
    table = Table(title="AM Cash reconciliation — demo night", title_justify="left")
    for name in ("date", "sponsor", "status", "partner", "platform", "matched", "rejected", "breaks",
                 "at stake"):
        table.add_column(name, justify="left" if name in ("date", "sponsor", "status") else "right")
    for r in runs:
        mine = [b for b in breaks if b["run_id"] == r["run_id"]]
        stake = sum((abs(Decimal(str(b["delta_dollars"] or 0))) for b in mine), Decimal("0"))
        table.add_row(str(r["business_date"]), r["sponsor_code"], r["status"], f"{r['partner_records']:,}",
                      f"{r['platform_records']:,}", f"{r['matched_pairs']:,}", f"{r['rejected_records']:,}",
                      f"{len(mine):,}", f"${stake:,.2f}")
    console.print(table)
    by_type = {t: sum(1 for b in breaks if b["break_type"] == t) for t in BREAK_TYPES}
    console.print("breaks by type: " + ", ".join(f"{t} {n:,}" for t, n in by_type.items()))
    found = {(b["sponsor_code"], str(b["business_date"]), b["break_type"], b["side"], b["txn_type"],
              b["confirmation_number"] or "", b["status"]) for b in breaks}
    truth = _truth(night)
    expected_runs = len(sponsors) * len(days)
    complete = len(runs) == expected_runs and all(r["status"] == "SUCCEEDED" for r in runs)
    equal = found == truth
    console.print(f"runs: {len(runs)} of {expected_runs} current and SUCCEEDED" if complete
                  else f"[red]runs: only {len(runs)} of {expected_runs} reconciled[/red]")
    verdict = ("[green]the warehouse holds exactly the injected breaks[/green]" if equal else
               f"[red]{len(truth - found)} expected breaks missing, {len(found - truth)} unexpected[/red]")
    kinds = sum(1 for t in BREAK_TYPES if by_type[t])
    console.print(f"ground truth: {verdict} ({len(truth):,} breaks, {kinds} of {len(BREAK_TYPES)} types)")
    state = var / "state"
    console.print("\nwhere to look:")
    for label, path in [
        ("warehouse (DuckDB)", var / "warehouse.duckdb"),
        ("night reports", state / "reports" / "night"),
        ("per-run reports", state / "reports"),
        ("archived input files", state / "archive"),
        ("delivery ledger", state / "transfer" / "deliveries.sqlite3"),
        ("result files sent to partners", outbox),
        ("generated input + ground truth", night),
        ("Airflow task logs", var / "airflow" / "logs"),
        ("dags test output", var / "logs"),
    ]:
        console.print(f"  {label:32} {path}")
    warehouse = var / "warehouse.duckdb"
    console.print(f"\n  query:   .venv/bin/python -c \"import duckdb; print(duckdb.connect('{warehouse}', "
                  "read_only=True).sql('select * from recon_run'))\"")
    home = var / "airflow"
    console.print("\nthe reconciliation workbench (finance's pages, inside Airflow's UI):")
    command = [f"  AIRFLOW_HOME={home} AIRFLOW__CORE__DAGS_FOLDER=dags AIRFLOW__CORE__PLUGINS_FOLDER=plugins",
               f"  AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=sqlite:///{home / 'airflow.db'}",
               "  AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS=admin:admin,fiona:user",
               f"  RECON_CONFIG={var / 'recon.yaml'} .venv/bin/airflow api-server -p 8080"]
    console.print(" \\\n".join(command), soft_wrap=True, markup=False)
    console.print("  then open http://127.0.0.1:8080 and choose \"Reconciliation\" in the navigation;")
    console.print(f"  sign in as fiona (resolver) or admin (approver): passwords in "
                  f"{home / 'simple_auth_manager_passwords.json.generated'}")
    return complete and equal

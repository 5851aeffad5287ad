"""``recon run``: reconcile one business date for one or more sponsors (spec §8)."""

from __future__ import annotations

import argparse
import shlex
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciliation.cli.common import (
    add_common,
    config_path,
    existing_dir,
    masked_url,
    parse_date,
    settings_from_args,
    sponsor_code,
)
from reconciliation.errors import ConfigError

if TYPE_CHECKING:
    from reconciliation.config import Settings
    from reconciliation.pipeline import RunOutcome

SHORT = {
    "MISSING_ON_PLATFORM": "miss plat", "MISSING_AT_PARTNER": "miss part",
    "AMOUNT_MISMATCH": "amount", "TIMESTAMP_DRIFT": "drift", "DUPLICATE": "dup",
    "ORPHAN_REVERSAL": "orphan", "LATE_REVERSAL": "late", "DOUBLE_REVERSAL": "double",
    "REVERSAL_MISMATCH": "rev mism", "CONVERSION_ERROR": "conv", "DAILY_LIMIT_EXCEEDED": "limit",
}


def register(subparsers: Any) -> None:
    """Add the ``run`` subcommand."""
    parser = subparsers.add_parser("run", help="reconcile a business date",
                                   description="Reconcile one business date for every sponsor "
                                   "(or the ones named) and write the results to the warehouse.")
    parser.add_argument("--date", required=True, type=parse_date, help="business date YYYY-MM-DD")
    parser.add_argument("--sponsor", action="append", default=[], type=sponsor_code, metavar="CODE",
                        help="sponsor code, four letters or digits (repeatable); "
                        "default: every sponsor with files")
    parser.add_argument("--inbox", type=existing_dir, metavar="DIR",
                        help="read both sides' files from this directory")
    parser.add_argument("--cascade", action="store_true",
                        help="then re-run every later date of the sponsor that has a current run")
    add_common(parser)
    parser.set_defaults(func=run_command)


def _inbox(settings: Settings, args: argparse.Namespace, day: date) -> Path:
    if args.inbox is not None:
        return Path(args.inbox)  # checked by the parser (existing_dir)
    if settings.sftp is not None:
        import importlib

        fetch = getattr(importlib.import_module("reconciliation.transfer"), "fetch_day", None)
        if fetch is None:
            raise ConfigError("SFTP sources need the transfer module, which is not installed")
        return Path(fetch(settings, day, args.sponsor or None))
    if settings.inbox_dir is not None:
        return settings.inbox_dir
    raise ConfigError("no --inbox given and no source (inbox or sftp) in the configuration")


def run_command(args: argparse.Namespace) -> int:
    """Run the reconciliation and print the end-of-run summary; returns the exit status."""
    from rich.console import Console

    from reconciliation.pipeline import run_day, sponsors_for

    settings = settings_from_args(args)
    day: date = args.date
    inbox = _inbox(settings, args, day)
    sponsors = sorted(set(args.sponsor)) or sponsors_for(settings, day, inbox)
    if not sponsors:
        raise ConfigError(f"no files for {day} in {inbox} and no sponsors configured")
    err = Console(stderr=True)
    outcomes: list[RunOutcome] = []
    with err.status("") as status:
        for sponsor in sponsors:
            status.update(f"reconciling {sponsor} {day} ...")
            outcome = run_day(settings, sponsor, day, inbox)
            outcomes.append(outcome)
            if args.cascade and outcome.status == "SUCCEEDED":
                for later in outcome.stale_dates:
                    status.update(f"re-running {sponsor} {later} (cascade) ...")
                    outcomes.append(run_day(settings, sponsor, later, _later_inbox(
                        settings, args, later, inbox)))
    _print_summary(outcomes, settings)
    for outcome in outcomes:
        if outcome.status != "SUCCEEDED":
            sys.stderr.write(f"recon: {outcome.sponsor_code} {outcome.business_date} "
                             f"{outcome.status}: {outcome.error}\n")
        for warning in outcome.warnings:
            sys.stderr.write(f"recon: warning: {warning}\n")
        if outcome.stale_dates and not args.cascade:
            dates = ", ".join(str(d) for d in outcome.stale_dates)
            command, note = refresh_command(args, outcome.sponsor_code, outcome.business_date)
            sys.stderr.write(f"recon: results of {outcome.sponsor_code} for {dates} are now stale; "
                             f"re-run them with: {command}\n")
            if note:
                sys.stderr.write(f"recon: {note}\n")
    statuses = {o.status for o in outcomes}
    if statuses <= {"SUCCEEDED"}:
        return 0
    if "FAILED" in statuses:
        return 1
    return 3


def refresh_command(args: argparse.Namespace, sponsor: str, day: date) -> tuple[str, str | None]:
    """The command that refreshes the dates after ``day``, with the operator's own options.

    It repeats ``--inbox``, ``--warehouse`` and the configuration in use
    exactly as given (so it runs from the same directory against the same
    files and warehouse), shell-quoted so it can be pasted. A password in
    the warehouse URL is never printed: it is left out of the URL, and the
    second value says how to supply it (PostgreSQL reads ``PGPASSWORD``).
    """
    from sqlalchemy.engine import URL, make_url

    words = ["recon", "run", "--date", day.isoformat(), "--sponsor", sponsor]
    if args.inbox is not None:
        words += ["--inbox", str(args.inbox)]
    note = None
    if args.warehouse:
        url = make_url(args.warehouse)
        if url.password is not None:
            url = URL.create(url.drivername, url.username, None, url.host, url.port, url.database,
                             url.query)
            how = ("set PGPASSWORD (or use ~/.pgpass)" if url.get_backend_name() == "postgresql"
                   else "add it to the --warehouse URL")
            note = f"the warehouse password is left out of that command: {how} before running it"
        words += ["--warehouse", url.render_as_string(hide_password=False)]
    config = config_path(args)
    if config is not None:
        words += ["--config", str(config)]
    words.append("--cascade")
    return shlex.join(words), note


def _later_inbox(settings: Settings, args: argparse.Namespace, day: date, inbox: Path) -> Path:
    return inbox if args.inbox is not None else _inbox(settings, args, day)


def _print_summary(outcomes: list[RunOutcome], settings: Settings) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console() if sys.stdout.isatty() else Console(width=160)
    table = Table(title="AM Cash reconciliation", title_justify="left")
    for name in ("sponsor", "date", "v", "status", "partner", "platform", "matched", "rejected",
                 "breaks", "by type", "at stake"):
        table.add_column(name, justify="right" if name in (
            "v", "partner", "platform", "matched", "rejected", "breaks", "at stake") else "left")
    for o in outcomes:
        c = o.counts
        by_type = ", ".join(f"{SHORT[k]} {v}" for k, v in c.items() if k in SHORT and v)
        table.add_row(o.sponsor_code, str(o.business_date), str(o.version or ""), o.status,
                      f"{c.get('partner_records', '')}", f"{c.get('platform_records', '')}",
                      f"{c.get('matched_pairs', '')}", f"{c.get('rejected', '')}",
                      f"{c.get('breaks', '')}", by_type or "-", f"${o.money_at_stake:,}")
    console.print(table)
    console.print(f"warehouse: {masked_url(settings.warehouse_url)}", highlight=False, markup=False)
    for o in outcomes:
        for kind, path in o.report_paths.items():
            console.print(f"{o.sponsor_code} {o.business_date} {kind}: {path}")



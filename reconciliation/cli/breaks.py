"""``recon breaks``: list, show and resolve breaks (the morning's review workflow).

``list`` shows what still needs work (pending and open breaks by default),
``show`` one break with its full history, ``resolve`` marks breaks resolved
with a note and who did it, by id or in bulk by type and date. Every
resolution is audited in ``recon_break_event``.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from datetime import UTC, datetime
from typing import Any

from reconciliation.break_status import DEFAULT_RESOLUTION, STATUS_FILTERS
from reconciliation.cli.common import (
    CONFIG_ENV,
    LazyHelpFormatter,
    add_common,
    break_type,
    open_warehouse,
    parse_date,
    settings_from_args,
    sponsor_code,
)
from reconciliation.errors import ReconError


def _upper(text: str) -> str:
    return text.strip().upper()


def register(subparsers: Any) -> None:
    """Add the ``breaks`` subcommand and its ``list``, ``show`` and ``resolve`` actions."""
    parser = subparsers.add_parser("breaks", help="list, show and resolve breaks",
                                   description="Review breaks and record their resolution.")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", parser_class=type(parser))
    actions.required = True

    lister = actions.add_parser("list", help="list breaks (default: pending and open ones)",
                                formatter_class=LazyHelpFormatter)
    _filters(lister)
    lister.add_argument("--status", type=_upper, default="UNRESOLVED",
                        choices=STATUS_FILTERS, help="default: UNRESOLVED (pending or open)")
    lister.add_argument("--min-age-days", type=int, metavar="N",
                        help="only breaks whose business date is at least N days ago")
    lister.add_argument("--limit", type=int, metavar="N", help="show at most N breaks")
    lister.add_argument("--format", choices=("table", "csv"), default="table",
                        help="csv writes every reviewer column to stdout")
    add_common(lister)
    lister.set_defaults(func=list_command)

    shower = actions.add_parser("show", help="one break with its history")
    shower.add_argument("break_id", type=int, metavar="ID")
    add_common(shower)
    shower.set_defaults(func=show_command)

    resolver = actions.add_parser(
        "resolve", help="mark breaks resolved, with a note and who resolved them",
        formatter_class=LazyHelpFormatter,
        description="Resolve breaks by id (all or none), or every unresolved break of a type "
                    "on a date with --filter-type and --date.")
    resolver.add_argument("break_ids", type=int, nargs="*", metavar="ID")
    resolver.add_argument("--note", required=True, help="why the break is resolved")
    resolver.add_argument("--by", required=True, metavar="NAME", help="who resolved it")
    resolver.add_argument("--resolution", type=_upper, default=DEFAULT_RESOLUTION,
                          metavar="CODE", help=f"resolution code (default {DEFAULT_RESOLUTION})")
    resolver.add_argument("--filter-type", type=break_type, metavar="TYPE",
                          help="bulk: resolve every unresolved break of this type (needs --date): "
                               "{break_types}")
    resolver.add_argument("--date", type=parse_date, help="bulk: business date")
    resolver.add_argument("--sponsor", type=sponsor_code, metavar="CODE", help="bulk: only this sponsor")
    resolver.add_argument("--dry-run", action="store_true", help="bulk: list what would be resolved")
    add_common(resolver)
    resolver.set_defaults(func=resolve_command)

    for verb, helptext in (("approve", "approve a resolution waiting for a second person (four eyes)"),
                           ("refuse", "refuse a resolution waiting for approval; the break stays open")):
        decider = actions.add_parser(verb, help=helptext, description=helptext.capitalize() + ".")
        decider.add_argument("request_id", type=int, metavar="REQUEST")
        decider.add_argument("--by", required=True, metavar="NAME",
                             help="who decides (never the person who asked)")
        decider.add_argument("--note", required=verb == "refuse", default=None, help="why")
        add_common(decider)
        decider.set_defaults(func=decide_command, approve=verb == "approve")


def _filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--date", type=parse_date, help="business date YYYY-MM-DD")
    parser.add_argument("--sponsor", type=sponsor_code, metavar="CODE")
    parser.add_argument("--type", dest="break_type", type=break_type, metavar="TYPE",
                        help="one of {break_types}")


def list_command(args: argparse.Namespace) -> int:
    """Print the breaks a filter selects."""
    from rich.console import Console
    from rich.table import Table

    from reconciliation.breaks import BreakFilter, list_breaks
    from reconciliation.reports.columns import BREAK_FIELDS, FIELD_NAMES, cell_text, money, money_total

    settings = settings_from_args(args)
    flt = BreakFilter(args.date, args.sponsor, args.break_type, args.status, args.min_age_days)
    with open_warehouse(settings) as warehouse, warehouse.engine.connect() as conn:
        rows = list_breaks(conn, flt, settings.timezone, args.limit)
    if args.format == "csv":
        kinds = {f.name: f.kind for f in BREAK_FIELDS}
        writer = csv.writer(sys.stdout)
        writer.writerow(FIELD_NAMES)
        for row in rows:
            writer.writerow([cell_text(row[n], kinds[n]) for n in FIELD_NAMES])
        return 0
    at_stake = money(money_total(r["money_at_stake"] for r in rows))
    table = Table(title=f"{len(rows)} breaks, {at_stake} at stake",
                  title_justify="left")
    for name in ("id", "date", "sponsor", "type", "sev", "status", "age", "confirmation", "collector",
                 "at stake", "detail"):
        table.add_column(name, justify="right" if name in ("id", "age", "at stake") else "left",
                         overflow="fold")
    for b in rows:
        table.add_row(str(b["break_id"]), str(b["business_date"]), b["sponsor_code"], b["break_type"],
                      b["severity"], b["status"], f"{b['age_days']}d", b["confirmation_number"] or "",
                      b["collector"] or "", money(b["money_at_stake"]), b["detail"] or "")
    Console(width=200).print(table)
    return 0


def show_command(args: argparse.Namespace) -> int:
    """Print one break and its history."""
    from rich.console import Console
    from rich.table import Table

    from reconciliation.breaks import get_break, history

    settings = settings_from_args(args)
    with open_warehouse(settings) as warehouse, warehouse.engine.connect() as conn:
        row = get_break(conn, args.break_id)
        events = history(conn, args.break_id)
    console = Console(width=160)
    version = "current" if row["is_current"] else "superseded"
    console.print(f"[bold]Break {row['break_id']}[/bold]  {row['break_type']}  {row['severity']}  "
                  f"{row['status']}  ({row['sponsor_code']} {row['business_date']}, raised by run "
                  f"{row['run_id']}, v{row['version']} {version})")
    hidden = {"break_id", "collector_hash", "is_current", "version"}
    for key, value in row.items():
        if key in hidden or value is None:
            continue
        if key == "collector_last4":
            key, value = "collector", f"****{value}"
        console.print(f"  {key:<30} {value}", highlight=False)
    table = Table(title="History", title_justify="left")
    for name in ("when (UTC)", "by", "from", "to", "resolution", "note"):
        table.add_column(name, overflow="fold")
    for e in events:
        changed: datetime = e["changed_at"]
        table.add_row(changed.strftime("%Y-%m-%d %H:%M:%S"), e["changed_by"], e["old_status"] or "",
                      e["new_status"], e["resolution"] or "", e["note"] or "")
    console.print(table)
    return 0


def _workbench_settings(args: argparse.Namespace) -> tuple[Any, Any]:
    """Settings and the ``workbench:`` section (four-eyes threshold) of the configuration."""
    from reconciliation.workbench import config as wconfig

    path = args.config or os.environ.get(CONFIG_ENV) or None
    settings, config = wconfig.load(path)
    return wconfig.with_warehouse(settings, getattr(args, "warehouse", None)), config


def resolve_command(args: argparse.Namespace) -> int:
    """Resolve breaks by id or in bulk, through the workbench's rules (four eyes, audit); prints the outcome.

    Breaks whose money at stake reaches the ``workbench.four_eyes_dollars``
    threshold are not resolved but wait for ``recon breaks approve`` by
    another person, exactly as in the workbench.
    """
    from reconciliation.breaks import BreakFilter
    from reconciliation.warehouse.breaks import break_ids_where
    from reconciliation.workbench import service
    from reconciliation.workbench.store import Store

    settings, config = _workbench_settings(args)
    bulk = args.filter_type is not None
    if bulk == bool(args.break_ids):
        raise ReconError("name break ids, or use --filter-type with --date for a bulk resolve (not both)")
    if not bulk and (args.date or args.sponsor or args.dry_run):
        raise ReconError("--date, --sponsor and --dry-run go with --filter-type (the bulk form)")
    if bulk and args.date is None:
        raise ReconError("a bulk resolve needs --date; resolve other days one date at a time")
    store = Store(settings.warehouse_url)
    with store.write() as conn:
        ids = list(args.break_ids)
        if bulk:
            flt = BreakFilter(args.date, args.sponsor, args.filter_type)
            ids = break_ids_where(conn, flt.where())
            if args.dry_run or not ids:
                listed = ", ".join(str(i) for i in ids) if ids else "nothing to resolve"
                print(f"{'would resolve' if args.dry_run else 'resolved'} {len(ids)} "
                      f"break{'s' if len(ids) != 1 else ''}: {listed}")
                return 0
        outcome = service.resolve(conn, ids, by=args.by, reason=args.resolution, note=args.note,
                                  threshold=config.four_eyes_dollars, zone=settings.timezone,
                                  now=datetime.now(UTC), source="cli")
    print(outcome.sentence("resolved"))
    return 0


def decide_command(args: argparse.Namespace) -> int:
    """Approve or refuse a resolution request (never one's own); prints what happened."""
    from reconciliation.workbench import service
    from reconciliation.workbench.store import Store

    settings, _ = _workbench_settings(args)
    with Store(settings.warehouse_url).write() as conn:
        break_id = service.decide(conn, args.request_id, by=args.by, approve=args.approve, note=args.note,
                                  zone=settings.timezone, now=datetime.now(UTC), source="cli")
    print(f"request {args.request_id} {'approved: break' if args.approve else 'refused: break'} {break_id} "
          f"{'resolved' if args.approve else 'stays open'}")
    return 0

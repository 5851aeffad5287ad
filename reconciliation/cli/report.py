"""``recon report``: regenerate reports from the warehouse for a night or a range of dates.

``--date`` writes every sponsor's run report (HTML, Excel, CSV, the
partner's result file) for the current version of that date, and the night
view across sponsors; ``--from``/``--to`` writes the range view with trends.
No input file is needed: reports come from the warehouse alone.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path
from typing import Any

from reconciliation.cli.common import add_common, open_warehouse, parse_date, settings_from_args, sponsor_code
from reconciliation.errors import ReconError

MAX_RANGE_DAYS = 366


def register(subparsers: Any) -> None:
    """Add the ``report`` subcommand."""
    parser = subparsers.add_parser(
        "report", help="write reports for a night or a range of dates",
        description="Regenerate reports from the warehouse: per sponsor and the night view for "
                    "--date, or the trend view for --from/--to.")
    when = parser.add_mutually_exclusive_group(required=True)
    when.add_argument("--date", type=parse_date, help="business date YYYY-MM-DD (night view)")
    when.add_argument("--from", dest="start", type=parse_date, metavar="DATE",
                      help="first business date of a range (with --to)")
    parser.add_argument("--to", dest="end", type=parse_date, metavar="DATE",
                        help="last business date of a range")
    parser.add_argument("--sponsor", action="append", default=[], type=sponsor_code, metavar="CODE",
                        help="only this sponsor (repeatable); default: every sponsor")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="root of the reports tree (default: the configured reports directory)")
    add_common(parser)
    parser.set_defaults(func=report_command)


def report_command(args: argparse.Namespace) -> int:
    """Write the requested reports and print their paths; returns the exit status."""
    from reconciliation.reports.night import write_range
    from reconciliation.reports.runner import write_night_reports

    settings = settings_from_args(args)
    root: Path = args.out or settings.reports_dir
    sponsors = sorted(set(args.sponsor)) or None
    start: date | None = args.start
    end: date | None = args.end
    if start is not None:
        if end is None:
            raise ReconError("--from needs --to (the last business date of the range)")
        if end < start:
            raise ReconError(f"--to {end} is before --from {start}")
        if (end - start).days >= MAX_RANGE_DAYS:
            raise ReconError(f"a range covers at most {MAX_RANGE_DAYS} days")
    elif end is not None:
        raise ReconError("--to goes with --from, not with --date")
    with open_warehouse(settings) as warehouse:
        if start is not None and end is not None:
            paths = write_range(warehouse.engine, start, end, root, sponsors)
            for kind, path in paths.items():
                print(f"range {kind}: {path}")
            return 0
        night = write_night_reports(warehouse.engine, settings, args.date, root, sponsors)
    for sponsor in night.failed:
        sys.stderr.write(f"recon: {sponsor} {args.date} has no successful run; the night view shows "
                         f"its latest attempt\n")
    for sponsor, paths in night.runs.items():
        for kind, path in paths.items():
            print(f"{sponsor} {args.date} {kind}: {path}")
    print(f"night: {night.night}")
    return 0

"""``recon generate``: seeded synthetic input files with injected breaks and their ground truth.

The demo, the tests and the benchmark need realistic nights on demand, and
the end-to-end check needs to know exactly which breaks a night holds; this
command writes both, and a one-paragraph summary an operator can read.
"""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path
from typing import Any

from reconciliation.cli import common
from reconciliation.errors import ConfigError

DEFAULT_START = date(2026, 11, 20)
DEFAULT_SPONSORS = 3


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be between 0 and 1")
    return value


def _count(minimum: int) -> Any:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{text!r} must be at least {minimum}")
        return value

    return parse


def register(subparsers: Any) -> None:
    """Add the ``generate`` subcommand."""
    parser = subparsers.add_parser(
        "generate",
        help="write synthetic input files with known breaks",
        description="Write seeded synthetic platform and partner files for the given sponsors "
        "and days, with every break type injected at a configurable rate, plus "
        "ground_truth.csv (the breaks a correct run must find) and rejected.csv.",
    )
    parser.add_argument("--out", required=True, type=Path, metavar="DIR",
                        help="directory to write the files into (flat)")
    who = parser.add_mutually_exclusive_group()
    who.add_argument("--sponsors", type=common.sponsor_codes, metavar="CODE,...",
                     help="sponsor codes (default: 3 generated codes)")
    who.add_argument("--sponsor-count", type=_count(1), metavar="N",
                     help="generate N sponsor codes (ABCD, EFGH, ..., then S007, ...)")
    parser.add_argument("--start-date", type=common.parse_date, default=DEFAULT_START,
                        metavar="YYYY-MM-DD", help=f"first business date (default {DEFAULT_START})")
    parser.add_argument("--days", type=_count(1), default=2, metavar="N",
                        help="consecutive business dates (default 2)")
    parser.add_argument("--records", type=_count(0), default=1000, metavar="N",
                        help="detail records per platform file per day (default 1000)")
    parser.add_argument("--break-rate", type=_rate, default=0.02, metavar="R",
                        help="instances of each break case per file, as a share of --records "
                        "(default 0.02; at least one each from 200 records)")
    parser.add_argument("--clean-rate", type=_rate, default=None, metavar="R",
                        help="same for the cases that must raise no break (auto-refunds, "
                        "declines, fallback matches, rejected records); default: --break-rate")
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    parser.add_argument("--csv-sponsors", type=common.sponsor_codes, default=[], metavar="CODE,...",
                        help="sponsors whose partner file uses the shipped CSV profile")
    parser.add_argument("--config", type=common.existing_file, metavar="FILE",
                        help="configuration YAML whose rates, tolerance, limit and zones to honour")
    parser.set_defaults(func=lambda args: _generate(args, parser))


def _generate(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from reconciliation.generate import generate, sponsor_codes

    settings = common.settings_from_args(args)
    try:
        sponsors = args.sponsors or sponsor_codes(args.sponsor_count or DEFAULT_SPONSORS)
        result = generate(
            args.out,
            sponsors=sponsors,
            start=args.start_date,
            days=args.days,
            records=args.records,
            break_rate=args.break_rate,
            clean_rate=args.clean_rate,
            seed=args.seed,
            csv_sponsors=set(args.csv_sponsors),
            settings=settings,
        )
    except ConfigError as exc:
        parser.error(str(exc))
    print(result.summary())
    return 0

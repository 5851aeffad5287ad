"""Options and helpers shared by the ``recon`` subcommands."""

from __future__ import annotations

import argparse
import os
from dataclasses import replace
from datetime import date
from pathlib import Path

from reconciliation.config import Settings, load_settings

CONFIG_ENV = "RECON_CONFIG"


def parse_date(text: str) -> date:
    """An argparse type for YYYY-MM-DD dates with a one-line error."""
    try:
        if len(text) != 10 or text[4] != "-" or text[7] != "-":
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date in the form YYYY-MM-DD") from None


def add_common(parser: argparse.ArgumentParser) -> None:
    """``--warehouse`` and ``--config``, accepted by every subcommand that reads the warehouse."""
    parser.add_argument("--warehouse", metavar="URL",
                        help="SQLAlchemy URL of the warehouse (overrides the configuration)")
    parser.add_argument("--config", type=Path, metavar="FILE",
                        help=f"configuration YAML (default: ${CONFIG_ENV} if set)")


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Load the configuration named by ``--config`` (or $RECON_CONFIG) and apply overrides."""
    path = args.config or (Path(os.environ[CONFIG_ENV]) if os.environ.get(CONFIG_ENV) else None)
    settings = load_settings(path)
    if getattr(args, "warehouse", None):
        settings = replace(settings, warehouse_url=args.warehouse)
    return settings

"""Options and helpers shared by the ``recon`` subcommands.

Everything a user types is checked by the argument parser's types, before a
configuration is read or a warehouse opened: a malformed option is a usage
error (exit 2, one line, nothing written), never a run that fails later or,
worse, a run recorded under a code that cannot exist.

Nothing here imports more than the standard library at import time: every
subcommand's parser is built for ``recon --help`` too, which must start at
once, so SQLAlchemy, the configuration's validators and the warehouse are
imported by the functions that use them.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:
    from reconciliation.config import Settings
    from reconciliation.warehouse.connection import Warehouse

CONFIG_ENV = "RECON_CONFIG"
EXIT_USAGE = 2
#: A sponsor code (spec §2): four upper-case letters or digits.
SPONSOR_CODE = re.compile(r"[A-Z0-9]{4}")


def usage_error(message: str) -> NoReturn:
    """Stop with a usage error: one line on stderr, exit status 2 (as argparse's own errors)."""
    sys.stderr.write(f"recon: {message} (see 'recon --help')\n")
    raise SystemExit(EXIT_USAGE)


def parse_date(text: str) -> date:
    """An argparse type for YYYY-MM-DD dates with a one-line error."""
    try:
        if len(text) != 10 or text[4] != "-" or text[7] != "-":
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date in the form YYYY-MM-DD") from None


def sponsor_code(text: str) -> str:
    """An argparse type for a sponsor code: case and surrounding blanks forgiven, the rest checked.

    ``usge`` is read as ``USGE`` (codes are upper case everywhere, so the
    intent is not in doubt and nothing is ever stored in lower case);
    anything that is not then four letters or digits is refused.
    """
    code = text.strip().upper()
    if not SPONSOR_CODE.fullmatch(code):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a sponsor code (four letters or digits, e.g. ABCD)")
    return code


def sponsor_codes(text: str) -> list[str]:
    """An argparse type for comma-separated sponsor codes (``ABCD,EFGH``), each checked."""
    codes = [sponsor_code(part) for part in text.split(",") if part.strip()]
    if not codes:
        raise argparse.ArgumentTypeError("expected comma-separated sponsor codes, e.g. ABCD,EFGH")
    return codes


def existing_dir(text: str) -> Path:
    """An argparse type for a directory that must already exist (an inbox)."""
    path = Path(text)
    if not path.is_dir():
        what = "is not a directory" if path.exists() else "does not exist"
        raise argparse.ArgumentTypeError(f"directory {text!r} {what}")
    return path


def existing_file(text: str) -> Path:
    """An argparse type for a file that must already exist (a configuration)."""
    path = Path(text)
    if not path.is_file():
        what = "is not a file" if path.exists() else "does not exist"
        raise argparse.ArgumentTypeError(f"file {text!r} {what}")
    return path


def warehouse_url(text: str) -> str:
    """An argparse type for ``--warehouse``: a URL SQLAlchemy can read.

    The message never repeats the URL, which may hold a password.
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        make_url(text)
    except ArgumentError:
        raise argparse.ArgumentTypeError(
            "the warehouse is not a database URL (e.g. duckdb:///var/warehouse.duckdb)") from None
    return text


def masked_url(url: str) -> str:
    """A warehouse URL as it may be shown: the password, if any, as ``***``."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(not a database URL)"


def add_config(parser: argparse.ArgumentParser) -> None:
    """``--config``: a configuration file that must exist."""
    parser.add_argument("--config", type=existing_file, metavar="FILE",
                        help=f"configuration YAML (default: ${CONFIG_ENV} if set)")


def add_common(parser: argparse.ArgumentParser) -> None:
    """``--warehouse`` and ``--config``, accepted by every subcommand that reads the warehouse."""
    parser.add_argument("--warehouse", type=warehouse_url, metavar="URL",
                        help="SQLAlchemy URL of the warehouse (overrides the configuration)")
    add_config(parser)


def config_path(args: argparse.Namespace) -> Path | None:
    """The configuration file in use: ``--config``, else ``$RECON_CONFIG``, else none.

    A ``$RECON_CONFIG`` naming a missing file is a usage error too, like a
    missing ``--config``.
    """
    if getattr(args, "config", None) is not None:
        return Path(args.config)
    env = os.environ.get(CONFIG_ENV)
    if not env:
        return None
    path = Path(env)
    if not path.is_file():
        usage_error(f"${CONFIG_ENV} names {env!r}, which is not an existing file")
    return path


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Load the configuration named by ``--config`` (or $RECON_CONFIG) and apply overrides."""
    from reconciliation.config import load_settings

    settings = load_settings(config_path(args))
    if getattr(args, "warehouse", None):
        settings = replace(settings, warehouse_url=args.warehouse)
    return settings


def open_warehouse(settings: Settings) -> Warehouse:
    """The warehouse of a command that only reads or resolves, the schema checked; close it when done.

    Unlike ``recon run`` it needs nothing of the run's stages, so the
    matching engine, the gate and the parsers are never imported. Its engine
    keeps one connection for the whole command: the schema check and every
    query after it share it, where opening a DuckDB file for each of them
    cost some 40 ms a time.

    Raises:
        WarehouseOutdated: the warehouse needs ``recon db upgrade`` first.
        WarehouseError: it cannot be reached.
    """
    from reconciliation.warehouse.connection import Warehouse

    return Warehouse(settings.warehouse_url)


class LazyHelpFormatter(argparse.HelpFormatter):
    """Fills ``{break_types}`` in a help text only when help is shown.

    The break types live with the warehouse schema; importing it for every
    ``recon`` command would cost the start-up time of SQLAlchemy.
    """

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = super()._get_help_string(action)
        if text and "{break_types}" in text:
            text = text.replace("{break_types}", ", ".join(break_types()))
        return text


def break_types() -> tuple[str, ...]:
    """The spec's break types (imported when a command needs them)."""
    from reconciliation.warehouse.schema import BREAK_TYPES

    return BREAK_TYPES


def break_type(text: str) -> str:
    """An argparse type for a break type: case forgiven, one of the spec's types."""
    code = text.strip().upper()
    if code not in break_types():
        raise argparse.ArgumentTypeError(
            f"invalid choice: {text!r} (choose from {', '.join(break_types())})")
    return code

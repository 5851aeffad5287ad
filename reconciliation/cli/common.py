"""Options and helpers shared by the ``recon`` subcommands.

Everything a user types is checked by the argument parser's types, before a
configuration is read or a warehouse opened: a malformed option is a usage
error (exit 2, one line, nothing written), never a run that fails later or,
worse, a run recorded under a code that cannot exist.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import NoReturn

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from reconciliation.config import Settings, load_settings

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
    try:
        make_url(text)
    except ArgumentError:
        raise argparse.ArgumentTypeError(
            "the warehouse is not a database URL (e.g. duckdb:///var/warehouse.duckdb)") from None
    return text


def masked_url(url: str) -> str:
    """A warehouse URL as it may be shown: the password, if any, as ``***``."""
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
    settings = load_settings(config_path(args))
    if getattr(args, "warehouse", None):
        settings = replace(settings, warehouse_url=args.warehouse)
    return settings

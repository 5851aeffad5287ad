"""``recon key generate``: make the collector hash key, once, on purpose.

The key is never created behind an operator's back (see ``reconciliation.keys``):
a deployment makes it with this command, stores it with its other secrets,
and names it in the configuration or in ``$RECON_HASH_KEY_FILE``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from reconciliation.keys import KEY_FILE_ENV, SUGGESTED_PATH, generate_key_file


def register(subparsers: Any) -> None:
    """Add the ``key`` subcommand and its ``generate`` action."""
    parser = subparsers.add_parser(
        "key",
        help="make the collector hash key",
        description="Manage the key of the collector-number hash. Every run that writes to one "
        "warehouse must use the same key.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", parser_class=type(parser))
    actions.required = True
    generate = actions.add_parser(
        "generate",
        help="write a new random key to a private file (never overwrites)",
        description="Write a new random key to FILE, readable by its owner only (mode 0600). "
        "An existing file is never replaced: hashes made with its key could no longer be joined.",
    )
    generate.add_argument("--out", required=True, type=Path, metavar="FILE",
                          help=f"where to write the key, e.g. {SUGGESTED_PATH}")
    generate.set_defaults(func=_generate)


def _generate(args: argparse.Namespace) -> int:
    path = generate_key_file(args.out)
    where = path.resolve()  # absolute: the hint must work from any directory and in any configuration file
    print(f"wrote a new collector hash key to {path} (mode 0600); use it by setting "
          f"{KEY_FILE_ENV}={where} or 'hash_key: {{file: {where}}}' in the configuration")
    return 0

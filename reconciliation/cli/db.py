"""``recon db``: the warehouse's schema — ``recon db upgrade`` and ``recon db status``.

A run refuses a warehouse whose schema is behind this release and names this
command: upgrading is a deliberate step (back the warehouse up first), done
once per warehouse, not by whichever nightly run comes first.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from reconciliation.cli.common import add_common, settings_from_args


def register(subparsers: Any) -> None:
    """Add the ``db`` subcommand and its actions."""
    parser = subparsers.add_parser("db", help="upgrade or inspect the warehouse schema",
                                   description="Manage the warehouse schema (Alembic revisions).")
    actions = parser.add_subparsers(dest="action", metavar="ACTION",
                                    parser_class=type(parser))
    actions.required = True
    up = actions.add_parser("upgrade", help="bring the warehouse schema to this release's revision",
                            description="Bring the warehouse to this release's schema revision. A "
                            "warehouse written before migrations is recognised and stamped at "
                            "the initial revision first. Every row is kept; the upgrade commits "
                            "as one transaction or not at all.")
    add_common(up)
    up.set_defaults(func=upgrade_command)
    status = actions.add_parser("status", help="show the warehouse's schema revision",
                                description="Show the warehouse's schema revision and this "
                                "release's, and the collector key fingerprint it records.")
    add_common(status)
    status.set_defaults(func=status_command)


def upgrade_command(args: argparse.Namespace) -> int:
    """Upgrade the warehouse and print each step."""
    from reconciliation.warehouse import migrate
    from reconciliation.warehouse.connection import engine_for

    settings = settings_from_args(args)
    for line in migrate.upgrade(engine_for(settings.warehouse_url)):
        sys.stdout.write(f"{line}\n")
    return 0


def status_command(args: argparse.Namespace) -> int:
    """Print where the warehouse's schema stands; exit 1 when a run would refuse it."""
    from reconciliation.warehouse import migrate
    from reconciliation.warehouse.connection import engine_for
    from reconciliation.warehouse.failures import database_errors, shown
    from reconciliation.warehouse.meta import KEY_FINGERPRINT, read_meta

    settings = settings_from_args(args)
    engine = engine_for(settings.warehouse_url)
    with database_errors(engine.url, "reading the schema revision"), engine.connect() as conn:
        state = migrate.state_of(conn)
        fingerprint = read_meta(conn, KEY_FINGERPRINT) if state.kind == "current" else None
    sys.stdout.write(f"warehouse: {shown(engine.url)}\n"
                     f"revision: {state.revision or '-'} ({state.kind}); this release: {state.head}\n")
    if fingerprint:
        sys.stdout.write(f"collector key fingerprint: {fingerprint}\n")
    if state.kind in ("previous-release", "behind", "ahead"):
        sys.stderr.write(f"recon: {migrate.refusal(settings.warehouse_url, state)}\n")
        return 1
    return 0

"""Schema revisions of the warehouse, under Alembic, on DuckDB and PostgreSQL.

A warehouse is in one of five states: empty (no ``recon_run``), written by
the release before migrations (``recon_run`` but no ``alembic_version``),
behind this code's head revision, at head, or ahead of it (written by a
newer release). An empty warehouse is brought to head on first use, so a
first ``recon run`` or ``make demo`` just works. Any other state but head is
refused with one sentence naming ``recon db upgrade``: an upgrade changes
data every process shares (Airflow workers of the older release may still
be writing), so it is the operator's step, taken after a backup, never a
side effect of a nightly run (docs/decisions.md).

Every upgrade runs in one write transaction holding the warehouse write
lock: DDL is transactional on both backends, so a failed upgrade leaves the
warehouse at the revision it had.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.ddl.postgresql import PostgresqlImpl
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

from reconciliation.errors import WarehouseOutdated
from reconciliation.warehouse.connection import write_transaction
from reconciliation.warehouse.failures import database_errors, shown
from reconciliation.warehouse.migrations import LOCATION, VERSION_TABLE

#: The revision a warehouse of release aa4f1fa (no ``alembic_version``) is stamped at.
BASELINE = "0001_initial"

#: A table every warehouse written by any release has.
MARKER_TABLE = "recon_run"


class DuckDBImpl(PostgresqlImpl):
    """Alembic's DDL for DuckDB: PostgreSQL's, which duckdb-engine's dialect speaks.

    DuckDB's DDL is transactional, so the upgrade and its version row commit
    together (the test upgrades then rolls back to check it).
    """

    __dialect__ = "duckdb"
    transactional_ddl = True


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic configuration for the packaged migrations, bound to a connection."""
    config = Config()
    config.set_main_option("script_location", str(LOCATION))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head() -> str:
    """This code's head revision."""
    current = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert current is not None, "the migrations folder has no revision"
    return current


@dataclass(frozen=True)
class SchemaState:
    """Where a warehouse's schema stands.

    Attributes:
        revision: Its Alembic revision, None without ``alembic_version``.
        has_tables: Whether it holds the warehouse's tables.
        head: This code's head revision.
        known: Whether ``revision`` is one of this code's revisions.
    """

    revision: str | None
    has_tables: bool
    head: str
    known: bool

    @property
    def kind(self) -> str:
        """``empty``, ``previous-release``, ``behind``, ``current`` or ``ahead``.

        A version row without the tables (they were dropped by hand) counts
        as empty: there is nothing to keep, and the tables are made again.
        """
        if not self.has_tables:
            return "empty"
        if self.revision is None:
            return "previous-release"
        if self.revision == self.head:
            return "current"
        return "behind" if self.known else "ahead"


def context_of(conn: Connection) -> MigrationContext:
    """An Alembic migration context on ``conn`` that reads our version table."""
    return MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})


def state_of(conn: Connection) -> SchemaState:
    """Read where the warehouse behind ``conn`` stands."""
    revision = context_of(conn).get_current_revision()
    has_tables = sa.inspect(conn).has_table(MARKER_TABLE)
    script = ScriptDirectory.from_config(alembic_config())
    known = revision is None or any(r.revision == revision for r in script.walk_revisions())
    top = script.get_current_head()
    assert top is not None
    return SchemaState(revision, has_tables, top, known)


def refusal(url: str, state: SchemaState) -> str:
    """The one sentence a run prints when the warehouse is not at this code's revision."""
    where = shown(url)
    if state.kind == "ahead":
        return (f"the warehouse {where} is at schema revision {state.revision}, which this release does "
                f"not know (a newer release wrote it); install that release or a later one")
    was = "an earlier release's schema" if state.revision is None else f"schema revision {state.revision}"
    # A masked password cannot be pasted: then the operator repeats their own option.
    command = (f"recon db upgrade --warehouse {where}" if sa.engine.make_url(url).password is None
               else "recon db upgrade with the --warehouse or --config given to this command")
    return (f"the warehouse {where} has {was}, behind this release's {state.head}, and nothing was "
            f"written; back it up and run: {command}")


def ensure_current(engine: Engine) -> None:
    """Make sure the warehouse is at head: create an empty one there, refuse any other.

    Raises:
        WarehouseOutdated: the warehouse needs ``recon db upgrade`` (or a newer release).
        WarehouseError: the warehouse cannot be reached, read or written.
    """
    url = engine.url
    with database_errors(url, "opening the warehouse"):
        with engine.connect() as conn:
            state = state_of(conn)
        if state.kind == "current":
            return
        if state.kind != "empty":
            raise WarehouseOutdated(refusal(str(url), state))
        with write_transaction(engine, "creating the warehouse's tables") as conn:
            state = state_of(conn)  # again, under the write lock: another process may have done it
            if state.kind == "empty":
                if state.revision is not None:
                    command.stamp(alembic_config(conn), "base", purge=True)
                command.upgrade(alembic_config(conn), "head")
            elif state.kind != "current":
                raise WarehouseOutdated(refusal(str(url), state))


def pending(state: SchemaState) -> list[str]:
    """Revisions an upgrade applies, oldest first."""
    script = ScriptDirectory.from_config(alembic_config())
    base = None if not state.has_tables else state.revision or BASELINE
    steps = [r.revision for r in script.iterate_revisions(state.head, base)]
    steps.reverse()
    return steps


def upgrade(engine: Engine) -> list[str]:
    """Bring the warehouse to head; returns what was done, one line each (``recon db upgrade``).

    A warehouse of the release before migrations is checked to hold that
    release's tables, stamped at ``0001_initial`` (which equals them), then
    upgraded like any other.

    Raises:
        WarehouseOutdated: a newer release wrote the warehouse, or its tables are not the baseline's.
        WarehouseError: the warehouse cannot be reached or written.
    """
    url = engine.url
    done: list[str] = []
    with write_transaction(engine, "upgrading the warehouse") as conn:
        state = state_of(conn)
        if state.kind == "ahead":
            raise WarehouseOutdated(refusal(str(url), state))
        if state.kind == "current":
            return [f"the warehouse {shown(url)} is already at {state.head}; nothing to do"]
        if state.kind == "previous-release":
            missing = sorted(set(baseline_tables()) - set(sa.inspect(conn).get_table_names()))
            if missing:
                raise WarehouseOutdated(
                    f"the warehouse {shown(url)} lacks the tables {', '.join(missing)} of "
                    f"{BASELINE}, so it cannot be upgraded; restore it from a backup")
            command.stamp(alembic_config(conn), BASELINE)
            done.append(f"found the schema of the release before migrations: stamped {BASELINE}")
        steps = pending(state)
        command.upgrade(alembic_config(conn), "head")
        done.extend(f"applied {step}" for step in steps)
    done.append(f"the warehouse {shown(url)} is now at {state.head}")
    return done


def baseline_tables() -> tuple[str, ...]:
    """The tables revision 0001_initial creates."""
    script = ScriptDirectory.from_config(alembic_config())
    revision = script.get_revision(BASELINE)
    assert revision is not None
    module = revision.module
    return tuple(module.TABLES)


__all__ = ["BASELINE", "SchemaState", "ensure_current", "head", "refusal", "state_of", "upgrade"]

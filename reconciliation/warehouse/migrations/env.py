"""Alembic's environment: run the migrations on the connection the caller handed over.

``reconciliation.warehouse.migrate`` opens a write transaction (holding the
warehouse write lock) and passes its connection in ``config.attributes``, so
the whole upgrade commits or rolls back as one on both backends. Run from
the ``alembic`` command line instead, the URL comes from
``sqlalchemy.url`` in the Alembic configuration.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

import reconciliation.quality.table  # noqa: F401  (its table belongs to the metadata compared)
from reconciliation.warehouse import migrate  # noqa: F401  (registers DuckDB with Alembic)
from reconciliation.warehouse.migrations import VERSION_TABLE
from reconciliation.warehouse.schema import metadata


def _run(connection: sa.Connection) -> None:
    context.configure(connection=connection, target_metadata=metadata, version_table=VERSION_TABLE)
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:  # pragma: no cover - developers' own ``alembic`` runs
    engine = sa.create_engine(context.config.get_main_option("sqlalchemy.url") or "")
    with engine.begin() as conn:
        _run(conn)
    engine.dispose()

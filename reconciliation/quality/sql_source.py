"""The records as GX's SQL execution engine sees them: a view in an in-process DuckDB.

GX evaluates every expectation in SQL, through its SqlAlchemy execution
engine and ``duckdb_engine``, on a DuckDB view of the file's records: the
Arrow buffers of records held in memory (registered zero-copy) or the
Parquet file they were spilled to (read by DuckDB, never loaded into Python).
The view adds the columns the suites compare: money in integer cents and
what the conversion rule says a record should carry.

GX 1.24 does not know DuckDB. Two things go wrong, each fixed here without
touching GX:

* GX runs a metric query and reads its rows *after* leaving
  ``with engine.connect()``. Leaving rolls the connection back; for most
  drivers the rows are already on the client, but a DuckDB cursor is its
  connection, and the rollback replaces the pending result, so GX reads an
  empty list and fails with ``IndexError`` in ``resolve_metric_bundle``.
  :class:`ReadOnlyConnection` makes begin/commit/rollback no-ops: the gate
  only reads, so no transaction is needed, and the result survives.
* GX picks its regex SQL by ``execution_engine.dialect_module``, which it
  resolves for the dialects it knows and leaves ``None`` for DuckDB; it then
  tests ``issubclass(dialect.dialect, sqlalchemy.dialects.postgresql.dialect)``,
  and although ``duckdb_engine``'s dialect subclasses PostgreSQL's psycopg2
  dialect, SQLAlchemy 2.1's default PostgreSQL dialect is psycopg (3), so no
  branch matches and ``ExpectColumnValuesToMatchRegex`` raises "Regex is not
  supported for dialect duckdb". :func:`fix_dialect` names PostgreSQL's
  dialect as the module's: GX then writes ``~`` / ``!~``, which DuckDB
  implements as a full regex match (RE2, like pandas' Arrow strings); the
  suites' patterns are anchored, so full match and search agree. No other
  expectation of the suites reads the module but the uniqueness check, which
  only asks whether it is MySQL.

One connection (``StaticPool``) serves every query: registered Arrow data
and views live on that connection only. DuckDB may use up to
:data:`MEMORY_LIMIT` and spills beyond it to a temporary directory of its
own (the uniqueness expectation's join of the records with their group
counts is the one operator that grows with the day), so the gate's memory
does not grow with the size of the night.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import duckdb
import duckdb_engine
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from reconciliation.config import Settings

#: Record columns GX checks as strings (enums become VARCHAR).
STRING_COLUMNS = ("txn_type", "confirmation_number", "store_id", "device_id", "trace_id", "response_code",
                  "origin", "sponsor_code")
#: Record columns GX checks as they are.
PLAIN_COLUMNS = ("business_date", "ts", "units", "miles")
#: DuckDB's memory for the gate's queries; beyond it joins and aggregates spill to disk.
MEMORY_LIMIT = "1GB"
#: Record columns the view is computed from.
SOURCE_COLUMNS = (*STRING_COLUMNS, *PLAIN_COLUMNS, "dollars")


class ReadOnlyConnection(duckdb_engine.ConnectionWrapper):
    """A DuckDB connection whose transactions are no-ops, so a query's rows outlive SQLAlchemy's rollback."""

    def begin(self) -> None:
        """No transaction: the gate only reads."""

    def commit(self) -> None:
        """Nothing to commit."""

    def rollback(self) -> None:
        """Nothing to roll back; rolling back would discard the pending result GX is about to read."""


class DuckSource:
    """One in-process DuckDB connection and the views of the records validated on it.

    Attributes:
        connection: The DuckDB connection every GX query runs on.
    """

    def __init__(self) -> None:
        self._spill = tempfile.TemporaryDirectory(prefix="recon-gate-")
        self.connection = duckdb.connect(":memory:", config={
            "memory_limit": MEMORY_LIMIT, "temp_directory": self._spill.name})
        self.connection.execute("SET TimeZone = 'UTC'")  # times reach GX's results as UTC
        self._count = 0

    def engine_kwargs(self) -> dict[str, Any]:
        """``create_engine`` arguments that make SQLAlchemy use this one connection."""
        return {"creator": lambda: ReadOnlyConnection(self.connection), "poolclass": sa.StaticPool}

    def view(self, parsed: Any, settings: Settings) -> str:
        """Register a parsed file's records and return the name of their view.

        Records in memory are handed over as Arrow (no copy); spilled records
        are read from their Parquet file by DuckDB itself.
        """
        self._count += 1
        name = f"records_{self._count}"
        if parsed.records is not None:
            source = self.connection.from_arrow(parsed.records.select(SOURCE_COLUMNS).to_arrow())
        else:
            source = self.connection.read_parquet(str(Path(parsed.records_path)))
        columns = gx_columns(settings)
        source.select(*columns).create_view(name)
        return name

    def drop(self, name: str) -> None:
        """Forget a view (and the Arrow data it holds) once its file is validated."""
        self.connection.execute(f'DROP VIEW IF EXISTS "{name}"')

    def close(self) -> None:
        """Close the connection and remove what DuckDB spilled."""
        self.connection.close()
        self._spill.cleanup()


def gx_columns(settings: Settings) -> list[Any]:
    """The view's columns as DuckDB expressions: strings, numbers, times, cents, expected values."""
    col, const = duckdb.ColumnExpression, duckdb.ConstantExpression
    varchar, bigint = duckdb.sqltype("VARCHAR"), duckdb.sqltype("BIGINT")
    cents_per_unit = int((settings.dollars_per_unit * 100).to_integral_value())
    return [
        *(col(c).cast(varchar).alias(c) for c in STRING_COLUMNS),
        *(col(c) for c in PLAIN_COLUMNS),
        (col("dollars") * const(100)).cast(bigint).alias("dollars_cents"),
        (col("units") * const(settings.miles_per_unit)).cast(bigint).alias("expected_miles"),
        (col("units") * const(cents_per_unit)).cast(bigint).alias("expected_cents"),
    ]


def fix_dialect(execution_engine: Any) -> None:
    """Let GX find the DuckDB dialect's regex operator (see the module doc)."""
    if execution_engine.dialect_module is None:
        execution_engine.dialect_module = SimpleNamespace(dialect=postgresql.dialect)


"""Connections, the write lock, and bulk frame I/O.

Bulk writes bypass row-by-row ORM inserts: DuckDB reads an Arrow table
directly, PostgreSQL takes ``COPY ... FROM STDIN``. Both run on the caller's
SQLAlchemy connection, inside its transaction, so a run's rows commit or roll
back together.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool

from reconciliation.errors import ConfigError
from reconciliation.warehouse.failures import database_errors, shown

#: Key of the PostgreSQL advisory lock that serializes warehouse writers.
WRITE_LOCK_KEY = 0x414D4341  # "AMCA"

_process_lock = threading.RLock()


def is_duckdb(conn: Connection | Engine) -> bool:
    """Whether the connection goes to DuckDB."""
    return conn.dialect.name == "duckdb"


def engine_for(url: str, pooled: bool = False) -> Engine:
    """A new engine for a SQLAlchemy URL, creating a DuckDB file's folder.

    Nothing is cached: without ``pooled`` every connection is closed when it
    is returned, so an engine a caller forgets holds no DuckDB file lock and
    no PostgreSQL session. A ``Warehouse`` keeps a pooled one for its life.

    Raises:
        ConfigError: the URL is not a usable SQLAlchemy URL.
    """
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError:
        raise ConfigError(f"warehouse URL {shown(url)!r} is not a SQLAlchemy URL; give one such as "
                          f"duckdb:///var/warehouse.duckdb or postgresql+psycopg://user@host/db") from None
    duck = parsed.drivername.startswith("duckdb")
    if duck and parsed.database not in (None, "", ":memory:"):
        with database_errors(parsed, "creating the warehouse's directory"):
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    options: dict[str, Any] = {"pool_pre_ping": not duck} if pooled else {"poolclass": NullPool}
    try:
        return sa.create_engine(parsed, **options)
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as exc:
        raise ConfigError(f"warehouse URL {shown(url)!r} cannot be used ({str(exc).splitlines()[0]}); "
                          f"give a duckdb:/// or postgresql+psycopg:// URL") from None


def dispose_all() -> None:
    """Collect engines nobody refers to any more, closing what they still hold open.

    Engines are not cached (``engine_for``), and a ``Warehouse`` closes its
    own; this only hurries the garbage collector for callers that want a
    DuckDB file unlocked now, before another process opens it.
    """
    gc.collect()


def ensure_schema(engine: Engine) -> None:
    """Create an empty warehouse at the head revision; refuse one that needs ``recon db upgrade``.

    Raises:
        ReconError: the warehouse cannot be reached, or its schema is not this code's.
    """
    if _at_head(engine):
        return
    from reconciliation.warehouse.migrate import ensure_current  # migrate uses this module

    ensure_current(engine)


def _at_head(engine: Engine) -> bool:
    """Whether the warehouse is plainly at this code's head: one query, no Alembic.

    Anything else (no version table, another revision, a database error)
    returns False and leaves the answer to ``migrate.ensure_current``,
    which says what is wrong in one sentence.
    """
    from reconciliation.warehouse.migrations import HEAD, VERSION_TABLE

    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table("recon_run"):
                return False
            revisions = conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
    except sa.exc.SQLAlchemyError:
        return False
    return list(revisions) == [HEAD]


class Warehouse:
    """One warehouse for the time of a run or a command: its engine, its schema checked once.

    This is the explicit object that replaces process-wide engine caches:
    whoever needs the warehouse opens one (or is handed one), uses
    ``engine`` and ``write``, and closes it, which releases its connections
    (and a DuckDB file's lock) at a point the caller chooses.
    """

    def __init__(self, url: str, *, pooled: bool = True, check: bool = True) -> None:
        """Open the warehouse at ``url``.

        Raises:
            ConfigError: the URL is not usable.
            WarehouseOutdated: the warehouse needs ``recon db upgrade`` first.
            WarehouseError: it cannot be reached.
        """
        self.url = url
        self.engine = engine_for(url, pooled=pooled)
        if check:
            try:
                ensure_schema(self.engine)
            except BaseException:
                self.engine.dispose()
                raise

    @property
    def is_duckdb(self) -> bool:
        """Whether the warehouse is a DuckDB file."""
        return is_duckdb(self.engine)

    def write(self, doing: str = "writing to the warehouse") -> AbstractContextManager[Connection]:
        """``write_transaction`` on this warehouse."""
        return write_transaction(self.engine, doing)

    def close(self) -> None:
        """Close every connection the warehouse holds."""
        self.engine.dispose()

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextmanager
def write_transaction(engine: Engine, doing: str = "writing to the warehouse") -> Iterator[Connection]:
    """One transaction holding the warehouse write lock.

    Writers are serialized: within a process by a lock, across processes on
    PostgreSQL by an advisory transaction lock (DuckDB allows one writing
    process per file anyway). Everything inside commits or rolls back as one.
    A database failure, the commit's included, leaves as a one-sentence
    ``WarehouseError`` saying what failed while ``doing`` what.
    """
    with _process_lock, database_errors(engine.url, doing), engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": WRITE_LOCK_KEY})
        yield conn


def next_id(conn: Connection, table: sa.Table, column: str) -> int:
    """The next free integer key of a table (callers hold the write lock)."""
    current = conn.execute(sa.select(sa.func.max(table.c[column]))).scalar()
    return int(current or 0) + 1


def _duckdb(conn: Connection) -> Any:
    """The DuckDB connection under a SQLAlchemy one, ready for native calls.

    DuckDB 2 keeps the last ``execute()`` result open until a fetch returns
    no rows, and refuses other work on the connection meanwhile;
    ``complete()`` finishes it (a scalar query read with ``.scalar()`` is
    never fetched to the end).
    """
    raw: Any = conn.connection.driver_connection
    raw.complete()
    return raw


def _prepare(frame: pl.DataFrame, table: sa.Table, keep_enums: bool = False) -> pl.DataFrame:
    """Select and order the table's columns; enums become plain strings unless kept.

    DuckDB takes an enum as an Arrow dictionary and stores its text: keeping
    it saves a string copy of the column (1.6 GB for 20 million records).
    """
    missing = [c.name for c in table.columns if c.name not in frame.columns]
    if missing:
        raise ValueError(f"frame for {table.name} lacks columns {missing}")
    cols = []
    for column in table.columns:
        expr = pl.col(column.name)
        if not keep_enums and isinstance(frame.schema[column.name], (pl.Enum, pl.Categorical)):
            expr = expr.cast(pl.String)
        cols.append(expr)
    return frame.select(cols)


#: Rows handed to DuckDB per INSERT: each slice is exported to Arrow on its own.
INSERT_SLICE = 1_000_000


def insert_frame(conn: Connection, table: sa.Table, frame: pl.DataFrame) -> int:
    """Bulk-insert a frame into a table inside the connection's transaction.

    Returns:
        The number of rows written.
    """
    if frame.height == 0:
        return 0
    data = _prepare(frame, table, keep_enums=is_duckdb(conn))
    names = ", ".join(f'"{c}"' for c in data.columns)
    if is_duckdb(conn):
        raw = _duckdb(conn)
        view = f"_bulk_{table.name}"
        # Arrow's string views are Polars' own layout: the strings are handed over, not copied.
        newest = pl.CompatLevel.newest()
        for start in range(0, data.height, INSERT_SLICE):
            raw.register(view, data.slice(start, INSERT_SLICE).to_arrow(compat_level=newest))
            try:
                raw.execute(f'INSERT INTO "{table.name}" ({names}) SELECT {names} FROM {view}')
            finally:
                raw.unregister(view)
    elif conn.dialect.name == "postgresql":
        _copy(conn, table.name, names, data)
    else:
        conn.execute(table.insert(), data.to_dicts())
    return data.height


#: Rows per CSV chunk of a PostgreSQL ``COPY``: the text of one slice is in memory at a time.
COPY_SLICE = 250_000


def _copy(conn: Connection, table: str, names: str, data: pl.DataFrame) -> None:
    """Stream a frame into ``COPY ... FROM STDIN`` (CSV) in slices, never as row inserts.

    Timestamps go as ISO text with their offset; the CSV of one slice is
    built and sent before the next, so a 20-million-row table never exists
    as one text buffer.
    """
    raw = conn.connection.driver_connection
    assert raw is not None
    stamps = [c for c, t in data.schema.items() if isinstance(t, pl.Datetime)]
    with raw.cursor() as cur, cur.copy(
        f'COPY "{table}" ({names}) FROM STDIN WITH (FORMAT csv, NULL \'\\N\')'
    ) as copy:
        for start in range(0, data.height, COPY_SLICE):
            part = data.slice(start, COPY_SLICE).with_columns(
                pl.col(c).dt.to_string("%Y-%m-%dT%H:%M:%S%.f%z") for c in stamps)
            copy.write(part.write_csv(include_header=False, null_value="\\N", quote_style="necessary"))


def analyze(conn: Connection, tables: list[str]) -> None:
    """Refresh PostgreSQL's planner statistics of bulk-loaded tables (DuckDB keeps its own).

    A report query planned on stale statistics after a big load ran for
    minutes with a nested loop; it must not wait for autovacuum.
    """
    if conn.dialect.name == "postgresql" and tables:
        conn.execute(sa.text("ANALYZE " + ", ".join(f'"{t}"' for t in tables)))


def polars_type(sa_type: sa.types.TypeEngine[Any]) -> pl.DataType:
    """The Polars dtype a warehouse column reads into."""
    if isinstance(sa_type, sa.Numeric) and not isinstance(sa_type, sa.Float):
        return pl.Decimal(sa_type.precision or 38, sa_type.scale or 0)
    if isinstance(sa_type, sa.Boolean):
        return pl.Boolean()
    if isinstance(sa_type, sa.Integer):
        return pl.Int64()
    if isinstance(sa_type, sa.DateTime):
        return pl.Datetime("us", "UTC") if sa_type.timezone else pl.Datetime("us")
    if isinstance(sa_type, sa.Date):
        return pl.Date()
    return pl.String()


def read_frame(conn: Connection, query: sa.Select[Any], schema: dict[str, pl.DataType] | None = None
               ) -> pl.DataFrame:
    """Run a query and return its rows as a frame with the columns' own types.

    Types come from the selected columns, so an empty or all-null result
    still has the right dtypes and money stays exact.

    Args:
        conn: An open connection.
        query: A SQLAlchemy Core select.
        schema: Optional dtypes that override the inferred ones (e.g. enums).
    """
    wanted = {str(c.key): polars_type(c.type) for c in query.selected_columns}
    wanted.update(schema or {})
    if is_duckdb(conn):
        compiled = query.compile(conn, compile_kwargs={"literal_binds": True})
        raw = _duckdb(conn)
        # The relation hands its result over as an Arrow C stream, which Polars
        # reads itself: no PyArrow (a fifth of a second to import) in between.
        frame = pl.DataFrame(raw.sql(str(compiled)))
    else:
        result = conn.execute(query)
        rows = result.fetchall()
        frame = pl.DataFrame(
            [tuple(r) for r in rows],
            schema={k: (pl.String if isinstance(v, pl.Enum) else v) for k, v in wanted.items()},
            orient="row",
        )
    return frame.with_columns(
        pl.col(name).cast(dtype) for name, dtype in wanted.items() if name in frame.columns
    )

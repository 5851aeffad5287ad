"""Connections to the warehouse: engines, the schema check and the write lock.

Everything here needs SQLAlchemy and nothing else, so the commands that only
read or resolve breaks (``recon breaks``) open the warehouse without
importing Polars, which ``reconciliation.warehouse.db`` needs for its bulk
frame I/O and which costs a third of a second of their start-up.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

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


#: DuckDB's memory for a warehouse file, unless its URL sets ``memory_limit``.
#: DuckDB's own default is 80% of the machine, under which a run's uncommitted
#: rows stay in memory until the commit (1 GB more at 10 million records a
#: side); under this limit it writes them to the file as it goes and spills
#: big joins to ``<file>.tmp``. Measured no slower for a run or its reports
#: at 1 GB, nor for a run at 512 MB, which keeps a 10M night's write under
#: its matching's peak (``docs/decisions.md``).
DUCKDB_MEMORY_LIMIT = "512MB"


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
    if duck and parsed.database not in (None, "", ":memory:") and "memory_limit" not in parsed.query:
        options["connect_args"] = {"config": {"memory_limit": DUCKDB_MEMORY_LIMIT}}
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
    """Whether the warehouse is plainly at this code's head: two queries, no Alembic.

    Anything else (no ``recon_run`` table, no version table, another
    revision, a database error) returns False and leaves the answer to
    ``migrate.ensure_current``, which says what is wrong in one sentence.
    ``recon_run`` is looked for by selecting nothing from it: a missing table
    is an error, and the query costs a fifth of a reflected ``has_table``.
    """
    from reconciliation.warehouse.migrations import HEAD, VERSION_TABLE

    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1 FROM recon_run LIMIT 0")).all()
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

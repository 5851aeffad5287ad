"""A warehouse connection per request that never blocks a reconciliation run.

DuckDB lets one process write a file, and while a process holds the file
open no other may write it. So on DuckDB the workbench opens the file for
one request and closes it (no pool), reads through read-only connections,
and when a run holds the file says so in one sentence (``WarehouseBusy``)
instead of waiting. PostgreSQL takes a pooled engine and the warehouse
write lock as every writer does.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool

from reconciliation.errors import ReconError
from reconciliation.warehouse.connection import engine_for, ensure_schema, write_transaction

BUSY = "a reconciliation run is writing the warehouse; try again in a minute"


class WarehouseBusy(ReconError):
    """Another process (a reconciliation run) holds the DuckDB file."""

    def __init__(self) -> None:
        super().__init__(BUSY)


def _is_lock_error(exc: BaseException) -> bool:
    text = str(getattr(exc, "orig", None) or exc).lower()
    return "lock" in text and ("conflicting" in text or "could not set" in text or "held" in text)


class Store:
    """Opens the warehouse per request: ``read()`` and ``write()`` connections."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.duckdb = sa.engine.make_url(url).drivername.startswith("duckdb")
        self._ready = False
        # One DuckDB file cannot be open read-only and read-write in one process at once.
        self._file_lock = threading.Lock()

    def _engine(self, read_only: bool) -> Engine:
        if not self.duckdb:
            return engine_for(self.url)
        return sa.create_engine(
            self.url, poolclass=NullPool, connect_args={"read_only": True} if read_only else {}
        )

    @contextmanager
    def _opened(self, read_only: bool) -> Iterator[Engine]:
        if not self.duckdb:
            yield engine_for(self.url)
            return
        with self._file_lock:
            engine = self._engine(read_only)
            try:
                yield engine
            finally:
                engine.dispose()

    def _prepare(self) -> None:
        if self._ready:
            return
        with self._opened(read_only=False) as engine:
            try:
                ensure_schema(engine)
            except (sa.exc.DBAPIError, ReconError) as exc:
                if _is_lock_error(exc):
                    raise WarehouseBusy() from None
                raise
        self._ready = True

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only connection for one request.

        Raises:
            WarehouseBusy: a run holds the DuckDB file.
        """
        self._prepare()
        with self._opened(read_only=True) as engine:
            try:
                conn = engine.connect()
            except sa.exc.DBAPIError as exc:
                if _is_lock_error(exc):
                    raise WarehouseBusy() from None
                raise
            with conn:
                yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One write transaction holding the warehouse write lock.

        Raises:
            WarehouseBusy: a run holds the DuckDB file.
        """
        self._prepare()
        with self._opened(read_only=False) as engine:
            try:
                with write_transaction(engine) as conn:
                    yield conn
            except sa.exc.DBAPIError as exc:
                if _is_lock_error(exc):
                    raise WarehouseBusy() from None
                raise

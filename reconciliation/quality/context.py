"""Great Expectations, imported in the background and held by one explicit object.

Importing GX costs seconds of a cold process (``python -X importtime``; see
docs/data-quality.md), more than a whole plain-SQL reconciliation of a
million records. So no module of this package imports it at module level,
and :func:`preload` starts the import in a background thread: a run calls it
before parsing, and the import overlaps the parse (Polars works outside the
GIL). Whoever needs GX later simply imports it; Python's import lock makes
that wait for the background import instead of doing it twice.

:class:`GxSession` is the one GX context a gate uses for all the files of a
run, with the suites it built: no module-level cache, the caller owns it.
The context is ephemeral (no project directory, no cloud, no usage
statistics, no progress bars). It has two datasources:

* ``amcash_sql``: GX's SqlAlchemy execution engine on the gate's in-process
  DuckDB (:mod:`.sql_source`), the engine the gate uses;
* ``amcash_pandas``: GX's pandas engine on an in-memory frame, kept to show
  that both engines agree (tests) and for measurements. GX fingerprints
  every in-memory pandas batch by hashing the whole frame; the file's SHA-256
  already identifies the data, so that is turned off when this datasource
  is first used (``HASH_THRESHOLD``).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from reconciliation.config import CsvProfile
from reconciliation.quality.policy import QualityPolicy
from reconciliation.quality.sql_source import DuckSource, fix_dialect
from reconciliation.quality.suites import Check, build_suite

log = logging.getLogger(__name__)

SQL_SOURCE = "amcash_sql"
PANDAS_SOURCE = "amcash_pandas"
PANDAS_ASSET = "records"
BATCH = "whole_file"

#: GX keeps its current context in a process global and is not thread-safe:
#: validations and renders in one process take turns.
GX_LOCK = threading.RLock()


def quiet_gx() -> None:
    """Environment GX must see before it is imported: no analytics, no network calls home."""
    os.environ["GX_ANALYTICS_ENABLED"] = "false"


def import_gx() -> None:
    """Import GX (and the parts the gate uses) now, with :func:`quiet_gx`'s environment."""
    quiet_gx()
    try:
        import great_expectations
        import great_expectations.expectations  # noqa: F401
        from great_expectations.execution_engine import sqlalchemy_execution_engine  # noqa: F401
    except Exception:  # pragma: no cover - the validation that needs GX raises it again
        log.exception("importing Great Expectations in the background failed")


def preload() -> threading.Thread:
    """Start importing GX in a background thread and return the thread (already started).

    Calling it when GX is already imported costs a thread start; a
    validation that begins before the import ends waits for it.
    """
    thread = threading.Thread(target=import_gx, name="gx-import", daemon=True)
    thread.start()
    return thread


class GxSession:
    """One ephemeral GX context, its datasources and the suites built in it.

    Attributes:
        context: The ephemeral ``DataContext``.
        duck: The in-process DuckDB the SQL datasource reads.
    """

    def __init__(self) -> None:
        import_gx()
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        with GX_LOCK:
            self.context: Any = gx.get_context(mode="ephemeral")
            self.context.variables.progress_bars = ProgressBarsConfig(globally=False)
        self.duck = DuckSource()
        self._sql: Any = None
        self._pandas: Any = None
        self._suites: dict[tuple[Any, ...], tuple[Any, tuple[Check, ...]]] = {}

    @contextmanager
    def current(self) -> Iterator[Any]:
        """Hold the GX lock with this session's context as GX's current one."""
        from great_expectations.data_context.data_context.context_factory import project_manager

        with GX_LOCK:
            project_manager.set_project(self.context)
            yield self.context

    def suite(self, side: str, profile: CsvProfile | None, policy: QualityPolicy
              ) -> tuple[Any, tuple[Check, ...]]:
        """The GX suite of a side, layout and policy (built once per session), with its checks."""
        key = (side, profile.name if profile is not None else None,
               frozenset(profile.columns) if profile is not None else None, policy)
        if key not in self._suites:
            with self.current():
                self._suites[key] = build_suite(side, profile, policy)
        return self._suites[key]

    def sql_batch(self, table: str) -> Any:
        """A whole-table GX batch of a DuckDB view, on the SQL execution engine."""
        with self.current():
            if self._sql is None:
                self._sql = self.context.data_sources.add_sql(
                    SQL_SOURCE, connection_string="duckdb:///:memory:", kwargs=self.duck.engine_kwargs())
            fix_dialect(self._sql.get_execution_engine())
            asset = self._sql.add_table_asset(table, table_name=table)
            return asset.add_batch_definition_whole_table(BATCH).get_batch()

    def drop_sql(self, table: str) -> None:
        """Forget a validated view's asset and the view itself."""
        with self.current():
            self._sql.delete_asset(table)
        self.duck.drop(table)

    def pandas_batch(self, frame: Any) -> Any:
        """A GX batch of an in-memory pandas frame, on the pandas execution engine."""
        with self.current():
            if self._pandas is None:
                from great_expectations.execution_engine import pandas_execution_engine

                if hasattr(pandas_execution_engine, "HASH_THRESHOLD"):
                    pandas_execution_engine.HASH_THRESHOLD = 0  # no fingerprint hashing (module doc)
                source = self.context.data_sources.add_pandas(PANDAS_SOURCE)
                self._pandas = source.add_dataframe_asset(PANDAS_ASSET).add_batch_definition_whole_dataframe(
                    BATCH)
            return self._pandas.get_batch(batch_parameters={"dataframe": frame})

    def close(self) -> None:
        """Release the DuckDB connection (the context itself holds nothing outside memory)."""
        if self._sql is not None:
            self._sql.get_execution_engine().close()
        self.duck.close()


def gx_context() -> GxSession:
    """A new GX session: imports GX (once per process, by Python) and builds a context."""
    return GxSession()

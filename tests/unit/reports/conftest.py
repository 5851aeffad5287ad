"""Seeded warehouses for report tests, on DuckDB and on a throwaway PostgreSQL database.

Seeding takes seconds, so it happens once per backend and session. Tests
that only read share that warehouse; tests that write (resolving breaks)
get their own copy: a file copy on DuckDB, ``CREATE DATABASE ... TEMPLATE``
on PostgreSQL. Every PostgreSQL database this session creates is named
``recon_test_<random>`` and dropped at the end.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from reconciliation.config import Settings
from reconciliation.warehouse.db import engine_for
from tests.conftest import require_service
from tests.unit.reports.seed import seed

PG_ADMIN_URL = os.environ.get("RECON_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


@dataclass
class Seeded:
    """A seeded warehouse: its URL and the facts the seed returned."""

    url: str
    facts: dict[str, Any]


def _forget(url: str) -> None:
    """Let go of what still holds the URL open (DuckDB files and template databases must be idle)."""
    from reconciliation.warehouse import db

    del url  # engines are not cached: collecting the unreachable ones closes what they held
    db.dispose_all()


@pytest.fixture(scope="session")
def duckdb_seed(tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    """A pristine seeded DuckDB file (never opened by tests; they copy it)."""
    path = tmp_path_factory.mktemp("seed") / "pristine.duckdb"
    url = f"duckdb:///{path}"
    facts = seed(url)
    _forget(url)
    return Seeded(url, facts)


class PgDatabases:
    """Creates throwaway databases and drops them all at the end of the session."""

    def __init__(self) -> None:
        self.admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        self.prefix = f"recon_test_{uuid.uuid4().hex[:10]}"
        self.names: list[str] = []

    def create(self, template: str | None = None) -> str:
        name = f"{self.prefix}_{len(self.names)}"
        clause = f' TEMPLATE "{template}"' if template else ""
        with self.admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"{clause}'))
        self.names.append(name)
        return name

    def url(self, name: str) -> str:
        return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"

    def drop_all(self) -> None:
        for name in reversed(self.names):
            _forget(self.url(name))
            with self.admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.admin.dispose()


@pytest.fixture(scope="session")
def pg_seed() -> Iterator[tuple[PgDatabases, str, dict[str, Any]]]:
    """A seeded template database on the local PostgreSQL server (skipped when it is down, failed in CI)."""
    require_service("postgres")
    dbs = PgDatabases()
    try:
        template = dbs.create()
        facts = seed(dbs.url(template))
        _forget(dbs.url(template))
        yield dbs, template, facts
    finally:
        dbs.drop_all()


@pytest.fixture(scope="session")
def _shared(duckdb_seed: Seeded, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Seeded]:
    path = tmp_path_factory.mktemp("shared") / "warehouse.duckdb"
    shutil.copy(duckdb_seed.url.removeprefix("duckdb:///"), path)
    return {"duckdb": Seeded(f"duckdb:///{path}", duckdb_seed.facts)}


@pytest.fixture(scope="session", params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def seeded(request: pytest.FixtureRequest, _shared: dict[str, Seeded]) -> Seeded:
    """A seeded warehouse on each backend that tests only read."""
    if request.param == "duckdb":
        return _shared["duckdb"]
    dbs, template, facts = request.getfixturevalue("pg_seed")
    if "postgres" not in _shared:
        _shared["postgres"] = Seeded(dbs.url(dbs.create(template)), facts)
    return _shared["postgres"]


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def mutable(request: pytest.FixtureRequest, duckdb_seed: Seeded, tmp_path: Path) -> Iterator[Seeded]:
    """A private copy of the seeded warehouse that a test may change."""
    if request.param == "duckdb":
        path = tmp_path / "warehouse.duckdb"
        shutil.copy(duckdb_seed.url.removeprefix("duckdb:///"), path)
        url = f"duckdb:///{path}"
        yield Seeded(url, duckdb_seed.facts)
        _forget(url)
    else:
        dbs, template, facts = request.getfixturevalue("pg_seed")
        yield Seeded(dbs.url(dbs.create(template)), facts)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Default settings with state (and reports) under the test's directory."""
    return Settings(state_dir=tmp_path / "var")


def engine(url: str) -> sa.Engine:
    """The cached engine of a URL."""
    return engine_for(url)

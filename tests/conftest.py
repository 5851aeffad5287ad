"""Shared fixtures: real warehouses (DuckDB file and a throwaway PostgreSQL database)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

PG_ADMIN_URL = os.environ.get("RECON_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def _pg_available() -> bool:
    try:
        engine = sa.create_engine(PG_ADMIN_URL)
        with engine.connect():
            pass
        engine.dispose()
        return True
    except sa.exc.OperationalError:
        return False


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A throwaway PostgreSQL database for the test session, dropped afterwards."""
    if not _pg_available():
        pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL}; run scripts/services.sh")
    name = f"recon_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        from reconciliation.warehouse.db import dispose_all

        dispose_all()
        with admin.connect() as conn:
            conn.execute(sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"), {"n": name})
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def fresh_postgres(url: str) -> str:
    """Empty every warehouse table of the session database."""
    from reconciliation import pipeline
    from reconciliation.warehouse.db import engine_for
    from reconciliation.warehouse.schema import metadata

    pipeline._optional("reconciliation.quality.table")
    engine = engine_for(url)
    existing = set(sa.inspect(engine).get_table_names())
    if existing >= set(metadata.tables):
        with engine.begin() as conn:
            conn.execute(sa.text("TRUNCATE " + ", ".join(f'"{t}"' for t in metadata.tables)))
    else:
        metadata.drop_all(engine)
        pipeline.forget_warehouse(url)
    return url


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty warehouse on each backend."""
    if request.param == "duckdb":
        url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
        yield url
        from reconciliation.warehouse.db import dispose_all

        dispose_all()
    else:
        yield fresh_postgres(request.getfixturevalue("pg_database"))


@pytest.fixture
def duckdb_url(tmp_path: Path) -> Iterator[str]:
    """A fresh DuckDB warehouse file."""
    yield f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    from reconciliation.warehouse.db import dispose_all

    dispose_all()

"""Shared fixtures: real warehouses (DuckDB file and a throwaway PostgreSQL database), and services.

Tests say which real service they need with a marker — ``postgres``,
``sftp`` (OpenSSH sshd), ``airflow``, ``browser`` (chromium), ``redis`` —
and a test that uses the ``pg_database`` fixture or the PostgreSQL
parameter of a warehouse fixture is marked ``postgres`` by that. Before a
marked test runs, the service is checked once per session; when it is not
there the test is skipped with a one-line reason. Under CI (``CI=true``) a
missing service fails the test instead: a CI run must never go green by
skipping what it was meant to test (docs/decisions.md, "Tests and services").
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import os
import shutil
import socket
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

PG_ADMIN_URL = os.environ.get("RECON_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS_ADDRESS = os.environ.get("RECON_TEST_REDIS", "127.0.0.1:6379")
SSHD = Path(os.environ.get("RECON_TEST_SSHD", "/usr/sbin/sshd"))
#: The collector hash key of the test session (never generated implicitly; see reconciliation/keys.py).
TEST_HASH_KEY = "recon-test-suite-hash-key"


def in_ci() -> bool:
    """Whether this is a CI run, where a missing service is a failure rather than a skip."""
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def _pg_missing() -> str | None:
    shown = sa.engine.make_url(PG_ADMIN_URL).render_as_string(hide_password=True)
    try:
        engine = sa.create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        try:
            with engine.connect():
                pass
        finally:
            engine.dispose()
    except (sa.exc.OperationalError, sa.exc.InterfaceError, OSError) as exc:
        first = str(getattr(exc, "orig", exc)).strip().splitlines()
        return f"PostgreSQL is not reachable at {shown} ({first[0] if first else type(exc).__name__})"
    return None


def _redis_missing() -> str | None:
    host, _, port = REDIS_ADDRESS.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=3) as sock:
            sock.sendall(b"PING\r\n")
            if sock.recv(16).startswith(b"+PONG"):
                return None
    except OSError as exc:
        return f"Redis is not reachable at {REDIS_ADDRESS} ({exc.strerror or exc})"
    return f"no Redis answers PING at {REDIS_ADDRESS}"


def _sshd_missing() -> str | None:
    return None if SSHD.exists() else f"OpenSSH sshd is not installed at {SSHD}"


def _airflow_missing() -> str | None:
    return None if importlib.util.find_spec("airflow") is not None else "Apache Airflow is not installed"


def _chromium_missing() -> str | None:
    found = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    return None if found else "chromium is not installed"


#: marker -> check returning why the service is missing (None: it is there).
SERVICES: dict[str, Callable[[], str | None]] = {
    "postgres": _pg_missing,
    "redis": _redis_missing,
    "sftp": _sshd_missing,
    "airflow": _airflow_missing,
    "browser": _chromium_missing,
}


@functools.cache
def service_missing(marker: str) -> str | None:
    """Why the service behind a marker is unavailable, checked once per session; None when it is there."""
    return SERVICES[marker]()


def require_service(marker: str) -> None:
    """Skip the current test (fail it under CI) when the service behind ``marker`` is missing."""
    reason = service_missing(marker)
    if reason is None:
        return
    if in_ci():
        pytest.fail(f"{reason}; CI=true, so a missing service fails instead of skipping", pytrace=False)
    pytest.skip(reason)


_EXIT_STATUS = pytest.StashKey[int]()


#: Modules that mostly wait on other processes (a whole Airflow deployment, a browser): run first, so
#: that under ``pytest -n`` (``make test``) their worker waits while the others run everything else.
_LONG_WAITS = ("tests/stack/test_night.py", "tests/workbench/test_browser.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark what needs PostgreSQL; put the long waits first (a stable sort keeps the rest in order)."""
    for item in items:
        if "pg_database" in getattr(item, "fixturenames", ()) and item.get_closest_marker("postgres") is None:
            item.add_marker(pytest.mark.postgres)
    items.sort(key=lambda item: not item.nodeid.startswith(_LONG_WAITS))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Check every service the test is marked with before any of its fixtures runs."""
    for marker in SERVICES:
        if item.get_closest_marker(marker) is not None:
            require_service(marker)


@pytest.fixture(autouse=True, scope="session")
def _hash_key() -> Iterator[None]:
    """Every test runs with an explicit collector hash key (the code never makes one up)."""
    old = os.environ.get("RECON_HASH_KEY")
    if old is None:
        os.environ["RECON_HASH_KEY"] = TEST_HASH_KEY
    yield
    if old is None:
        os.environ.pop("RECON_HASH_KEY", None)


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A throwaway PostgreSQL database for the test session, dropped afterwards."""
    with throwaway_pg_database("recon_test") as url:
        yield url


@contextlib.contextmanager
def throwaway_pg_database(prefix: str) -> Iterator[str]:
    """A PostgreSQL database of its own (``<prefix>_<random>``), dropped with its sessions after."""
    require_service("postgres")
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
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
    from reconciliation.quality import table  # noqa: F401  (its table is part of the metadata)
    from reconciliation.warehouse.db import engine_for
    from reconciliation.warehouse.schema import metadata

    engine = engine_for(url)
    existing = set(sa.inspect(engine).get_table_names())
    if existing >= set(metadata.tables):
        with engine.begin() as conn:
            conn.execute(sa.text("TRUNCATE " + ", ".join(f'"{t}"' for t in metadata.tables)))
    else:
        metadata.drop_all(engine)
        pipeline.forget_warehouse(url)
    return url


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
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


@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> Iterator[None]:
    """Remember the session's exit status for the quiet exit below."""
    result = yield
    session.config.stash[_EXIT_STATUS] = int(session.exitstatus)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_unconfigure(config: pytest.Config) -> Iterator[None]:
    """End the test process the way ``recon`` ends, so nobody reads DuckDB's teardown noise.

    duckdb 2.0's bindings print "nanobind: leaked ..." lines when the
    interpreter tears down after Great Expectations was loaded (see the
    decisions on ending the process); once every plugin has finished, the
    streams are flushed and the process ends with the session's status.
    """
    result = yield
    status = config.stash.get(_EXIT_STATUS, None)
    if status is not None and not hasattr(config, "workerinput"):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
    return result

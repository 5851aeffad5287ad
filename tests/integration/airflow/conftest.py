"""Airflow test harness: a throwaway AIRFLOW_HOME with SQLite, set up before Airflow is imported.

Airflow reads its configuration once, at import, so everything here happens
at module import time: pytest imports this conftest before any test module
of this folder imports Airflow. The metadata database is migrated once per
session (``airflow db migrate`` in a subprocess, about 20 s).
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest_sshd import Sshd, sftp_server, sshd  # noqa: F401

REPO = Path(__file__).resolve().parents[3]
HOME = Path(tempfile.mkdtemp(prefix="amcash-airflow-"))
atexit.register(shutil.rmtree, HOME, ignore_errors=True)

AIRFLOW_ENV = {
    "AIRFLOW_HOME": str(HOME),
    "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
    "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{HOME / 'airflow.db'}",
    "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
    "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
    # Deployment settings the DAG reads at parse time: quick retries for tests.
    "AIRFLOW_VAR_AMCASH_RETRY_DELAY_SECONDS": "1",
    "AIRFLOW_VAR_AMCASH_POKE_SECONDS": "1",
    "GX_ANALYTICS_ENABLED": "False",
}
os.environ.update(AIRFLOW_ENV)
if str(REPO / "plugins") not in sys.path:
    sys.path.append(str(REPO / "plugins"))


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """The migrated metadata database of this session."""
    airflow = Path(sys.executable).with_name("airflow")
    done = subprocess.run([str(airflow), "db", "migrate"], env={**os.environ, **AIRFLOW_ENV},
                          capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        pytest.fail(f"airflow db migrate failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return HOME / "airflow.db"


@pytest.fixture(scope="session")
def dagbag(airflow_db: Path) -> Any:
    """The project's DAGs, parsed once."""
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(REPO / "dags"))


def sftp_connection(server: Sshd) -> str:
    """The ``amcash_sftp`` Airflow connection (as the JSON an environment variable holds)."""
    return json.dumps({"conn_type": "sftp", "host": server.host, "port": server.port, "login": server.user,
                       "extra": {"key_file": str(server.user_key), "known_hosts": str(server.known_hosts)}})


def postgres_connection(url: str) -> str:
    """The ``amcash_warehouse`` Airflow connection for a SQLAlchemy PostgreSQL URL."""
    import sqlalchemy as sa

    parsed = sa.engine.make_url(url)
    return json.dumps({"conn_type": "postgres", "host": parsed.host, "port": parsed.port or 5432,
                       "login": parsed.username, "password": parsed.password, "schema": parsed.database})


@pytest.fixture
def airflow_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Set Airflow connections and variables for one test (environment-backed, as in production)."""

    def apply(**values: str) -> None:
        for key, value in values.items():
            monkeypatch.setenv(key, value)

    yield apply

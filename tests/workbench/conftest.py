"""Workbench fixtures: a warehouse reconciled by the real pipeline, Airflow's real auth manager, the app.

The warehouse is made the way production makes it: ``recon generate`` writes
a small night with every break type and ``recon run`` reconciles it (the
third date has no files: a MISSING_INPUT day for the operations page).
Tokens are signed by Airflow's SimpleAuthManager, the same code that signs
the UI's session cookie.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
ENGINE_ONLY = REPO / "tests" / "golden" / "engine-only.yaml"
HOME = Path(tempfile.mkdtemp(prefix="amcash-workbench-"))
#: Airflow users (name: Airflow role); their workbench roles come from the workbench config below.
USERS = {"vic": "viewer", "rita": "user", "alice": "op", "bob": "op", "nora": "viewer"}
ROLES = {"vic": "viewer", "rita": "resolver", "alice": "approver", "bob": "approver"}
THRESHOLD = "40.00"
PASSWORD = "wb-test-pass"

os.environ.setdefault("AIRFLOW_HOME", str(HOME / "airflow"))
os.environ.setdefault("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", f"sqlite:///{HOME / 'airflow.db'}")
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
AUTH_ENV = {
    "AIRFLOW__CORE__AUTH_MANAGER": (
        "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
    ),
    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(f"{u}:{r}" for u, r in USERS.items()),
    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(HOME / "passwords.json"),
    "AIRFLOW__API_AUTH__JWT_SECRET": "workbench-test-secret-" + "0123456789abcdef" * 4,
}
os.environ.update(AUTH_ENV)
(HOME / "passwords.json").write_text(json.dumps({u: PASSWORD for u in USERS}))
if str(REPO / "plugins") not in sys.path:
    sys.path.append(str(REPO / "plugins"))


def workbench_yaml(path: Path, warehouse: str, state_dir: Path) -> Path:
    """A configuration file with the workbench section the tests use."""
    text = ENGINE_ONLY.read_text() + (
        f"warehouse: {warehouse}\nstate_dir: {state_dir}\n"
        f'workbench:\n  four_eyes_dollars: "{THRESHOLD}"\n  roles:\n'
        + "".join(f"    {u}: {r}\n" for u, r in ROLES.items())
    )
    path.write_text(text)
    return path


def seed(workdir: Path, url: str) -> None:
    """Generate and reconcile a small night (two sponsors, every break type), plus a missing day."""
    from reconciliation.cli import main

    inbox = workdir / "inbox"
    os.environ["RECON_HASH_KEY"] = "workbench-test-key"
    assert (
        main(["generate", "--out", str(inbox), "--sponsors", "ABCD,EFGH", "--days", "2", "--records", "300"])
        == 0
    )
    for day in ("2026-11-20", "2026-11-21"):
        assert (
            main(
                [
                    "run",
                    "--date",
                    day,
                    "--inbox",
                    str(inbox),
                    "--warehouse",
                    url,
                    "--config",
                    str(ENGINE_ONLY),
                ]
            )
            == 0
        )
    assert (
        main(
            [
                "run",
                "--date",
                "2026-11-22",
                "--sponsor",
                "ABCD",
                "--inbox",
                str(inbox),
                "--warehouse",
                url,
                "--config",
                str(ENGINE_ONLY),
            ]
        )
        == 3
    )
    from reconciliation.warehouse.db import dispose_all

    dispose_all()  # the DuckDB file must not stay open in this process


@pytest.fixture(scope="session")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DuckDB warehouse file reconciled once per session; tests copy it."""
    workdir = tmp_path_factory.mktemp("seed")
    url = f"duckdb:///{workdir / 'warehouse.duckdb'}"
    seed(workdir, url)
    return workdir / "warehouse.duckdb"


@pytest.fixture
def warehouse(seeded: Path, tmp_path: Path) -> str:
    """A fresh copy of the seeded warehouse for one test."""
    target = tmp_path / "warehouse.duckdb"
    shutil.copy(seeded, target)
    return f"duckdb:///{target}"


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """Airflow's metadata database, migrated (the auth manager checks revoked tokens there)."""
    import subprocess

    airflow = Path(sys.executable).with_name("airflow")
    done = subprocess.run(
        [str(airflow), "db", "migrate"], env=dict(os.environ), capture_output=True, text=True, timeout=600
    )
    if done.returncode != 0:
        pytest.fail(f"airflow db migrate failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")


@pytest.fixture(scope="session")
def auth_manager(airflow_db: None) -> Any:
    """Airflow's SimpleAuthManager, initialised as the API server does."""
    from airflow.api_fastapi.app import init_auth_manager

    return init_auth_manager()


@pytest.fixture(scope="session")
def token(auth_manager: Any) -> Callable[[str], str]:
    """A real JWT for a user, as Airflow's login would set in the ``_token`` cookie."""
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    def make(name: str) -> str:
        return str(auth_manager.generate_jwt(SimpleAuthManagerUser(username=name, role=USERS[name])))

    return make


@pytest.fixture
def bench(warehouse: str, tmp_path: Path) -> Any:
    """The workbench over the test's warehouse with the test roles."""
    from reconciliation.workbench import config as wconfig
    from reconciliation.workbench.core import Workbench

    settings, cfg = wconfig.load(workbench_yaml(tmp_path / "recon.yaml", warehouse, tmp_path / "state"))
    return Workbench(settings, cfg)


@pytest.fixture
def client(bench: Any, auth_manager: Any) -> Iterator[Any]:
    """The workbench app (as the plugin mounts it) under FastAPI's TestClient."""
    from amcash_plugin.workbench.app import create_app
    from fastapi.testclient import TestClient

    with TestClient(create_app(bench), base_url="http://airflow.test") as test_client:
        yield test_client

"""The stack harness and docker-compose.yaml configure Airflow with the same settings (no services needed)."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tests.stack.harness import ENV_FILE, FAST, REPO, Stack, read_env_file

#: What only this machine needs on top of compose: where things are, ports, the test clock.
MACHINE_ONLY = {"AIRFLOW_HOME", "AIRFLOW__CORE__DAGS_FOLDER", "AIRFLOW__CORE__PLUGINS_FOLDER",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE", "AIRFLOW__API__BASE_URL",
                "AIRFLOW__API__HOST", "AIRFLOW__API__PORT", "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT",
                *FAST}


def compose_airflow() -> dict[str, object]:
    return dict(yaml.safe_load((REPO / "docker-compose.yaml").read_text())["x-airflow-common"])


def harness_environment(tmp_path: Path) -> dict[str, str]:
    stack = Stack(root=tmp_path, port=18080, redis_db=11, sftp={
        "host": "127.0.0.1", "port": 2222, "user": "u", "key": "k", "known_hosts": "h", "inbox": "i",
        "outbox": "o"})
    (tmp_path / "secrets.json").write_text(json.dumps({"fernet": "f", "jwt": "j", "api": "a",
                                                       "ports": {"triggerer": 1}}))
    (tmp_path / "hash.key").write_text("00" * 32)
    return stack.environment()


def test_compose_reads_the_shared_settings_file() -> None:
    assert REPO / compose_airflow()["env_file"] == ENV_FILE  # type: ignore[operator]
    shared = read_env_file()
    assert shared["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert not set(shared) & set(compose_airflow()["environment"])  # type: ignore[arg-type]


def test_the_harness_sets_every_setting_compose_sets_and_no_other(tmp_path: Path) -> None:
    env = harness_environment(tmp_path)
    compose = set(compose_airflow()["environment"]) | set(read_env_file())  # type: ignore[arg-type]
    ours = {k for k in env if k.startswith(("AIRFLOW", "RECON_", "GX_"))}
    assert sorted(compose - ours) == []
    assert sorted(ours - compose - MACHINE_ONLY) == []

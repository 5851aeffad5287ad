"""docker-compose.yaml is consistent with the repository (issue 3).

Docker cannot run here, so this is what can be checked without it: every
file and folder the compose file and the Dockerfile refer to exists (or, for
secrets made at deploy time, lives under the git-ignored ``var/`` and is
documented), every variable is declared in ``.env.example`` with no secret
value filled in, and the services and connections the DAG needs are there.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}")
SECRET_NAMES = ("PASSWORD", "SECRET", "FERNET", "HASH_KEY", "JWT", "TOKEN")


def env_example() -> dict[str, str]:
    values = {}
    for line in (REPO / ".env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose-style ``${VAR}`` / ``${VAR:-default}`` substitution (empty values become ``x``)."""
    return VARIABLE.sub(lambda m: env.get(m.group(1)) or m.group(2) or "x", text)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return dict(yaml.safe_load((REPO / "docker-compose.yaml").read_text()))


@pytest.fixture(scope="module")
def resolved() -> dict[str, Any]:
    return dict(yaml.safe_load(interpolate((REPO / "docker-compose.yaml").read_text(), env_example())))


def test_every_variable_is_declared_in_env_example() -> None:
    used = {m.group(1) for m in VARIABLE.finditer((REPO / "docker-compose.yaml").read_text())}
    declared = env_example()
    assert sorted(used - set(declared)) == []
    assert sorted(set(declared) - used) == []


def test_env_example_holds_no_secret() -> None:
    for key, value in env_example().items():
        if any(word in key for word in SECRET_NAMES) and not key.endswith("_DIR"):
            assert value == "", f"{key} must be left empty in .env.example"


def test_services_of_a_production_deployment(compose: dict[str, Any]) -> None:
    services = compose["services"]
    commands = {name: str(svc.get("command")) for name, svc in services.items()}
    for role in ("api-server", "scheduler", "dag-processor", "triggerer", "celery worker"):
        assert role in commands.values(), role
    images = {name: svc.get("image", "") for name, svc in services.items()}
    assert images["postgres"].startswith("postgres:") and images["redis"].startswith("redis:")
    assert "sftp" in images["sftp"]
    for image in images.values():
        assert "." not in image.split("/")[0].split(":")[0], f"{image} names a registry host"


def test_airflow_services_build_this_repository(resolved: dict[str, Any]) -> None:
    for name, svc in resolved["services"].items():
        if name.startswith("airflow-"):
            build = svc["build"]
            assert (REPO / build["context"]).resolve() == REPO
            assert (REPO / build["dockerfile"]).is_file()


def _mount_sources(resolved: dict[str, Any]) -> list[str]:
    sources = []
    for svc in resolved["services"].values():
        for volume in svc.get("volumes", []):
            source = volume.split(":", 1)[0] if isinstance(volume, str) else volume.get("source", "")
            if source.startswith((".", "/")):
                sources.append(source)
    sources += [s["file"] for s in resolved.get("secrets", {}).values()]
    return sources


def test_every_mounted_path_exists_or_is_a_documented_deploy_time_secret(resolved: dict[str, Any]) -> None:
    playbook = (REPO / "docs" / "operations.md").read_text()
    for source in _mount_sources(resolved):
        path = (REPO / source).resolve()
        if path.is_relative_to(REPO / "var"):  # git-ignored: made by the operator, never committed
            assert path.name in playbook, f"{source} is not documented in docs/operations.md"
        else:
            assert path.exists(), f"{source} does not exist"


def test_dockerfile_copies_existing_paths_and_pins_airflow() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    for line in dockerfile.splitlines():
        if line.startswith("COPY"):
            parts = [p for p in line.split()[1:] if not p.startswith("--")]
            for source in parts[:-1]:
                assert (REPO / source).exists(), f"Dockerfile copies missing {source}"
    pinned = re.search(r"^apache-airflow==([\d.]+)$", (REPO / "requirements.txt").read_text(), re.M)
    assert pinned and f"ARG AIRFLOW_VERSION={pinned.group(1)}" in dockerfile


def test_connections_and_variables_the_dag_reads(resolved: dict[str, Any]) -> None:
    env = resolved["x-airflow-common"]["environment"]
    sftp = json.loads(env["AIRFLOW_CONN_AMCASH_SFTP"])
    warehouse = json.loads(env["AIRFLOW_CONN_AMCASH_WAREHOUSE"])
    assert sftp["conn_type"] == "sftp" and {"key_file", "known_hosts"} <= set(sftp["extra"])
    assert "no_host_key_check" not in sftp["extra"]
    assert warehouse["conn_type"] == "postgres"
    config = env["AIRFLOW_VAR_AMCASH_CONFIG"]
    assert config.startswith("/opt/amcash/config/")
    assert (REPO / "config" / Path(config).name).is_file()
    secrets_in_container = {f"/run/secrets/{name}" for name in resolved["secrets"]}
    assert {sftp["extra"]["key_file"], sftp["extra"]["known_hosts"]} <= secrets_in_container

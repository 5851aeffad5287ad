"""Tests that need a service skip cleanly without it, and fail instead under CI (issue 10).

PostgreSQL is pointed at a closed port and a PostgreSQL-backed test is run
in a separate pytest process, as a developer without the server would.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import conftest
from tests.conftest import SERVICES

REPO = Path(__file__).resolve().parents[2]
CLOSED_PG = "postgresql+psycopg://postgres@127.0.0.1:1/postgres"
NODE = "tests/integration/test_runs.py::test_rerun_writes_a_new_version_and_keeps_one_current[postgres]"


def _pytest(**env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k != "CI"}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider", NODE]
    return subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=300,
                          env={**base, "RECON_TEST_PG": CLOSED_PG, **env})


def test_a_postgres_test_skips_with_one_line_when_the_server_is_down() -> None:
    done = _pytest()
    assert done.returncode == 0, done.stdout + done.stderr
    skipped = [line for line in done.stdout.splitlines() if line.startswith("SKIPPED")]
    assert len(skipped) == 1, done.stdout
    assert "PostgreSQL is not reachable at postgresql+psycopg://postgres@127.0.0.1:1/postgres" in skipped[0]
    assert "1 skipped" in done.stdout


def test_under_ci_a_missing_service_fails_instead() -> None:
    done = _pytest(CI="true")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "CI=true, so a missing service fails instead of skipping" in done.stdout
    assert "1 error" in done.stdout and "skipped" not in done.stdout


def test_every_marker_declared_in_pyproject_has_a_check(pytestconfig: pytest.Config) -> None:
    declared = {line.split(":")[0] for line in pytestconfig.getini("markers")}
    assert set(SERVICES) <= declared


def test_redis_at_a_closed_port_is_reported_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conftest, "REDIS_ADDRESS", "127.0.0.1:1")
    reason = SERVICES["redis"]()
    assert reason is not None and reason.startswith("Redis is not reachable at 127.0.0.1:1")
    assert "\n" not in reason

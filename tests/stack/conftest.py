"""The ``stack`` marker and the one stack the module's tests share (it takes about a minute to start)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest_sshd import free_port
from tests.stack.harness import USER, Stack, services_missing

#: Redis database of the stack tests (``make stack`` uses 12); ``AMCASH_STACK_REDIS_DB`` moves it, so two
#: checkouts on one machine can run their stacks at once without sharing a broker.
REDIS_DB = int(os.environ.get("AMCASH_STACK_REDIS_DB", "11"))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "stack: starts the real Airflow components (PostgreSQL, Redis, sshd)")


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    """api-server, scheduler, dag-processor, triggerer and two Celery workers, up for the session."""
    problem = services_missing()
    if problem:
        pytest.skip(problem)
    root = Path(tempfile.mkdtemp(prefix="amcash-stack-"))
    keep = os.environ.get("AMCASH_STACK_KEEP") == "1"  # keep the logs for a post-mortem
    running = Stack(root=root, port=free_port(), redis_db=REDIS_DB, keep_root=keep).start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def api(stack: Stack) -> Any:
    """An API client with the admin's token; the DAG unpaused through it."""
    from tests.stack.api import AirflowApi

    client = AirflowApi(stack.base_url, USER, stack.password)
    client.unpause()  # DAGs start paused (compose's setting too): the operator's first click
    return client

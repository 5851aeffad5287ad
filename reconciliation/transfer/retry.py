"""Retrying a transfer step: a dropped connection or an unreachable server is worth another try.

``SourceError`` is the transient kind (``HostKeyError`` and ``AuthError`` are
not, and pass through at once): the step is run again on a new connection
after 1, 2, 4 ... times ``backoff`` seconds.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TypeVar

from reconciliation.errors import SourceError
from reconciliation.transfer.session import Session

log = logging.getLogger(__name__)
T = TypeVar("T")
#: Opens one SFTP session; each attempt of a step opens its own.
Connector = Callable[[], AbstractContextManager[Session]]


def retrying(action: Callable[[], T], *, attempts: int, backoff: float, what: str) -> T:
    """Run ``action``, retrying ``SourceError`` with exponential backoff (1, 2, 4 ... x ``backoff`` s)."""
    for attempt in range(1, max(1, attempts) + 1):
        try:
            return action()
        except SourceError as exc:
            if attempt >= attempts:
                raise
            delay = backoff * 2 ** (attempt - 1)
            log.warning("%s failed (attempt %d of %d): %s; retrying in %.1f s", what, attempt, attempts,
                        exc, delay)
            time.sleep(delay)
    raise AssertionError("unreachable")


def upload_file(connector: Connector, local: Path, remote_dir: str, *, name: str | None = None,
                attempts: int = 3, backoff: float = 2.0) -> str:
    """Upload a file atomically (temporary name, then rename), retrying transient failures."""

    def attempt() -> str:
        with connector() as session:
            return session.upload(local, remote_dir, name)

    return retrying(attempt, attempts=attempts, backoff=backoff, what=f"uploading {local.name}")

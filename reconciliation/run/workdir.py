"""A run's scratch directory: where parsed records are spilled, removed when the run ends.

A run parses each file into Parquet under ``<state_dir>/work/<host>_<pid>_<token>``
instead of holding whole days in memory. The directory goes when the run
ends, whether it succeeded or failed. A process killed outright (``kill
-9``, the out-of-memory killer) cannot clean up after itself, so every run
first removes the directories of this host's processes that no longer
exist: a killed run's files live until the next run on the same host and
state directory. Another host's directories are never touched (its
processes cannot be seen from here, and a shared state directory is
normal for Celery workers).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import socket
import uuid
from pathlib import Path
from types import TracebackType

log = logging.getLogger(__name__)

#: The folder of ``state_dir`` that holds the runs' scratch directories.
WORK = "work"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def _owner(path: Path) -> tuple[str, int] | None:
    """The host and process id a scratch directory's name gives, or None for another name."""
    parts = path.name.rsplit("_", 2)
    if len(parts) != 3 or not parts[1].isdigit():
        return None
    return parts[0], int(parts[1])


def sweep(root: Path) -> list[Path]:
    """Remove scratch directories left by this host's processes that have ended; returns them."""
    removed: list[Path] = []
    if not root.is_dir():
        return removed
    host = socket.gethostname()
    for path in root.iterdir():
        owner = _owner(path)
        if owner is None or owner[0] != host or owner[1] == os.getpid() or _alive(owner[1]):
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
        log.info("removed %s, left by a run that ended without cleaning up", path)
    return removed


class WorkDir:
    """A scratch directory for one run, removed on exit (success or failure)."""

    def __init__(self, state_dir: Path) -> None:
        self.root = Path(state_dir) / WORK
        self.path = self.root / f"{socket.gethostname()}_{os.getpid()}_{uuid.uuid4().hex[:12]}"
        self._made_state_dir = False

    def file(self, name: str) -> Path:
        """A path for a file inside the directory."""
        return self.path / name

    def __enter__(self) -> WorkDir:
        sweep(self.root)
        self._made_state_dir = not self.root.parent.exists()
        self.path.mkdir(parents=True, exist_ok=False)
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
        with contextlib.suppress(OSError):  # the last run out turns off the light
            self.root.rmdir()
            if self._made_state_dir:  # and leaves no empty state directory it made behind
                self.root.parent.rmdir()


__all__ = ["WORK", "WorkDir", "sweep"]

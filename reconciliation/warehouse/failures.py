"""Database failures as one sentence that says what to do.

SQLAlchemy's text for a failed statement spans lines: the driver's message,
``[SQL: ...]``, ``[parameters: ...]`` and a "Background on this error" link.
None of that may reach an operator's terminal or ``recon_run.error``. Every
warehouse operation that can fail for a reason outside the program (a lost
connection, a full disk, a read-only directory, another process holding a
DuckDB file, a path that cannot be a file) goes through ``database_errors``,
which logs the original and raises a ``WarehouseError`` whose text is one
sentence naming the warehouse (password masked) and the remedy.

The translation reads the driver's own exception classes and messages,
DuckDB's and psycopg's, because SQLAlchemy wraps both as the same
``OperationalError``.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

from reconciliation.errors import ReconError, WarehouseError

log = logging.getLogger(__name__)

#: Longest driver text quoted in a sentence (the rest is in the log).
QUOTE_LIMIT = 160

_LOST = ("terminating connection", "server closed the connection", "connection is closed",
         "connection is lost", "consuming input failed", "connection already closed",
         "ssl connection has been closed", "the connection is closed", "connection reset")
_UNREACHABLE = ("connection refused", "could not connect", "connection failed", "timeout expired",
                "could not translate host name", "no route to host", "connection to server",
                "password authentication failed", "name or service not known")
_READ_ONLY = ("read-only", "read only", "permission denied", "operation not permitted")
_FULL = ("no space left on device", "disk full", "could not extend file", "quota exceeded")


def shown(url: str | URL) -> str:
    """A warehouse URL fit for a message: the password, if any, masked."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "<not a SQLAlchemy URL>"


def _driver_text(exc: BaseException) -> str:
    """The driver's own first line, without SQLAlchemy's statement and parameters."""
    inner = getattr(exc, "orig", None) or exc
    text = str(inner).strip()
    line = text.splitlines()[0].strip() if text else type(inner).__name__
    line = line.split("[SQL:")[0].strip().rstrip(".")
    return line if len(line) <= QUOTE_LIMIT else line[:QUOTE_LIMIT - 1] + "…"


def _duckdb_path(url: str | URL) -> Path | None:
    try:
        parsed = make_url(url)
    except sa.exc.ArgumentError:
        return None
    if not parsed.drivername.startswith("duckdb") or parsed.database in (None, "", ":memory:"):
        return None
    return Path(str(parsed.database)).expanduser()


def _blocking_file(path: Path) -> Path | None:
    """The nearest ancestor of ``path`` that exists and is not a directory, if any."""
    for parent in path.parents:
        if parent.exists():
            return None if parent.is_dir() else parent
    return None


def explain(exc: BaseException, url: str | URL, doing: str) -> str:
    """One sentence for a failure of the warehouse at ``url`` while ``doing`` something.

    Args:
        exc: The exception raised by SQLAlchemy, the driver or the file system.
        url: The warehouse URL (its password is never shown).
        doing: What was going on, e.g. "writing the run of ABCD 2026-11-20".
    """
    where = shown(url)
    text = str(getattr(exc, "orig", None) or exc)
    low = text.lower()
    path = _duckdb_path(url)
    if path is not None:
        blocking = _blocking_file(path)
        if blocking is not None or isinstance(exc, (NotADirectoryError, FileExistsError)) \
                or "not a directory" in low:
            return (f"the warehouse file {path} cannot be created because "
                    f"{blocking or 'a part of its path'} is a file, not a directory; "
                    f"choose a --warehouse path inside a directory")
        if "is a directory" in low or isinstance(exc, IsADirectoryError):
            return (f"the warehouse {where} cannot be opened because a directory stands where its "
                    f"file (or its .wal journal) should be; remove it or choose another --warehouse path")
        if "could not set lock" in low or "conflicting lock" in low:
            return (f"another process has the warehouse {where} open (DuckDB allows one writing process "
                    f"per file), so nothing was done while {doing}; run again once it has finished")
    if any(s in low for s in _FULL) or getattr(exc, "errno", None) == errno.ENOSPC:
        return (f"the disk holding the warehouse {where} is full, so {doing} failed and its unfinished "
                f"work was rolled back; free space there and run again")
    if any(s in low for s in _READ_ONLY) or getattr(exc, "errno", None) in (errno.EROFS, errno.EACCES,
                                                                            errno.EPERM):
        return (f"the warehouse {where} cannot be written (its file or directory is read-only), so "
                f"{doing} failed and its unfinished work was rolled back; give this user write access "
                f"there and run again")
    invalidated = isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated
    if invalidated or any(s in low for s in _LOST):
        return (f"the connection to the warehouse {where} was lost while {doing}, and its unfinished "
                f"work was rolled back; check that the database server is up and run again")
    if any(s in low for s in _UNREACHABLE):
        return (f"cannot reach the warehouse {where} ({_driver_text(exc)}); check that the database "
                f"server is running and the URL is right, then run again")
    return (f"the warehouse {where} failed while {doing} ({_driver_text(exc)}); its unfinished work "
            f"was rolled back, the details are in the recon log: fix the cause and run again")


def cause(exc: BaseException, url: str | URL) -> str:
    """The reason of a warehouse failure in a few words, to name a second failure after the first."""
    low = str(getattr(exc, "orig", None) or exc).lower()
    if any(s in low for s in _FULL) or getattr(exc, "errno", None) == errno.ENOSPC:
        return "its disk is full"
    if any(s in low for s in _READ_ONLY):
        return "it is read-only"
    if "could not set lock" in low or "conflicting lock" in low:
        return "another process has it open"
    if (isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated) or any(s in low for s in _LOST):
        return "the connection was lost"
    if any(s in low for s in _UNREACHABLE):
        return "it cannot be reached"
    return _driver_text(exc)


def one_line(exc: BaseException) -> str:
    """The first line of an exception's text (or its class name when it has none)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def briefly(exc: BaseException, url: str | URL, doing: str) -> str:
    """A failure on one line: a database's as its sentence (never its SQL), any other's first line."""
    if is_database_failure(exc) and not isinstance(exc, OSError):
        return explain(exc, url, doing)
    return one_line(exc)


def is_database_failure(exc: BaseException) -> bool:
    """Whether ``exc`` is a failure of the warehouse rather than of the program."""
    if isinstance(exc, (sa.exc.DBAPIError, sa.exc.OperationalError, OSError)):
        return True
    module = type(exc).__module__ or ""
    return module.split(".")[0] in ("duckdb", "_duckdb", "psycopg")


@contextmanager
def database_errors(url: str | URL, doing: str) -> Iterator[None]:
    """Turn database and file-system failures inside the block into a one-sentence ``WarehouseError``.

    Our own errors (``ReconError``) and program errors pass unchanged; the
    original failure goes to the log with its traceback.
    """
    try:
        yield
    except ReconError:
        raise
    except Exception as exc:
        if not is_database_failure(exc):
            raise
        log.error("warehouse %s failed while %s", shown(url), doing, exc_info=True)
        raise WarehouseError(explain(exc, url, doing)) from exc


__all__ = ["briefly", "cause", "database_errors", "explain", "is_database_failure", "one_line", "shown"]

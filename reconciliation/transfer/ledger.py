"""What content has been received, and the audit archive of every file taken.

Partners re-deliver: the same file dropped again under another name, or
yesterday's file renamed to today's. Reconciling it a second time would
double-count money, so every accepted file's SHA-256 is recorded here, and a
later file with the same bytes under a *different* name is reported as a
duplicate and not used. Fetching the same name again (a re-run, a retried
task) is not a duplicate: the file is the same delivery.

The ledger is a small SQLite file in the state directory, serialised with
``BEGIN IMMEDIATE`` so that parallel download tasks on one host (or hosts
sharing the state volume) never both accept the same content.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from reconciliation.errors import SourceError

#: sha256 of zero bytes: empty files are never duplicates of each other (they are rejected anyway).
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS delivery (
    sha256        TEXT NOT NULL,
    name          TEXT NOT NULL,
    size          INTEGER NOT NULL,
    sponsor_code  TEXT,
    business_date TEXT,
    side          TEXT,
    duplicate_of  TEXT,
    first_seen    TEXT NOT NULL,
    last_seen     TEXT NOT NULL,
    times_seen    INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (sha256, name)
)
"""


@dataclass(frozen=True)
class Delivery:
    """One received file, as the ledger knows it."""

    sha256: str
    name: str
    size: int
    sponsor_code: str | None
    business_date: str | None
    side: str | None
    duplicate_of: str | None
    first_seen: str
    times_seen: int


class Ledger:
    """Content hashes of received files (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with closing(sqlite3.connect(self.path, timeout=60, isolation_level=None)) as db:
                db.execute("BEGIN IMMEDIATE")
                try:
                    db.execute(_SCHEMA)
                    yield db
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
                db.execute("COMMIT")
        except sqlite3.OperationalError as exc:  # locked too long, disk trouble: worth a retry
            raise SourceError(f"delivery ledger {self.path} could not be updated: {exc}") from exc

    def claim(self, sha256: str, name: str, size: int, *, sponsor: str | None = None,
              business_date: date | None = None, side: str | None = None) -> str | None:
        """Record a received file; returns the earlier name when the content was already taken.

        Returns:
            None when the file may be used (new content, or the same name again);
            otherwise the name under which the same bytes were first accepted.
        """
        now = datetime.now(UTC).isoformat(timespec="seconds")
        day = business_date.isoformat() if business_date else None
        with self._tx() as db:
            first = None
            if sha256 != EMPTY_SHA256:
                row = db.execute("SELECT name FROM delivery WHERE sha256 = ? AND duplicate_of IS NULL "
                                 "ORDER BY first_seen, name LIMIT 1", (sha256,)).fetchone()
                first = row[0] if row and row[0] != name else None
            updated = db.execute("UPDATE delivery SET last_seen = ?, times_seen = times_seen + 1, "
                                 "duplicate_of = ? WHERE sha256 = ? AND name = ?",
                                 (now, first, sha256, name)).rowcount
            if not updated:
                db.execute("INSERT INTO delivery (sha256, name, size, sponsor_code, business_date, side, "
                           "duplicate_of, first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           (sha256, name, size, sponsor, day, side, first, now, now))
        return first

    def deliveries(self, sha256: str | None = None) -> list[Delivery]:
        """Every ledger row (or those of one content), oldest first."""
        if not self.path.exists():
            return []
        with closing(sqlite3.connect(self.path, timeout=60)) as db:
            db.execute(_SCHEMA)
            query = ("SELECT sha256, name, size, sponsor_code, business_date, side, duplicate_of, "
                     "first_seen, times_seen FROM delivery")
            args: tuple[str, ...] = ()
            if sha256:
                query, args = query + " WHERE sha256 = ?", (sha256,)
            rows = db.execute(query + " ORDER BY first_seen, name", args).fetchall()
        return [Delivery(*row) for row in rows]


def archive(path: Path, sha256: str, archive_dir: Path, sponsor: str, business_date: date) -> Path:
    """Keep an audit copy under ``archive_dir/<sponsor>/<date>/``; returns where it is.

    A file of the same name already archived with the same content is kept as
    it is; one with different content (the partner overwrote a file in place)
    is not overwritten: the new copy gets the first 12 hex digits of its hash
    appended, so every version ever taken stays on record.
    """
    folder = archive_dir / sponsor / business_date.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / path.name
    if target.exists():
        if _sha256(target) == sha256:
            return target
        target = folder / f"{path.name}.{sha256[:12]}"
        if target.exists():
            return target
    temp = folder / f".{target.name}.part-{os.getpid()}"
    try:
        shutil.copyfile(path, temp)
        os.replace(temp, target)
    finally:
        with suppress(FileNotFoundError):
            temp.unlink()
    return target


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()

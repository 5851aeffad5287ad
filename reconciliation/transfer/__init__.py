"""Fetch a sponsor-day's input files over SFTP, and upload the partner's result file.

The reconciliation itself only ever reads a local directory (``run_day``'s
inbox); this package is what fills it from the partners' SFTP servers, for
both the nightly DAG and ``recon run`` without ``--inbox``. What it promises:

- only names that are exactly an expected input file name are downloaded
  (``reconciliation.inbox.remote_name_ok``); anything else is refused and
  reported, so a crafted name can never write outside the inbox;
- a file appears in the inbox only whole: downloaded under a temporary name,
  size-checked, then renamed; a dropped connection is retried on a new
  connection with exponential backoff and leaves no partial file;
- every accepted file is archived for audit with its size and SHA-256, and
  content already accepted under another name is a duplicate, not used again
  (``ledger``);
- for each side the highest sequence is taken (a resubmission supersedes),
  skipping duplicates; local files of that sponsor-day that are no longer the
  chosen ones are removed, so the inbox mirrors what the server holds now.

Errors: ``SourceError`` is transient (retry later), ``HostKeyError`` and
``AuthError`` are not (someone must act), and a missing file is not an error
here: the result says which sides are missing and ``run_day`` records
``MISSING_INPUT``.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, suppress
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

from reconciliation.config import Settings, SftpSource
from reconciliation.errors import SourceError
from reconciliation.transfer.ledger import Ledger, archive
from reconciliation.transfer.session import (
    PART_SUFFIX,
    AuthError,
    Endpoint,
    HostKeyError,
    RemoteFile,
    Session,
    connect,
    endpoint_from_source,
    fingerprint,
    safe_name,
)

__all__ = [
    "AuthError", "Endpoint", "FetchResult", "FetchedFile", "HostKeyError", "Ledger", "Session", "connect",
    "endpoint_from_source", "fetch_day", "fetch_sponsor_day", "fingerprint", "ledger_for", "missing_sides",
    "remote_inputs", "upload_file",
]

log = logging.getLogger(__name__)
T = TypeVar("T")
Connector = Callable[[], AbstractContextManager[Session]]
SIDES = ("PARTNER", "PLATFORM")


@dataclass(frozen=True)
class Candidate:
    """A remote file that is an input of some sponsor-day."""

    file: RemoteFile
    side: str
    sponsor: str
    business_date: date
    sequence: int
    profile: str


@dataclass
class FetchedFile:
    """A file placed in the inbox (JSON-able through ``asdict``)."""

    side: str
    name: str
    path: str
    size: int
    sha256: str
    sequence: int
    profile: str
    archived: str


@dataclass
class FetchResult:
    """What ``fetch_sponsor_day`` placed in the inbox, and what it did not take."""

    sponsor: str
    business_date: date
    inbox: Path
    files: list[FetchedFile] = field(default_factory=list)
    duplicates: list[dict[str, str]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    @property
    def missing(self) -> list[str]:
        """Sides with no usable file."""
        have = {f.side for f in self.files}
        return [side for side in SIDES if side not in have]

    def as_dict(self) -> dict[str, Any]:
        """A JSON-able form (for an XCom)."""
        return {"sponsor": self.sponsor, "business_date": self.business_date.isoformat(),
                "inbox": str(self.inbox), "files": [asdict(f) for f in self.files],
                "duplicates": self.duplicates, "refused": self.refused, "missing": self.missing}


def ledger_for(settings: Settings) -> Ledger:
    """The delivery ledger of a state directory."""
    return Ledger(settings.state_dir / "transfer" / "deliveries.sqlite3")


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


def remote_inputs(session: Session, remote_dir: str, settings: Settings,
                  business_date: date | None = None) -> tuple[list[Candidate], list[str]]:
    """Input files in a remote directory (of one business date, if given), and refused names.

    A name is refused when it is not exactly an expected input file name, or
    when it is one but is not a regular file (a link or directory could point
    anywhere). Hidden files (a partner's upload in progress) are ignored.
    """
    from reconciliation.inbox import classify, remote_name_ok

    found: list[Candidate] = []
    refused: list[str] = []
    for entry in session.listdir(remote_dir):
        if entry.name.startswith("."):
            continue
        if not safe_name(entry.name) or not remote_name_ok(entry.name, settings) or not entry.regular:
            refused.append(entry.name)
            continue
        kind = classify(entry.name, settings)
        if kind is None:  # a valid name, but another profile than its sponsor's configured one
            refused.append(entry.name)
            continue
        side, sponsor, day, sequence, profile = kind
        if business_date is None or day == business_date:
            found.append(Candidate(entry, side, sponsor, day, sequence, profile))
    if refused:
        log.info("%d remote name(s) in %s are not input files and are left alone: %s", len(refused),
                 remote_dir, ", ".join(repr(n) for n in refused[:20]))
    return found, refused


def missing_sides(session: Session, remote_dir: str, settings: Settings, sponsor: str,
                  business_date: date) -> list[str]:
    """Sides of a sponsor-day with no file on the server yet (what a sensor waits for)."""
    found, _ = remote_inputs(session, remote_dir, settings, business_date)
    have = {c.side for c in found if c.sponsor == sponsor}
    return [side for side in SIDES if side not in have]


def fetch_sponsor_day(connector: Connector, settings: Settings, sponsor: str, business_date: date,
                      dest: Path, *, remote_dir: str, attempts: int = 3, backoff: float = 2.0,
                      ledger: Ledger | None = None,
                      progress: Callable[[str, int], None] | None = None) -> FetchResult:
    """Download one sponsor-day's files into ``dest`` (see the package docstring).

    Raises:
        SourceError: the server stayed unreachable, or a transfer kept failing, for every attempt.
        HostKeyError, AuthError: the server cannot be trusted or refused the login.
    """
    ledger = ledger or ledger_for(settings)
    result = FetchResult(sponsor, business_date, Path(dest))
    placed: dict[str, FetchedFile] = {}  # side -> file, kept across attempts
    duplicates: dict[str, str] = {}  # name -> earlier name with the same bytes

    def attempt() -> None:
        with connector() as session:
            found, result.refused = remote_inputs(session, remote_dir, settings, business_date)
            for side in SIDES:
                if side in placed:
                    continue
                mine = [c for c in found if c.sponsor == sponsor and c.side == side]
                for cand in sorted(mine, key=lambda c: c.sequence, reverse=True):
                    if cand.file.name in duplicates:
                        continue
                    taken = _take(session, cand, remote_dir, result.inbox, settings, ledger, progress)
                    if isinstance(taken, FetchedFile):
                        placed[side] = taken
                        break
                    duplicates[cand.file.name] = taken

    retrying(attempt, attempts=attempts, backoff=backoff,
             what=f"fetching {sponsor} {business_date} from {remote_dir}")
    result.files = [placed[s] for s in SIDES if s in placed]
    result.duplicates = [{"name": n, "same_as": first} for n, first in sorted(duplicates.items())]
    _prune(result.inbox, settings, sponsor, business_date, {f.name for f in result.files})
    lookalikes = [n for n in result.refused if sponsor in n and business_date.strftime("%Y%m%d") in n]
    if lookalikes:
        log.warning("refused %s: not exactly an expected input file name (or not a regular file)",
                    ", ".join(repr(n) for n in lookalikes))
    for dup in result.duplicates:
        log.warning("%s has the same content as %s, which was already received: not processed again",
                    dup["name"], dup["same_as"])
    return result


def _take(session: Session, cand: Candidate, remote_dir: str, dest: Path, settings: Settings,
          ledger: Ledger, progress: Callable[[str, int], None] | None) -> FetchedFile | str:
    """Download, hash, check the ledger, then rename into place and archive; or name the original."""
    got = session.download(remote_dir, cand.file.name, dest, progress)
    try:
        first = ledger.claim(got.sha256, got.name, got.size, sponsor=cand.sponsor,
                             business_date=cand.business_date, side=cand.side)
        if first is not None:
            return first
        final = dest / got.name
        os.replace(got.temp, final)
    finally:
        with suppress(FileNotFoundError):
            got.temp.unlink()
    kept = archive(final, got.sha256, settings.archive_dir, cand.sponsor, cand.business_date)
    log.info("received %s: %d bytes, sha256 %s, archived as %s", got.name, got.size, got.sha256, kept)
    return FetchedFile(cand.side, got.name, str(final), got.size, got.sha256, cand.sequence, cand.profile,
                       str(kept))


def _prune(dest: Path, settings: Settings, sponsor: str, business_date: date, keep: set[str]) -> None:
    """Remove this sponsor-day's other input files (and stale partial files) from the inbox."""
    from reconciliation.inbox import classify

    if not dest.is_dir():
        return
    for entry in dest.iterdir():
        name = entry.name
        if name.startswith(".") and PART_SUFFIX in name:
            base = name[1:name.index(PART_SUFFIX)]
            kind = classify(base, settings)
            if kind and kind[1] == sponsor and kind[2] == business_date:
                with suppress(FileNotFoundError):
                    entry.unlink()
            continue
        kind = classify(name, settings)
        if kind and kind[1] == sponsor and kind[2] == business_date and name not in keep and entry.is_file():
            log.info("removing %s from the inbox: no longer the file to use for %s %s", name, sponsor,
                     business_date)
            entry.unlink()


def upload_file(connector: Connector, local: Path, remote_dir: str, *, name: str | None = None,
                attempts: int = 3, backoff: float = 2.0) -> str:
    """Upload a file atomically (temporary name, then rename), retrying transient failures."""

    def attempt() -> str:
        with connector() as session:
            return session.upload(local, remote_dir, name)

    return retrying(attempt, attempts=attempts, backoff=backoff, what=f"uploading {local.name}")


def inbox_for(settings: Settings, business_date: date) -> Path:
    """The local inbox of a business date under the state directory."""
    return settings.state_dir / "inbox" / business_date.isoformat()


def fetch_day(settings: Settings, business_date: date, sponsors: list[str] | None = None,
              source: SftpSource | None = None) -> Path:
    """Fetch every sponsor's files of a date with the configuration's SFTP source (``recon run``).

    Sponsors default to those with files for the date on the server plus the
    configured ones. Returns the inbox directory to reconcile from.
    """
    source = source or settings.sftp or SftpSource()
    endpoint = endpoint_from_source(source)

    def connector() -> AbstractContextManager[Session]:
        return connect(endpoint)

    dest = inbox_for(settings, business_date)
    if not sponsors:
        def listing() -> list[Candidate]:
            with connector() as session:
                return remote_inputs(session, source.inbox_dir, settings, business_date)[0]

        found = retrying(listing, attempts=3, backoff=2.0, what=f"listing {source.inbox_dir}")
        sponsors = sorted({c.sponsor for c in found} | set(settings.sponsors))
    for sponsor in sponsors:
        result = fetch_sponsor_day(connector, settings, sponsor, business_date, dest,
                                   remote_dir=source.inbox_dir)
        if result.missing:
            log.warning("%s %s: no %s file on the server", sponsor, business_date,
                        " and no ".join(s.lower() for s in result.missing))
    return dest

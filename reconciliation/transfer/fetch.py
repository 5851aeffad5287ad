"""Fetching a sponsor-day's files into the local inbox, whole, archived and never twice.

A file appears in the inbox only whole (downloaded under a temporary name,
size-checked, then renamed); every accepted file is archived with its size
and SHA-256, and content already accepted under another name is a duplicate
(``ledger``). For each side the highest sequence is taken, and local files of
the sponsor-day that are no longer the chosen ones are removed, so the inbox
mirrors what the server holds now.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from contextlib import AbstractContextManager, suppress
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from reconciliation.config import Settings, SftpSource
from reconciliation.transfer.ledger import Ledger, archive
from reconciliation.transfer.listing import SIDES, Candidate, remote_inputs
from reconciliation.transfer.retry import Connector, retrying
from reconciliation.transfer.session import PART_SUFFIX, Session, connect, endpoint_from_source

log = logging.getLogger(__name__)


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

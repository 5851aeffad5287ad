"""What a partner's SFTP directory holds: the input files of sponsor-days, and the names refused.

Only names that are exactly an expected input file name, and regular files,
are candidates (``reconciliation.inbox.remote_name_ok``); anything else is
refused and reported, so a crafted name can never write outside the inbox.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date

from reconciliation.config import Settings
from reconciliation.transfer.session import RemoteFile, Session, safe_name

log = logging.getLogger(__name__)
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

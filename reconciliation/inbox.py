"""Find the input files of a business date in an inbox directory.

File names carry the sponsor, the business date and a sequence number; for
one side, sponsor and date the highest sequence is a resubmission that
supersedes the lower ones (spec §2), which are ignored, not merged. Names are
matched with strict, anchored patterns: anything else in the directory
(other dates, other sponsors, temporary files, path tricks) is not an input,
and the SFTP downloader uses the same patterns to refuse remote names that
could escape the local directory.

A symbolic link with an input file's name is listed like a file, never
skipped: the parser refuses to read it (``parsing.open_input``), so the run
is REJECTED with a reason naming the file instead of silently reading a file
outside the inbox, or silently reporting the file missing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path

from reconciliation import records
from reconciliation.config import STANDARD_PROFILE, Settings
from reconciliation.errors import SourceError

PLATFORM_PATTERN = "AMCASH_RECON_{sponsor}_{date}_{seq}.txt"
PARTNER_PATTERN = "AMCASH_POS_{sponsor}_{date}_{seq}.txt"

_PLACEHOLDERS = {
    "sponsor": "[A-Z0-9]{4}",
    "date": "[0-9]{8}",
    "seq": "[0-9]{3}",
}
_FORBIDDEN = ("/", "\\", "\0")


@dataclass(frozen=True)
class InputFile:
    """One input file chosen for a run.

    Attributes:
        side: ``PARTNER`` or ``PLATFORM``.
        path: Where it is.
        sponsor_code: From its name.
        business_date: From its name.
        sequence: From its name (the highest present for its side, sponsor and date).
        profile: ``standard`` or the name of the CSV profile that reads it.
    """

    side: str
    path: Path
    sponsor_code: str
    business_date: date
    sequence: int
    profile: str


@lru_cache(maxsize=64)
def compile_pattern(pattern: str) -> re.Pattern[str]:
    """An anchored regex for a ``{sponsor}``/``{date}``/``{seq}`` file name pattern."""
    parts: list[str] = []
    seen: set[str] = set()
    for piece in re.split(r"(\{sponsor\}|\{date\}|\{seq\})", pattern):
        name = piece[1:-1] if piece[1:-1] in _PLACEHOLDERS and piece[:1] == "{" else None
        if name is None:
            parts.append(re.escape(piece))
        elif name in seen:
            parts.append(f"(?P={name})")
        else:
            seen.add(name)
            parts.append(f"(?P<{name}>{_PLACEHOLDERS[name]})")
    return re.compile("".join(parts))


def match_name(pattern: str, name: str) -> tuple[str, date, int] | None:
    """(sponsor, business date, sequence) when ``name`` matches ``pattern`` exactly."""
    if not name or name in (".", "..") or any(c in name for c in _FORBIDDEN):
        return None
    found = compile_pattern(pattern).fullmatch(name)
    if found is None:
        return None
    try:
        day = datetime.strptime(found.group("date"), "%Y%m%d").date()
    except (ValueError, IndexError):
        return None
    return found.group("sponsor"), day, int(found.group("seq"))


def _partner_patterns(settings: Settings) -> list[tuple[str, str]]:
    """(profile name, pattern) for every partner layout, the standard one first."""
    named = sorted((name, profile.file_pattern) for name, profile in settings.profiles.items())
    return [(STANDARD_PROFILE, PARTNER_PATTERN), *named]


def classify(name: str, settings: Settings) -> tuple[str, str, date, int, str] | None:
    """(side, sponsor, date, sequence, profile) of an input file name, or None.

    A sponsor whose partner profile is configured is read only with that
    profile; for any other sponsor the profile is the first pattern the name
    matches (the standard one before CSV profiles, then by profile name).
    """
    found = match_name(PLATFORM_PATTERN, name)
    if found is not None:
        return (records.PLATFORM, *found, STANDARD_PROFILE)
    for profile, pattern in _partner_patterns(settings):
        found = match_name(pattern, name)
        if found is None:
            continue
        sponsor = settings.sponsors.get(found[0])
        if sponsor is not None and sponsor.partner_profile != profile:
            continue
        return (records.PARTNER, *found, profile)
    return None


def discover(inbox: Path, business_date: date, settings: Settings) -> dict[str, dict[str, InputFile]]:
    """The files to reconcile for ``business_date``: sponsor -> side -> file.

    A side is absent when no file of it is there. For each sponsor and side
    only the highest sequence is returned; on equal sequences (two layouts
    delivered for the same sponsor) the first pattern in ``classify`` order wins.

    Raises:
        SourceError: the inbox cannot be read.
    """
    try:
        entries = sorted(Path(inbox).iterdir())
    except OSError as exc:
        raise SourceError(f"inbox {inbox} cannot be read: {exc.strerror or exc}") from None
    order = {name: i for i, (name, _) in enumerate(_partner_patterns(settings))}
    best: dict[tuple[str, str], tuple[tuple[int, int], InputFile]] = {}
    for entry in entries:
        found = classify(entry.name, settings)
        if found is None or found[2] != business_date or not (entry.is_symlink() or entry.is_file()):
            continue
        side, sponsor, day, sequence, profile = found
        rank = (sequence, -order.get(profile, 0))
        current = best.get((sponsor, side))
        if current is None or rank > current[0]:
            best[(sponsor, side)] = (rank, InputFile(side, entry, sponsor, day, sequence, profile))
    out: dict[str, dict[str, InputFile]] = {}
    for (sponsor, side), (_, item) in sorted(best.items()):
        out.setdefault(sponsor, {})[side] = item
    return out


def remote_name_ok(name: str, settings: Settings) -> bool:
    """True iff ``name`` is exactly an expected input file name (safe to download)."""
    if match_name(PLATFORM_PATTERN, name) is not None:
        return True
    return any(match_name(pattern, name) is not None for _, pattern in _partner_patterns(settings))

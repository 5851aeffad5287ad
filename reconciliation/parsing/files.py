"""``parse_file``: one input file of either side, from its name to its checked records.

It says whose file it is (``identify``), starts the file's SHA-256 in a
thread beside the parse (``FileDigest``), runs the file's layout parser
(the standard ``%%`` layout or a CSV profile), and hands the checked chunks
to a ``RecordSink`` that keeps the valid records in memory or spills them
to one Parquet file. A file-level problem (spec §2.2) raises
``FileRejected`` naming the file, the line and the first problem, and
nothing the parse wrote is left behind.
"""

from __future__ import annotations

import hashlib
import threading
from datetime import date
from pathlib import Path

from reconciliation import records
from reconciliation.config import CsvProfile
from reconciliation.errors import FileRejected
from reconciliation.inbox import PARTNER_PATTERN, PLATFORM_PATTERN, match_name
from reconciliation.parsing.csv_profile import parse_csv
from reconciliation.parsing.reading import LINK_PROBLEM, open_input
from reconciliation.parsing.result import FileIdentity, ParsedFile
from reconciliation.parsing.sink import RecordSink
from reconciliation.parsing.standard import parse_standard
from reconciliation.privacy import CollectorHasher


def identify(
    path: Path,
    side: str,
    profile: CsvProfile | None,
    sponsor_code: str | None,
    business_date: date | None,
) -> FileIdentity:
    """Sponsor, date and sequence of a file from its name, checked against the caller's.

    Raises:
        FileRejected: the name does not follow the expected pattern and the
            caller did not say whose file it is, or the name says otherwise.
    """
    name = path.name
    if side not in records.SIDES:
        raise ValueError(f"side must be PARTNER or PLATFORM, not {side!r}")
    standard = PLATFORM_PATTERN if side == records.PLATFORM else PARTNER_PATTERN
    pattern = profile.file_pattern if profile is not None else standard
    found = match_name(pattern, name)
    if found is None:
        if sponsor_code is None or business_date is None:
            raise FileRejected(name, None, f"the file name does not follow the pattern {pattern}")
        return FileIdentity(name, side, sponsor_code, business_date, None)
    sponsor, day, sequence = found
    if sponsor_code is not None and sponsor != sponsor_code:
        raise FileRejected(name, None, f"the file name's sponsor {sponsor} is not {sponsor_code}")
    if business_date is not None and day != business_date:
        raise FileRejected(name, None, f"the file name's business date {day} is not {business_date}")
    return FileIdentity(name, side, sponsor, day, sequence)


class FileDigest(threading.Thread):
    """SHA-256 of a file, computed in a thread beside the parse.

    Hashing 1.5 GB takes about a second and releases the GIL, so it runs
    while the parser works instead of before it; ``cancel`` stops it when
    the parse fails.
    """

    def __init__(self, path: Path) -> None:
        super().__init__(name=f"sha256-{path.name}", daemon=True)
        self.path = path
        self.cancelled = threading.Event()
        self.error: BaseException | None = None
        self.hexdigest = ""

    def run(self) -> None:
        digest, buffer = hashlib.sha256(), bytearray(8 << 20)  # one buffer: no page faults per read
        try:
            with open_input(self.path) as handle:
                while not self.cancelled.is_set() and (size := handle.readinto(buffer)):
                    digest.update(memoryview(buffer)[:size])
        except (OSError, FileRejected) as exc:
            self.error = exc
        self.hexdigest = digest.hexdigest()

    def cancel(self) -> None:
        self.cancelled.set()
        self.join()

    def result(self) -> str:
        self.join()
        if self.error is not None:
            raise self.error
        return self.hexdigest


def parse_file(
    path: Path,
    side: str,
    *,
    hash_key: bytes,
    profile: CsvProfile | None = None,
    sponsor_code: str | None = None,
    business_date: date | None = None,
    spill_to: Path | None = None,
    hasher: CollectorHasher | None = None,
) -> ParsedFile:
    """Parse one input file of either side.

    Args:
        path: The file.
        side: ``PARTNER`` or ``PLATFORM``.
        hash_key: Key of the collector hash (spec §7).
        profile: A CSV profile for a partner file, None for the standard ``%%`` layout.
        sponsor_code: Expected sponsor; defaults to the file name's.
        business_date: Expected business date; defaults to the file name's.
        spill_to: Write the valid records to this Parquet file, a chunk at a
            time, instead of keeping them in memory (``ParsedFile.records``
            is then None; read them with ``scan`` or ``frame``).
        hasher: A ``CollectorHasher`` of ``hash_key`` to use: hand the same
            one to both files of a run and the second file's collectors,
            mostly the first's, are not hashed again. A new one by default.

    Raises:
        FileRejected: the file is unusable as a whole (spec §2.2), naming the
            file, the line and the first problem.
        ValueError: ``hasher`` hashes under another key than ``hash_key``.
    """
    path = Path(path)
    identity = identify(path, side, profile, sponsor_code, business_date)
    if path.is_symlink():
        raise FileRejected(identity.file_name, None, LINK_PROBLEM)
    if hasher is None:
        hasher = CollectorHasher(hash_key)
    elif not hasher.uses_key(hash_key):
        raise ValueError("the collector hasher handed in hashes under another key than hash_key")
    sink = RecordSink(hasher, spill_to)
    digest = FileDigest(path)
    digest.start()
    try:
        if profile is None:
            layout = parse_standard(path, identity, sink)
        else:
            layout = parse_csv(path, identity, profile, sink)
        stored = sink.close()
    except BaseException:
        digest.cancel()
        sink.abort()
        raise
    return ParsedFile(
        side=side,
        path=path,
        file_name=identity.file_name,
        sha256=digest.result(),
        sponsor_code=identity.sponsor_code,
        business_date=identity.business_date,
        sequence=layout.sequence,
        period_start=layout.period_start,
        period_end=layout.period_end,
        detail_count=layout.detail_count,
        records=stored.records,
        rejected=stored.rejected,
        usable_count=stored.count,
        records_path=stored.path,
    )

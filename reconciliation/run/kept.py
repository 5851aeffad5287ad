"""The gate's parse, kept for the reconcile step so a night never parses a file twice.

In the DAG the data-quality gate (``gate_day``) and the reconciliation
(``run_day``) are separate tasks, possibly separate processes. The gate
parses both files (records spilled to Parquet) and validates them; when the
day passes, it keeps what it made in ``<state_dir>/kept/<sponsor>/<date>/``:

- ``gate.json``: the files' sha256, what the parser said about each file
  (counts, sequence, covered interval) and the validation reports;
- ``<SIDE>.parquet``: the side's valid records, as parsed;
- ``<SIDE>.rejected.parquet``: its rejected records.

``run_day(checked=<gate.json>)`` hashes the files it finds and, when both
digests are the ones kept, rebuilds the parsed files from there instead of
parsing and validating again. The folder goes once the run has committed;
the next gate of the same sponsor-day replaces it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import polars as pl

from reconciliation.parsing import ParsedFile, open_input
from reconciliation.records import SIDES

log = logging.getLogger(__name__)

#: The folder of ``state_dir`` holding the gates' kept parses.
KEPT = "kept"
GATE_FILE = "gate.json"


def kept_dir(state_dir: Path, sponsor: str, day: date) -> Path:
    """Where the gate of a sponsor-day keeps its parse."""
    return Path(state_dir) / KEPT / sponsor / day.isoformat()


def _stamp(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def keep(parsed: dict[str, ParsedFile], reports: list[str], target: Path) -> Path:
    """Keep a passed gate's parse and validation in ``target``; returns its ``gate.json``.

    The spilled records are moved, not copied. The folder is written under
    a temporary name and renamed into place, so a reader finds either the
    previous complete folder or this one.

    Args:
        parsed: side -> the parsed file (records spilled or in memory).
        reports: The validation reports as JSON text (``QualityReport.to_json``).
        target: The sponsor-day's folder (``kept_dir``).
    """
    tmp = target.with_name(f"{target.name}.tmp-{uuid.uuid4().hex[:8]}")
    tmp.mkdir(parents=True)
    try:
        files: dict[str, Any] = {}
        for side, found in parsed.items():
            records = tmp / f"{side}.parquet"
            if found.records_path is not None:
                shutil.move(found.records_path, records)
            else:
                found.frame().write_parquet(records, compression="lz4")
            found.rejected.write_parquet(tmp / f"{side}.rejected.parquet", compression="lz4")
            files[side] = {"file_name": found.file_name, "sponsor_code": found.sponsor_code,
                           "business_date": found.business_date.isoformat(), "sequence": found.sequence,
                           "period_start": _stamp(found.period_start), "period_end": _stamp(found.period_end),
                           "detail_count": found.detail_count, "usable_count": found.usable_count}
        kept = {"sha256": {side: found.sha256 for side, found in parsed.items()}, "files": files,
                "reports": reports}
        (tmp / GATE_FILE).write_text(json.dumps(kept), encoding="utf-8")
        shutil.rmtree(target, ignore_errors=True)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target / GATE_FILE


@dataclass(frozen=True)
class KeptGate:
    """What a gate kept: the files' digests, their validation and, when kept, their parse."""

    folder: Path
    sha256: dict[str, str]
    reports: list[str]
    files: dict[str, dict[str, Any]]

    def parsed(self, paths: dict[str, Path]) -> dict[str, ParsedFile]:
        """The parsed files as the gate left them, read from ``paths`` (side -> the file in the inbox)."""
        out = {}
        for side, meta in self.files.items():
            start, end = meta["period_start"], meta["period_end"]
            out[side] = ParsedFile(
                side=side, path=paths[side], file_name=meta["file_name"], sha256=self.sha256[side],
                sponsor_code=meta["sponsor_code"], business_date=date.fromisoformat(meta["business_date"]),
                sequence=meta["sequence"],
                period_start=datetime.fromisoformat(start) if start else None,
                period_end=datetime.fromisoformat(end) if end else None,
                detail_count=meta["detail_count"], records=None,
                rejected=pl.read_parquet(self.folder / f"{side}.rejected.parquet"),
                usable_count=meta["usable_count"], records_path=self.folder / f"{side}.parquet")
        return out

    def has_parse(self, sides: tuple[str, ...]) -> bool:
        """Whether the records of every side are kept, not only the validation."""
        return all(side in self.files and (self.folder / f"{side}.parquet").is_file() for side in sides)


def load(checked: Path | None) -> KeptGate | None:
    """The gate kept at ``checked`` (its ``gate.json``), or None when there is none."""
    if checked is None or not Path(checked).is_file():
        return None
    try:
        kept = json.loads(Path(checked).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        log.warning("the kept gate %s cannot be read: parsing and validating again", checked)
        return None
    return KeptGate(Path(checked).parent, dict(kept.get("sha256", {})), list(kept.get("reports", [])),
                    dict(kept.get("files", {})))


def _sha256(path: Path) -> str:
    digest, buffer = hashlib.sha256(), bytearray(8 << 20)
    with open_input(path) as handle:
        while size := handle.readinto(buffer):
            digest.update(memoryview(buffer)[:size])
    return digest.hexdigest()


def digests(paths: dict[str, Path]) -> dict[str, str]:
    """The sha256 of each side's file, hashed side by side (hashing releases the GIL)."""
    with ThreadPoolExecutor(max_workers=len(paths) or 1) as pool:
        return dict(zip(paths, pool.map(_sha256, paths.values()), strict=True))


def parse_of(gate: KeptGate | None, paths: dict[str, Path]) -> dict[str, ParsedFile] | None:
    """The gate's parse of exactly these files (same sha256), or None."""
    if gate is None or not gate.has_parse(SIDES):
        return None
    if digests(paths) != gate.sha256:
        log.warning("the files changed since the gate parsed them (%s): parsing again", gate.folder)
        return None
    log.info("using the parse the gate kept in %s", gate.folder)
    return gate.parsed(paths)


def validation_of(gate: KeptGate | None, parsed: dict[str, ParsedFile]) -> list[Any] | None:
    """The validation ``gate_day`` kept for exactly these files, or None."""
    if gate is None:
        return None
    if gate.sha256 != {side: parsed[side].sha256 for side in SIDES}:
        log.warning("the files changed since they were validated (%s): validating again", gate.folder)
        return None
    from reconciliation.quality.gate import QualityReport

    return [QualityReport.from_json(text) for text in gate.reports]


def discard(checked: Path | None) -> None:
    """Remove what a gate kept (its folder), once the run that used it has committed."""
    if checked is None:
        return
    checked = Path(checked)
    if checked.name == GATE_FILE and checked.parent.parent.parent.name == KEPT:
        shutil.rmtree(checked.parent, ignore_errors=True)
        with contextlib.suppress(OSError):  # the sponsor's folder, then kept/, when now empty
            checked.parent.parent.rmdir()
            checked.parent.parent.parent.rmdir()
    else:
        checked.unlink(missing_ok=True)


__all__ = ["KeptGate", "digests", "discard", "keep", "kept_dir", "load", "parse_of", "validation_of"]

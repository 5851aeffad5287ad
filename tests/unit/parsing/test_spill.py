"""Spilled parses equal in-memory ones, and their memory does not grow with the file.

``parse_file(spill_to=...)`` writes the valid records a chunk at a time to
one Parquet file. Whatever a file holds, the records read back from it must
be the in-memory records (values, types and line order), the rejected
records and their reasons the same, and a rejected file must fail with the
same message and leave no Parquet file behind.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from reconciliation.config import CsvProfile, Settings
from reconciliation.errors import FileRejected
from reconciliation.generate import generate
from reconciliation.inbox import discover
from reconciliation.parsing import ParsedFile, parse_file, standard
from reconciliation.privacy import CollectorHasher
from reconciliation.records import PARTNER, RECORD_SCHEMA
from tests.unit.parsing.parsing_helpers import KEY, d_line, standard_file, write

GOLDEN = Path(__file__).parents[2] / "golden"
DAY = date(2026, 11, 20)


def both_ways(path: Path, side: str, target: Path, profile: CsvProfile | None = None) -> None:
    """Parse ``path`` in memory and spilled to ``target``; the two must agree in everything."""
    try:
        kept = parse_file(path, side, hash_key=KEY, profile=profile)
    except FileRejected as exc:
        with pytest.raises(FileRejected) as spilled_error:
            parse_file(path, side, hash_key=KEY, profile=profile, spill_to=target)
        assert str(spilled_error.value) == str(exc)
        assert not target.exists() and not list(target.parent.glob("*.partial"))
        return
    spilled = parse_file(path, side, hash_key=KEY, profile=profile, spill_to=target)
    assert kept.records is not None and spilled.records is None and spilled.records_path == target
    assert_frame_equal(spilled.frame(), kept.records)
    assert spilled.frame().schema == RECORD_SCHEMA
    assert_frame_equal(spilled.rejected, kept.rejected)
    assert_frame_equal(spilled.scan("line_number", "miles").collect(), kept.frame("line_number", "miles"))
    for name in ("sha256", "detail_count", "usable_count", "sequence", "period_start", "period_end"):
        assert getattr(spilled, name) == getattr(kept, name), name
    assert spilled.usable_count == kept.records.height


def golden_files() -> list[tuple[Path, str, CsvProfile | None]]:
    """Every input file of every golden case (the highest sequence of each), its side and profile."""
    settings, found = Settings(), []
    for folder in sorted(p for p in GOLDEN.iterdir() if p.is_dir()):
        days = {date(int(n[:4]), int(n[4:6]), int(n[6:8])) for n in _dates(folder)}
        for day in sorted(days):
            for files in discover(folder, day, settings).values():
                for side, f in files.items():
                    profile = settings.profiles.get(f.profile) if side == PARTNER else None
                    found.append((f.path, side, profile))
    assert len(found) > 40
    return found


def _dates(folder: Path) -> set[str]:
    return {part for p in folder.iterdir() for part in p.stem.split("_") if len(part) == 8 and part.isdigit()}


@pytest.mark.parametrize(("path", "side", "profile"), golden_files(), ids=lambda v: getattr(v, "name", ""))
def test_spilled_records_equal_in_memory_on_the_golden_inputs(
    tmp_path: Path, path: Path, side: str, profile: CsvProfile | None
) -> None:
    both_ways(path, side, tmp_path / "spill" / "records.parquet", profile)


def test_spilled_records_equal_in_memory_on_a_generated_day(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Many chunks, breaks and rejected records: a day of the generator, chunks of 64 KiB."""
    monkeypatch.setattr(standard, "CHUNK_BYTES", 64 << 10)
    settings = Settings(state_dir=tmp_path / "state")
    generate(tmp_path, sponsors=["ABCD", "EFGH"], start=DAY, days=1, records=3000, break_rate=0.05,
             seed=11, csv_sponsors={"EFGH"}, settings=settings)  # fmt: skip
    seen = 0
    for sponsor, files in discover(tmp_path, DAY, settings).items():
        for side, found in files.items():
            profile = settings.profiles.get(found.profile) if side == PARTNER else None
            both_ways(found.path, side, tmp_path / "out" / f"{sponsor}-{side}.parquet", profile)
            seen += 1
    assert seen == 4


def test_a_file_rejected_after_some_chunks_leaves_no_parquet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(standard, "CHUNK_BYTES", 1 << 10)
    lines = [d_line("PLATFORM", confirmation_number=f"C{i}") for i in range(200)]
    path = write(tmp_path, "PLATFORM", standard_file("PLATFORM", lines, t1="T1%%7%%0%%0%%0"))
    target = tmp_path / "spill.parquet"
    with pytest.raises(FileRejected, match="T1 redeem_count"):
        parse_file(path, "PLATFORM", hash_key=KEY, spill_to=target)
    assert list(tmp_path.glob("spill*")) == []


def test_a_file_without_valid_records_spills_an_empty_parquet(tmp_path: Path) -> None:
    path = write(tmp_path, "PLATFORM", standard_file("PLATFORM", [d_line("PLATFORM", units="x")]))
    parsed = parse_file(path, "PLATFORM", hash_key=KEY, spill_to=tmp_path / "empty.parquet")
    assert parsed.usable_count == 0 and parsed.rejected.height == 1
    assert parsed.frame().schema == RECORD_SCHEMA and parsed.frame().height == 0


def test_a_shared_hasher_gives_the_same_hashes_and_must_hold_the_key(tmp_path: Path) -> None:
    path = write(tmp_path, "PLATFORM", standard_file("PLATFORM", [d_line("PLATFORM")]))
    alone = parse_file(path, "PLATFORM", hash_key=KEY)
    hasher = CollectorHasher(KEY)
    shared = [parse_file(path, "PLATFORM", hash_key=KEY, hasher=hasher) for _ in range(2)]
    for parsed in shared:
        assert_frame_equal(parsed.frame(), alone.frame())
    with pytest.raises(ValueError, match="another key"):
        parse_file(path, "PLATFORM", hash_key=b"other", hasher=hasher)


#: A child process: parse a platform file in small chunks, spilled or not, and
#: print its peak RSS before the parse (imports) and after it.
CHILD = textwrap.dedent(
    """
    import json, re, sys
    from pathlib import Path
    from reconciliation.parsing import parse_file, standard

    def peak():  # this process's own high-water mark (ru_maxrss may carry the parent's across exec)
        return int(re.search(r"VmHWM:\\s+(\\d+)", Path("/proc/self/status").read_text())[1])

    path, spill = Path(sys.argv[1]), sys.argv[2] == "spill"
    standard.CHUNK_BYTES = 256 << 10
    before = peak()
    parse_file(path, "PLATFORM", hash_key=b"k", spill_to=path.with_suffix(".parquet") if spill else None)
    print(json.dumps({"before": before, "peak": peak()}))
    """
)


def peak_growth(path: Path, mode: str) -> int:
    """KiB that parsing ``path`` adds to a fresh process's peak RSS."""
    done = subprocess.run([sys.executable, "-c", CHILD, str(path), mode], check=True, capture_output=True,
                          text=True)  # fmt: skip
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    return int(figures["peak"] - figures["before"])


def generated(folder: Path, records: int) -> Path:
    generate(folder, sponsors=["ABCD"], start=DAY, days=1, records=records, break_rate=0, seed=3)
    return next(folder.glob("AMCASH_RECON_*"))


def test_a_spilled_parse_does_not_grow_with_the_file(tmp_path: Path) -> None:
    """A file 4x larger: the in-memory parse's peak grows with it, the spilled one's stays put."""
    small, large = generated(tmp_path / "small", 25_000), generated(tmp_path / "large", 100_000)
    assert large.stat().st_size > 3.5 * small.stat().st_size
    figures = {f"{mode} {path.parent.name}": peak_growth(path, mode)
               for mode in ("spill", "memory") for path in (small, large)}  # fmt: skip
    spilled = figures["spill large"] - figures["spill small"]
    kept = figures["memory large"] - figures["memory small"]
    assert figures["spill large"] < 1.25 * figures["spill small"], figures  # KiB: the chunks, not the file
    assert spilled < kept / 2, figures  # in memory, the records themselves are kept


def test_spilled_records_are_in_line_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(standard, "CHUNK_BYTES", 1 << 10)
    lines = [d_line("PLATFORM", confirmation_number=f"C{i}") for i in range(100)]
    path = write(tmp_path, "PLATFORM", standard_file("PLATFORM", lines))
    parsed: ParsedFile = parse_file(path, "PLATFORM", hash_key=KEY, spill_to=tmp_path / "r.parquet")
    numbers = parsed.scan("line_number").collect()["line_number"]
    assert numbers.to_list() == list(range(3, 103))
    assert parsed.frame("confirmation_number")["confirmation_number"].equals(
        pl.Series("confirmation_number", [f"C{i}" for i in range(100)])
    )


def test_both_sides_parsed_at_once_with_one_hasher(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Parsing both files in two threads (the caller's choice) shares the hasher safely."""
    monkeypatch.setattr(standard, "CHUNK_BYTES", 16 << 10)
    generate(tmp_path, sponsors=["ABCD"], start=DAY, days=1, records=2000, break_rate=0.05, seed=5)
    files = discover(tmp_path, DAY, Settings(state_dir=tmp_path / "state"))["ABCD"]
    hasher = CollectorHasher(KEY)

    def parse(side: str) -> ParsedFile:
        return parse_file(files[side].path, side, hash_key=KEY, hasher=hasher,
                          spill_to=tmp_path / f"{side}.parquet")  # fmt: skip

    with ThreadPoolExecutor(2) as pool:
        together = dict(zip(files, pool.map(parse, files), strict=True))
    for side, found in files.items():
        alone = parse_file(found.path, side, hash_key=KEY)
        assert_frame_equal(together[side].frame(), alone.frame())
        assert_frame_equal(together[side].rejected, alone.rejected)

"""A line longer than any valid record rejects its file as soon as that is known (issue 10).

Reading stays bounded by a fixed buffer whatever the file's shape: the
memory tests parse files holding a 200 MB line (a sparse file, so it costs
no disk) in a child process and measure how far its peak RSS grows.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from reconciliation.config import default_profiles
from reconciliation.errors import FileRejected
from reconciliation.parsing import csv_profile, parse_file, standard

from .parsing_helpers import KEY, d_line, standard_file, trailers, write

P = "PLATFORM"
LONGEST = 219  # the longest valid platform record (see the first test)
LIMIT = 4 * LONGEST
PROBLEM = f"the line is over {LIMIT} bytes long, and no valid record is longer than {LONGEST}"
CSV_HEADER = (
    "type,confirmation,original_confirmation,local_time,store,lane,trace,receipt,card,"
    "units,miles,amount_cents,response"
)
CSV_ROW = "SALE,ABC123,,2026-11-20 10:15:30,1234,001,000000123456,R1,6012345678901234,2,190,2000,0000"
CSV_NAME = "POSLOG_ABCD_20261120_001.csv"


def lines_of(side: str, details: list[str]) -> list[str]:
    return standard_file(side, details).splitlines()


def rejection(path: Path, side: str = P, **kwargs: object) -> str:
    with pytest.raises(FileRejected) as caught:
        parse_file(path, side, hash_key=KEY, **kwargs)  # type: ignore[arg-type]
    return str(caught.value)


def test_longest_records_are_computed_from_the_field_widths() -> None:
    from reconciliation.parsing.standard import longest_record

    # D + 15 fields of at most 7+16+16+32+32+4+3+16+12+19+3+4+13+4+6 bytes, 15 separators, a \r
    assert longest_record("PLATFORM") == 1 + 187 + 30 + 1
    assert longest_record("PARTNER") == 1 + 165 + 26 + 1


@pytest.mark.parametrize("where", [0, 1, 2, 3, 5, 6])
def test_a_too_long_line_anywhere_is_named(tmp_path: Path, where: int) -> None:
    lines = lines_of(P, [d_line(P)] * 3)
    lines[where] = lines[where] + "9" * LIMIT
    path = write(tmp_path, P, "\n".join(lines) + "\n")
    assert rejection(path) == f"{path.name}, line {where + 1}: {PROBLEM}"


@pytest.mark.parametrize("final_newline", [True, False])
def test_two_headers_then_one_long_line(tmp_path: Path, final_newline: bool) -> None:
    h1, h2 = lines_of(P, [])[:2]
    path = write(tmp_path, P, f"{h1}\n{h2}\n{'X' * 5000}" + ("\n" if final_newline else ""))
    assert rejection(path) == f"{path.name}, line 3: {PROBLEM}"


@pytest.mark.parametrize("chunk", [32 << 20, 700, 50])
def test_same_verdict_whatever_the_chunk_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr(standard, "CHUNK_BYTES", chunk)
    details = [d_line(P)] * 5
    details[3] = d_line(P, confirmation_number="C" * (LIMIT + 10))
    path = write(tmp_path, P, standard_file(P, details))
    assert rejection(path) == f"{path.name}, line 6: {PROBLEM}"


def test_an_earlier_problem_wins(tmp_path: Path) -> None:
    details = [d_line(P), "D%%REDEEM%%too few fields", d_line(P), d_line(P, card_terminal_id="T" * LIMIT)]
    path = write(tmp_path, P, standard_file(P, details))
    assert rejection(path) == f"{path.name}, line 4: the D record has 3 fields, expected 16"


def test_a_long_but_possible_line_is_a_rejected_record(tmp_path: Path) -> None:
    """Up to 4x the longest record, an overlong field is a record's problem, not the file's."""
    bad = d_line(P, card_terminal_id="T" * (LIMIT - 300))
    assert LONGEST < len(bad) <= LIMIT
    parsed = parse_file(write(tmp_path, P, standard_file(P, [d_line(P), bad])), P, hash_key=KEY)
    reason = f"card_terminal_id '{'T' * 40}...' is not 1-16 letters or digits"
    assert parsed.rejected["reason"].to_list() == [reason]
    assert parsed.records.height == 1


def test_csv_profile_lines_are_bounded_too(tmp_path: Path) -> None:
    profile = default_profiles()["csv_cents"]
    path = tmp_path / CSV_NAME
    path.write_text("\n".join([CSV_HEADER, CSV_ROW, CSV_ROW + "X" * 20_000, CSV_ROW]) + "\n")
    message = rejection(path, "PARTNER", profile=profile)
    assert message.startswith(f"{CSV_NAME}, line 3: the line is over ")
    path.write_text("\n".join([CSV_HEADER + "," * 70_000, CSV_ROW]) + "\n")
    message = rejection(path, "PARTNER", profile=profile)
    assert message == f"{CSV_NAME}, line 1: the line is over 65536 bytes long, more than any row may be"


def test_csv_long_line_across_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(csv_profile, "CHUNK_BYTES", 300)
    profile = default_profiles()["csv_cents"]
    path = tmp_path / CSV_NAME
    path.write_text("\n".join([CSV_HEADER, *[CSV_ROW] * 6, CSV_ROW + "X" * 20_000, CSV_ROW]) + "\n")
    assert rejection(path, "PARTNER", profile=profile).startswith(f"{CSV_NAME}, line 8: the line is over ")


@pytest.mark.parametrize("eol", ["\n", "\r\n"])
def test_millions_of_line_breaks_at_the_end_are_counted_in_blocks(tmp_path: Path, eol: str) -> None:
    """The end of a file is found in 64 KiB reads, not one read per line break (it took minutes)."""
    path = write(tmp_path, P, standard_file(P, eol=eol) + eol * 5_000_000)
    started = time.perf_counter()
    assert rejection(path) == f"{path.name}, line 7: the line is empty"
    assert time.perf_counter() - started < 8  # seconds; one read per break took about 30


# -- memory --------------------------------------------------------------------------------------

HUGE = 200 << 20
CHILD = textwrap.dedent(
    """
    import json, resource, sys
    from pathlib import Path
    from reconciliation.config import default_profiles
    from reconciliation.errors import FileRejected
    from reconciliation.parsing import parse_file

    def parse(path, side, profile):
        kwargs = {"profile": default_profiles()[profile]} if profile else {}
        try:
            parse_file(Path(path), side, hash_key=b"k", **kwargs)
        except FileRejected as exc:
            return str(exc)
        return None

    small, jobs = json.loads(sys.argv[1]), json.loads(sys.argv[2])
    for job in small:
        parse(*job)  # warm up: imports, thread pools, both layouts
    results = []
    for job in jobs:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        error = parse(*job)
        grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
        results.append({"error": error, "grown_mb": grown / 1024})
    print(json.dumps(results))
    """
)


def sparse(path: Path, head: bytes, hole: int, tail: bytes = b"") -> Path:
    """``head``, then ``hole`` zero bytes that take no disk, then ``tail``."""
    with open(path, "wb") as handle:
        handle.write(head)
        handle.seek(len(head) + hole)
        handle.write(tail)
        handle.truncate(len(head) + hole + len(tail))
    return path


def test_memory_stays_bounded_whatever_the_file_shape(tmp_path: Path) -> None:
    """Peak memory grows by less than half the huge line, where the old reader took 3 times it."""
    small_dir, big_dir, csv_dir = (tmp_path / name for name in ("small", "big", "csv"))
    for folder in (small_dir, big_dir, csv_dir):
        folder.mkdir()
    small = [(str(write(small_dir, P, standard_file(P))), P, "")]
    (small_dir / CSV_NAME).write_text(f"{CSV_HEADER}\n{CSV_ROW}\n")
    small.append((str(small_dir / CSV_NAME), "PARTNER", "csv_cents"))

    h1, h2 = lines_of(P, [])[:2]  # the file: two headers, then a line without a line feed
    headers_only = sparse(tmp_path / "AMCASH_RECON_ABCD_20261120_001.txt", f"{h1}\n{h2}\n".encode(), HUGE)
    details = [d_line(P)] * 2  # a huge line in the body
    t1, t2 = trailers(P, details)
    head = "\n".join(lines_of(P, details)[:3]).encode() + b"\n"
    body = sparse(big_dir / headers_only.name, head, HUGE, f"\n{d_line(P)}\n{t1}\n{t2}\n".encode())
    csv_head = f"{CSV_HEADER}\n{CSV_ROW}\n".encode()  # and in a CSV profile
    csv = sparse(csv_dir / CSV_NAME, csv_head, HUGE, f"\n{CSV_ROW}\n".encode())
    jobs = [(str(headers_only), P, ""), (str(body), P, ""), (str(csv), "PARTNER", "csv_cents")]

    env = os.environ | {"POLARS_MAX_THREADS": "2"}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(small), json.dumps(jobs)],
        capture_output=True, text=True, timeout=300, env=env, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads(done.stdout.strip().splitlines()[-1])
    grown = [r["grown_mb"] for r in results]
    assert max(grown) < 100, grown  # MB; the old reader grew by about 600 MB for each
    assert [r["error"] for r in results] == [
        f"{headers_only.name}, line 3: {PROBLEM}",
        f"{body.name}, line 4: {PROBLEM}",
        f"{CSV_NAME}, line 3: the line is over 980 bytes long, and no valid record is longer than 245",
    ]

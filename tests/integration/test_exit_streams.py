"""What a user sees on stderr after ``recon run`` on a DuckDB warehouse (issue 10).

duckdb 2.0 prints some forty ``nanobind: leaked ... instances!`` lines at
interpreter teardown once a run has validated files and written a DuckDB
warehouse. The commands run here as real processes — the installed
``recon`` executable and ``python -m reconciliation.cli`` — because the lines
only appear when a process ends.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

RECON = Path(sys.executable).with_name("recon")
DAY = "2026-11-20"


@pytest.fixture(scope="module")
def inbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two sponsors' files for one day; EFGH's partner file has a wrong trailer total."""
    out = tmp_path_factory.mktemp("inbox")
    done = subprocess.run([str(RECON), "generate", "--out", str(out), "--sponsors", "ABCD,EFGH",
                           "--start-date", DAY, "--days", "1", "--records", "300"],
                          capture_output=True, text=True, timeout=120, cwd=out)
    assert done.returncode == 0, done.stderr
    broken = out / "AMCASH_POS_EFGH_20261120_001.txt"
    lines = broken.read_text().splitlines()
    fields = lines[-2].split("%%")  # T1: redeem count, redeem miles, reverse count, reverse miles
    fields[1] = str(int(fields[1]) + 1)
    lines[-2] = "%%".join(fields)
    broken.write_text("\n".join(lines) + "\n")
    return out


def _run(command: list[str], inbox: Path, tmp_path: Path, *sponsors: str) -> subprocess.CompletedProcess[str]:
    args = [*command, "run", "--date", DAY, "--inbox", str(inbox),
            "--warehouse", f"duckdb:///{tmp_path / 'warehouse.duckdb'}"]
    for sponsor in sponsors:
        args += ["--sponsor", sponsor]
    env = {**os.environ, "RECON_HASH_KEY": "exit-streams-test-key"}
    return subprocess.run(args, capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env)


def test_successful_duckdb_run_leaves_stderr_empty(inbox: Path, tmp_path: Path) -> None:
    done = _run([str(RECON)], inbox, tmp_path, "ABCD")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert "SUCCEEDED" in done.stdout
    assert (tmp_path / "var" / "reports" / "ABCD" / DAY / "v1" / "breaks.csv").exists()


def test_failed_duckdb_run_prints_exactly_one_sentence(inbox: Path, tmp_path: Path) -> None:
    # ABCD is validated and written (loading GX and DuckDB), then EFGH's file is rejected;
    # this one runs as ``python -m reconciliation.cli``, the other entry point.
    done = _run([sys.executable, "-m", "reconciliation.cli"], inbox, tmp_path)
    assert done.returncode == 3, done.stderr
    lines = done.stderr.splitlines()
    assert not [line for line in lines if "nanobind" in line]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("recon: EFGH 2026-11-20 REJECTED: ")
    assert "AMCASH_POS_EFGH_20261120_001.txt" in lines[0]

"""Warehouse failures read as one sentence that says what to do, and say whether the attempt was recorded.

Each failure here is real, made without mocking the database:

- disk full at commit: the DuckDB journal (``<file>.wal``) is a symbolic link
  to ``/dev/full``, so DuckDB's own commit fails with ENOSPC;
- read-only directory: the warehouse's directory is made immutable
  (``chattr +i``), which stops even root from creating the journal; skipped
  where the file system or the container does not allow it;
- a DuckDB path below a regular file;
- another process holding the DuckDB file;
- a PostgreSQL connection ended mid-write: the run pauses at the
  ``before-commit`` failpoint while this test ends its server process with
  ``pg_terminate_backend`` from another connection, as a restart or a
  network cut would;
- an unreachable PostgreSQL URL with a password, which must not be shown.

What a user sees is asserted: exactly one line on stderr without
SQLAlchemy's ``[SQL: ...]``, its "Background on this error" link or
"unexpected error", the FAILED row's ``recon_run.error`` likewise, and the
warehouse unchanged where nothing could be written.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from reconciliation.cli import main
from reconciliation.warehouse.db import dispose_all, engine_for
from reconciliation.warehouse.schema import metadata, recon_run

GOLDEN = Path(__file__).parents[1] / "golden"
CONFIG = GOLDEN / "engine-only.yaml"
INBOX = GOLDEN / "carry_forward_resolved"
D1, D2 = "2026-11-20", "2026-11-21"
NOISE = ("[SQL:", "[parameters:", "Background on this error", "unexpected error", "Traceback", "sqlalche.me")


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RECON_HASH_KEY", "db-errors-key")
    yield
    dispose_all()


def recon(day: str, url: str) -> int:
    return main(["run", "--date", day, "--inbox", str(INBOX), "--warehouse", url, "--config", str(CONFIG)])


def counts(url: str) -> dict[str, int]:
    with engine_for(url).connect() as conn:
        return {t: conn.execute(sa.select(sa.func.count()).select_from(metadata.tables[t])).scalar_one()
                for t in metadata.tables}


def one_sentence(text: str) -> str:
    line = text.strip()
    assert len(line.splitlines()) == 1, text
    assert not any(n in line for n in NOISE), line
    return line


def _prepared(tmp_path: Path) -> tuple[str, Path, dict[str, int]]:
    """A DuckDB warehouse with D1 reconciled, closed; its URL, file and row counts."""
    folder = tmp_path / "warehouse"
    path = folder / "w.duckdb"
    url = f"duckdb:///{path}"
    assert recon(D1, url) == 0
    before = counts(url)
    dispose_all()
    return url, path, before


def test_a_duckdb_commit_on_a_full_disk_is_one_sentence_saying_nothing_was_recorded(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url, path, before = _prepared(tmp_path)
    journal = Path(f"{path}.wal")
    journal.symlink_to("/dev/full")
    capsys.readouterr()
    try:
        assert recon(D2, url) == 1
    finally:
        dispose_all()
        journal.unlink()
    err = one_sentence(capsys.readouterr().err)
    assert "disk holding the warehouse" in err and "free space" in err
    assert "the failure could not be recorded" in err
    assert counts(url) == before


def test_a_read_only_warehouse_directory_is_one_sentence(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url, path, before = _prepared(tmp_path)
    chattr = shutil.which("chattr")
    if chattr is None or subprocess.run([chattr, "+i", str(path.parent)],
                                        capture_output=True).returncode != 0:
        pytest.skip("cannot make a directory immutable here (chattr +i needs ext4 and CAP_LINUX_IMMUTABLE)")
    capsys.readouterr()
    try:
        assert recon(D2, url) == 1
    finally:
        dispose_all()
        subprocess.run([chattr, "-i", str(path.parent)], check=True)
    err = one_sentence(capsys.readouterr().err)
    assert "read-only" in err and "write access" in err and "could not be recorded" in err
    assert counts(url) == before


def test_a_duckdb_path_below_a_regular_file_is_one_sentence(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "notes.txt"
    blocker.write_text("a file, not a folder\n")
    assert recon(D1, f"duckdb:///{blocker / 'sub' / 'w.duckdb'}") == 1
    err = one_sentence(capsys.readouterr().err)
    assert f"{blocker} is a file, not a directory" in err and "--warehouse" in err
    assert "Errno" not in err


def test_a_duckdb_file_held_by_another_process_is_one_sentence(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url, path, before = _prepared(tmp_path)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
         "print('held', flush=True); time.sleep(120)", str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        capsys.readouterr()
        assert recon(D2, url) == 1
    finally:
        holder.kill()
        holder.wait()
    err = one_sentence(capsys.readouterr().err)
    assert "another process has the warehouse" in err and "run again" in err
    dispose_all()
    assert counts(url) == before


@pytest.mark.postgres
def test_a_postgres_connection_lost_mid_write_is_recorded_as_one_sentence(
        pg_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from tests.conftest import fresh_postgres

    url = fresh_postgres(pg_database)
    assert recon(D1, url) == 0
    before = counts(url)
    monkeypatch.setenv("RECON_FAILPOINT", "before-commit:pause")
    monkeypatch.setenv("RECON_FAILPOINT_DIR", str(tmp_path))
    marker = tmp_path / "before-commit.paused"
    result: list[int] = []
    capsys.readouterr()
    run = threading.Thread(target=lambda: result.append(recon(D2, url)))
    run.start()
    deadline = time.monotonic() + 120
    while not marker.exists() and run.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists(), "the run never reached its commit"
    killer = sa.create_engine(url)
    try:
        with killer.connect() as conn:
            ended = conn.execute(sa.text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar_one()
    finally:
        killer.dispose()
        marker.unlink()
    run.join(120)
    monkeypatch.delenv("RECON_FAILPOINT")
    assert ended >= 1 and result == [1]

    err = one_sentence(capsys.readouterr().err)
    assert "FAILED" in err and "connection to the warehouse" in err and "was lost" in err
    after = counts(url)
    assert after["recon_run"] == before["recon_run"] + 1  # the FAILED attempt, and nothing else
    assert {t: n for t, n in after.items() if t != "recon_run"} == {
        t: n for t, n in before.items() if t != "recon_run"}
    with engine_for(url).connect() as conn:
        status, error = conn.execute(sa.select(recon_run.c.status, recon_run.c.error)
                                     .order_by(recon_run.c.run_id.desc()).limit(1)).one()
    assert status == "FAILED"
    assert one_sentence(error) in err


def test_an_unreachable_postgres_url_hides_its_password(capsys: pytest.CaptureFixture[str]) -> None:
    url = "postgresql+psycopg://recon:s3cret-pw@127.0.0.1:1/warehouse"
    assert recon(D1, url) == 1
    err = one_sentence(capsys.readouterr().err)
    assert "s3cret-pw" not in err and "recon:***@127.0.0.1:1/warehouse" in err
    assert "cannot reach the warehouse" in err


def test_the_paused_failpoint_waits_for_its_marker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from reconciliation.runtime import failpoint

    monkeypatch.setenv("RECON_FAILPOINT", "somewhere:pause")
    monkeypatch.setenv("RECON_FAILPOINT_DIR", str(tmp_path))
    marker = tmp_path / "somewhere.paused"
    threading.Timer(0.3, lambda: marker.exists() and marker.unlink()).start()
    started = time.monotonic()
    failpoint("somewhere")
    assert 0.2 < time.monotonic() - started < 30 and not marker.exists()
    failpoint("elsewhere")  # another point: no pause
    assert os.environ["RECON_FAILPOINT"] == "somewhere:pause"

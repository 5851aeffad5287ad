"""What the ``recon`` command says and refuses: usage errors, the stale-dates hint, masked passwords.

Usage errors (spec §8) exit 2 with one line before anything is opened: no
DuckDB file appears, no ``recon_run`` row is written on PostgreSQL.
"""

from __future__ import annotations

import logging
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from reconciliation.cli import main
from reconciliation.warehouse.db import dispose_all, engine_for

GOLDEN = Path(__file__).parents[1] / "golden"
CONFIG = GOLDEN / "engine-only.yaml"
D1, D2 = "2026-11-20", "2026-11-21"
BAD_CODES = ["AB", "ABCDEFGHIJ", "../../tmp/x", "AB'; DROP TABLE recon_run; --", "AB-D", "ÄBCD", ""]
PASSWORD = "pw-Zq81-never-shown"


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RECON_HASH_KEY", "test-key")
    monkeypatch.delenv("RECON_CONFIG", raising=False)


@pytest.fixture
def own_log(tmp_path: Path) -> Iterator[Path]:
    """This test's var/logs/recon.log (the command adds its log handler once per process)."""
    root = logging.getLogger()

    def drop() -> None:
        for handler in [h for h in root.handlers if getattr(h, "_recon", False)]:
            root.removeHandler(handler)
            handler.close()

    drop()
    yield tmp_path / "var" / "logs" / "recon.log"
    drop()


def run_rows(url: str) -> list[tuple]:
    """Every ``recon_run`` row (sponsor, date, version, status), or [] when the table does not exist."""
    engine = engine_for(url)
    if not sa.inspect(engine).has_table("recon_run"):
        return []
    with engine.connect() as conn:
        return list(conn.execute(sa.text(
            "SELECT sponsor_code, business_date, version, status FROM recon_run ORDER BY run_id")).all())


def usage(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run ``recon`` expecting a usage error; returns its one line."""
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    printed = capsys.readouterr()
    lines = printed.err.strip().splitlines()
    assert len(lines) == 1, printed.err
    assert printed.out == "" and "Traceback" not in printed.err
    return lines[0]


def with_password(url: str) -> str:
    """The same PostgreSQL URL with a password (the local server trusts, so it is ignored)."""
    return make_url(url).set(password=PASSWORD).render_as_string(hide_password=False)


@pytest.mark.parametrize("code", BAD_CODES)
def test_a_malformed_sponsor_code_is_a_usage_error_and_nothing_is_written(
        code: str, warehouse_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    before = run_rows(warehouse_url) if warehouse_url.startswith("postgresql") else None
    dispose_all()
    line = usage(["run", "--date", D1, "--sponsor", code, "--inbox", str(GOLDEN / "key_match"),
                  "--warehouse", warehouse_url, "--config", str(CONFIG)], capsys)
    assert "sponsor code" in line and "four letters or digits" in line
    if warehouse_url.startswith("duckdb"):
        assert not Path(make_url(warehouse_url).database or "").exists()
    else:
        assert run_rows(warehouse_url) == before


@pytest.mark.parametrize("argv", [
    ["report", "--date", D1, "--sponsor", "AB"],
    ["report", "--from", D1, "--to", D2, "--sponsor", "../x"],
    ["breaks", "list", "--sponsor", "AB'; --"],
    ["breaks", "resolve", "--filter-type", "DUPLICATE", "--date", D1, "--sponsor", "TOOLONG",
     "--note", "n", "--by", "b"],
    ["generate", "--out", "gen", "--sponsors", "ABCD", "--csv-sponsors", "x/y"],
], ids=["report-date", "report-range", "breaks-list", "breaks-resolve", "generate-csv"])
def test_every_command_that_takes_sponsors_checks_them(
        argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    extra = [] if argv[0] == "generate" else ["--warehouse", url]
    assert "sponsor code" in usage([*argv, *extra], capsys)
    assert not (tmp_path / "w.duckdb").exists() and not (tmp_path / "gen").exists()


def test_a_lower_case_sponsor_code_is_stored_in_upper_case(warehouse_url: str) -> None:
    assert main(["run", "--date", D1, "--sponsor", "abcd", "--inbox", str(GOLDEN / "key_match"),
                 "--warehouse", warehouse_url, "--config", str(CONFIG)]) == 0
    assert run_rows(warehouse_url) == [("ABCD", date(2026, 11, 20), 1, "SUCCEEDED")]


def test_a_missing_inbox_or_config_is_a_usage_error(
        tmp_path: Path, warehouse_url: str, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    before = run_rows(warehouse_url) if warehouse_url.startswith("postgresql") else None
    dispose_all()
    base = ["run", "--date", D1, "--warehouse", warehouse_url]
    line = usage([*base, "--inbox", str(tmp_path / "nowhere"), "--config", str(CONFIG)], capsys)
    assert "nowhere" in line and "does not exist" in line
    line = usage([*base, "--inbox", str(CONFIG), "--config", str(CONFIG)], capsys)
    assert "not a directory" in line
    line = usage([*base, "--inbox", str(GOLDEN / "key_match"), "--config", str(tmp_path / "no.yaml")],
                 capsys)
    assert "no.yaml" in line and "does not exist" in line
    monkeypatch.setenv("RECON_CONFIG", str(tmp_path / "gone.yaml"))
    line = usage([*base, "--inbox", str(GOLDEN / "key_match")], capsys)
    assert "RECON_CONFIG" in line and "gone.yaml" in line
    line = usage(["report", "--date", D1, "--warehouse", warehouse_url, "--config", "no.yaml"], capsys)
    assert "no.yaml" in line
    if warehouse_url.startswith("duckdb"):
        assert not Path(make_url(warehouse_url).database or "").exists()
    else:
        assert run_rows(warehouse_url) == before
    assert not (tmp_path / "var" / "warehouse.duckdb").exists()


def test_a_warehouse_that_is_not_a_url_is_a_usage_error_without_echoing_it(
        capsys: pytest.CaptureFixture[str]) -> None:
    line = usage(["run", "--date", D1, "--inbox", str(GOLDEN / "key_match"),
                  "--warehouse", f"postgres-at-host-with-{PASSWORD}"], capsys)
    assert "--warehouse" in line and PASSWORD not in line


def _printed_refresh(err: str) -> list[str]:
    [line] = [line for line in err.splitlines() if "re-run them with: " in line]
    return shlex.split(line.split("re-run them with: ", 1)[1])


def test_the_stale_dates_command_runs_as_printed(
        tmp_path: Path, warehouse_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    url = with_password(warehouse_url) if warehouse_url.startswith("postgresql") else warehouse_url
    inbox = tmp_path / "partner drop ($night's)"  # quoting matters
    shutil.copytree(GOLDEN / "carry_forward_opens", inbox)
    base = ["run", "--inbox", str(inbox), "--warehouse", url, "--config", str(CONFIG)]
    for day in (D1, D2, D1):
        assert main([*base, "--date", day]) == 0
    err = capsys.readouterr().err
    assert PASSWORD not in err
    command = _printed_refresh(err)
    assert command[:2] == ["recon", "run"] and command[-1] == "--cascade"
    assert command[command.index("--inbox") + 1] == str(inbox)
    assert command[command.index("--config") + 1] == str(CONFIG)
    if url != warehouse_url:
        assert "password is left out" in err and "PGPASSWORD" in err
    dispose_all()  # one writing process per DuckDB file: the printed command is another process
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    current = [(r[1], r[2]) for r in run_rows(warehouse_url) if r[3] == "SUCCEEDED"]
    assert (date(2026, 11, 20), 3) in current and (date(2026, 11, 21), 2) in current
    assert not (tmp_path / "var" / "warehouse.duckdb").exists()  # not the default warehouse
    assert PASSWORD not in done.stdout + done.stderr


@pytest.mark.postgres
def test_a_warehouse_password_never_reaches_output_or_the_log(
        tmp_path: Path, pg_database: str, own_log: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.conftest import fresh_postgres

    url = with_password(fresh_postgres(pg_database))
    inbox = str(GOLDEN / "amount_mismatch")
    assert main(["run", "--date", D1, "--inbox", inbox, "--warehouse", url, "--config", str(CONFIG)]) == 0
    out = capsys.readouterr()
    assert "postgres:***@" in out.out
    assert main(["report", "--date", D1, "--warehouse", url, "--out", str(tmp_path / "out")]) == 0
    assert main(["breaks", "list", "--warehouse", url]) == 0
    assert main(["breaks", "list", "--format", "csv", "--warehouse", url]) == 0
    assert main(["report", "--date", "2026-01-01", "--warehouse", url]) == 1
    unreachable = make_url(url).set(port=1).render_as_string(hide_password=False)
    assert main(["run", "--date", D1, "--inbox", inbox, "--warehouse", unreachable]) == 1
    assert main(["breaks", "list", "--warehouse", unreachable]) == 1
    printed = capsys.readouterr()
    log = own_log.read_text()
    assert "reports for run" in log  # the log was written (and below: holds no password)
    for text in (out.out, out.err, printed.out, printed.err, log):
        assert PASSWORD not in text
    for path in (tmp_path / "out").rglob("*"):
        if path.is_file():
            assert PASSWORD.encode() not in path.read_bytes(), path

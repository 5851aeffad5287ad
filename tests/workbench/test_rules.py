"""The workbench's rules outside HTTP: a run holding the DuckDB file, the CLI's four eyes, PostgreSQL.

``recon breaks resolve`` and ``recon breaks approve`` go through the same
service as the web pages, so the same threshold and the same "nobody
approves their own" rule hold there; the audit trail records them with
source ``cli``.
"""

from __future__ import annotations

import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.workbench.conftest import THRESHOLD, workbench_yaml
from tests.workbench.helpers import open_break, query, sign_in

HOLD = """
import sys, time, duckdb
conn = duckdb.connect(sys.argv[1])
conn.execute("CREATE TABLE IF NOT EXISTS _held (x INTEGER)")
print("holding", flush=True)
time.sleep(float(sys.argv[2]))
"""


@pytest.mark.airflow
def test_a_run_holding_the_duckdb_file_gets_a_clear_page_not_a_wait(
    client: Any, token: Any, warehouse: str
) -> None:
    sign_in(client, token("vic"))
    assert client.get("/breaks").status_code == 200  # the workbench itself let go of the file
    path = sa.engine.make_url(warehouse).database
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path), "30"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        started = time.monotonic()
        busy = client.get("/breaks")
        assert busy.status_code == 503
        assert "a reconciliation run is writing the warehouse; try again in a minute" in busy.text
        assert busy.headers["retry-after"] == "60"
        assert time.monotonic() - started < 10
    finally:
        holder.kill()
        holder.wait()
    assert client.get("/breaks").status_code == 200


@pytest.mark.airflow
def test_the_workbench_does_not_block_a_writer_between_requests(
    client: Any, token: Any, warehouse: str
) -> None:
    sign_in(client, token("vic"))
    assert client.get("/breaks").status_code == 200
    path = sa.engine.make_url(warehouse).database
    writer = subprocess.run(
        [sys.executable, "-c", HOLD, str(path), "0"], capture_output=True, text=True, timeout=120
    )
    assert writer.returncode == 0, writer.stderr


def recon(*args: str) -> int:
    from reconciliation.cli import main

    return main(list(args))


def test_the_command_line_resolves_through_four_eyes(
    warehouse: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = str(workbench_yaml(tmp_path / "recon.yaml", warehouse, tmp_path / "state"))
    small = open_break(warehouse, below=Decimal(THRESHOLD))
    big = open_break(warehouse, at_least=Decimal(THRESHOLD))
    assert (
        recon(
            "breaks",
            "resolve",
            str(small),
            str(big),
            "--note",
            "checked with finance",
            "--by",
            "carl",
            "--config",
            config,
        )
        == 0
    )
    said = capsys.readouterr().out
    assert f"resolved 1 break: {small}" in said
    assert f"break {big} (request 1)" in said and "approval" in said
    assert query(warehouse, "SELECT status FROM recon_break WHERE break_id = :b", b=big)[0][0] != "RESOLVED"

    assert recon("breaks", "approve", "1", "--by", "carl", "--config", config) == 1
    assert "cannot approve" in capsys.readouterr().err
    assert recon("breaks", "approve", "1", "--by", "dana", "--config", config) == 0
    assert query(warehouse, "SELECT status, resolved_by FROM recon_break WHERE break_id = :b", b=big)[0] == (
        "RESOLVED",
        "carl, approved by dana",
    )
    trail = query(warehouse, "SELECT actor, action, source FROM recon_audit ORDER BY audit_id")
    assert trail == [
        ("carl", "REQUEST_APPROVAL", "cli"),
        ("carl", "RESOLVE", "cli"),
        ("dana", "APPROVE", "cli"),
    ]


def test_the_audit_trail_has_no_update_or_delete_in_code() -> None:
    root = Path(__file__).resolve().parents[2]
    for path in [*root.joinpath("reconciliation").rglob("*.py"), *root.joinpath("plugins").rglob("*.py")]:
        text = path.read_text()
        if "migrations" in path.parts:
            continue
        assert "recon_audit.update" not in text and "recon_audit.delete" not in text, path
        assert "UPDATE recon_audit" not in text and "DELETE FROM recon_audit" not in text, path


@pytest.mark.postgres
@pytest.mark.airflow
def test_on_postgresql_four_eyes_work_and_the_audit_trail_refuses_changes(
    pg_database: str, tmp_path: Path, token: Any
) -> None:
    from amcash_plugin.workbench.app import create_app
    from fastapi.testclient import TestClient

    from reconciliation.workbench import config as wconfig
    from reconciliation.workbench.core import Workbench
    from tests.conftest import fresh_postgres
    from tests.workbench.conftest import seed
    from tests.workbench.helpers import csrf

    url = fresh_postgres(pg_database)
    seed(tmp_path, url)
    settings, cfg = wconfig.load(workbench_yaml(tmp_path / "recon.yaml", url, tmp_path / "state"))
    with TestClient(create_app(Workbench(settings, cfg)), base_url="http://airflow.test") as client:
        big = open_break(url, at_least=Decimal(THRESHOLD))
        sign_in(client, token("rita"))
        client.post(
            f"/breaks/{big}/resolve", data={"reason": "WRITTEN_OFF", "note": "n", "csrf": csrf(client)}
        )
        sign_in(client, token("alice"))
        assert client.post("/approvals/1/approve", data={"csrf": csrf(client)}).status_code == 200
    assert (
        query(url, "SELECT resolved_by FROM recon_break WHERE break_id = :b", b=big)[0][0]
        == "rita, approved by alice"
    )
    engine = sa.create_engine(url)
    try:
        for statement in ("UPDATE recon_audit SET note = 'changed'", "DELETE FROM recon_audit"):
            with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as conn:
                conn.execute(sa.text(statement))
    finally:
        engine.dispose()

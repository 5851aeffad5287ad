"""The real DAG end to end (``dag.test()``): real OpenSSH sshd, real PostgreSQL warehouse (issue 3).

A generated night (three sponsors, one of them a CSV partner, two days,
every break type) is dropped into the test server's inbox; the DAG fetches,
reconciles and uploads it exactly as it would in production, with its
connections and variables given as environment variables. The warehouse must
then hold what the generator says is there.
"""

from __future__ import annotations

import http.server
import json
import shutil
import threading
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any, ClassVar

import polars as pl
import pytest
import sqlalchemy as sa
import yaml

from tests.conftest import fresh_postgres
from tests.integration.airflow.conftest import postgres_connection, sftp_connection
from tests.integration.conftest_sshd import Sshd, free_port

pytestmark = [pytest.mark.airflow, pytest.mark.sftp, pytest.mark.postgres]

START = date(2026, 11, 20)
DAY2 = START + timedelta(days=1)
SPONSORS = ["ABCD", "EFGH", "WXYZ"]


class Hooks(http.server.BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Hooks.received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def stage(tmp_path_factory: pytest.TempPathFactory, sshd: Sshd, pg_database: str, airflow_db: Path
          ) -> Iterator[dict[str, Any]]:
    """Files on the server, an empty warehouse, and the DAG's connections and variables."""
    from reconciliation.generate import generate

    base = tmp_path_factory.mktemp("airflow-night")
    night = base / "night"
    generate(night, sponsors=SPONSORS, start=START, days=2, records=400, break_rate=0.01, seed=23,
             csv_sponsors={"WXYZ"})
    for box in (sshd.inbox, sshd.outbox):
        shutil.rmtree(box)
        box.mkdir()
    for path in night.iterdir():
        if path.name.startswith(("AMCASH_", "POSLOG_")):
            shutil.copy(path, sshd.inbox / path.name)
    url = fresh_postgres(pg_database)
    config = base / "recon.yaml"
    config.write_text(yaml.safe_dump({
        "state_dir": str(base / "state"),
        "sponsors": {"ABCD": {}, "EFGH": {}, "WXYZ": {"partner_profile": "csv_cents"}},
        "sftp": {"conn_id": "amcash_sftp", "inbox_dir": str(sshd.inbox), "outbox_dir": str(sshd.outbox)},
    }))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Hooks)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {
        "AIRFLOW_CONN_AMCASH_SFTP": sftp_connection(sshd),
        "AIRFLOW_CONN_AMCASH_WAREHOUSE": postgres_connection(url),
        "AIRFLOW_CONN_AMCASH_WEBHOOK": json.dumps({"conn_type": "http",
                                                   "extra": {"url": f"http://127.0.0.1:{server.server_port}/"}}),
        "AIRFLOW_VAR_AMCASH_CONFIG": str(config),
        "AIRFLOW_VAR_AMCASH_NOTIFY": json.dumps({"webhook": {"conn_id": "amcash_webhook"}}),
        "RECON_HASH_KEY": "airflow-test-key",
    }
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        yield {"night": night, "url": url, "state": base / "state", "server": sshd}
    server.shutdown()
    from reconciliation.warehouse.db import dispose_all

    dispose_all()


def trigger(dagbag: Any, **conf: Any) -> Any:
    """One DAG run with these params; returns the finished DagRun."""
    return dagbag.dags["amcash_reconciliation"].test(run_conf=conf)


def states(run: Any) -> dict[tuple[str, int], str]:
    return {(ti.task_id, ti.map_index): str(ti.state) for ti in run.get_task_instances()}


def runs(url: str) -> list[dict[str, Any]]:
    from reconciliation.warehouse.db import engine_for
    from reconciliation.warehouse.schema import recon_run

    with engine_for(url).connect() as conn:
        rows = conn.execute(sa.select(recon_run).order_by(recon_run.c.run_id)).mappings().all()
    return [dict(r) for r in rows]


def found_breaks(url: str) -> set[tuple[str, ...]]:
    from reconciliation.warehouse.db import engine_for
    from reconciliation.warehouse.schema import recon_break, recon_run

    with engine_for(url).connect() as conn:
        current = sa.select(recon_run.c.run_id).where(recon_run.c.is_current.is_(True))
        return {(r.sponsor_code, str(r.business_date), r.break_type, r.side, r.txn_type,
                 r.confirmation_number or "", r.status)
                for r in conn.execute(sa.select(recon_break).where(recon_break.c.run_id.in_(current)))}


def truth_breaks(night: Path) -> set[tuple[str, ...]]:
    truth = pl.read_csv(night / "ground_truth.csv", infer_schema=False)
    return {(r["sponsor_code"], r["business_date"], r["break_type"], r["side"], r["txn_type"],
             r["confirmation_number"] or "", r["expected_status"]) for r in truth.iter_rows(named=True)}


@pytest.fixture(scope="module")
def reconciled(stage: dict[str, Any], dagbag: Any) -> list[Any]:
    """Both nights run through the DAG, in order."""
    return [trigger(dagbag, business_date=str(day)) for day in (START, DAY2)]


def test_night_over_sftp_equals_ground_truth(reconciled: list[Any], stage: dict[str, Any]) -> None:
    for run in reconciled:
        assert run.state == "success", states(run)
    rows = runs(stage["url"])
    assert sorted((r["sponsor_code"], str(r["business_date"]), r["status"], r["is_current"]) for r in rows) \
        == sorted((s, str(d), "SUCCEEDED", True) for s in SPONSORS for d in (START, DAY2))
    expected = truth_breaks(stage["night"])
    assert {b[2] for b in expected} >= {"MISSING_ON_PLATFORM", "MISSING_AT_PARTNER", "AMOUNT_MISMATCH",
                                       "DUPLICATE", "ORPHAN_REVERSAL", "CONVERSION_ERROR"}
    assert found_breaks(stage["url"]) == expected
    assert all(r["triggered_by"].startswith("airflow:") for r in rows)
    archived = sorted(p.name for p in (stage["state"] / "archive").rglob("*") if p.is_file())
    sent = sorted(p.name for p in stage["night"].iterdir() if p.name.startswith(("AMCASH", "POSLOG")))
    assert archived == sent
    results = sorted(p.name for p in stage["server"].outbox.iterdir())
    assert len(results) == 6 and not any(".part-" in name for name in results)


def test_each_sponsor_day_passed_its_own_gate_task(reconciled: list[Any], stage: dict[str, Any]) -> None:
    from reconciliation.quality.table import recon_validation
    from reconciliation.warehouse.db import engine_for

    for run in reconciled:
        gates = {k: v for k, v in states(run).items() if k[0] == "sponsor_day.validate"}
        assert len(gates) == len(SPONSORS) and set(gates.values()) == {"success"}
    kept = stage["state"] / "kept"  # each gate's parse handed over, then removed
    assert not [p for p in kept.rglob("*") if p.is_file()]
    with engine_for(stage["url"]).connect() as conn:
        sides = conn.execute(sa.select(recon_validation.c.run_id, recon_validation.c.side).distinct()).all()
    succeeded = [r for r in runs(stage["url"]) if r["status"] == "SUCCEEDED"]
    assert sorted(sides) == sorted((r["run_id"], side) for r in succeeded for side in ("PARTNER", "PLATFORM"))
    for r in succeeded:
        docs = stage["state"] / "reports" / r["sponsor_code"] / str(r["business_date"]) / f"v{r['version']}"
        html = (docs / "data_docs" / "index.html").read_text()
        assert r["partner_file"] in html and r["platform_file"] in html
        assert any(f"run-{r['run_id']}" in str(p) for p in (docs / "data_docs").glob("validations/*/*"))


def test_rerun_of_unchanged_files_is_not_processed_twice(reconciled: list[Any], stage: dict[str, Any],
                                                         dagbag: Any) -> None:
    before = runs(stage["url"])
    run = trigger(dagbag, business_date=str(START))
    assert run.state == "success", states(run)
    assert runs(stage["url"]) == before


def test_forced_rerun_is_a_new_current_version_and_cascades(reconciled: list[Any], stage: dict[str, Any],
                                                             dagbag: Any) -> None:
    run = trigger(dagbag, business_date=str(START), sponsors=["ABCD"], force=True, cascade=True)
    assert run.state == "success", states(run)
    abcd = [r for r in runs(stage["url"]) if r["sponsor_code"] == "ABCD"]
    for day in (START, DAY2):
        versions = [(r["version"], r["is_current"]) for r in abcd if r["business_date"] == day]
        assert versions[:2] == [(1, False), (2, True)], (day, versions)
        assert sum(current for _, current in versions) == 1
    assert found_breaks(stage["url"]) == truth_breaks(stage["night"])


def test_missing_file_is_missing_input_and_others_carry_on(reconciled: list[Any], stage: dict[str, Any],
                                                           dagbag: Any) -> None:
    Hooks.received.clear()
    run = trigger(dagbag, business_date=str(START), sponsors=["ABCD", "NOPE"], wait_minutes=0)
    assert run.state == "failed"
    ti = states(run)
    assert ti[("sponsor_day.reconcile", 0)] == "success"  # ABCD, mapped first
    assert ti[("sponsor_day.validate", 1)] == "failed"  # the gate finds no files and says so
    assert ti[("sponsor_day.reconcile", 1)] == "upstream_failed"
    assert ti[("night_summary", -1)] == "failed"
    [nope] = [r for r in runs(stage["url"]) if r["sponsor_code"] == "NOPE"]
    assert nope["status"] == "MISSING_INPUT" and not nope["is_current"]
    assert "no partner file and platform file for sponsor NOPE" in nope["error"]
    texts = [hook["text"] for hook in Hooks.received]
    assert any("sponsor_day.validate[1]" in t and "MISSING_INPUT" in t for t in texts), texts


def test_deferrable_wait_hands_over_to_the_trigger(reconciled: list[Any], stage: dict[str, Any],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.dag_processing.dagbag import DagBag

    from tests.integration.airflow.conftest import REPO

    monkeypatch.setenv("AIRFLOW_VAR_AMCASH_DEFERRABLE", "true")
    dag = DagBag(dag_folder=str(REPO / "dags")).dags["amcash_reconciliation"]
    assert dag.get_task("sponsor_day.wait_for_files").deferrable
    run = dag.test(run_conf={"business_date": str(START), "sponsors": ["EFGH"]})
    assert run.state == "success", states(run)

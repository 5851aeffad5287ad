"""Retries and concurrent runs never write a second version of the same files (issue 12), on PostgreSQL.

The decision is taken inside the run's write transaction: a ``reconcile``
whose first attempt was killed after its commit, a second DAG run, or a
``recon run`` racing a DAG run, finds the version already there and says so
in one sentence. Also here: what a failure message may contain (no password,
escaped HTML).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from tests.conftest import fresh_postgres
from tests.integration.airflow.conftest import REPO, postgres_connection

pytestmark = [pytest.mark.airflow, pytest.mark.postgres]

DAY = date(2026, 9, 14)
KEY = "retry-safety-test-key"


@pytest.fixture
def day(tmp_path: Path, pg_database: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """One generated sponsor-day in a local inbox, an empty warehouse, and the glue's environment."""
    from reconciliation.generate import generate

    inbox = tmp_path / "inbox"
    generate(inbox, sponsors=["RTRY"], start=DAY, days=1, records=300, break_rate=0.01, seed=3)
    url = fresh_postgres(pg_database)
    config = tmp_path / "recon.yaml"
    config.write_text(yaml.safe_dump({"state_dir": str(tmp_path / "state"), "warehouse": url}))
    env = {"AIRFLOW_VAR_AMCASH_CONFIG": str(config), "RECON_HASH_KEY": KEY,
           "AIRFLOW_CONN_AMCASH_WAREHOUSE": postgres_connection(url)}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return {"inbox": inbox, "url": url, "env": env, "config": config}


def versions(url: str) -> list[tuple[int, str, bool]]:
    from reconciliation.warehouse.db import engine_for
    from reconciliation.warehouse.schema import recon_run

    with engine_for(url).connect() as conn:
        return [(r.version, r.status, r.is_current) for r in conn.execute(
            sa.select(recon_run).where(recon_run.c.sponsor_code == "RTRY").order_by(recon_run.c.version))]


def settings_for(day: dict[str, Any]) -> Any:
    from reconciliation.config import load_settings

    return load_settings(day["config"])


def job(force: bool = False) -> dict[str, Any]:
    return {"sponsor": "RTRY", "business_date": DAY.isoformat(), "force": force, "cascade": False,
            "run_id": f"manual__2026-09-15T07:00:00+00:00{'-forced' if force else ''}",
            "wait_until": "2026-09-15T13:00:00+00:00"}


def test_reconcile_retried_after_a_committed_attempt_writes_no_second_version(day: dict[str, Any]) -> None:
    """The worker dies right after the commit (failpoint ``after-commit``); Airflow's retry writes nothing."""
    fetched = {"inbox": str(day["inbox"]), "files": [], "duplicates": []}
    gate = {"skipped": False, "checked": str(day["inbox"] / "not-validated.json")}
    script = ("import json, sys; from amcash_plugin import tasks; "
              "tasks.reconcile(*(json.loads(a) for a in sys.argv[1:]))")
    env = {**os.environ, **day["env"], "RECON_FAILPOINT": "after-commit",
           "PYTHONPATH": os.pathsep.join([str(REPO / "plugins"), str(REPO)])}
    for force in (False, True):  # a forced re-run's retry must not duplicate either
        killed = subprocess.run([sys.executable, "-c", script, json.dumps(job(force)), json.dumps(fetched),
                                 json.dumps(gate)], env=env, capture_output=True, text=True, timeout=300)
        assert killed.returncode == -9, killed.stderr[-3000:]
        committed = versions(day["url"])
        from amcash_plugin import tasks

        retry = tasks.reconcile(job(force), fetched, gate)
        assert versions(day["url"]) == committed
        assert retry["status"] == "SUCCEEDED" and retry["version"] == committed[-1][0]
        assert "an earlier attempt of the same run already reconciled these files" in retry["skipped"]
    assert versions(day["url"]) == [(1, "SUCCEEDED", False), (2, "SUCCEEDED", True)]


def test_unforced_rerun_of_the_same_files_is_left_alone_and_forced_one_is_a_new_version(
        day: dict[str, Any]) -> None:
    from reconciliation.pipeline import run_day

    settings = settings_for(day)
    first = run_day(settings, "RTRY", DAY, day["inbox"], triggered_by="airflow:one", force=False)
    again = run_day(settings, "RTRY", DAY, day["inbox"], triggered_by="airflow:two", force=False)
    assert (first.version, first.skipped) == (1, None)
    assert again.version == 1 and again.skipped is not None and "an earlier run" in again.skipped
    forced = run_day(settings, "RTRY", DAY, day["inbox"], triggered_by="airflow:three", force=True)
    assert (forced.version, forced.skipped) == (2, None)
    assert versions(day["url"]) == [(1, "SUCCEEDED", False), (2, "SUCCEEDED", True)]


def test_two_runs_of_one_sponsor_day_at_once_write_one_version(day: dict[str, Any]) -> None:
    """A DAG run and a ``recon run`` (force: the command always re-runs) meet at the write lock."""
    from reconciliation.pipeline import run_day
    from reconciliation.warehouse.db import WRITE_LOCK_KEY

    settings = settings_for(day)
    run_day(settings, "RTRY", DAY, day["inbox"], triggered_by="airflow:before")  # version 1
    outcomes: list[Any] = []
    holder = sa.create_engine(day["url"], isolation_level="AUTOCOMMIT")
    with holder.connect() as conn:
        conn.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": WRITE_LOCK_KEY})
        threads = [threading.Thread(target=lambda who=who: outcomes.append(
            run_day(settings, "RTRY", DAY, day["inbox"], triggered_by=who, force=True)))
            for who in ("airflow:manual__a", "cli")]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and conn.execute(sa.text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'")).scalar() == 0:
            time.sleep(0.2)
        time.sleep(3)  # the other run has read its files by now and waits for the process lock
        conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": WRITE_LOCK_KEY})
    holder.dispose()
    for thread in threads:
        thread.join(timeout=120)
    assert versions(day["url"]) == [(1, "SUCCEEDED", False), (2, "SUCCEEDED", True)]
    [loser] = [o for o in outcomes if o.skipped]
    assert loser.version == 2
    assert loser.skipped.count(".") == 1 and "another run at the same time" in loser.skipped


def test_failure_messages_hide_passwords_and_the_email_escapes_html() -> None:
    from amcash_plugin.connections import masked
    from amcash_plugin.notify import html_body, message

    text = "warehouse URL 'postgresql+psycopg://recon:s3cret@db:5432/recon' cannot be used: <refused>"
    assert "s3cret" not in masked(text) and "recon:***@db:5432/recon" in masked(text)
    payload = message({"exception": RuntimeError(text), "run_id": "r"})
    assert "s3cret" not in json.dumps(payload)
    body = html_body(payload)
    assert "<refused>" not in body and "&lt;refused&gt;" in body and body.startswith("<pre>")

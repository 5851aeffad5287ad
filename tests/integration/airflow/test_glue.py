"""The plugin's small decisions: connections -> URLs and endpoints, dates, params, notifications."""

from __future__ import annotations

import http.server
import json
import threading
from datetime import UTC, date, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest

from tests.integration.conftest_sshd import free_port

pytestmark = pytest.mark.airflow


def conn(**fields: Any) -> Any:
    extra = fields.pop("extra", {})
    base = {"conn_id": "amcash_warehouse", "conn_type": None, "host": None, "port": None, "login": None,
            "password": None, "schema": None}
    return SimpleNamespace(**{**base, **fields}, extra_dejson=extra)


def test_warehouse_connection_becomes_a_sqlalchemy_url() -> None:
    from amcash_plugin.connections import warehouse_url

    pg = conn(conn_type="postgres", host="db", port=5432, login="recon", password="p@ss:/word",
              schema="recon")
    assert warehouse_url(pg) == "postgresql+psycopg://recon:p%40ss%3A%2Fword@db:5432/recon"
    assert warehouse_url(conn(conn_type="duckdb", host="/data/w.duckdb")) == "duckdb:////data/w.duckdb"
    assert warehouse_url(conn(conn_type="http", extra={"sqlalchemy_url": "sqlite:///x.db"})) == "sqlite:///x.db"
    with pytest.raises(ValueError, match="postgres or duckdb"):
        warehouse_url(conn(conn_type="mysql"))


def test_settings_take_the_warehouse_and_state_dir_from_airflow(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from amcash_plugin.connections import load_settings

    monkeypatch.setenv("AIRFLOW_VAR_AMCASH_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("AIRFLOW_VAR_AMCASH_CONFIG", raising=False)
    settings = load_settings()
    assert settings.state_dir == tmp_path / "state"
    assert settings.warehouse_url == f"duckdb:///{tmp_path / 'state' / 'warehouse.duckdb'}"
    monkeypatch.setenv("AIRFLOW_CONN_AMCASH_WAREHOUSE", json.dumps(
        {"conn_type": "postgres", "host": "127.0.0.1", "login": "postgres", "schema": "recon"}))
    assert load_settings().warehouse_url == "postgresql+psycopg://postgres@127.0.0.1/recon"


def test_a_connection_without_host_key_checking_is_refused(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from amcash_plugin.connections import sftp_endpoint

    from reconciliation.config import Settings, SftpSource
    from reconciliation.errors import ConfigError

    monkeypatch.setenv("AIRFLOW_CONN_AMCASH_SFTP", json.dumps(
        {"conn_type": "sftp", "host": "127.0.0.1", "login": "x", "extra": {"no_host_key_check": "true"}}))
    with pytest.raises(ConfigError, match="host key checking off"):
        sftp_endpoint(Settings(state_dir=tmp_path, sftp=SftpSource()))
    monkeypatch.setenv("AIRFLOW_CONN_AMCASH_SFTP", json.dumps(
        {"conn_type": "sftp", "host": "10.0.0.9", "port": 2222, "login": "amcash", "password": "pw",
         "extra": {"known_hosts": str(tmp_path / "kh")}}))
    endpoint = sftp_endpoint(Settings(state_dir=tmp_path))
    got = (endpoint.host, endpoint.port, endpoint.username, endpoint.password)
    assert got == ("10.0.0.9", 2222, "amcash", "pw")
    assert endpoint.known_hosts == str(tmp_path / "kh")
    assert "pw" not in repr(endpoint)


def test_business_date_is_the_day_before_the_run_in_est(tmp_path: Path) -> None:
    from amcash_plugin.tasks import business_date

    from reconciliation.config import Settings

    settings = Settings(state_dir=tmp_path)
    run = SimpleNamespace(logical_date=datetime(2026, 11, 21, 7, 0, tzinfo=UTC), run_after=None)
    assert business_date(None, {"dag_run": run}, settings) == date(2026, 11, 20)
    late = SimpleNamespace(logical_date=None, run_after=datetime(2026, 11, 21, 4, 59, tzinfo=UTC))
    assert business_date(None, {"dag_run": late}, settings) == date(2026, 11, 19)  # still the 20th in EST
    assert business_date("2026-01-31", {"dag_run": run}, settings) == date(2026, 1, 31)
    from airflow.sdk.exceptions import AirflowFailException

    with pytest.raises(AirflowFailException, match="not a date"):
        business_date("31/01/2026", {"dag_run": run}, settings)


class Hooks(http.server.BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        Hooks.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_failure_notifications_are_off_by_default_and_never_raise(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from amcash_plugin.notify import on_failure

    monkeypatch.setenv("AIRFLOW_VAR_AMCASH_STATE_DIR", str(tmp_path))
    monkeypatch.delenv("AIRFLOW_VAR_AMCASH_CONFIG", raising=False)
    monkeypatch.delenv("AIRFLOW_VAR_AMCASH_NOTIFY", raising=False)
    ti = SimpleNamespace(dag_id="amcash_reconciliation", task_id="sponsor_day.reconcile", map_index=2,
                         try_number=1, log_url=None)
    context = {"ti": ti, "run_id": "manual__1", "exception": RuntimeError("ABCD 2026-11-20 REJECTED: bad")}
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Hooks)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        Hooks.received.clear()
        on_failure(context)
        assert Hooks.received == []
        monkeypatch.setenv("AIRFLOW_VAR_AMCASH_NOTIFY", json.dumps({"webhook": {"conn_id": "hook"}}))
        monkeypatch.setenv("AIRFLOW_CONN_HOOK", json.dumps(
            {"conn_type": "http", "extra": {"url": f"http://127.0.0.1:{server.server_port}/x"}}))
        on_failure(context)
        [sent] = Hooks.received
        assert "sponsor_day.reconcile[2]" in sent["text"] and "REJECTED: bad" in sent["text"]
        monkeypatch.setenv("AIRFLOW_CONN_HOOK", json.dumps(
            {"conn_type": "http", "extra": {"url": f"http://127.0.0.1:{free_port()}/nobody"}}))
        on_failure(context)  # nobody listening: logged, not raised
    finally:
        server.shutdown()

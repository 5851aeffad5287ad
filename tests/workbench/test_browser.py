"""The workbench in headless Chromium against a real ``airflow api-server`` with the plugin loaded.

One API server for the module (on a free port, its own metadata database
with the DAG serialized so the re-run can start a DAG run), signed in
through Airflow's own login page. Screenshots of every page go to
``test-artifacts/workbench/``.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.workbench.conftest import PASSWORD, REPO, THRESHOLD, workbench_yaml
from tests.workbench.helpers import open_break, query

pytestmark = [pytest.mark.browser, pytest.mark.airflow]

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
SHOTS = REPO / "test-artifacts" / "workbench"
DAG_ID = "amcash_reconciliation"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """A running API server: its base URL and the warehouse it serves."""

    def __init__(self, base: str, warehouse: str) -> None:
        self.base = base
        self.warehouse = warehouse

    def token(self, user: str) -> str:
        response = httpx.post(
            f"{self.base}/auth/token", json={"username": user, "password": PASSWORD}, timeout=30
        )
        response.raise_for_status()
        return str(response.json()["access_token"])


@pytest.fixture(scope="module")
def server(seeded: Path, tmp_path_factory: pytest.TempPathFactory, airflow_db: None) -> Iterator[Server]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed")
    pytest.importorskip("playwright")
    work = tmp_path_factory.mktemp("browser")
    shutil.copy(seeded, work / "warehouse.duckdb")
    warehouse = f"duckdb:///{work / 'warehouse.duckdb'}"
    config = workbench_yaml(work / "recon.yaml", warehouse, work / "state")
    port = free_port()
    env = {
        **os.environ,
        "RECON_CONFIG": str(config),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__API__WORKERS": "1",
        "GX_ANALYTICS_ENABLED": "False",
    }
    airflow = str(Path(sys.executable).with_name("airflow"))
    done = subprocess.run(
        [airflow, "dags", "reserialize"], env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-2000:]
    log = (work / "api-server.log").open("w")
    process = subprocess.Popen(
        [airflow, "api-server", "--port", str(port), "--host", "127.0.0.1"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while True:
            try:
                if httpx.get(f"{base}/api/v2/monitor/health", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the API server did not start:\n{(work / 'api-server.log').read_text()[-3000:]}")
            time.sleep(1)
        yield Server(base, warehouse)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()


@pytest.fixture(scope="module")
def browser(server: Server) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield chromium
        chromium.close()


def signed_in(browser: Any, server: Server, user: str) -> Any:
    """A fresh browser session signed in as ``user`` through Airflow's login page, on the breaks page."""
    context = browser.new_context(viewport={"width": 1440, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(f"{server.base}/reconciliation/breaks")
    assert "Sign in to Airflow first" in page.content()
    page.click("a.btn")  # the "Sign in to Airflow" button: Airflow's own login page
    page.wait_for_selector("input[type=password]")
    page.locator("input[name=username]").fill(user)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/reconciliation/breaks.*"))
    page.wait_for_selector("#breaks")
    assert f"Signed in as {user}" in page.inner_text("nav.wb")
    return page


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_a_resolver_filters_exports_and_resolves(browser: Any, server: Server) -> None:
    page = signed_in(browser, server, "rita")
    shot(page, "01-breaks")
    page.select_option("#f-sponsor", "ABCD")
    page.select_option("#f-status", "ALL")
    page.fill("#f-min", "10")
    page.click("#apply")
    page.wait_for_url(re.compile(r".*sponsor=ABCD.*"))
    shot(page, "02-breaks-filtered")
    screen_ids = [
        int(x)
        for x in page.eval_on_selector_all("#breaks tbody tr[data-id]", "rows => rows.map(r => r.dataset.id)")
    ]
    sponsors = set(
        page.eval_on_selector_all(
            "#breaks tbody tr[data-id] td:nth-child(4)", "cells => cells.map(c => c.textContent.trim())"
        )
    )
    assert screen_ids and sponsors == {"ABCD"}
    total = int(page.inner_text("[data-k=total]").replace(",", ""))
    with page.expect_download() as download:
        page.click("#export-csv")
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    assert len(rows) == total
    assert [int(r["Break ID"]) for r in rows[: len(screen_ids)]] == screen_ids
    assert {r["Sponsor"] for r in rows} == {"ABCD"}
    assert all(Decimal(r["At stake $"]) >= 10 for r in rows)
    on_screen = page.inner_text("[data-k=at_stake]")
    assert on_screen == f"${sum(Decimal(r['At stake $']) for r in rows):,.2f}"

    small = open_break(server.warehouse, below=Decimal(THRESHOLD))
    page.goto(f"{server.base}/reconciliation/breaks/{small}")
    shot(page, "03-break")
    page.select_option("#r-reason", "PARTNER_CORRECTED")
    page.fill("#r-note", "partner re-sent the sale on the next file")
    page.click("#resolve button[type=submit]")
    page.wait_for_selector(".flash")
    assert page.inner_text("[data-k=status]") == "RESOLVED"
    assert "partner re-sent the sale" in page.inner_text("#audit")
    shot(page, "04-break-resolved")


def test_four_eyes_in_the_browser(browser: Any, server: Server) -> None:
    big = open_break(server.warehouse, at_least=Decimal(THRESHOLD))
    rita = signed_in(browser, server, "rita")
    rita.goto(f"{server.base}/reconciliation/breaks/{big}")
    rita.fill("#r-note", "written off after the partner's confirmation")
    rita.click("#resolve button[type=submit]")
    rita.wait_for_selector("[data-k=awaiting]")
    assert rita.inner_text("[data-k=status]") != "RESOLVED"
    shot(rita, "05-break-awaiting-approval")
    rita.goto(f"{server.base}/reconciliation/approvals")
    row = rita.locator(f"#requests tr:has(a[href$='/breaks/{big}'])")
    assert "another approver decides" in row.inner_text() and row.locator("button").count() == 0

    # Alice asks for another one and may not approve it herself, even by posting the form directly.
    candidates = query(
        server.warehouse,
        "SELECT b.break_id FROM recon_break b JOIN recon_run r ON r.run_id = b.run_id WHERE r.is_current "
        f"AND b.status = 'OPEN' AND abs(b.delta_dollars) >= {THRESHOLD} AND b.break_id NOT IN "
        "(SELECT break_id FROM recon_approval) ORDER BY 1",
    )
    other = next(b for (b,) in candidates if b != big)
    alice = signed_in(browser, server, "alice")
    alice.goto(f"{server.base}/reconciliation/breaks/{other}")
    alice.fill("#r-note", "duplicate confirmed with the partner")
    alice.click("#resolve button[type=submit]")
    alice.wait_for_selector("[data-k=awaiting]")
    request_id = query(
        server.warehouse, "SELECT request_id FROM recon_approval WHERE break_id = :b", b=other
    )[0][0]
    token = alice.input_value("#comment input[name=csrf]")
    refused = alice.request.post(
        f"{server.base}/reconciliation/approvals/{request_id}/approve",
        form={"csrf": token},
        headers={"Origin": server.base},
    )
    assert refused.status == 403
    assert "cannot approve" in refused.text()

    bob = signed_in(browser, server, "bob")
    bob.goto(f"{server.base}/reconciliation/approvals")
    shot(bob, "06-approvals")
    mine = query(server.warehouse, "SELECT request_id FROM recon_approval WHERE break_id = :b", b=big)[0][0]
    bob.click(f"tr[data-request='{mine}'] button")
    bob.wait_for_selector(".flash")
    assert f"request {mine} approved" in bob.inner_text(".flash")
    bob.goto(f"{server.base}/reconciliation/breaks/{big}")
    assert bob.inner_text("[data-k=status]") == "RESOLVED"
    assert "rita, approved by bob" in bob.inner_text("[data-k=resolution]")
    shot(bob, "07-break-approved")
    bob.goto(f"{server.base}/reconciliation/audit")
    shot(bob, "08-audit")
    trail = bob.inner_text("#audit")
    assert "request approval" in trail and "approve" in trail


def test_a_viewer_reads_but_is_refused_an_action(browser: Any, server: Server) -> None:
    vic = signed_in(browser, server, "vic")
    target = open_break(server.warehouse, below=Decimal(THRESHOLD))
    vic.goto(f"{server.base}/reconciliation/breaks/{target}")
    assert vic.locator("#resolve").count() == 0
    assert "need the resolver role" in vic.content() or "needs the resolver role" in vic.content()
    shot(vic, "09-break-viewer")
    vic.goto(f"{server.base}/reconciliation/breaks")
    token = vic.input_value("#bulk input[name=csrf]")
    refused = vic.request.post(
        f"{server.base}/reconciliation/breaks/{target}/resolve",
        form={"csrf": token, "reason": "WRITTEN_OFF", "note": "n"},
        headers={"Origin": server.base},
    )
    assert refused.status == 403
    assert "needs the resolver role" in refused.text()


def test_nights_and_a_rerun_through_airflow(browser: Any, server: Server) -> None:
    rita = signed_in(browser, server, "rita")
    rita.goto(f"{server.base}/reconciliation/nights?from=2026-11-18&to=2026-11-23")
    assert rita.get_attribute("[data-cell='ABCD-2026-11-22']", "data-status") == "missing"
    shot(rita, "10-nights")
    rita.goto(f"{server.base}/reconciliation/operations?from=2026-11-20&to=2026-11-22")
    shot(rita, "11-operations")
    rita.click("tr[data-op='ABCD-2026-11-22'] a.btn")
    rita.wait_for_selector("#rerun")
    shot(rita, "12-rerun-confirm")
    rita.click("#confirm-rerun")
    rita.wait_for_selector("#started")
    shot(rita, "13-rerun-started")
    run_id = rita.inner_text("[data-k=dag_run_id]")
    token = server.token("rita")
    started = httpx.get(
        f"{server.base}/api/v2/dags/{DAG_ID}/dagRuns/{run_id}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert started.status_code == 200
    assert started.json()["conf"] == {
        "business_date": "2026-11-22",
        "sponsors": ["ABCD"],
        "force": True,
        "cascade": False,
    }


def test_the_navigation_has_the_reconciliation_entry(browser: Any, server: Server) -> None:
    token = server.token("vic")
    plugins = httpx.get(
        f"{server.base}/api/v2/plugins", headers={"Authorization": f"Bearer {token}"}, timeout=30
    ).json()
    views = [v for p in plugins["plugins"] for v in p.get("external_views", [])]
    assert any(v["name"] == "Reconciliation" and v["url_route"] == "reconciliation" for v in views)
    page = signed_in(browser, server, "vic")
    page.goto(f"{server.base}/plugin/reconciliation")
    frame = page.frame_locator("iframe")
    frame.locator("#breaks").wait_for(timeout=60_000)
    shot(page, "14-inside-airflow")

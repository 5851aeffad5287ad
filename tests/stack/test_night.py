"""The nightly DAG on the production topology, driven only through Airflow's REST API (issue 12).

One stack (api-server, scheduler, dag-processor, triggerer, two Celery
workers, PostgreSQL, Redis, sshd) serves every test here. Each situation of
``docs/operations.md`` uses sponsor codes and dates of its own, so the tests
do not depend on each other's order; what they assert is what an operator
sees: DAG run and task states through the API, and the warehouse.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa

from tests.stack.api import AirflowApi
from tests.stack.harness import BIN, REPO, Stack

pytestmark = [pytest.mark.stack, pytest.mark.airflow, pytest.mark.postgres, pytest.mark.sftp]

START = date(2026, 11, 20)
DAY2 = START + timedelta(days=1)
SPONSORS = ["ABCD", "EFGH", "WXYZ"]


def runs(stack: Stack, sponsor: str | None = None) -> list[dict[str, Any]]:
    from reconciliation.warehouse.db import engine_for
    from reconciliation.warehouse.schema import recon_run

    query = sa.select(recon_run).order_by(recon_run.c.run_id)
    if sponsor:
        query = query.where(recon_run.c.sponsor_code == sponsor)
    with engine_for(stack.warehouse_url).connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings().all()]


def versions(stack: Stack, sponsor: str, day: date) -> list[tuple[int, str, bool]]:
    return [(r["version"], r["status"], r["is_current"]) for r in runs(stack, sponsor)
            if r["business_date"] == day]


def found_breaks(stack: Stack, sponsors: list[str]) -> set[tuple[str, ...]]:
    from reconciliation.warehouse.db import engine_for
    from reconciliation.warehouse.schema import recon_break, recon_run

    with engine_for(stack.warehouse_url).connect() as conn:
        current = sa.select(recon_run.c.run_id).where(recon_run.c.is_current.is_(True),
                                                      recon_run.c.sponsor_code.in_(sponsors))
        return {(r.sponsor_code, str(r.business_date), r.break_type, r.side, r.txn_type,
                 r.confirmation_number or "", r.status)
                for r in conn.execute(sa.select(recon_break).where(recon_break.c.run_id.in_(current)))}


def truth_breaks(night: Path) -> set[tuple[str, ...]]:
    truth = pl.read_csv(night / "ground_truth.csv", infer_schema=False)
    return {(r["sponsor_code"], r["business_date"], r["break_type"], r["side"], r["txn_type"],
             r["confirmation_number"] or "", r["expected_status"]) for r in truth.iter_rows(named=True)}


def night_run(api: AirflowApi, timeout: float = 300, **conf: Any) -> tuple[str, str]:
    """Trigger a run with params through the API and wait for it: (run id, final state)."""
    run_id = api.trigger(conf)
    return run_id, api.wait(run_id, timeout)


@pytest.fixture(scope="module")
def night(stack: Stack, api: AirflowApi) -> dict[str, Any]:
    """Unpause, then the nights of START and DAY2 for three sponsors, triggered through the API."""
    files = stack.generate("night", SPONSORS, START, days=2, records=400, seed=23, csv_sponsors={"WXYZ"})
    stack.deliver(files)
    started = time.monotonic()
    results = [night_run(api, business_date=str(day), wait_minutes=0) for day in (START, DAY2)]
    return {"files": files, "runs": results, "seconds": time.monotonic() - started}


def test_night_through_the_api_equals_ground_truth(stack: Stack, api: AirflowApi,
                                                   night: dict[str, Any]) -> None:
    for run_id, state in night["runs"]:
        assert state == "success", api.states(run_id)
        states = api.states(run_id)
        assert {k: v for k, v in states.items() if v != "success"} == {}
        assert {k[1] for k in states if k[0] == "sponsor_day.reconcile"} == {0, 1, 2}
    rows = [r for r in runs(stack) if r["sponsor_code"] in SPONSORS and r["business_date"] in (START, DAY2)]
    assert sorted((r["sponsor_code"], r["business_date"], r["status"], r["is_current"]) for r in rows) \
        == sorted((s, d, "SUCCEEDED", True) for s in SPONSORS for d in (START, DAY2))
    expected = truth_breaks(night["files"])
    assert "DAILY_LIMIT_EXCEEDED" in {b[2] for b in expected}  # a collector across two sponsors
    assert found_breaks(stack, SPONSORS) == expected
    results = sorted(p.name for p in stack.outbox.iterdir() if any(f"_{s}_" in p.name for s in SPONSORS))
    assert len(results) == 6 and not any(".part-" in name for name in results)


def test_daily_limit_across_sponsors_reconciled_on_different_workers(stack: Stack, api: AirflowApi) -> None:
    """LMTA's day is reconciled while only worker1 takes tasks, LMTB's while only worker2 does.

    The collector who crosses the daily limit across the two sponsors (the
    generator's ground truth) is found by worker2's run over records worker1
    wrote: both hashed the collector with the one key every worker shares.
    Limit day D is judged once both sponsors have current runs for D and D+1,
    so worker1 also reconciles D+1 of both, and LMTB's D, on worker2, completes it.
    """
    day = date(2026, 10, 26)
    files = stack.generate("limit", ["LMTA", "LMTB"], day, days=2, records=300, seed=11)
    stack.deliver(files)
    expected = {b for b in truth_breaks(files) if b[2] == "DAILY_LIMIT_EXCEEDED"}
    assert {b[0] for b in expected} == {"LMTA", "LMTB"}  # a crossing at each, with the other's records

    def pinned(worker: str, confs: list[dict[str, Any]]) -> list[str]:
        other = next(w for w in stack.pids if w.startswith("worker") and w != worker)
        stack.consume(other, on=False)  # only `worker` takes tasks now
        try:
            ids = [api.trigger({**conf, "wait_minutes": 0}) for conf in confs]
            assert [api.wait(i) for i in ids] == ["success"] * len(ids), [api.states(i) for i in ids]
        finally:
            stack.consume(other, on=True)
        return ids

    first = pinned("worker1", [{"business_date": str(day), "sponsors": ["LMTA"]},
                               {"business_date": str(day + timedelta(days=1)), "sponsors": ["LMTA", "LMTB"]}])
    assert found_breaks(stack, ["LMTA", "LMTB"]) & expected == set()  # D is not covered yet
    second = pinned("worker2", [{"business_date": str(day), "sponsors": ["LMTB"]}])

    def reconciled_on(ids: list[str]) -> set[str]:
        return {ti["hostname"] for i in ids for ti in api.task_instances(i)
                if ti["task_id"] == "sponsor_day.reconcile"}

    assert (reconciled_on(first), reconciled_on(second)) == ({"worker1"}, {"worker2"})
    found = {b for b in found_breaks(stack, ["LMTA", "LMTB"]) if b[2] == "DAILY_LIMIT_EXCEEDED"}
    assert found == expected
    assert stack.environment()["RECON_HASH_KEY"] == stack.hash_key  # one key, in every worker's environment


def test_unpausing_does_not_block_manual_runs(api: AirflowApi, night: dict[str, Any]) -> None:
    scheduled = [r for r in api.runs() if r["run_type"] == "scheduled"]
    assert scheduled, "unpausing starts the latest scheduled night"
    assert scheduled[0]["state"] == "running"  # still waiting for files that never come ...
    assert all(state == "success" for _, state in night["runs"])  # ... while the operator's runs went through


# -- the operator's situations (docs/operations.md) -------------------------------------------------------

def task_log(api: AirflowApi, run_id: str, task_id: str, map_index: int = -1) -> str:
    tries = [ti["try_number"] for ti in api.task_instances(run_id)
             if ti["task_id"] == task_id and ti["map_index"] == map_index]
    return "\n".join(api.log(run_id, task_id, map_index, t) for t in range(1, max(tries or [1]) + 1))


PLAYBOOK = REPO / "docs" / "operations.md"


def playbook_commands(program: str = "airflow") -> list[str]:
    """Every ``program ...`` command in the playbook's fenced blocks, continuation lines joined."""
    blocks = re.findall(r"^```[^\n]*\n(.*?)^```", PLAYBOOK.read_text(), flags=re.M | re.S)
    lines = [line.strip() for block in blocks for line in re.sub(r"\\\n\s*", " ", block).splitlines()]
    return [line for line in lines if line.startswith(f"{program} ")]


def operator_command(stack: Stack, command: str, substitute: dict[str, str] | None = None) -> str:
    """Run a playbook command in a shell as the operator on the scheduler's host would: the stack's
    Airflow environment, ``airflow`` on the PATH. Only dates and sponsor codes are substituted."""
    for old, new in (substitute or {}).items():
        command = command.replace(old, new)
    env = {**stack.environment(), "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run(["bash", "-c", command], env=env, cwd=stack.root, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, f"{command}\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    return f"{command}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"


def test_the_playbook_shows_only_airflow_commands_a_test_runs() -> None:
    commands = playbook_commands()
    assert [c.split(" ")[1:3] for c in commands] == [
        ["tasks", "clear"], ["dags", "trigger"], ["dags", "trigger"], ["dags", "trigger"],
        ["backfill", "create"]], commands  # each one is run below, as printed


def test_late_partner_file_fails_that_sponsor_and_clear_failed_recovers_it(stack: Stack,
                                                                          api: AirflowApi) -> None:
    """The night of 2026-10-06 (business date 2026-10-05) for LAT1, LAT2, ONTM; both LAT files are late.

    LAT1 is recovered by the Grid's **Clear** through the API, LAT2 by the
    playbook's ``airflow tasks clear``; then the playbook's three ``airflow
    dags trigger`` commands run for LAT2, as printed but for the sponsor and date.
    """
    day, night_of = date(2026, 10, 5), date(2026, 10, 6)
    files = stack.generate("late", ["LAT1", "LAT2", "ONTM"], day, records=300, seed=5)
    stack.deliver(files, sponsors=["ONTM"])
    stack.deliver(files, sponsors=["LAT1", "LAT2"], kinds=("AMCASH_RECON_",))  # the partners' files are late
    run_id = api.trigger({"sponsors": ["LAT1", "LAT2", "ONTM"], "wait_minutes": 0},
                         logical_date=f"{night_of}T07:00:00Z")  # the nightly run's logical date
    assert api.wait(run_id) == "failed"
    states = api.states(run_id)
    assert states[("sponsor_day.validate", 0)] == states[("sponsor_day.validate", 1)] == "failed"
    assert states[("sponsor_day.reconcile", 0)] == "upstream_failed"
    assert states[("sponsor_day.reconcile", 2)] == "success"  # ONTM carried on
    assert states[("night_summary", -1)] == "failed"
    summary = task_log(api, run_id, "night_summary")
    assert "LAT1 MISSING_INPUT" in summary and "LAT2 MISSING_INPUT" in summary
    assert versions(stack, "LAT1", day) == versions(stack, "LAT2", day) == [(1, "MISSING_INPUT", False)]
    assert versions(stack, "ONTM", day) == [(1, "SUCCEEDED", True)]

    stack.deliver(files, sponsors=["LAT1"])  # LAT1's file arrives: Clear its failed task, with downstream
    cleared = api.clear(run_id, [["sponsor_day.validate", 0]], only_failed=True, downstream=True)
    assert {ti["task_id"] for ti in cleared} >= {"sponsor_day.validate", "sponsor_day.reconcile",
                                                 "night_summary"}
    assert api.wait(run_id) == "failed"  # LAT2 still lacks its file
    assert versions(stack, "LAT1", day) == [(1, "MISSING_INPUT", False), (2, "SUCCEEDED", True)]

    stack.deliver(files, sponsors=["LAT2"])  # LAT2's arrives: the playbook's command line
    dates = {"2026-11-20": str(day), "2026-11-21": str(night_of), "ABCD": "LAT2"}
    [clear] = [c for c in playbook_commands() if c.startswith("airflow tasks clear")]
    said = operator_command(stack, clear, dates)
    assert api.wait(run_id) == "success", (api.states(run_id), said)
    assert versions(stack, "LAT2", day) == [(1, "MISSING_INPUT", False), (2, "SUCCEEDED", True)]
    assert versions(stack, "ONTM", day) == [(1, "SUCCEEDED", True)]

    # the playbook's triggers for LAT2: unchanged files write nothing; `force` writes a new version
    for command in [c for c in playbook_commands() if c.startswith("airflow dags trigger")]:
        before = {r["dag_run_id"] for r in api.runs(run_type="manual")}
        operator_command(stack, command, dates)
        [new] = [r for r in api.runs(run_type="manual") if r["dag_run_id"] not in before]
        conf = json.loads(command.split("--conf ", 1)[1].strip("'").replace("2026-11-20", str(day))
                          .replace("ABCD", "LAT2"))
        assert new["conf"] == conf
        assert api.wait(new["dag_run_id"]) == "success", api.states(new["dag_run_id"])
    assert versions(stack, "LAT2", day) == [(1, "MISSING_INPUT", False), (2, "SUCCEEDED", False),
                                            (3, "SUCCEEDED", True)]


def test_resubmission_with_cascade_is_a_new_current_version(stack: Stack, api: AirflowApi,
                                                            night: dict[str, Any]) -> None:
    first = (night["files"] / "AMCASH_POS_ABCD_20261120_001.txt").read_text()
    header, rest = first.split("\n", 1)
    assert header.endswith("%%001")
    resubmitted = stack.inbox / "AMCASH_POS_ABCD_20261120_002.txt"  # the partner sends sequence 002
    resubmitted.write_text(header[:-3] + "002\n" + rest)
    run_id, state = night_run(api, business_date=str(START), sponsors=["ABCD"], cascade=True, wait_minutes=0)
    assert state == "success", api.states(run_id)
    assert versions(stack, "ABCD", START) == [(1, "SUCCEEDED", False), (2, "SUCCEEDED", True)]
    assert versions(stack, "ABCD", DAY2) == [(1, "SUCCEEDED", False), (2, "SUCCEEDED", True)]  # cascade
    current = [r for r in runs(stack, "ABCD") if r["is_current"] and r["business_date"] == START]
    assert current[0]["partner_file"] == resubmitted.name


def test_rerun_of_unchanged_files_writes_nothing_and_the_result_file_has_the_configured_environment(
        stack: Stack, api: AirflowApi, night: dict[str, Any]) -> None:
    before = versions(stack, "WXYZ", START)
    for old in stack.outbox.glob("AMCASH_RESULT_WXYZ_20261120_*"):
        old.unlink()
    run_id, state = night_run(api, business_date=str(START), sponsors=["WXYZ"], wait_minutes=0)
    assert state == "success", api.states(run_id)
    assert versions(stack, "WXYZ", START) == before
    [result] = stack.outbox.glob("AMCASH_RESULT_WXYZ_20261120_*")
    assert "%%CERT%%" in result.read_text().splitlines()[0]  # reports.environment of the configuration


def test_two_forced_runs_of_one_sponsor_day_at_once_write_one_version(stack: Stack, api: AirflowApi,
                                                                      night: dict[str, Any]) -> None:
    from reconciliation.warehouse.db import WRITE_LOCK_KEY

    before = versions(stack, "EFGH", START)
    engine = sa.create_engine(stack.warehouse_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as holder:  # hold the write lock so both runs reach the write together
            holder.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": WRITE_LOCK_KEY})
            ids = [api.trigger({"business_date": str(START), "sponsors": ["EFGH"], "force": True,
                                "wait_minutes": 0}) for _ in range(2)]
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                waiting = holder.execute(sa.text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock' AND query ILIKE '%pg_advisory_xact_lock%'")).scalar()
                if waiting == 2:
                    break
                assert not any(api.run(i)["state"] in ("success", "failed") for i in ids), \
                    [api.states(i) for i in ids]
                time.sleep(1)
            holder.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": WRITE_LOCK_KEY})
    finally:
        engine.dispose()
    assert [api.wait(i) for i in ids] == ["success", "success"]
    after = versions(stack, "EFGH", START)
    new = after[len(before):]
    assert [(v, s, c) for v, s, c in new] == [(before[-1][0] + 1, "SUCCEEDED", True)]
    logs = {i: task_log(api, i, "sponsor_day.reconcile", 0) for i in ids}
    sentence = (f"EFGH {START} was not written again: another run at the same time already reconciled these "
                f"files as version {new[0][0]}")
    assert [i for i, text in logs.items() if sentence in text] != []
    assert len([i for i, text in logs.items() if sentence in text]) == 1  # the loser says so, once


def test_backfill_over_a_date_range(stack: Stack, api: AirflowApi, night: dict[str, Any]) -> None:
    """The playbook's ``airflow backfill create`` as printed: the nights of the two days reconciled above."""
    nights = ["2026-11-21T07:00:00Z", "2026-11-22T07:00:00Z"]
    listed = api.backfill_dry_run({  # the playbook's API body lists the same nights
        "dag_id": "amcash_reconciliation", "from_date": "2026-11-21T00:00:00Z",
        "to_date": "2026-11-22T23:59:59Z", "max_active_runs": 1, "reprocess_behavior": "none",
        "run_backwards": False, "dag_run_conf": {"wait_minutes": 0}})
    assert [d.replace("+00:00", "Z") for d in listed] == nights
    before = runs(stack)
    [command] = [c for c in playbook_commands() if c.startswith("airflow backfill create")]
    operator_command(stack, command)
    deadline = time.monotonic() + 400
    while time.monotonic() < deadline:
        mine = api.runs(run_type="backfill")
        if len(mine) == 2 and all(r["state"] in ("success", "failed") for r in mine):
            break
        time.sleep(3)
    assert sorted(r["logical_date"].replace("+00:00", "Z") for r in mine) == nights, mine
    assert [r["state"] for r in mine] == ["success", "success"], mine
    assert [r["conf"] for r in mine] == [{"wait_minutes": 0}] * 2
    assert len(runs(stack)) == len(before)  # the same files: nothing reconciled twice


def test_deferred_file_wait_is_resumed_by_the_triggerer(stack: Stack, api: AirflowApi) -> None:
    day = date(2026, 10, 12)
    files = stack.generate("deferred", ["DEFR"], day, records=300, seed=6)
    mark = stack.log("triggerer").stat().st_size
    run_id = api.trigger({"business_date": str(day), "sponsors": ["DEFR"], "wait_minutes": 30})
    api.wait_for_state(run_id, ("sponsor_day.wait_for_files", 0), ("deferred",), timeout=240)
    time.sleep(8)  # a few looks at an empty drop box
    stack.deliver(files)
    assert api.wait(run_id) == "success", api.states(run_id)
    assert versions(stack, "DEFR", day) == [(1, "SUCCEEDED", True)]
    with stack.log("triggerer").open("rb") as log:
        log.seek(mark)
        text = log.read().decode(errors="replace")
    assert "both files of DEFR 2026-10-12 are there" in task_log(api, run_id, "sponsor_day.wait_for_files", 0)
    stalls = [float(s) for s in re.findall(r"async thread was blocked for ([\d.]+) seconds", text)]
    assert max(stalls, default=0.0) < 1.0, stalls


def test_worker_killed_during_reconcile_retry_completes_without_partial_or_duplicate(
        stack: Stack, api: AirflowApi) -> None:
    from reconciliation.warehouse.db import engine_for
    from reconciliation.warehouse.schema import recon_record, recon_run

    day = date(2026, 10, 19)
    # Big enough that the reconcile (which reuses the gate's parse) is surely still at work
    # when the kill lands: a task that finished first would leave nothing to retry.
    stack.deliver(stack.generate("killed", ["KILL"], day, records=60000, seed=8))
    run_id = api.trigger({"business_date": str(day), "sponsors": ["KILL"], "wait_minutes": 0})
    api.wait_for_state(run_id, ("sponsor_day.reconcile", 0), ("running",), timeout=300)
    [ti] = [t for t in api.task_instances(run_id) if t["task_id"] == "sponsor_day.reconcile"]
    worker = ti["hostname"]
    assert worker in stack.pids
    time.sleep(1)
    stack.kill(worker)  # SIGKILL to the worker's whole process group, task process included
    try:
        state = api.wait(run_id, timeout=400)
    finally:
        stack.start_worker(worker)  # the machine comes back (ready in the background)
    assert state == "success", api.states(run_id)
    [ti] = [t for t in api.task_instances(run_id) if t["task_id"] == "sponsor_day.reconcile"]
    assert ti["try_number"] >= 2 and ti["hostname"] != worker
    assert versions(stack, "KILL", day) == [(1, "SUCCEEDED", True)]
    with engine_for(stack.warehouse_url).connect() as conn:
        orphans = conn.execute(sa.select(sa.func.count()).select_from(recon_record).where(
            recon_record.c.run_id.not_in(sa.select(recon_run.c.run_id)))).scalar()
    assert orphans == 0

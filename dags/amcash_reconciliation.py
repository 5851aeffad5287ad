"""
### AM Cash POS reconciliation — every night, every sponsor

After the midnight (EST) cut-off each sponsor's platform and partner files
arrive over SFTP. Per sponsor, in parallel (dynamic task mapping):
**wait for files** → **download** (verified host key, atomic, archived,
duplicates skipped) → **validate** (the Great Expectations gate,
`reconciliation.pipeline.gate_day`) → **reconcile**
(`reconciliation.pipeline.run_day`) → **upload** the partner's result file.
Then, across sponsors: the **night summary**, which fails when any sponsor
did not reconcile. (The cross-sponsor daily limit needs no task of its own:
each run checks it inside its write transaction, and writers are serialized,
so whichever sponsor completes a limit day sees all the others.)

Trigger with params to re-run: `business_date`, `sponsors`, `force` (run again
even if the files are unchanged), `cascade` (then re-run later dates made
stale), `wait_minutes`. Operator playbook: `docs/operations.md`.

Deployment settings are Airflow Variables read from the environment at parse
time (`AIRFLOW_VAR_AMCASH_SCHEDULE`, `..._TIMEZONE`, `..._RETRIES`, ...), so
parsing never touches the metadata database. Everything else — sponsors,
profiles, tolerances — is the reconciliation YAML (Variable `amcash_config`).
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import CronTriggerTimetable, Param, TriggerRule, conf, dag, task, task_group
from amcash_plugin import night, tasks
from amcash_plugin.notify import on_failure
from amcash_plugin.sensors import SponsorFilesSensor


def setting(name: str, default: str) -> str:
    """A deployment setting: the ``AIRFLOW_VAR_<NAME>`` environment variable, or the default."""
    return os.environ.get(f"AIRFLOW_VAR_{name.upper()}", default)


SCHEDULE = setting("amcash_schedule", "0 2 * * *")  # 02:00, two hours after the cut-off
TIMEZONE = setting("amcash_timezone", "Etc/GMT+5")  # fixed EST (UTC-05:00), the files' clock
RETRIES = int(setting("amcash_retries", "3"))
RETRY_DELAY = timedelta(seconds=int(setting("amcash_retry_delay_seconds", "60")))
POKE_SECONDS = int(setting("amcash_poke_seconds", "300"))
DEFERRABLE = setting("amcash_deferrable", str(conf.getboolean("operators", "default_deferrable",
                                                              fallback=False))).lower() == "true"
PARALLEL_RUNS = int(setting("amcash_parallel_runs", "4"))
# Not 1: a scheduled night waits for late files for hours (deferred, holding no worker), and an
# operator's re-run of another day must not queue behind it. Runs of the same sponsor-day are
# safe side by side (the warehouse decides inside the write transaction); a backfill keeps its
# dates in order with its own max_active_runs.
MAX_ACTIVE_RUNS = int(setting("amcash_max_active_runs", "16"))

default_args: dict[str, Any] = {
    "owner": "amcash-recon",
    "retries": RETRIES,
    "retry_delay": RETRY_DELAY,
    "retry_exponential_backoff": 2.0,  # 1, 2, 4 ... x retry_delay
    "max_retry_delay": timedelta(minutes=30),
    "on_failure_callback": on_failure,
}


@dag(
    dag_id="amcash_reconciliation",
    schedule=CronTriggerTimetable(SCHEDULE, timezone=TIMEZONE),
    start_date=pendulum.datetime(2026, 1, 1, tz=TIMEZONE),
    catchup=False,
    max_active_runs=MAX_ACTIVE_RUNS,
    default_args=default_args,
    tags=["amcash", "reconciliation", "finance", "sftp"],
    doc_md=__doc__,
    params={
        "business_date": Param(None, type=["null", "string"], pattern=r"^\d{4}-\d{2}-\d{2}$",
                               description="YYYY-MM-DD; default: the day before the run, EST"),
        "sponsors": Param([], type="array", items={"type": "string", "pattern": "^[A-Z0-9]{4}$"},
                          description="sponsor codes; default: every configured sponsor"),
        "force": Param(False, type="boolean", description="re-run even if the files are unchanged"),
        "cascade": Param(False, type="boolean", description="then re-run later dates made stale"),
        "wait_minutes": Param(None, type=["null", "integer"], minimum=0,
                              description="how long to wait for late files; default 360"),
    },
)
def amcash_reconciliation() -> None:
    @task
    def plan(**context: Any) -> list[dict[str, Any]]:
        return tasks.plan(context)

    @task
    def download(job: Any) -> dict[str, Any]:
        return tasks.download(job)

    @task(max_active_tis_per_dagrun=PARALLEL_RUNS)
    def validate(job: Any, fetched: Any) -> dict[str, Any]:
        return tasks.validate(job, fetched)

    @task(max_active_tis_per_dagrun=PARALLEL_RUNS)
    def reconcile(job: Any, fetched: Any, gate: Any) -> dict[str, Any]:
        return tasks.reconcile(job, fetched, gate)

    @task
    def upload(job: Any, outcome: Any) -> dict[str, Any]:
        return tasks.upload(job, outcome)

    @task_group
    def sponsor_day(job: Any) -> Any:
        waited = SponsorFilesSensor(task_id="wait_for_files", job=job, mode="reschedule",
                                    poke_interval=POKE_SECONDS, timeout=timedelta(hours=24),
                                    deferrable=DEFERRABLE)
        fetched = download(job)
        outcome = reconcile(job, fetched, validate(job, fetched))
        waited >> fetched
        upload(job, outcome)
        return outcome

    @task(trigger_rule=TriggerRule.ALL_DONE, retries=0)
    def night_summary(jobs: Any, outcomes: Any) -> dict[str, Any]:
        return night.night_summary(jobs, outcomes)

    jobs = plan()
    outcomes = sponsor_day.expand(job=jobs)
    night_summary(jobs, outcomes)


amcash_reconciliation()

"""Start a DAG run through Airflow's own REST API, as the signed-in user.

The re-run goes through ``POST /api/v2/dags/{dag_id}/dagRuns`` with the
user's token forwarded, so Airflow decides whether this user may trigger the
DAG and records the run as theirs; the workbench never bypasses Airflow's
permissions.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx


class TriggerFailed(Exception):
    """Airflow refused or failed to start the run; ``str()`` says why."""


def rerun_conf(day: date, sponsors: list[str], force: bool, cascade: bool) -> dict[str, Any]:
    """The DAG's params for a re-run (see ``dags/amcash_reconciliation.py``)."""
    return {"business_date": day.isoformat(), "sponsors": sponsors, "force": force, "cascade": cascade}


async def trigger(base_url: str, token: str, dag_id: str, conf: dict[str, Any]) -> dict[str, Any]:
    """Trigger the DAG; returns Airflow's DAG run (``dag_run_id``, ``state``, ...).

    Raises:
        TriggerFailed: Airflow answered with an error (its detail is kept).
    """
    url = f"{base_url.rstrip('/')}/api/v2/dags/{dag_id}/dagRuns"
    async with httpx.AsyncClient(timeout=30) as client:
        try:
            response = await client.post(
                url, json={"logical_date": None, "conf": conf}, headers={"Authorization": f"Bearer {token}"}
            )
        except httpx.HTTPError as exc:
            raise TriggerFailed(f"Airflow's API at {base_url} could not be reached: {exc}") from None
    if response.status_code >= 400:
        try:
            detail = response.json().get("detail")
        except ValueError:
            detail = response.text[:300]
        raise TriggerFailed(f"Airflow refused the run (HTTP {response.status_code}): {detail}")
    result: dict[str, Any] = response.json()
    return result

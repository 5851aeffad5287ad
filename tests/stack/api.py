"""A client of Airflow's public REST API, as an operator's script would be: token, then /api/v2.

The token comes from the auth manager (``POST /auth/token`` with the user's
name and password), exactly like any client; nothing here touches Airflow's
database or imports Airflow.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

DAG_ID = "amcash_reconciliation"
FINISHED = ("success", "failed")


class AirflowApi:
    """``/api/v2`` with a bearer token (renewed when it expires)."""

    def __init__(self, base_url: str, user: str, password: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.user, self.password = user, password
        self.client = httpx.Client(base_url=self.base_url, timeout=60)
        self.token = self._token()

    def _token(self) -> str:
        response = self.client.post("/auth/token", json={"username": self.user, "password": self.password})
        if response.status_code != 201:
            raise RuntimeError(f"POST /auth/token: {response.status_code} {response.text}")
        return str(response.json()["access_token"])

    def request(self, method: str, path: str, ok: tuple[int, ...] = (200, 201), **kwargs: Any) -> Any:
        """One call; a status outside ``ok`` raises with the server's answer."""
        for _ in range(2):
            response = self.client.request(method, path, headers={"Authorization": f"Bearer {self.token}"},
                                           **kwargs)
            if response.status_code == 401:
                self.token = self._token()
                continue
            break
        if response.status_code not in ok:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:2000]}")
        return response.json() if response.content else {}

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body: Any, **kwargs: Any) -> Any:
        return self.request("POST", path, json=body, **kwargs)

    # -- what an operator does ---------------------------------------------------------------------------
    def unpause(self, dag_id: str = DAG_ID) -> Any:
        return self.request("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": False})

    def trigger(self, conf: dict[str, Any], dag_id: str = DAG_ID, run_id: str | None = None,
                logical_date: str | None = None) -> str:
        """Trigger a DAG run with params (and a logical date, as a scheduled night has); returns its id."""
        body: dict[str, Any] = {"logical_date": logical_date, "conf": conf}
        if run_id:
            body["dag_run_id"] = run_id
        return str(self.post(f"/api/v2/dags/{dag_id}/dagRuns", body)["dag_run_id"])

    def run(self, run_id: str, dag_id: str = DAG_ID) -> dict[str, Any]:
        return dict(self.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}"))

    def runs(self, dag_id: str = DAG_ID, **params: Any) -> list[dict[str, Any]]:
        return list(self.get(f"/api/v2/dags/{dag_id}/dagRuns", params={"limit": 100, **params})["dag_runs"])

    def wait(self, run_id: str, timeout: float = 240, dag_id: str = DAG_ID) -> str:
        """Wait until the run has finished; returns its state."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.run(run_id, dag_id)["state"]
            if state in FINISHED:
                return str(state)
            time.sleep(2)
        raise TimeoutError(f"run {run_id} did not finish within {timeout:.0f} s: "
                           f"{self.states(run_id, dag_id)}")

    def task_instances(self, run_id: str, dag_id: str = DAG_ID) -> list[dict[str, Any]]:
        return list(self.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances",
                             params={"limit": 1000})["task_instances"])

    def states(self, run_id: str, dag_id: str = DAG_ID) -> dict[tuple[str, int], str | None]:
        """``(task_id, map_index) -> state`` of the run's task instances."""
        return {(ti["task_id"], ti["map_index"]): ti["state"] for ti in self.task_instances(run_id, dag_id)}

    def wait_for_state(self, run_id: str, task: tuple[str, int], states: tuple[str, ...],
                       timeout: float = 180, dag_id: str = DAG_ID) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.states(run_id, dag_id).get(task)
            if state in states:
                return str(state)
            time.sleep(1)
        raise TimeoutError(f"{task} of {run_id} never reached {states}: {self.states(run_id, dag_id)}")

    def clear(self, run_id: str, task_ids: list[Any], *, only_failed: bool = True, downstream: bool = True,
              dag_id: str = DAG_ID) -> list[dict[str, Any]]:
        """Clear task instances of a run (the Grid's **Clear**); returns those cleared."""
        body = {"dry_run": False, "dag_run_id": run_id, "task_ids": task_ids, "only_failed": only_failed,
                "include_downstream": downstream, "include_upstream": False, "reset_dag_runs": True}
        return list(self.post(f"/api/v2/dags/{dag_id}/clearTaskInstances", body)["task_instances"])

    def backfill(self, from_date: str, to_date: str, conf: dict[str, Any], max_active_runs: int = 1,
                 reprocess: str = "none", dag_id: str = DAG_ID) -> dict[str, Any]:
        return dict(self.post("/api/v2/backfills", {
            "dag_id": dag_id, "from_date": from_date, "to_date": to_date, "run_backwards": False,
            "dag_run_conf": conf, "reprocess_behavior": reprocess, "max_active_runs": max_active_runs}))

    def backfill_dry_run(self, body: dict[str, Any]) -> list[str]:
        """The logical dates a backfill with this body would run (``POST /api/v2/backfills/dry_run``)."""
        return [str(b["logical_date"]) for b in self.post("/api/v2/backfills/dry_run", body)["backfills"]]

    def log(self, run_id: str, task_id: str, map_index: int, try_number: int = 1,
            dag_id: str = DAG_ID) -> str:
        """A task instance's log as text."""
        data = self.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}",
                        params={"map_index": map_index, "full_content": True})
        content = data.get("content", "")
        if isinstance(content, list):  # structured lines: keep every field (the error's text is in one)
            return "\n".join(json.dumps(part, default=str) if isinstance(part, dict) else str(part)
                             for part in content)
        return str(content)

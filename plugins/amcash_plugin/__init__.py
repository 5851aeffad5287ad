"""Airflow-facing glue of the AM Cash reconciliation; all the logic lives in ``reconciliation``.

- ``connections``: Airflow connections and Variables -> settings, warehouse URL, SFTP endpoint;
- ``sensors``: wait for a sponsor-day's two files (poke or deferrable);
- ``tasks``: the per-sponsor task bodies (plan, wait, download, reconcile, upload);
- ``night``: the fan-in (daily-limit sweep, night summary and verdict);
- ``notify``: the failure callback (email or webhook, off by default);
- ``workbench``: the reconciliation workbench, a FastAPI app on Airflow's API
  server with a "Reconciliation" entry in the UI's navigation.

Every module imports the reconciliation engine (Polars, paramiko, SQLAlchemy)
inside functions only, so parsing the DAG stays fast and never connects
anywhere: the workbench's app is built on its first request.
"""

from __future__ import annotations

from typing import Any

from airflow.plugins_manager import AirflowPlugin

WORKBENCH_PREFIX = "/reconciliation"


class LazyApp:
    """An ASGI app that builds the workbench on its first request (DAG parsing never pays for it)."""

    def __init__(self) -> None:
        self._app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self._app is None:
            from amcash_plugin.workbench.app import create_app

            self._app = create_app()
        await self._app(scope, receive, send)


class AmcashReconciliationPlugin(AirflowPlugin):
    """The workbench on the API server and its entry in the navigation."""

    name = "amcash_reconciliation"
    fastapi_apps = [  # noqa: RUF012 (the plugins manager reads these class attributes)
        {"app": LazyApp(), "url_prefix": WORKBENCH_PREFIX, "name": "AM Cash reconciliation workbench"}
    ]
    external_views = [  # noqa: RUF012
        {
            "name": "Reconciliation",
            "href": "reconciliation/breaks",
            "url_route": "reconciliation",
            "destination": "nav",
        }
    ]

"""The ``AirflowPlugin``: the workbench on the API server and its entry in Airflow's navigation.

The FastAPI app is built on its first request (``LazyApp``), so loading the
plugin in any Airflow process costs nothing but this module.
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
    """The workbench at ``/reconciliation`` and "Reconciliation" in the navigation."""

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

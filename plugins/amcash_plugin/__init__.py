"""Airflow-facing glue of the AM Cash reconciliation; all the logic lives in ``reconciliation``.

- ``connections``: Airflow connections and Variables -> settings, warehouse URL, SFTP endpoint;
- ``sensors``: wait for a sponsor-day's two files (poke or deferrable);
- ``tasks``: the per-sponsor task bodies (plan, wait, download, reconcile, upload);
- ``night``: the fan-in (night summary and verdict);
- ``notify``: the failure callback (email or webhook, off by default);
- ``workbench``: the reconciliation workbench, a FastAPI app on Airflow's API
  server with a "Reconciliation" entry in the UI's navigation (the
  ``AirflowPlugin`` is ``workbench.plugin``, registered by ``plugins/amcash_workbench.py``).

Every module imports the reconciliation engine (Polars, paramiko, SQLAlchemy)
inside functions only, so parsing the DAG stays fast and never connects
anywhere; nothing here imports the plugins manager or the workbench.
"""

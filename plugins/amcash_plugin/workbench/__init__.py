"""The reconciliation workbench's web layer: a FastAPI app mounted on Airflow's API server.

``app`` holds the routes and pages, ``auth`` who the user is (Airflow's own
login) and the forgery check, ``airflow_api`` the re-run trigger. All logic
is ``reconciliation.workbench``; this package only translates HTTP.
"""

"""The reconciliation workbench: review, assign, resolve and approve breaks; see the nights; re-run days.

One implementation for the web pages (the Airflow plugin) and ``recon
breaks``: ``config`` (who holds which role, the four-eyes threshold),
``store`` (a warehouse connection per request, never blocking a run),
``service`` (the actions and their rules), ``views`` (what the pages read),
``export`` (CSV and Excel of exactly the filtered view).
"""

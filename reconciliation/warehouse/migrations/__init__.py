"""Alembic migrations of the warehouse schema (``env.py`` and ``versions/``).

Each revision is frozen, explicit DDL. Adding a schema change means adding
one file to ``versions/`` whose ``down_revision`` is the current head, and
moving ``HEAD`` below to it; ``reconciliation.warehouse.migrate`` finds the
chain from there.
"""

from pathlib import Path

#: The folder Alembic reads (``script_location``).
LOCATION = Path(__file__).parent

#: Alembic's version table, named for us: the warehouse may share a PostgreSQL
#: database with another Alembic user (Airflow's metadata has ``alembic_version``).
VERSION_TABLE = "recon_alembic_version"

#: This code's head revision, known without importing Alembic (a test holds it
#: equal to the head Alembic finds): commands that only read the warehouse
#: check its revision with one query and never pay Alembic's import.
HEAD = "0003_workbench"

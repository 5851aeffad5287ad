"""Alembic revisions, one file each (a package so that they ship with the code)."""

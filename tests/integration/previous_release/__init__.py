"""A warehouse exactly as release aa4f1fa (the last one before migrations) created it.

``schema_aa4f1fa`` and ``validation_aa4f1fa`` are verbatim copies of that
release's table definitions (only the import of the shared metadata points
here); ``create`` does what its ``ensure_schema`` did on an empty database.
Frozen in the tests so the upgrade test does not need the git history.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from tests.integration.previous_release import validation_aa4f1fa
from tests.integration.previous_release.schema_aa4f1fa import metadata, recon_schema_version

TABLES = tuple(metadata.tables)
assert "recon_validation" in TABLES and validation_aa4f1fa.recon_validation is metadata.tables[
    "recon_validation"]


def create(url: str) -> None:
    """Create release aa4f1fa's tables and its version row in an empty database."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            metadata.create_all(conn, checkfirst=True)
            conn.execute(recon_schema_version.insert().values(version=1, applied_at=datetime.now(UTC)))
    finally:
        engine.dispose()


def copy_rows(source_url: str, target_url: str) -> dict[str, list[tuple]]:
    """Copy every row of release aa4f1fa's tables (but the version row) from one warehouse to another.

    Returns:
        table -> its rows, sorted, as read from the source.
    """
    source, target = sa.create_engine(source_url), sa.create_engine(target_url)
    copied: dict[str, list[tuple]] = {}
    try:
        with source.connect() as read, target.begin() as write:
            for name, table in metadata.tables.items():
                if name == "recon_schema_version":
                    continue
                rows = [r._asdict() for r in read.execute(sa.select(table))]
                if rows:
                    write.execute(table.insert(), rows)
                copied[name] = sorted((tuple(r.values()) for r in rows), key=repr)
    finally:
        source.dispose()
        target.dispose()
    return copied


def all_rows(url: str) -> dict[str, list[tuple]]:
    """Every row of release aa4f1fa's tables, sorted, by table."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return {name: sorted((tuple(r) for r in conn.execute(sa.select(table))), key=repr)
                    for name, table in metadata.tables.items()}
    finally:
        engine.dispose()

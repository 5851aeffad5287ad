"""A key/value table for facts about the warehouse itself, and a fence for older releases.

``warehouse_meta`` holds, among others, the fingerprint of the collector
hash key the warehouse was written with (``reconciliation.warehouse.meta``).

Release aa4f1fa refuses a warehouse whose ``recon_schema_version`` is above
1 ("newer than this code"); recording version 2 there keeps that release
from writing into an upgraded warehouse, where it would skip the key check.
Later revisions need not touch that table again.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0002_warehouse_meta"
down_revision = "0001_initial"
branch_labels = None
depends_on = None

_schema_version = sa.table("recon_schema_version", sa.column("version", sa.Integer()),
                           sa.column("applied_at", sa.DateTime(timezone=True)))


def upgrade() -> None:
    """Create ``warehouse_meta`` and fence off release aa4f1fa."""
    op.create_table(
        "warehouse_meta",
        sa.Column("name", sa.String(64), primary_key=True, nullable=False),
        sa.Column("value", sa.String(255), nullable=False),
    )
    op.execute(_schema_version.insert().values(version=2, applied_at=datetime.now(UTC)))


def downgrade() -> None:
    """Drop ``warehouse_meta`` (and the fingerprint it holds)."""
    op.execute(_schema_version.delete().where(_schema_version.c.version == 2))
    op.drop_table("warehouse_meta")

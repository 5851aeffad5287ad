"""The workbench: audit trail, assignments, four-eyes approvals; indexes for the breaks page.

Frozen DDL (never the live ``metadata``), matching
``reconciliation/warehouse/workbench.py`` at the time of writing. On
PostgreSQL a trigger refuses UPDATE and DELETE on ``recon_audit``, so the
trail is append-only in the database too, not only in the code. Indexes are
PostgreSQL-only, like every index of the warehouse (DuckDB scans with zone
maps and pays for index upkeep on bulk inserts).

Revision ID: 0003_workbench
Revises: 0002_warehouse_meta
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_workbench"
down_revision = "0002_warehouse_meta"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)

APPEND_ONLY = """
CREATE OR REPLACE FUNCTION recon_audit_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'recon_audit is append-only: % is refused', TG_OP;
END;
$$ LANGUAGE plpgsql
"""


def _pg() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    op.create_table(
        "recon_audit",
        sa.Column("audit_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("acted_at", TS, nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("break_id", sa.BigInteger),
        sa.Column("request_id", sa.BigInteger),
        sa.Column("reason_code", sa.String(32)),
        sa.Column("note", sa.Text),
        sa.Column("detail", sa.Text),
        sa.Column("source", sa.String(8), nullable=False),
    )
    op.create_table(
        "recon_assignment",
        sa.Column("break_key", sa.String(200), primary_key=True),
        sa.Column("assignee", sa.String(128), nullable=False),
        sa.Column("assigned_by", sa.String(128), nullable=False),
        sa.Column("assigned_at", TS, nullable=False),
    )
    op.create_table(
        "recon_approval",
        sa.Column("request_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("break_id", sa.BigInteger, nullable=False),
        sa.Column("resolution", sa.String(32), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("amount", sa.Numeric(12, 2), nullable=False),
        sa.Column("requested_by", sa.String(128), nullable=False),
        sa.Column("requested_at", TS, nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("decided_by", sa.String(128)),
        sa.Column("decided_at", TS),
        sa.Column("decision_note", sa.Text),
    )
    if _pg():
        op.create_index("ix_recon_audit_break", "recon_audit", ["break_id"])
        op.create_index("ix_recon_assignment_assignee", "recon_assignment", ["assignee"])
        op.create_index("ix_recon_approval_break", "recon_approval", ["break_id"])
        op.create_index("ix_recon_approval_status", "recon_approval", ["status"])
        # The breaks page: unresolved first, by date; confirmation-number look-ups.
        op.create_index("ix_recon_break_status_date", "recon_break", ["status", "business_date"])
        op.create_index("ix_recon_break_confirmation", "recon_break", ["confirmation_number"])
        op.create_index("ix_recon_run_current", "recon_run", ["is_current", "run_id"])
        op.execute(APPEND_ONLY)
        op.execute(
            "CREATE TRIGGER recon_audit_append_only BEFORE UPDATE OR DELETE ON recon_audit "
            "FOR EACH ROW EXECUTE FUNCTION recon_audit_append_only()"
        )


def downgrade() -> None:
    if _pg():
        op.execute("DROP TRIGGER IF EXISTS recon_audit_append_only ON recon_audit")
        op.execute("DROP FUNCTION IF EXISTS recon_audit_append_only()")
        op.drop_index("ix_recon_run_current", table_name="recon_run")
        op.drop_index("ix_recon_break_confirmation", table_name="recon_break")
        op.drop_index("ix_recon_break_status_date", table_name="recon_break")
    op.drop_table("recon_approval")
    op.drop_table("recon_assignment")
    op.drop_table("recon_audit")

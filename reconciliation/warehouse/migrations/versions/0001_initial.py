"""The warehouse as release aa4f1fa created it: the starting point of every upgrade.

Frozen, explicit DDL (never the live ``metadata``), so that this revision
means the same tables forever, whatever ``schema.py`` becomes. It includes
``recon_validation`` (defined in ``quality/table.py`` and created with the
others) and ``recon_schema_version``, the version table of that release.
Indexes exist on PostgreSQL only, as that release made them (DuckDB scans
with zone maps and pays heavily for index upkeep on bulk inserts).

A warehouse written by that release has exactly these tables and no
``alembic_version``; ``recon db upgrade`` stamps it at this revision.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None

#: (name, table, columns) of the PostgreSQL-only indexes.
INDEXES = (
    ("ix_recon_run_sponsor_date", "recon_run", ('sponsor_code', 'business_date')),
    ("ix_recon_break_sponsor_date", "recon_break", ('sponsor_code', 'business_date')),
    ("ix_recon_break_run", "recon_break", ('run_id',)),
    ("ix_recon_break_key", "recon_break", ('break_key',)),
    ("ix_recon_break_event_break", "recon_break_event", ('break_id',)),
    ("ix_recon_break_event_run", "recon_break_event", ('run_id',)),
    ("ix_recon_match_run", "recon_match", ('run_id',)),
    ("ix_recon_rejected_run", "recon_rejected_record", ('run_id',)),
    ("ix_recon_summary_run", "recon_summary", ('run_id',)),
    ("ix_recon_record_sponsor_date", "recon_record", ('sponsor_code', 'business_date')),
    ("ix_recon_record_run", "recon_record", ('run_id',)),
    ("ix_recon_pending_break", "recon_pending_record", ('break_id',)),
    ("ix_recon_validation_run", "recon_validation", ('run_id',)),
)

#: The tables of this revision, in creation order.
TABLES = ("recon_schema_version", "recon_run", "recon_break", "recon_break_event", "recon_match",
          "recon_rejected_record", "recon_summary", "recon_record", "recon_pending_record",
          "recon_validation")


def upgrade() -> None:
    """Create the tables of release aa4f1fa (and its indexes on PostgreSQL)."""
    op.create_table(
        "recon_schema_version",
        sa.Column("version", sa.Integer(), nullable=False, primary_key=True, autoincrement=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "recon_run",
        sa.Column("run_id", sa.BigInteger(), nullable=False, primary_key=True, autoincrement=False),
        sa.Column("sponsor_code", sa.String(4), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("is_current", sa.Boolean(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("partner_file", sa.String(255)),
        sa.Column("platform_file", sa.String(255)),
        sa.Column("partner_sha256", sa.String(64)),
        sa.Column("platform_sha256", sa.String(64)),
        sa.Column("partner_records", sa.BigInteger()),
        sa.Column("platform_records", sa.BigInteger()),
        sa.Column("rejected_records", sa.BigInteger()),
        sa.Column("matched_pairs", sa.BigInteger()),
        sa.Column("error", sa.Text()),
        sa.Column("partner_profile", sa.String(64)),
        sa.Column("triggered_by", sa.String(64)),
    )
    op.create_table(
        "recon_break",
        sa.Column("break_id", sa.BigInteger(), nullable=False, primary_key=True, autoincrement=False),
        sa.Column("break_key", sa.String(200), nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("sponsor_code", sa.String(4), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("break_type", sa.String(32), nullable=False),
        sa.Column("severity", sa.String(8), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("side", sa.String(8), nullable=False),
        sa.Column("txn_type", sa.String(8)),
        sa.Column("confirmation_number", sa.String(16)),
        sa.Column("trace_id", sa.String(12)),
        sa.Column("store_id", sa.String(4)),
        sa.Column("device_id", sa.String(3)),
        sa.Column("partner_miles", sa.BigInteger()),
        sa.Column("platform_miles", sa.BigInteger()),
        sa.Column("partner_dollars", sa.Numeric(12, 2)),
        sa.Column("platform_dollars", sa.Numeric(12, 2)),
        sa.Column("delta_dollars", sa.Numeric(12, 2)),
        sa.Column("detail", sa.Text()),
        sa.Column("resolved_date", sa.Date()),
        sa.Column("resolution", sa.String(32)),
        sa.Column("resolved_by", sa.String(128)),
        sa.Column("partner_line", sa.BigInteger()),
        sa.Column("platform_line", sa.BigInteger()),
        sa.Column("partner_business_date", sa.Date()),
        sa.Column("platform_business_date", sa.Date()),
        sa.Column("partner_ts", sa.DateTime(timezone=True)),
        sa.Column("platform_ts", sa.DateTime(timezone=True)),
        sa.Column("partner_units", sa.BigInteger()),
        sa.Column("platform_units", sa.BigInteger()),
        sa.Column("original_confirmation_number", sa.String(16)),
        sa.Column("pos_transaction_id", sa.String(32)),
        sa.Column("collector_last4", sa.String(4)),
        sa.Column("collector_hash", sa.BigInteger()),
        sa.Column("note", sa.Text()),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "recon_break_event",
        sa.Column("break_id", sa.BigInteger(), nullable=False),
        sa.Column("run_id", sa.BigInteger()),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("old_status", sa.String(8)),
        sa.Column("new_status", sa.String(8), nullable=False),
        sa.Column("old_resolution", sa.String(32)),
        sa.Column("resolution", sa.String(32)),
        sa.Column("changed_by", sa.String(128), nullable=False),
        sa.Column("note", sa.Text()),
    )
    op.create_table(
        "recon_match",
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("sponsor_code", sa.String(4), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("txn_type", sa.String(8), nullable=False),
        sa.Column("confirmation_number", sa.String(16)),
        sa.Column("rule", sa.String(8), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("partner_line", sa.BigInteger()),
        sa.Column("platform_line", sa.BigInteger()),
        sa.Column("partner_business_date", sa.Date()),
        sa.Column("platform_business_date", sa.Date()),
    )
    op.create_table(
        "recon_rejected_record",
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("side", sa.String(8), nullable=False),
        sa.Column("file_name", sa.String(255), nullable=False),
        sa.Column("line_number", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("raw_line", sa.Text(), nullable=False),
    )
    op.create_table(
        "recon_summary",
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("sponsor_code", sa.String(4), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("side", sa.String(8), nullable=False),
        sa.Column("records", sa.BigInteger(), nullable=False),
        sa.Column("rejected", sa.BigInteger(), nullable=False),
        sa.Column("declined", sa.BigInteger(), nullable=False),
        sa.Column("matched", sa.BigInteger(), nullable=False),
        sa.Column("settled", sa.BigInteger(), nullable=False),
        sa.Column("in_break", sa.BigInteger(), nullable=False),
        sa.Column("redeem_count", sa.BigInteger(), nullable=False),
        sa.Column("redeem_miles", sa.BigInteger(), nullable=False),
        sa.Column("redeem_dollars", sa.Numeric(12, 2), nullable=False),
        sa.Column("reverse_count", sa.BigInteger(), nullable=False),
        sa.Column("reverse_miles", sa.BigInteger(), nullable=False),
        sa.Column("reverse_dollars", sa.Numeric(12, 2), nullable=False),
        sa.Column("breaks_total", sa.BigInteger(), nullable=False),
        sa.Column("breaks_missing_on_platform", sa.BigInteger(), nullable=False),
        sa.Column("breaks_missing_at_partner", sa.BigInteger(), nullable=False),
        sa.Column("breaks_amount_mismatch", sa.BigInteger(), nullable=False),
        sa.Column("breaks_timestamp_drift", sa.BigInteger(), nullable=False),
        sa.Column("breaks_duplicate", sa.BigInteger(), nullable=False),
        sa.Column("breaks_orphan_reversal", sa.BigInteger(), nullable=False),
        sa.Column("breaks_late_reversal", sa.BigInteger(), nullable=False),
        sa.Column("breaks_double_reversal", sa.BigInteger(), nullable=False),
        sa.Column("breaks_reversal_mismatch", sa.BigInteger(), nullable=False),
        sa.Column("breaks_conversion_error", sa.BigInteger(), nullable=False),
        sa.Column("breaks_daily_limit_exceeded", sa.BigInteger(), nullable=False),
        sa.Column("money_at_stake", sa.Numeric(12, 2), nullable=False),
    )
    op.create_table(
        "recon_record",
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("side", sa.String(8), nullable=False),
        sa.Column("sponsor_code", sa.String(4), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("line_number", sa.BigInteger(), nullable=False),
        sa.Column("txn_type", sa.String(8), nullable=False),
        sa.Column("confirmation_number", sa.String(16)),
        sa.Column("original_confirmation_number", sa.String(16)),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("origin", sa.String(8)),
        sa.Column("response_code", sa.String(4)),
        sa.Column("store_id", sa.String(4)),
        sa.Column("device_id", sa.String(3)),
        sa.Column("trace_id", sa.String(12)),
        sa.Column("units", sa.BigInteger(), nullable=False),
        sa.Column("miles", sa.BigInteger(), nullable=False),
        sa.Column("dollars", sa.Numeric(12, 2), nullable=False),
        sa.Column("collector_last4", sa.String(4)),
        sa.Column("collector_hash", sa.BigInteger()),
        sa.Column("disposition", sa.String(16), nullable=False),
    )
    op.create_table(
        "recon_pending_record",
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("break_id", sa.BigInteger(), nullable=False),
        sa.Column("side", sa.String(8), nullable=False),
        sa.Column("sponsor_code", sa.String(4), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("line_number", sa.BigInteger(), nullable=False),
        sa.Column("txn_type", sa.String(8), nullable=False),
        sa.Column("confirmation_number", sa.String(16)),
        sa.Column("original_confirmation_number", sa.String(16)),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("partner_ts", sa.DateTime(timezone=True)),
        sa.Column("store_id", sa.String(4)),
        sa.Column("device_id", sa.String(3)),
        sa.Column("card_terminal_id", sa.String(16)),
        sa.Column("trace_id", sa.String(12)),
        sa.Column("pos_transaction_id", sa.String(32)),
        sa.Column("collector_last4", sa.String(4)),
        sa.Column("collector_hash", sa.BigInteger()),
        sa.Column("units", sa.BigInteger(), nullable=False),
        sa.Column("miles", sa.BigInteger(), nullable=False),
        sa.Column("dollars", sa.Numeric(12, 2), nullable=False),
        sa.Column("response_code", sa.String(4)),
        sa.Column("origin", sa.String(8)),
    )
    op.create_table(
        "recon_validation",
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("side", sa.String(8), nullable=False),
        sa.Column("file_name", sa.String(255), nullable=False),
        sa.Column("expectation", sa.String(64), nullable=False),
        sa.Column("column_name", sa.String(64)),
        sa.Column("severity", sa.String(8), nullable=False),
        sa.Column("success", sa.Boolean(), nullable=False),
        sa.Column("element_count", sa.BigInteger()),
        sa.Column("unexpected_count", sa.BigInteger()),
        sa.Column("unexpected_percent", sa.Float()),
        sa.Column("observed_value", sa.Text()),
        sa.Column("unexpected_sample", sa.Text()),
        sa.Column("validated_at", sa.DateTime(timezone=True), nullable=False),
    )
    if op.get_bind().dialect.name == "postgresql":
        for name, table, columns in INDEXES:
            op.create_index(name, table, list(columns))


def downgrade() -> None:
    """Drop every table of this revision (and with them all data)."""
    for table in reversed(TABLES):
        op.drop_table(table)

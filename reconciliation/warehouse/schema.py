"""Warehouse tables, defined once as SQLAlchemy Core metadata.

Table and column names of the five contract tables follow spec §6 exactly;
the extra columns and tables hold what later runs and reports need (the
records a run saw, the audit trail of break status changes). Keys are
allocated by the writer under a lock, never by SERIAL, because DuckDB has
none.

This is the code's view of the tables; the database gets them from the
Alembic revisions in ``migrations/versions``, and a test compares the two.
Change a table here and add a revision there, together.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    MetaData,
    Numeric,
    Select,
    String,
    Table,
    Text,
    select,
)

# The break types are the domain's (``reconciliation.breaktypes``); they are
# re-exported here for code that has always imported them with the tables.
from reconciliation.breaktypes import BREAK_TYPES as BREAK_TYPES
from reconciliation.breaktypes import INITIAL_STATUS as INITIAL_STATUS
from reconciliation.breaktypes import SEVERITY as SEVERITY

metadata = MetaData()


def money(name: str, **kwargs: object) -> Column:
    """An exact money column: NUMERIC(12, 2), returned as ``Decimal``."""
    return Column(name, Numeric(12, 2, asdecimal=True), **kwargs)  # type: ignore[arg-type]


def pg_index(name: str, *columns: str) -> Index:
    """An index created on PostgreSQL only.

    DuckDB scans with zone maps and pays dearly for maintaining ART indexes on
    bulk inserts (six times slower in our measurements), so it gets none.
    """
    return Index(name, *columns).ddl_if(dialect="postgresql")


def ts(name: str, **kwargs: object) -> Column:
    """A timezone-aware timestamp column (instants are stored in UTC)."""
    return Column(name, DateTime(timezone=True), **kwargs)  # type: ignore[arg-type]


#: The version table of release aa4f1fa, kept as a fence: revision 0002 records
#: version 2 here, which that release refuses as "newer than this code". The
#: schema's version is Alembic's ``alembic_version`` (``warehouse.migrate``).
recon_schema_version = Table(
    "recon_schema_version",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    ts("applied_at", nullable=False),
)

recon_run = Table(
    "recon_run",
    metadata,
    Column("run_id", BigInteger, primary_key=True, autoincrement=False),
    Column("sponsor_code", String(4), nullable=False),
    Column("business_date", Date, nullable=False),
    Column("version", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("is_current", Boolean, nullable=False),
    ts("started_at", nullable=False),
    ts("finished_at"),
    Column("partner_file", String(255)),
    Column("platform_file", String(255)),
    Column("partner_sha256", String(64)),
    Column("platform_sha256", String(64)),
    Column("partner_records", BigInteger),
    Column("platform_records", BigInteger),
    Column("rejected_records", BigInteger),
    Column("matched_pairs", BigInteger),
    Column("error", Text),
    # Extras: how the run was started and with which layout.
    Column("partner_profile", String(64)),
    Column("triggered_by", String(64)),
    pg_index("ix_recon_run_sponsor_date", "sponsor_code", "business_date"),
)


def current_run_ids() -> Select[Any]:
    """A sub-select of the run_ids of every current version (what reports and the break workflow read)."""
    return select(recon_run.c.run_id).where(recon_run.c.is_current.is_(True))


#: Facts about the warehouse itself, such as the collector hash key's
#: fingerprint (``warehouse.meta``); revision 0002.
warehouse_meta = Table(
    "warehouse_meta",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", String(255), nullable=False),
)

recon_break = Table(
    "recon_break",
    metadata,
    Column("break_id", BigInteger, primary_key=True, autoincrement=False),
    Column("break_key", String(200), nullable=False),
    Column("run_id", BigInteger, nullable=False),
    Column("sponsor_code", String(4), nullable=False),
    Column("business_date", Date, nullable=False),
    Column("break_type", String(32), nullable=False),
    Column("severity", String(8), nullable=False),
    Column("status", String(8), nullable=False),
    Column("side", String(8), nullable=False),
    Column("txn_type", String(8)),
    Column("confirmation_number", String(16)),
    Column("trace_id", String(12)),
    Column("store_id", String(4)),
    Column("device_id", String(3)),
    Column("partner_miles", BigInteger),
    Column("platform_miles", BigInteger),
    money("partner_dollars"),
    money("platform_dollars"),
    money("delta_dollars"),
    Column("detail", Text),
    Column("resolved_date", Date),
    Column("resolution", String(32)),
    Column("resolved_by", String(128)),
    # Extras: where the records are, and what a reviewer needs to find them.
    Column("partner_line", BigInteger),
    Column("platform_line", BigInteger),
    Column("partner_business_date", Date),
    Column("platform_business_date", Date),
    ts("partner_ts"),
    ts("platform_ts"),
    Column("partner_units", BigInteger),
    Column("platform_units", BigInteger),
    Column("original_confirmation_number", String(16)),
    Column("pos_transaction_id", String(32)),
    Column("collector_last4", String(4)),
    Column("collector_hash", BigInteger),
    Column("note", Text),
    ts("raised_at", nullable=False),
    ts("updated_at", nullable=False),
    pg_index("ix_recon_break_sponsor_date", "sponsor_code", "business_date"),
    pg_index("ix_recon_break_key", "break_key"),
    pg_index("ix_recon_break_run", "run_id"),
)

#: Every status change of a break: who or which run, when, why.
recon_break_event = Table(
    "recon_break_event",
    metadata,
    Column("break_id", BigInteger, nullable=False),
    Column("run_id", BigInteger),
    ts("changed_at", nullable=False),
    Column("old_status", String(8)),
    Column("new_status", String(8), nullable=False),
    Column("old_resolution", String(32)),
    Column("resolution", String(32)),
    Column("changed_by", String(128), nullable=False),
    Column("note", Text),
    pg_index("ix_recon_break_event_break", "break_id"),
    pg_index("ix_recon_break_event_run", "run_id"),
)

recon_match = Table(
    "recon_match",
    metadata,
    Column("run_id", BigInteger, nullable=False),
    Column("sponsor_code", String(4), nullable=False),
    Column("business_date", Date, nullable=False),
    Column("txn_type", String(8), nullable=False),
    Column("confirmation_number", String(16)),
    Column("rule", String(8), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("partner_line", BigInteger),
    Column("platform_line", BigInteger),
    Column("partner_business_date", Date),
    Column("platform_business_date", Date),
    pg_index("ix_recon_match_run", "run_id"),
)

recon_rejected_record = Table(
    "recon_rejected_record",
    metadata,
    Column("run_id", BigInteger, nullable=False),
    Column("side", String(8), nullable=False),
    Column("file_name", String(255), nullable=False),
    Column("line_number", BigInteger, nullable=False),
    Column("reason", Text, nullable=False),
    Column("raw_line", Text, nullable=False),
    pg_index("ix_recon_rejected_run", "run_id"),
)

#: One row per run and side (PARTNER, PLATFORM) with record counts and totals,
#: plus one row with side BOTH for the pair-level breaks.
recon_summary = Table(
    "recon_summary",
    metadata,
    Column("run_id", BigInteger, nullable=False),
    Column("sponsor_code", String(4), nullable=False),
    Column("business_date", Date, nullable=False),
    Column("side", String(8), nullable=False),
    Column("records", BigInteger, nullable=False),
    Column("rejected", BigInteger, nullable=False),
    Column("declined", BigInteger, nullable=False),
    Column("matched", BigInteger, nullable=False),
    Column("settled", BigInteger, nullable=False),
    Column("in_break", BigInteger, nullable=False),
    Column("redeem_count", BigInteger, nullable=False),
    Column("redeem_miles", BigInteger, nullable=False),
    money("redeem_dollars", nullable=False),
    Column("reverse_count", BigInteger, nullable=False),
    Column("reverse_miles", BigInteger, nullable=False),
    money("reverse_dollars", nullable=False),
    Column("breaks_total", BigInteger, nullable=False),
    *(Column(f"breaks_{t.lower()}", BigInteger, nullable=False) for t in BREAK_TYPES),
    money("money_at_stake", nullable=False),
    pg_index("ix_recon_summary_run", "run_id"),
)

#: The usable records a run saw, slim: what later runs look up (reversal
#: history, the daily limit) and where each record ended (conservation).
recon_record = Table(
    "recon_record",
    metadata,
    Column("run_id", BigInteger, nullable=False),
    Column("side", String(8), nullable=False),
    Column("sponsor_code", String(4), nullable=False),
    Column("business_date", Date, nullable=False),
    Column("line_number", BigInteger, nullable=False),
    Column("txn_type", String(8), nullable=False),
    Column("confirmation_number", String(16)),
    Column("original_confirmation_number", String(16)),
    ts("ts", nullable=False),
    Column("origin", String(8)),
    Column("response_code", String(4)),
    Column("store_id", String(4)),
    Column("device_id", String(3)),
    Column("trace_id", String(12)),
    Column("units", BigInteger, nullable=False),
    Column("miles", BigInteger, nullable=False),
    money("dollars", nullable=False),
    Column("collector_last4", String(4)),
    Column("collector_hash", BigInteger),
    Column("disposition", String(16), nullable=False),
    pg_index("ix_recon_record_run", "run_id"),
    pg_index("ix_recon_record_sponsor_date", "sponsor_code", "business_date"),
)

#: The full normalized record behind every PENDING break, so it can
#: re-enter matching in later runs (spec §5).
recon_pending_record = Table(
    "recon_pending_record",
    metadata,
    Column("run_id", BigInteger, nullable=False),
    Column("break_id", BigInteger, nullable=False),
    Column("side", String(8), nullable=False),
    Column("sponsor_code", String(4), nullable=False),
    Column("business_date", Date, nullable=False),
    Column("line_number", BigInteger, nullable=False),
    Column("txn_type", String(8), nullable=False),
    Column("confirmation_number", String(16)),
    Column("original_confirmation_number", String(16)),
    ts("ts", nullable=False),
    ts("partner_ts"),
    Column("store_id", String(4)),
    Column("device_id", String(3)),
    Column("card_terminal_id", String(16)),
    Column("trace_id", String(12)),
    Column("pos_transaction_id", String(32)),
    Column("collector_last4", String(4)),
    Column("collector_hash", BigInteger),
    Column("units", BigInteger, nullable=False),
    Column("miles", BigInteger, nullable=False),
    money("dollars", nullable=False),
    Column("response_code", String(4)),
    Column("origin", String(8)),
    pg_index("ix_recon_pending_break", "break_id"),
)

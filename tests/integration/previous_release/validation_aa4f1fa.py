"""FROZEN COPY of release aa4f1fa's reconciliation/quality/table.py (never edit).

The ``recon_validation`` table: every expectation's outcome, per run and file.

Defined on the warehouse's metadata so ``ensure_schema`` creates it with the
contract tables. Rows are written in the run's own transaction, for
rejected runs too: a file stopped by the gate leaves the reason in
``recon_run.error`` and the evidence here.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Float, String, Table, Text

from tests.integration.previous_release.schema_aa4f1fa import metadata, pg_index, ts

recon_validation = Table(
    "recon_validation",
    metadata,
    Column("run_id", BigInteger, nullable=False),
    Column("side", String(8), nullable=False),
    Column("file_name", String(255), nullable=False),
    Column("expectation", String(64), nullable=False),
    Column("column_name", String(64)),
    Column("severity", String(8), nullable=False),
    Column("success", Boolean, nullable=False),
    Column("element_count", BigInteger),
    Column("unexpected_count", BigInteger),
    # A share of records, not money: a float is fine here.
    Column("unexpected_percent", Float),
    Column("observed_value", Text),
    # A few distinct unexpected values, digit runs of 9+ masked to their last 4.
    Column("unexpected_sample", Text),
    ts("validated_at", nullable=False),
    pg_index("ix_recon_validation_run", "run_id"),
)

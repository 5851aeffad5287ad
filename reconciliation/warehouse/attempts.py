"""Recording a run that did not succeed: its ``recon_run`` row, and its validation results.

Every attempt gets a row (spec §6), a failed one too, so an operator finds
in the warehouse why a night is missing. When the warehouse itself is what
failed (a full disk, a lost server), the record may be refused as well;
``record_failure`` then says so in the one sentence the operator sees,
rather than losing the first failure behind the second.
"""

from __future__ import annotations

from typing import Any

import polars as pl
from sqlalchemy.engine import Connection, Engine

from reconciliation.errors import WarehouseError
from reconciliation.quality.table import recon_validation
from reconciliation.warehouse.db import insert_frame, write_transaction
from reconciliation.warehouse.failures import cause
from reconciliation.warehouse.meta import claim_key
from reconciliation.warehouse.writer import insert_run, next_version, now_utc


def write_quality(conn: Connection, run_id: int, quality: list[Any]) -> None:
    """Store the expectations' outcomes of a run's files (``QualityReport.results``)."""
    if not quality:
        return
    frames = [q.results.with_columns(run_id=pl.lit(run_id, dtype=pl.Int64)) for q in quality]
    insert_frame(conn, recon_validation, pl.concat(frames, how="diagonal_relaxed"))


def record_attempt(engine: Engine, row: dict[str, Any], status: str, error: str,
                   quality: list[Any] | None = None) -> tuple[int, int]:
    """Record an attempt that did not succeed, with the next version of its sponsor-day.

    Args:
        engine: The warehouse.
        row: The ``recon_run`` columns known so far, plus ``key_fingerprint``
            (checked, and recorded at the warehouse's first write).
        status: REJECTED, MISSING_INPUT or FAILED.
        error: One sentence saying why.
        quality: Validation results to keep with it.

    Returns:
        The attempt's run_id and version.
    """
    row = dict(row)
    fingerprint = row.pop("key_fingerprint")
    with write_transaction(engine, f"recording the {status} run of {row['sponsor_code']} "
                                   f"{row['business_date']}") as conn:
        claim_key(conn, fingerprint)
        version = next_version(conn, row["sponsor_code"], row["business_date"])
        run_id = insert_run(conn, {**row, "status": status, "error": error, "finished_at": now_utc(),
                                   "version": version})
        write_quality(conn, run_id, quality or [])
    return run_id, version


def record_failure(engine: Engine, row: dict[str, Any], error: str) -> tuple[int, int]:
    """Record a FAILED attempt with its one-sentence ``error``, or say that it could not be recorded.

    Raises:
        WarehouseError: the warehouse refused the record too (the same full
            disk, the lost server): one sentence with both failures.
    """
    try:
        return record_attempt(engine, row, "FAILED", error)
    except WarehouseError as exc:
        raise WarehouseError(
            f"{row['sponsor_code']} {row['business_date']} failed and the failure could not be "
            f"recorded in the warehouse ({cause(exc.__cause__ or exc, engine.url)}): {error}") from exc


__all__ = ["record_attempt", "record_failure", "write_quality"]

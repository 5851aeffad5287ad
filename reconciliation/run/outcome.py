"""What one sponsor-day run did, as the command line, the DAG and the reports read it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path


@dataclass
class RunOutcome:
    """What one sponsor-day run did.

    Attributes:
        sponsor_code: The sponsor.
        business_date: The business date reconciled.
        status: SUCCEEDED, REJECTED, MISSING_INPUT or FAILED (``gate_day``: PASSED).
        run_id: The ``recon_run`` row written.
        version: The run's version for this sponsor and date.
        error: One sentence naming the file and the first problem, for a failed run.
        stale_dates: Later dates of the sponsor with current runs, now stale.
        counts: Records, matched pairs and breaks by type, for the end-of-run summary.
        money_at_stake: Sum of |delta_dollars| of the breaks raised.
        report_paths: Reports written for the run.
        warnings: Things that did not fail the run but an operator should see.
    """

    sponsor_code: str
    business_date: date
    status: str
    run_id: int | None = None
    version: int | None = None
    error: str | None = None
    stale_dates: list[date] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    money_at_stake: Decimal = Decimal("0.00")
    report_paths: dict[str, Path] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    skipped: str | None = None


__all__ = ["RunOutcome"]

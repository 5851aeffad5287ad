"""One reconciliation run end to end: locate, parse, validate, match, write.

This is the single entry point the ``recon run`` command and the Airflow DAG
both call, so a night reconciled by either is the same night.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from reconciliation.config import Settings


@dataclass
class RunOutcome:
    """What one sponsor-day run did.

    Attributes:
        sponsor_code: The sponsor.
        business_date: The business date reconciled.
        status: SUCCEEDED, REJECTED, MISSING_INPUT or FAILED.
        run_id: The ``recon_run`` row written (None if the warehouse was unreachable).
        version: The run's version for this sponsor and date.
        error: One sentence naming the file and the first problem, for a failed run.
        stale_dates: Later dates of the sponsor with current runs, now stale.
        counts: Records, matched pairs and breaks by type, for the end-of-run summary.
        money_at_stake: Sum of |delta_dollars| of the breaks raised.
        report_paths: Reports written for the run (filled by the reports step).
    """

    sponsor_code: str
    business_date: date
    status: str
    run_id: int | None = None
    version: int | None = None
    error: str | None = None
    stale_dates: list[date] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    money_at_stake: str = "0.00"
    report_paths: dict[str, Path] = field(default_factory=dict)


def run_day(settings: Settings, sponsor: str, business_date: date, inbox: Path,
            triggered_by: str = "cli") -> RunOutcome:
    """Reconcile one sponsor and business date from files in a local directory.

    Never raises for bad input or a missing file: the outcome says REJECTED
    or MISSING_INPUT and the ``recon_run`` row records why. Raises
    ``ReconError`` only when the warehouse itself cannot be used.
    """
    raise NotImplementedError  # filled in by the engine work


def sponsors_for(settings: Settings, business_date: date, inbox: Path | None) -> list[str]:
    """Sponsors to reconcile for a date: those whose files are present, plus configured ones."""
    raise NotImplementedError

"""What one run needs to know besides the records: the sponsor-day and its settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from reconciliation.config import Zone


@dataclass(frozen=True)
class Rates:
    """Conversion rates (configurable, spec §4 rule 9)."""

    miles_per_unit: int = 95
    dollars_per_unit: Decimal = Decimal("10.00")


@dataclass(frozen=True)
class MatchParams:
    """The run's sponsor and business date, and the settings the rules read.

    Attributes:
        sponsor_code: The sponsor, first part of every break key.
        business_date: The run's business date D.
        zone: The sponsor's reconciliation zone (reversal deadlines).
        tolerance: The match tolerance of the fallback match and of drift.
        grace_days: How long an unmatched record waits as PENDING (spec §5).
        rates: Conversion rates.
    """

    sponsor_code: str
    business_date: date
    zone: Zone
    tolerance: timedelta = timedelta(minutes=10)
    grace_days: int = 1
    rates: Rates = field(default_factory=Rates)

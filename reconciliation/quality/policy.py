"""Thresholds and allowances of the data-quality gate, from ``settings.validation``.

A finance team tunes how strict the gate is (how far outside its period a
record may be, how many outliers are tolerated before a file is stopped)
without touching code. Unknown keys are an error rather than ignored, because
a misspelled threshold silently left at its default is exactly the kind of
mistake a gate exists to prevent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from reconciliation.errors import ConfigError

#: Keys of ``validation:`` in the configuration file; documented in docs/data-quality.md.
KEYS = {
    "enabled",
    "period_allowance_hours",
    "period_max_outside_fraction",
    "duplicate_warn_fraction",
    "conversion_warn_fraction",
    "sample_size",
    "data_docs",
}


@dataclass(frozen=True)
class QualityPolicy:
    """How strict the gate is. Hashable, so suites can be cached per policy.

    Attributes:
        enabled: Whether the pipeline runs the gate at all.
        period_allowance: How far before period_start and after period_end a
            record's time may be (clocks and the cut-off are not exact).
        period_max_outside_fraction: Largest share of records outside the
            widened period a file may have and still be used (CRITICAL above).
        duplicate_warn_fraction: Share of duplicated confirmation numbers above
            which the file is flagged as a whole (WARNING).
        conversion_warn_fraction: Share of records breaking the conversion
            rule above which the file is flagged as a whole (WARNING).
        sample_size: How many distinct unexpected values a result row keeps.
        data_docs: Whether the pipeline renders Data Docs for each run.
    """

    enabled: bool = True
    period_allowance: timedelta = timedelta(hours=3)
    period_max_outside_fraction: float = 0.10
    duplicate_warn_fraction: float = 0.01
    conversion_warn_fraction: float = 0.01
    sample_size: int = 5
    data_docs: bool = True


def _fraction(raw: dict[str, Any], key: str, default: float) -> float:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ConfigError(f"validation setting {key!r} must be a fraction between 0 and 1")
    return float(value)


def _flag(raw: dict[str, Any], key: str, default: bool) -> bool:
    value = raw.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"validation setting {key!r} must be true or false")
    return value


def policy_from(validation: dict[str, Any] | None) -> QualityPolicy:
    """Validate the ``validation:`` mapping of the configuration into a policy.

    Raises:
        ConfigError: naming the first unknown or invalid key.
    """
    raw = dict(validation or {})
    unknown = set(raw) - KEYS
    if unknown:
        raise ConfigError(f"unknown validation setting(s): {', '.join(sorted(unknown))}")
    hours = raw.get("period_allowance_hours", 3)
    if isinstance(hours, bool) or not isinstance(hours, (int, float)) or not 0 <= hours <= 48:
        raise ConfigError("validation setting 'period_allowance_hours' must be a number from 0 to 48")
    size = raw.get("sample_size", 5)
    if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= 20:
        raise ConfigError("validation setting 'sample_size' must be a whole number from 0 to 20")
    return QualityPolicy(
        enabled=_flag(raw, "enabled", True),
        period_allowance=timedelta(hours=float(hours)),
        period_max_outside_fraction=_fraction(raw, "period_max_outside_fraction", 0.10),
        duplicate_warn_fraction=_fraction(raw, "duplicate_warn_fraction", 0.01),
        conversion_warn_fraction=_fraction(raw, "conversion_warn_fraction", 0.01),
        sample_size=size,
        data_docs=_flag(raw, "data_docs", True),
    )

"""Thresholds and allowances of the data-quality gate: the ``validation:`` section of the settings.

A finance team tunes how strict the gate is (how far outside its period a
record may be, how many outliers are tolerated before a file is stopped)
without touching code. Unknown keys are an error rather than ignored, because
a misspelled threshold silently left at its default is exactly the kind of
mistake a gate exists to prevent. The model is part of the settings model
(``reconciliation.config``), so a bad key fails when the file is loaded.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from pydantic import Field, StrictBool, StrictFloat, StrictInt, ValidationError

from reconciliation.errors import ConfigError
from reconciliation.validated import Strict, sentence

Fraction = Annotated[StrictFloat, Field(ge=0, le=1)]


class QualityPolicy(Strict):
    """How strict the gate is. Frozen, hence hashable, so suites can be cached per policy.

    Attributes:
        enabled: Whether the pipeline runs the gate at all.
        period_allowance_hours: How far before period_start and after
            period_end a record's time may be (clocks and the cut-off are not exact).
        period_max_outside_fraction: Largest share of records outside the
            widened period a file may have and still be used (CRITICAL above).
        duplicate_warn_fraction: Share of duplicated confirmation numbers above
            which the file is flagged as a whole (WARNING).
        conversion_warn_fraction: Share of records breaking the conversion
            rule above which the file is flagged as a whole (WARNING).
        sample_size: How many distinct unexpected values a result row keeps.
        data_docs: Whether the pipeline renders Data Docs for each run.
    """

    enabled: StrictBool = True
    period_allowance_hours: Annotated[StrictFloat, Field(ge=0, le=48)] = 3.0
    period_max_outside_fraction: Fraction = 0.10
    duplicate_warn_fraction: Fraction = 0.01
    conversion_warn_fraction: Fraction = 0.01
    sample_size: Annotated[StrictInt, Field(ge=0, le=20)] = 5
    data_docs: StrictBool = True

    @property
    def period_allowance(self) -> timedelta:
        """``period_allowance_hours`` as a duration."""
        return timedelta(hours=self.period_allowance_hours)


def policy_from(validation: dict[str, Any] | QualityPolicy | None) -> QualityPolicy:
    """The policy of a ``validation:`` mapping (as in ``Settings.validation``).

    Raises:
        ConfigError: naming the first unknown or invalid key, e.g. ``validation.sample_size``.
    """
    if isinstance(validation, QualityPolicy):
        return validation
    try:
        return QualityPolicy.model_validate(dict(validation or {}))
    except ValidationError as exc:
        raise ConfigError(sentence(exc, prefix="validation", model=QualityPolicy)) from None

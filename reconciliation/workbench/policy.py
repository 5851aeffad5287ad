"""Who may do what in the workbench: roles, the four-eyes threshold, reason codes.

The ``workbench:`` section of the configuration file. It imports nothing of
the settings so that the settings model can validate the section with it
(a misspelt workbench key fails every command when the file is loaded, not
only the workbench); ``workbench.config`` adds the environment's overrides.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Role = Literal["viewer", "resolver", "approver"]
RANK = {"viewer": 1, "resolver": 2, "approver": 3}
DEFAULT_REASONS = (
    "RESOLVED_BY_USER",
    "WRITTEN_OFF",
    "PARTNER_CORRECTED",
    "PLATFORM_CORRECTED",
    "REFUNDED_TO_COLLECTOR",
    "DUPLICATE_CONFIRMED",
    "TIMING_ONLY",
    "NOT_A_BREAK",
)


class WorkbenchConfig(BaseModel):
    """Validated ``workbench:`` settings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    roles: dict[str, Role] = Field(default_factory=dict)
    default_role: Role | None = None
    four_eyes_dollars: Decimal = Decimal("500.00")
    reason_codes: tuple[str, ...] = DEFAULT_REASONS
    dag_id: str = "amcash_reconciliation"
    page_size: int = Field(default=50, ge=10, le=500)

    @field_validator("reason_codes")
    @classmethod
    def _codes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        from reconciliation.breaks import RESOLUTION_CODE, RUN_RESOLUTIONS

        bad = [c for c in value if not RESOLUTION_CODE.match(c) or c in RUN_RESOLUTIONS]
        if bad or not value:
            raise ValueError(
                f"reason codes must be upper-case codes of at most 32 letters, digits or _: {bad}"
            )
        return value

    def role_of(self, user: str) -> str | None:
        """The user's role, or None when the user has none."""
        return self.roles.get(user, self.default_role)

    def may(self, user: str, needed: str) -> bool:
        """Whether the user's role is at least ``needed``."""
        role = self.role_of(user)
        return role is not None and RANK[role] >= RANK[needed]

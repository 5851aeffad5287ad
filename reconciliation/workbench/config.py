"""The ``workbench:`` section of the configuration file: roles, the four-eyes threshold, reason codes.

Kept in its own small pydantic model and read from the same YAML file (and
the environment) so it can be folded into the project's settings model as
one field. Roles nest: an approver may also resolve, a resolver may also
read. A user the mapping does not name gets ``default_role`` (none by
default: an Airflow login alone does not open the workbench).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from reconciliation.config import Settings, load_settings, settings_from_dict
from reconciliation.errors import ConfigError

Role = Literal["viewer", "resolver", "approver"]
RANK = {"viewer": 1, "resolver": 2, "approver": 3}
#: Environment overrides: ``RECON_WORKBENCH_ROLES="alice:resolver,bob:approver"`` and the threshold.
ROLES_ENV = "RECON_WORKBENCH_ROLES"
THRESHOLD_ENV = "RECON_WORKBENCH_FOUR_EYES_DOLLARS"
CONFIG_ENV = "RECON_CONFIG"

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


def workbench_from_dict(raw: Any, env: Mapping[str, str] | None = None) -> WorkbenchConfig:
    """Validate a ``workbench:`` mapping, with the environment's overrides applied.

    Raises:
        ConfigError: naming the first invalid setting.
    """
    env = os.environ if env is None else env
    data = dict(raw or {})
    if not isinstance(raw or {}, dict):
        raise ConfigError("workbench must be a mapping")
    if env.get(ROLES_ENV):
        roles = dict(data.get("roles") or {})
        for item in env[ROLES_ENV].split(","):
            name, _, role = item.strip().partition(":")
            if not name or not role:
                raise ConfigError(f"{ROLES_ENV} must look like 'alice:resolver,bob:approver'")
            roles[name.strip()] = role.strip()
        data["roles"] = roles
    if env.get(THRESHOLD_ENV):
        data["four_eyes_dollars"] = env[THRESHOLD_ENV]
    try:
        return WorkbenchConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"workbench.{where}: {first['msg']}") from None


def load(path: str | Path | None = None) -> tuple[Settings, WorkbenchConfig]:
    """The settings and the workbench section of a configuration file ($RECON_CONFIG when not given).

    Raises:
        ConfigError: the file or a setting is invalid.
    """
    path = path or os.environ.get(CONFIG_ENV) or None
    if path is None:
        return load_settings(None), workbench_from_dict({})
    file = Path(path)
    try:
        raw = yaml.safe_load(file.read_text()) or {}
    except FileNotFoundError:
        raise ConfigError(f"configuration file {file} does not exist") from None
    except yaml.YAMLError:
        raise ConfigError(f"configuration file {file} is not valid YAML") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"configuration file {file} must hold a mapping of settings")
    section = raw.pop("workbench", None)
    try:
        settings = settings_from_dict(raw, base_dir=file.resolve().parent)
        return settings, workbench_from_dict(section)
    except ConfigError as exc:
        raise ConfigError(f"{file}: {exc}") from None


def with_warehouse(settings: Settings, url: str | None) -> Settings:
    """Settings with another warehouse URL (``--warehouse``)."""
    return replace(settings, warehouse_url=url) if url else settings

"""The ``workbench:`` section of the configuration file: roles, the four-eyes threshold, reason codes.

The model is ``workbench.policy.WorkbenchConfig``, a field of the settings
model (so every command refuses a misspelt workbench key); this module adds
the environment's overrides, which only the workbench and ``recon breaks``
read. Roles nest: an approver may also resolve, a resolver may also read.
A user the mapping does not name gets ``default_role`` (none by default:
an Airflow login alone does not open the workbench).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from reconciliation.config import Settings, load_settings, settings_from_dict
from reconciliation.errors import ConfigError
from reconciliation.workbench.policy import DEFAULT_REASONS, RANK, Role, WorkbenchConfig

__all__ = ["DEFAULT_REASONS", "RANK", "Role", "WorkbenchConfig", "load", "with_warehouse",
           "workbench_from_dict"]

#: Environment overrides: ``RECON_WORKBENCH_ROLES="alice:resolver,bob:approver"`` and the threshold.
ROLES_ENV = "RECON_WORKBENCH_ROLES"
THRESHOLD_ENV = "RECON_WORKBENCH_FOUR_EYES_DOLLARS"
CONFIG_ENV = "RECON_CONFIG"


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
    section = raw.get("workbench")
    try:
        settings = settings_from_dict(raw, base_dir=file.resolve().parent)
        return settings, workbench_from_dict(section)
    except ConfigError as exc:
        raise ConfigError(f"{file}: {exc}") from None


def with_warehouse(settings: Settings, url: str | None) -> Settings:
    """Settings with another warehouse URL (``--warehouse``)."""
    return replace(settings, warehouse_url=url) if url else settings

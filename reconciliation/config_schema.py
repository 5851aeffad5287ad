"""The configuration file's shape: one pydantic model per section, unknown keys forbidden.

Loading the file validates all of it at once, so a misspelt key, a wrong
type or a section that is not a mapping fails before a night starts, in one
sentence naming the key's path (``sponsors.ABCD.timezone``), never as an
unexpected error in the middle of one. ``reconciliation.config`` turns a
validated ``SettingsFile`` into the typed ``Settings`` the code reads.
Sections whose consumers read plain mappings (``validation``, ``reports``,
``notifications``) are still validated here, then handed on as mappings.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    PlainValidator,
    StrictBool,
    StrictFloat,
    StrictInt,
    field_validator,
    model_validator,
)
from pydantic.dataclasses import dataclass as settings_dataclass

from reconciliation.config_defaults import (
    DEFAULT_STATE_DIR,
    DEFAULT_WAREHOUSE,
    HASH_KEY_ENV,
    PROFILE_FIELDS,
    REQUIRED_COLUMNS,
    STANDARD_PROFILE,
)
from reconciliation.errors import ConfigError
from reconciliation.quality.policy import QualityPolicy
from reconciliation.validated import Strict, StrictConfig
from reconciliation.workbench.policy import WorkbenchConfig
from reconciliation.zones import FIXED_EST, Zone, parse_zone


@settings_dataclass(frozen=True, config=StrictConfig)
class SftpSource:
    """Where a sponsor's files are fetched from over SFTP (the ``sftp:`` section).

    Credentials are not here: ``conn_id`` names an Airflow connection, or the
    ``password_env``/``key_file`` fields name where the secret lives. A
    validated dataclass, so ``dataclasses.replace`` checks its overrides too.
    """

    host: str = "127.0.0.1"
    port: Annotated[StrictInt, Field(ge=1, le=65535)] = 22
    username: str = "amcash"
    key_file: str | None = None
    password_env: str | None = None
    known_hosts: str = "~/.ssh/known_hosts"
    inbox_dir: str = "/inbox"
    outbox_dir: str = "/outbox"
    conn_id: str = "amcash_sftp"


def _zone(value: Any) -> Zone:
    if isinstance(value, Zone):
        return value
    if not isinstance(value, str):
        raise ValueError("must be an offset like -05:00 or an IANA zone name such as America/Toronto")
    try:
        return parse_zone(value)
    except ConfigError as exc:
        raise ValueError(f"is invalid: {exc}") from None


def _money(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
        raise ValueError("must be a decimal number such as \"10.00\"")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError("must be a decimal number such as \"10.00\"") from None
    if not amount.is_finite() or amount < 0:
        raise ValueError("must be a decimal number of at least 0")
    return amount


def _sponsor_code(value: Any) -> str:
    code = str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
    if len(code) != 4 or not code.isascii() or not code.isalnum() or code.upper() != code:
        raise ValueError("is not a sponsor code: a sponsor code is 4 characters, A-Z or 0-9")
    return code


def _column(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return str(value)  # a column index, for files without a header row
    if not isinstance(value, str) or not value:
        raise ValueError("must be a column name, or a 0-based index when the file has no header")
    return value


def _text_keys(value: Any) -> Any:
    """YAML reads ``1: REDEEM`` with an integer key; names are text."""
    if isinstance(value, dict):
        return {k if isinstance(k, (str, bool)) else str(k): v for k, v in value.items()}
    return value


TxnType = Literal["REDEEM", "REVERSE"]
STANDARD_TXN_TYPES: dict[str, TxnType] = {"REDEEM": "REDEEM", "REVERSE": "REVERSE"}
ZoneSetting = Annotated[Zone, PlainValidator(_zone)]
Money = Annotated[Decimal, PlainValidator(_money)]
SponsorCode = Annotated[str, PlainValidator(_sponsor_code)]
Column = Annotated[str, PlainValidator(_column)]
Count = Annotated[StrictInt, Field(ge=0)]


class ProfileSettings(Strict):
    """One entry of ``profiles:``: a partner's CSV layout."""

    format: Literal["csv"] = "csv"
    file_pattern: str
    delimiter: str = ","
    header: StrictBool = True
    columns: dict[str, Column]
    amount_unit: Literal["dollars", "cents"] = "dollars"
    timezone: ZoneSetting = Field(default_factory=lambda: parse_zone(FIXED_EST))
    datetime_format: str = "%Y-%m-%d %H:%M:%S"
    txn_types: dict[str, TxnType] = Field(default_factory=lambda: dict(STANDARD_TXN_TYPES))

    @field_validator("txn_types", mode="before")
    @classmethod
    def _txn_keys(cls, value: Any) -> Any:
        return _text_keys(value)

    @field_validator("file_pattern")
    @classmethod
    def _pattern(cls, value: str) -> str:
        if not all(part in value for part in ("{sponsor}", "{date}", "{seq}")):
            raise ValueError("must contain {sponsor}, {date} and {seq}")
        return value

    @field_validator("delimiter")
    @classmethod
    def _delimiter(cls, value: str) -> str:
        if len(value) != 1:
            raise ValueError("must be one character")
        return value

    @field_validator("columns")
    @classmethod
    def _columns(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(PROFILE_FIELDS))
        if unknown:
            raise ValueError(f"names unknown field(s) {', '.join(unknown)}; "
                             f"the fields are {', '.join(PROFILE_FIELDS)}")
        missing = sorted(REQUIRED_COLUMNS - set(value))
        if missing:
            raise ValueError(f"lacks {', '.join(missing)}")
        return value


class SponsorSettings(Strict):
    """One entry of ``sponsors:``."""

    partner_profile: str = STANDARD_PROFILE
    timezone: ZoneSetting | None = None


class HashKeySettings(Strict):
    """``hash_key:``: where the collector hash key comes from (see ``reconciliation.keys``)."""

    env: Annotated[str, Field(min_length=1)] = HASH_KEY_ENV
    file: Annotated[str, Field(min_length=1)] | None = None


class EmailSettings(Strict):
    """``notifications.email``: who is mailed through which SMTP connection."""

    to: Annotated[list[str], Field(min_length=1)]
    conn_id: str = "smtp_default"
    sender: str | None = Field(default=None, alias="from")


class WebhookSettings(Strict):
    """``notifications.webhook``: the Airflow connection holding the URL (never the YAML)."""

    conn_id: str = "amcash_webhook"


class NotificationSettings(Strict):
    """``notifications:``: who hears about a failed task; off when empty."""

    email: EmailSettings | None = None
    webhook: WebhookSettings | None = None


class ReportSettings(Strict):
    """``reports:``: whether runs write reports, and the environment named in result files."""

    enabled: StrictBool = True
    environment: Literal["PROD", "CERT"] = "PROD"


#: Sections that may be written empty (``sponsors:`` with nothing under it).
_SECTIONS = ("hash_key", "sponsors", "profiles", "validation", "notifications", "reports", "workbench")


class SettingsFile(Strict):
    """The configuration file, key by key; every key is optional."""

    warehouse: Annotated[str, Field(min_length=1)] = DEFAULT_WAREHOUSE
    state_dir: Annotated[str, Field(min_length=1)] = DEFAULT_STATE_DIR
    inbox: str | None = None
    timezone: ZoneSetting = Field(default_factory=lambda: parse_zone(FIXED_EST))
    match_tolerance_minutes: Annotated[StrictFloat, Field(ge=0)] = 10.0
    grace_days: Count = 1
    lookback_days: Count = 7
    miles_per_unit: Annotated[StrictInt, Field(ge=1)] = 95
    dollars_per_unit: Money = Decimal("10.00")
    daily_limit_dollars: Money = Decimal("750.00")
    hash_key: HashKeySettings = Field(default_factory=HashKeySettings)
    sponsors: dict[SponsorCode, SponsorSettings] = Field(default_factory=dict)
    profiles: dict[str, ProfileSettings] = Field(default_factory=dict)
    sftp: SftpSource | None = None
    validation: QualityPolicy = Field(default_factory=QualityPolicy)
    notifications: NotificationSettings = Field(default_factory=NotificationSettings)
    reports: ReportSettings = Field(default_factory=ReportSettings)
    workbench: WorkbenchConfig = Field(default_factory=WorkbenchConfig)

    @model_validator(mode="before")
    @classmethod
    def _empty_sections(cls, raw: Any) -> Any:
        if not isinstance(raw, dict):
            return raw
        raw = {key: ({} if key in _SECTIONS and value is None else value) for key, value in raw.items()}
        for key in ("sponsors", "profiles"):
            raw[key] = _text_keys(raw.get(key, {}))
        sponsors = raw["sponsors"]
        if isinstance(sponsors, dict):  # "ABCD:" with nothing under it is a sponsor with defaults
            raw["sponsors"] = {code: {} if entry is None else entry for code, entry in sponsors.items()}
        return raw

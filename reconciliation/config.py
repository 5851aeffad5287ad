"""Configuration: one YAML file, validated into typed settings.

Everything a finance team may tune (time zone, tolerances, grace days, rates,
the daily limit) and everything an operator wires (sources, profiles, the
warehouse URL, where the hash key comes from) lives here. Secrets never do:
the file names where to find them (an environment variable or a secret
file), so it can be committed safely.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from reconciliation.errors import ConfigError

DEFAULT_WAREHOUSE = "duckdb:///var/warehouse.duckdb"
DEFAULT_STATE_DIR = "var"
FIXED_EST = "-05:00"
HASH_KEY_ENV = "RECON_HASH_KEY"

#: Canonical field names a CSV profile may map columns to.
PROFILE_FIELDS = (
    "txn_type",
    "confirmation_number",
    "original_confirmation_number",
    "partner_datetime",
    "store_id",
    "device_id",
    "trace_id",
    "pos_transaction_id",
    "collector_number",
    "units",
    "miles",
    "dollars",
    "response_code",
)


@dataclass(frozen=True)
class Zone:
    """A reconciliation time zone: a fixed offset (default EST) or an IANA name.

    Attributes:
        name: As written in configuration, e.g. ``-05:00`` or ``America/Toronto``.
        polars_name: The name Polars and zoneinfo understand (``Etc/GMT+5`` for -05:00).
    """

    name: str
    polars_name: str

    @property
    def tz(self) -> tzinfo:
        """The zone as a ``tzinfo``."""
        return ZoneInfo(self.polars_name)

    def at(self, day: date, hour: int = 0) -> datetime:
        """The UTC instant of ``day`` at ``hour``:00 local time."""
        local = datetime.combine(day, time(hour), tzinfo=self.tz)
        return local.astimezone(UTC)

    def business_day(self, day: date) -> tuple[datetime, datetime]:
        """Business day ``day`` as a half-open UTC interval (spec §3)."""
        return self.at(day), self.at(day + timedelta(days=1))

    def reversal_deadline(self, day: date) -> datetime:
        """Deadline for reversing a REDEEM of business day ``day``: D+1 03:00."""
        return self.at(day + timedelta(days=1), 3)

    def limit_day(self, day: date) -> tuple[datetime, datetime]:
        """Limit day ``day``: [L 03:00, L+1 03:00) as UTC instants."""
        return self.at(day, 3), self.at(day + timedelta(days=1), 3)


def parse_zone(value: str) -> Zone:
    """Accept ``EST``, a whole-hour offset like ``-05:00``, or an IANA zone name."""
    text = str(value).strip()
    if text.upper() == "EST":
        text = FIXED_EST
    if text[:1] in "+-" and len(text) in (3, 5, 6):
        digits = text[1:].replace(":", "")
        if not digits.isdigit() or len(digits) not in (2, 4) or digits[2:] not in ("", "00"):
            raise ConfigError(f"time zone {value!r} must be a whole-hour offset like -05:00")
        hours = int(digits[:2])
        if hours > 14:
            raise ConfigError(f"time zone {value!r} is out of range")
        sign = "-" if text[0] == "+" else "+"  # Etc/GMT signs are inverted
        name = "Etc/UTC" if hours == 0 else f"Etc/GMT{sign}{hours}"
        return Zone(text, name)
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"time zone {value!r} is neither an offset nor a known IANA name") from None
    return Zone(text, text)


@dataclass(frozen=True)
class CsvProfile:
    """A partner layout other than the standard ``%%`` one, described by configuration.

    Attributes:
        name: The profile's name, referenced by sponsors.
        file_pattern: File name with ``{sponsor}``, ``{date}`` (YYYYMMDD) and ``{seq}`` (NNN).
        delimiter: One character.
        header: Whether the first row names the columns (mapping by name) or not (by 0-based index).
        columns: Canonical field -> column name (or index as a string when no header).
        amount_unit: ``dollars`` or ``cents`` for the dollars column.
        timezone: Zone of datetimes written without an offset.
        datetime_format: strftime format of the datetime column.
        txn_types: Source value -> REDEEM/REVERSE.
    """

    name: str
    file_pattern: str
    delimiter: str = ","
    header: bool = True
    columns: dict[str, str] = field(default_factory=dict)
    amount_unit: str = "dollars"
    timezone: Zone = field(default_factory=lambda: parse_zone(FIXED_EST))
    datetime_format: str = "%Y-%m-%d %H:%M:%S"
    txn_types: dict[str, str] = field(
        default_factory=lambda: {"REDEEM": "REDEEM", "REVERSE": "REVERSE"}
    )


STANDARD_PROFILE = "standard"

#: The shipped CSV profile: a POS vendor that writes CSV with a header row,
#: amounts in cents and Toronto local time without offset. Available without
#: any configuration; a configuration file may add more or override it.
CSV_CENTS_PROFILE: dict[str, Any] = {
    "format": "csv",
    "file_pattern": "POSLOG_{sponsor}_{date}_{seq}.csv",
    "delimiter": ",",
    "header": True,
    "columns": {
        "txn_type": "type",
        "confirmation_number": "confirmation",
        "original_confirmation_number": "original_confirmation",
        "partner_datetime": "local_time",
        "store_id": "store",
        "device_id": "lane",
        "trace_id": "trace",
        "pos_transaction_id": "receipt",
        "collector_number": "card",
        "units": "units",
        "miles": "miles",
        "dollars": "amount_cents",
        "response_code": "response",
    },
    "amount_unit": "cents",
    "timezone": "America/Toronto",
    "datetime_format": "%Y-%m-%d %H:%M:%S",
    "txn_types": {"SALE": "REDEEM", "VOID": "REVERSE"},
}


@dataclass(frozen=True)
class SftpSource:
    """Where a sponsor's files are fetched from over SFTP.

    Credentials are not here: ``conn_id`` names an Airflow connection, or the
    ``password_env``/``key_file`` fields name where the secret lives.
    """

    host: str = "127.0.0.1"
    port: int = 22
    username: str = "amcash"
    key_file: str | None = None
    password_env: str | None = None
    known_hosts: str = "~/.ssh/known_hosts"
    inbox_dir: str = "/inbox"
    outbox_dir: str = "/outbox"
    conn_id: str = "amcash_sftp"


@dataclass(frozen=True)
class Sponsor:
    """Per-sponsor settings."""

    code: str
    partner_profile: str = STANDARD_PROFILE
    timezone: Zone | None = None


@dataclass(frozen=True)
class Settings:
    """Validated configuration with defaults for every optional setting."""

    warehouse_url: str = DEFAULT_WAREHOUSE
    state_dir: Path = Path(DEFAULT_STATE_DIR)
    inbox_dir: Path | None = None
    timezone: Zone = field(default_factory=lambda: parse_zone(FIXED_EST))
    match_tolerance: timedelta = timedelta(minutes=10)
    grace_days: int = 1
    lookback_days: int = 7
    miles_per_unit: int = 95
    dollars_per_unit: Decimal = Decimal("10.00")
    daily_limit: Decimal = Decimal("750.00")
    hash_key_env: str = HASH_KEY_ENV
    hash_key_file: Path | None = None
    sponsors: dict[str, Sponsor] = field(default_factory=dict)
    profiles: dict[str, CsvProfile] = field(default_factory=lambda: dict(default_profiles()))
    sftp: SftpSource | None = None
    validation: dict[str, Any] = field(default_factory=dict)
    notifications: dict[str, Any] = field(default_factory=dict)
    reports: dict[str, Any] = field(default_factory=dict)

    def zone_for(self, sponsor: str) -> Zone:
        """The reconciliation zone of a sponsor (its own, or the default)."""
        entry = self.sponsors.get(sponsor)
        return entry.timezone if entry and entry.timezone else self.timezone

    def profile_for(self, sponsor: str) -> CsvProfile | None:
        """The partner CSV profile of a sponsor, or None for the standard layout."""
        entry = self.sponsors.get(sponsor)
        if entry is None or entry.partner_profile == STANDARD_PROFILE:
            return None
        return self.profiles[entry.partner_profile]

    @property
    def reports_dir(self) -> Path:
        """Where per-run reports are written."""
        return self.state_dir / "reports"

    @property
    def archive_dir(self) -> Path:
        """Where raw input files are archived for audit."""
        return self.state_dir / "archive"

    def hash_key(self) -> bytes:
        """The collector hash key: from the environment, a secret file, or a generated local file.

        Without either source configured, a random key is created once in the
        state directory (mode 0600) and reused, so a fresh machine works while
        no key is ever committed.
        """
        value = os.environ.get(self.hash_key_env)
        if value:
            return value.encode()
        path = self.hash_key_file or (self.state_dir / "secrets" / "collector-hash.key")
        if not path.exists():
            if self.hash_key_file is not None:
                raise ConfigError(f"hash key file {path} does not exist")
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32))
        return path.read_text().strip().encode()


def _positive_int(raw: dict[str, Any], key: str, default: int, minimum: int = 0) -> int:
    value = raw.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ConfigError(f"setting {key!r} must be a whole number of at least {minimum}")
    return value


def _decimal(raw: dict[str, Any], key: str, default: str) -> Decimal:
    try:
        value = Decimal(str(raw.get(key, default)))
    except InvalidOperation:
        raise ConfigError(f"setting {key!r} must be a decimal number") from None
    if value < 0:
        raise ConfigError(f"setting {key!r} must not be negative")
    return value


def _profile(name: str, raw: Any) -> CsvProfile:
    if not isinstance(raw, dict):
        raise ConfigError(f"profile {name!r} must be a mapping")
    unknown = set(raw) - {
        "format", "file_pattern", "delimiter", "header", "columns", "amount_unit",
        "timezone", "datetime_format", "txn_types",
    }
    if unknown:
        raise ConfigError(f"profile {name!r} has unknown setting(s): {', '.join(sorted(unknown))}")
    if raw.get("format", "csv") != "csv":
        raise ConfigError(f"profile {name!r}: format must be 'csv'")
    pattern = raw.get("file_pattern")
    if not isinstance(pattern, str) or not all(p in pattern for p in ("{sponsor}", "{date}", "{seq}")):
        raise ConfigError(f"profile {name!r}: file_pattern must contain {{sponsor}}, {{date}} and {{seq}}")
    delimiter = str(raw.get("delimiter", ","))
    if len(delimiter) != 1:
        raise ConfigError(f"profile {name!r}: delimiter must be one character")
    columns = raw.get("columns")
    if not isinstance(columns, dict):
        raise ConfigError(f"profile {name!r}: columns must map field names to columns")
    bad = set(columns) - set(PROFILE_FIELDS)
    if bad:
        raise ConfigError(f"profile {name!r}: unknown field(s) in columns: {', '.join(sorted(bad))}")
    missing = {"txn_type", "partner_datetime", "store_id", "device_id", "trace_id",
               "collector_number", "units", "miles", "dollars"} - set(columns)
    if missing:
        raise ConfigError(f"profile {name!r}: columns lacks {', '.join(sorted(missing))}")
    unit = raw.get("amount_unit", "dollars")
    if unit not in ("dollars", "cents"):
        raise ConfigError(f"profile {name!r}: amount_unit must be 'dollars' or 'cents'")
    txn_types = raw.get("txn_types", {"REDEEM": "REDEEM", "REVERSE": "REVERSE"})
    if not isinstance(txn_types, dict) or not set(txn_types.values()) <= {"REDEEM", "REVERSE"}:
        raise ConfigError(f"profile {name!r}: txn_types must map values to REDEEM or REVERSE")
    return CsvProfile(
        name=name,
        file_pattern=pattern,
        delimiter=delimiter,
        header=bool(raw.get("header", True)),
        columns={k: str(v) for k, v in columns.items()},
        amount_unit=unit,
        timezone=parse_zone(raw.get("timezone", FIXED_EST)),
        datetime_format=str(raw.get("datetime_format", "%Y-%m-%d %H:%M:%S")),
        txn_types={str(k): str(v) for k, v in txn_types.items()},
    )


def default_profiles() -> dict[str, CsvProfile]:
    """The CSV profiles available without configuration."""
    return {"csv_cents": _profile("csv_cents", CSV_CENTS_PROFILE)}


def _sponsors(raw: Any, profiles: dict[str, CsvProfile]) -> dict[str, Sponsor]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError("sponsors must map sponsor codes to their settings")
    out: dict[str, Sponsor] = {}
    for code, entry in raw.items():
        code = str(code)
        if len(code) != 4 or not code.isalnum() or code.upper() != code:
            raise ConfigError(f"sponsor code {code!r} must be 4 characters, A-Z or 0-9")
        entry = entry or {}
        profile = str(entry.get("partner_profile", STANDARD_PROFILE))
        if profile != STANDARD_PROFILE and profile not in profiles:
            raise ConfigError(f"sponsor {code}: unknown partner_profile {profile!r}")
        zone = parse_zone(entry["timezone"]) if entry.get("timezone") else None
        out[code] = Sponsor(code=code, partner_profile=profile, timezone=zone)
    return out


KNOWN_KEYS = {
    "warehouse", "state_dir", "inbox", "timezone", "match_tolerance_minutes", "grace_days",
    "lookback_days", "miles_per_unit", "dollars_per_unit", "daily_limit_dollars", "hash_key",
    "sponsors", "profiles", "sftp", "validation", "notifications", "reports",
}


def settings_from_dict(raw: dict[str, Any], base_dir: Path | None = None) -> Settings:
    """Validate a parsed configuration mapping.

    Raises:
        ConfigError: naming the first invalid setting.
    """
    unknown = set(raw) - KNOWN_KEYS
    if unknown:
        raise ConfigError(f"unknown setting(s): {', '.join(sorted(unknown))}")
    base = base_dir or Path.cwd()
    profiles = default_profiles()
    profiles.update({str(n): _profile(str(n), p) for n, p in (raw.get("profiles") or {}).items()})
    if STANDARD_PROFILE in profiles:
        raise ConfigError("profile name 'standard' is reserved for the built-in layout")
    hash_key = raw.get("hash_key") or {}
    if not isinstance(hash_key, dict) or set(hash_key) - {"env", "file"}:
        raise ConfigError("hash_key must be a mapping with 'env' and/or 'file'")
    sftp_raw = raw.get("sftp")
    sftp = None
    if sftp_raw is not None:
        if not isinstance(sftp_raw, dict):
            raise ConfigError("sftp must be a mapping")
        allowed = set(SftpSource.__dataclass_fields__)
        if set(sftp_raw) - allowed:
            raise ConfigError(f"sftp has unknown setting(s): {', '.join(sorted(set(sftp_raw) - allowed))}")
        sftp = SftpSource(**sftp_raw)
    tolerance = raw.get("match_tolerance_minutes", 10)
    if not isinstance(tolerance, (int, float)) or isinstance(tolerance, bool) or tolerance < 0:
        raise ConfigError("setting 'match_tolerance_minutes' must be a non-negative number")
    state_dir = Path(raw.get("state_dir", DEFAULT_STATE_DIR))
    inbox = raw.get("inbox")
    return Settings(
        warehouse_url=str(raw.get("warehouse", DEFAULT_WAREHOUSE)),
        state_dir=state_dir if state_dir.is_absolute() else base / state_dir,
        inbox_dir=(base / inbox) if inbox else None,
        timezone=parse_zone(raw.get("timezone", FIXED_EST)),
        match_tolerance=timedelta(minutes=float(tolerance)),
        grace_days=_positive_int(raw, "grace_days", 1),
        lookback_days=_positive_int(raw, "lookback_days", 7),
        miles_per_unit=_positive_int(raw, "miles_per_unit", 95, 1),
        dollars_per_unit=_decimal(raw, "dollars_per_unit", "10.00"),
        daily_limit=_decimal(raw, "daily_limit_dollars", "750.00"),
        hash_key_env=str(hash_key.get("env", HASH_KEY_ENV)),
        hash_key_file=Path(hash_key["file"]) if hash_key.get("file") else None,
        sponsors=_sponsors(raw.get("sponsors"), profiles),
        profiles=profiles,
        sftp=sftp,
        validation=dict(raw.get("validation") or {}),
        notifications=dict(raw.get("notifications") or {}),
        reports=dict(raw.get("reports") or {}),
    )


def load_settings(path: str | Path | None = None) -> Settings:
    """Load settings from a YAML file, or defaults when no file is given.

    Raises:
        ConfigError: the file is missing, not YAML, or has an invalid setting.
    """
    if path is None:
        return Settings(state_dir=Path.cwd() / DEFAULT_STATE_DIR)
    file = Path(path)
    try:
        raw = yaml.safe_load(file.read_text()) or {}
    except FileNotFoundError:
        raise ConfigError(f"configuration file {file} does not exist") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark else ""
        raise ConfigError(f"configuration file {file}{where} is not valid YAML") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"configuration file {file} must hold a mapping of settings")
    try:
        return settings_from_dict(raw, base_dir=file.resolve().parent)
    except ConfigError as exc:
        raise ConfigError(f"{file}: {exc}") from None

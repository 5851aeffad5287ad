"""Configuration: one YAML file, validated by one settings model into typed settings.

Everything a finance team may tune (time zone, tolerances, grace days, rates,
the daily limit) and everything an operator wires (sources, profiles, the
warehouse URL, where the hash key comes from, reports, notifications) lives
here. Secrets never do: the file names where to find them (an environment
variable or a secret file), so it can be committed safely.

The file's shape is ``reconciliation.config_schema.SettingsFile`` (pydantic,
unknown keys forbidden): a bad file fails when it is loaded, in one sentence
naming the file and the key's path. ``Settings`` and its parts are the typed
result every other module reads.

The models, pydantic and the YAML reader are imported when a file is read:
the defaults (no file) are plain dataclasses, so the commands that only read
the warehouse start without building the file's models.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciliation.config_defaults import (
    CSV_CENTS_PROFILE,
    DEFAULT_STATE_DIR,
    DEFAULT_WAREHOUSE,
    HASH_KEY_ENV,
    PROFILE_FIELDS,
    STANDARD_PROFILE,
)
from reconciliation.errors import ConfigError
from reconciliation.keys import load_key
from reconciliation.zones import FIXED_EST, Zone, parse_zone

if TYPE_CHECKING:
    from reconciliation.config_schema import ProfileSettings, SettingsFile, SftpSource

__all__ = [
    "CSV_CENTS_PROFILE", "DEFAULT_STATE_DIR", "DEFAULT_WAREHOUSE", "FIXED_EST", "HASH_KEY_ENV",
    "PROFILE_FIELDS", "STANDARD_PROFILE", "CsvProfile", "Settings", "SftpSource", "Sponsor", "Zone",
    "default_profiles", "load_settings", "parse_zone", "settings_from_dict",
]


def __getattr__(name: str) -> Any:
    """``SftpSource`` is the schema's own model: imported from there when someone asks for it."""
    if name == "SftpSource":
        from reconciliation.config_schema import SftpSource

        return SftpSource
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
        """The collector hash key, from ``$RECON_HASH_KEY`` or a checked key file; never generated.

        Raises:
            ConfigError: no key, two keys, or a bad key file (see ``reconciliation.keys``).
        """
        return load_key(self.hash_key_env, self.hash_key_file)


def _profile(name: str, entry: ProfileSettings) -> CsvProfile:
    return CsvProfile(name=name, file_pattern=entry.file_pattern, delimiter=entry.delimiter,
                      header=entry.header, columns=dict(entry.columns), amount_unit=entry.amount_unit,
                      timezone=entry.timezone, datetime_format=entry.datetime_format,
                      txn_types=dict(entry.txn_types))


def default_profiles() -> dict[str, CsvProfile]:
    """The CSV profiles available without configuration.

    Read from the shipped constant directly rather than through
    ``ProfileSettings``, so that default settings need no pydantic; a unit
    test checks that the schema reads the constant into the same profile.
    """
    shipped = CSV_CENTS_PROFILE
    return {"csv_cents": CsvProfile(
        name="csv_cents", file_pattern=shipped["file_pattern"], delimiter=shipped["delimiter"],
        header=shipped["header"], columns=dict(shipped["columns"]), amount_unit=shipped["amount_unit"],
        timezone=parse_zone(shipped["timezone"]), datetime_format=shipped["datetime_format"],
        txn_types=dict(shipped["txn_types"]))}


def _settings(parsed: SettingsFile, base: Path) -> Settings:
    """The typed settings of a validated file; relative paths are taken from ``base``.

    Raises:
        ConfigError: a profile takes the reserved name, or a sponsor names a profile that does not exist.
    """
    if STANDARD_PROFILE in parsed.profiles:
        raise ConfigError(f"setting 'profiles.{STANDARD_PROFILE}' is not allowed: the name is "
                          f"reserved for the built-in layout")
    profiles = default_profiles()
    profiles.update({name: _profile(name, entry) for name, entry in parsed.profiles.items()})
    for code, sponsor in parsed.sponsors.items():
        if sponsor.partner_profile != STANDARD_PROFILE and sponsor.partner_profile not in profiles:
            raise ConfigError(f"setting 'sponsors.{code}.partner_profile' names unknown partner_profile "
                              f"{sponsor.partner_profile!r}; known: {', '.join(sorted(profiles))}")
    key_file = parsed.hash_key.file
    return Settings(
        warehouse_url=parsed.warehouse,
        state_dir=base / parsed.state_dir,
        inbox_dir=(base / parsed.inbox) if parsed.inbox else None,
        timezone=parsed.timezone,
        match_tolerance=timedelta(minutes=parsed.match_tolerance_minutes),
        grace_days=parsed.grace_days,
        lookback_days=parsed.lookback_days,
        miles_per_unit=parsed.miles_per_unit,
        dollars_per_unit=parsed.dollars_per_unit,
        daily_limit=parsed.daily_limit_dollars,
        hash_key_env=parsed.hash_key.env,
        hash_key_file=(base / Path(key_file).expanduser()) if key_file else None,
        sponsors={code: Sponsor(code, entry.partner_profile, entry.timezone)
                  for code, entry in parsed.sponsors.items()},
        profiles=profiles,
        sftp=parsed.sftp,
        validation=parsed.validation.model_dump(),
        notifications=parsed.notifications.model_dump(by_alias=True, exclude_none=True),
        reports=parsed.reports.model_dump(),
    )


def settings_from_dict(raw: dict[str, Any], base_dir: Path | None = None) -> Settings:
    """Validate a parsed configuration mapping.

    Raises:
        ConfigError: naming the first invalid setting by its path, e.g. ``sftp.port``.
    """
    from pydantic import ValidationError

    from reconciliation.config_schema import SettingsFile
    from reconciliation.validated import sentence

    try:
        parsed = SettingsFile.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(sentence(exc, model=SettingsFile)) from None
    return _settings(parsed, base_dir or Path.cwd())


def load_settings(path: str | Path | None = None) -> Settings:
    """Load settings from a YAML file, or defaults when no file is given.

    Raises:
        ConfigError: one sentence naming the file and, for an invalid setting,
            its path in the file: missing, not YAML, or not valid.
    """
    if path is None:
        return Settings(state_dir=Path.cwd() / DEFAULT_STATE_DIR)
    import yaml

    file = Path(path)
    try:
        raw = yaml.safe_load(file.read_text()) or {}
    except FileNotFoundError:
        raise ConfigError(f"configuration file {file} does not exist") from None
    except IsADirectoryError:
        raise ConfigError(f"configuration file {file} is a directory, not a file") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "it is not UTF-8 text"
        raise ConfigError(f"configuration file {file} cannot be read ({reason})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark else ""
        raise ConfigError(f"configuration file {file}{where} is not valid YAML") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"configuration file {file} must hold a mapping of settings")
    try:
        return settings_from_dict(raw, base_dir=file.resolve().parent)
    except ConfigError as exc:
        raise ConfigError(f"configuration file {file}: {exc}") from None

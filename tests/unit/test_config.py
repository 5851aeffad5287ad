"""Configuration: one YAML file, validated with messages that name the setting."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from reconciliation.config import load_settings, parse_zone
from reconciliation.errors import ConfigError

EXAMPLE = Path(__file__).parents[2] / "config" / "recon.example.yaml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "recon.yaml"
    path.write_text(text)
    return path


def test_the_shipped_example_is_valid() -> None:
    settings = load_settings(EXAMPLE)
    assert settings.grace_days == 1
    assert settings.daily_limit == Decimal("750.00")
    assert settings.profile_for("WXYZ") is not None
    assert settings.zone_for("WXYZ").name == "America/Toronto"
    assert settings.zone_for("ABCD").name == "-05:00"


def test_defaults_without_a_file() -> None:
    settings = load_settings(None)
    assert settings.warehouse_url.startswith("duckdb:///")
    assert "csv_cents" in settings.profiles
    assert settings.match_tolerance.total_seconds() == 600


def test_the_default_profile_is_what_the_schema_reads_from_the_shipped_constant() -> None:
    """``default_profiles`` skips pydantic for speed; it must still agree with the schema exactly."""
    from reconciliation import config
    from reconciliation.config_schema import ProfileSettings

    validated = ProfileSettings.model_validate(config.CSV_CENTS_PROFILE)
    assert config.default_profiles() == {"csv_cents": config._profile("csv_cents", validated)}


def test_default_settings_import_no_validator() -> None:
    """Commands run without a configuration file do not pay for building the file's models."""
    import subprocess
    import sys

    code = ("import sys; from reconciliation.config import load_settings; load_settings(None); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pydantic', 'yaml') "
            "or m == 'reconciliation.config_schema'))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize(("text", "message"), [
    ("grace_days: -1", "grace_days"),
    ("grace_days: two", "grace_days"),
    ("timezone: Mars/Olympus", "Mars/Olympus"),
    ("timezone: '-05:30'", "whole-hour"),
    ("colour: blue", "unknown setting"),
    ("sponsors: {abcd: {}}", "sponsor code"),
    ("sponsors: {ABCD: {partner_profile: nope}}", "unknown partner_profile"),
    ("profiles: {x: {file_pattern: 'X_{sponsor}.csv', columns: {}}}", "file_pattern"),
    ("profiles: {x: {file_pattern: 'X_{sponsor}_{date}_{seq}.csv', delimiter: ';;', columns: {}}}",
     "delimiter"),
    ("daily_limit_dollars: lots", "daily_limit_dollars"),
    ("hash_key: {vault: x}", "hash_key"),
    ("sftp: {hostname: x}", "sftp"),
    ("a: [", "not valid YAML"),
])
def test_invalid_settings_are_named(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as exc:
        load_settings(write(tmp_path, text))
    assert message in str(exc.value)
    assert str(tmp_path / "recon.yaml") in str(exc.value)


def test_missing_file_is_one_sentence(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.yaml")


#: One file per kind of bad configuration, and the key path the sentence must name.
#: Each was accepted, or failed later as an "unexpected error", before the settings model.
BAD_CONFIGURATIONS = [
    pytest.param("sponsors: {ABCD: standard}", "sponsors.ABCD", "must be a mapping",
                 id="sponsor-not-a-mapping"),
    pytest.param("sponsors: {ABCD: [WXYZ]}", "sponsors.ABCD", "must be a mapping", id="sponsor-a-list"),
    pytest.param("profiles: [pos_semicolon]", "profiles", "must be a mapping", id="profiles-a-list"),
    pytest.param("sftp: {port: twenty-two}", "sftp.port", "whole number", id="sftp-port-text"),
    pytest.param("sftp: {port: true}", "sftp.port", "whole number", id="sftp-port-bool"),
    pytest.param("sftp: {host: [a, b]}", "sftp.host", "must be text", id="sftp-host-list"),
    pytest.param("sftp: {prot: 22}", "sftp.prot", "did you mean 'port'", id="sftp-misspelt"),
    pytest.param("sponsors: {ABCD: {timezne: EST}}", "sponsors.ABCD.timezne", "unknown setting",
                 id="sponsor-misspelt"),
    pytest.param("sponsors: {ABCD: {timezone: 5}}", "sponsors.ABCD.timezone", "IANA",
                 id="sponsor-zone-number"),
    pytest.param("profiles: {x: {file_pattern: 'X_{sponsor}_{date}_{seq}.csv', delimitr: ';', columns: {}}}",
                 "profiles.x.delimitr", "unknown setting", id="profile-misspelt"),
    pytest.param("reports: {enviroment: CERT}", "reports.enviroment", "did you mean 'environment'",
                 id="reports-misspelt"),
    pytest.param("reports: {environment: TEST}", "reports.environment", "'PROD' or 'CERT'",
                 id="reports-environment"),
    pytest.param("reports: {enabled: 'no'}", "reports.enabled", "true or false", id="reports-enabled-text"),
    pytest.param("notifications: {email: {to: ops@example.com}}", "notifications.email.to", "must be a list",
                 id="notifications-to-not-a-list"),
    pytest.param("notifications: {email: {conn_id: smtp_default}}", "notifications.email.to", "is required",
                 id="notifications-no-recipient"),
    pytest.param("notifications: {slack: {conn_id: x}}", "notifications.slack", "unknown setting",
                 id="notifications-unknown-channel"),
    pytest.param("validation: {sample_size: 50}", "validation.sample_size", "less than or equal to 20",
                 id="validation-out-of-range"),
    pytest.param("validation: {enabeld: false}", "validation.enabeld", "did you mean 'enabled'",
                 id="validation-misspelt"),
]


@pytest.mark.parametrize(("text", "path", "problem"), BAD_CONFIGURATIONS)
def test_a_bad_configuration_fails_on_loading_in_one_sentence_naming_the_key_path(
        tmp_path: Path, text: str, path: str, problem: str) -> None:
    with pytest.raises(ConfigError) as exc:
        load_settings(write(tmp_path, text))
    message = str(exc.value)
    assert f"'{path}'" in message
    assert problem in message
    assert message.startswith(f"configuration file {tmp_path / 'recon.yaml'}: ")
    assert "\n" not in message and "pydantic" not in message and "errors.pydantic.dev" not in message


def test_an_unknown_partner_profile_is_named_by_its_key_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"'sponsors\.ABCD\.partner_profile' names unknown partner_profile"):
        load_settings(write(tmp_path, "sponsors: {ABCD: {partner_profile: nope}}"))


def test_reports_and_notifications_reach_the_settings_validated(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, (
        "reports: {environment: CERT}\n"
        "notifications: {email: {to: [ops@example.com], from: recon@example.com}, webhook: {}}\n"
        "sponsors: {ABCD: }\n"
        "profiles:\n")))
    assert settings.reports == {"enabled": True, "environment": "CERT"}
    assert settings.notifications == {
        "email": {"to": ["ops@example.com"], "conn_id": "smtp_default", "from": "recon@example.com"},
        "webhook": {"conn_id": "amcash_webhook"}}
    assert set(settings.sponsors) == {"ABCD"}


def test_a_missing_configuration_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        load_settings(tmp_path / "nope.yaml")
    assert str(exc.value) == f"configuration file {tmp_path / 'nope.yaml'} does not exist"


def test_the_hash_key_file_is_taken_relative_to_the_configuration(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("RECON_HASH_KEY", raising=False)
    monkeypatch.delenv("RECON_HASH_KEY_FILE", raising=False)
    settings = load_settings(write(tmp_path, "hash_key: {file: secrets/collector-hash.key}"))
    assert settings.hash_key_file == tmp_path / "secrets" / "collector-hash.key"


def test_no_hash_key_is_ever_generated_implicitly(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("RECON_HASH_KEY", raising=False)
    monkeypatch.delenv("RECON_HASH_KEY_FILE", raising=False)
    monkeypatch.chdir(tmp_path)
    settings = load_settings(write(tmp_path, "state_dir: state"))
    with pytest.raises(ConfigError) as exc:
        settings.hash_key()
    assert "recon key generate --out" in str(exc.value)
    assert "RECON_HASH_KEY" in str(exc.value)
    assert list(tmp_path.rglob("*.key")) == [] and not (tmp_path / "state").exists()
    monkeypatch.setenv("RECON_HASH_KEY", "from-env")
    assert settings.hash_key() == b"from-env"


def test_zones() -> None:
    est = parse_zone("EST")
    start, end = est.business_day(date(2026, 11, 20))
    assert (start.hour, end.hour) == (5, 5)
    assert parse_zone("+02:00").at(date(2026, 1, 1)).hour == 22
    toronto = parse_zone("America/Toronto")
    assert toronto.limit_day(date(2026, 7, 1))[0].hour == 7

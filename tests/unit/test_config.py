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


def test_hash_key_from_environment_or_a_generated_private_file(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("RECON_HASH_KEY", raising=False)
    settings = load_settings(write(tmp_path, "state_dir: state"))
    key = settings.hash_key()
    path = tmp_path / "state" / "secrets" / "collector-hash.key"
    assert path.stat().st_mode & 0o777 == 0o600
    assert settings.hash_key() == key  # stable across calls
    monkeypatch.setenv("RECON_HASH_KEY", "from-env")
    assert settings.hash_key() == b"from-env"


def test_zones() -> None:
    est = parse_zone("EST")
    start, end = est.business_day(date(2026, 11, 20))
    assert (start.hour, end.hour) == (5, 5)
    assert parse_zone("+02:00").at(date(2026, 1, 1)).hour == 22
    toronto = parse_zone("America/Toronto")
    assert toronto.limit_day(date(2026, 7, 1))[0].hour == 7

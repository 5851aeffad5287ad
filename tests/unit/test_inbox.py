"""Finding the input files of a date in an inbox (spec §2: names, sequences, profiles)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from reconciliation.config import settings_from_dict
from reconciliation.errors import SourceError
from reconciliation.inbox import InputFile, compile_pattern, discover, match_name, remote_name_ok

DAY = date(2026, 11, 20)


def touch(folder: Path, *names: str) -> None:
    for name in names:
        (folder / name).write_text("x")


def test_highest_sequence_wins_per_side_and_sponsor(tmp_path: Path) -> None:
    touch(
        tmp_path,
        "AMCASH_RECON_ABCD_20261120_001.txt",
        "AMCASH_RECON_ABCD_20261120_003.txt",
        "AMCASH_RECON_ABCD_20261120_002.txt",
        "AMCASH_POS_ABCD_20261120_001.txt",
        "AMCASH_RECON_WXY1_20261120_001.txt",
    )
    found = discover(tmp_path, DAY, settings_from_dict({}))
    assert sorted(found) == ["ABCD", "WXY1"]
    assert found["ABCD"]["PLATFORM"] == InputFile(
        "PLATFORM", tmp_path / "AMCASH_RECON_ABCD_20261120_003.txt", "ABCD", DAY, 3, "standard"
    )
    assert found["ABCD"]["PARTNER"].sequence == 1
    assert set(found["WXY1"]) == {"PLATFORM"}


def test_other_dates_and_unrelated_names_ignored(tmp_path: Path) -> None:
    touch(
        tmp_path,
        "AMCASH_RECON_ABCD_20261119_009.txt",
        "AMCASH_RECON_abcd_20261120_001.txt",
        "AMCASH_RECON_ABCD_20261120_01.txt",
        "AMCASH_RECON_ABCD_20261120_001.txt.part",
        ".AMCASH_RECON_ABCD_20261120_001.txt",
        "AMCASH_RECON_ABCDE_20261120_001.txt",
        "AMCASH_RECON_ABCD_20261131_001.txt",
        "README.md",
        "POSLOG_ABCD_20261121_001.csv",
    )
    (tmp_path / "AMCASH_POS_ABCD_20261120_001.txt").mkdir()
    assert discover(tmp_path, DAY, settings_from_dict({})) == {}


def test_profile_detected_by_name_or_configured(tmp_path: Path) -> None:
    touch(
        tmp_path,
        "POSLOG_ABCD_20261120_002.csv",
        "AMCASH_POS_EFGH_20261120_001.txt",
        "POSLOG_EFGH_20261120_005.csv",
        "AMCASH_POS_IJKL_20261120_004.txt",
        "POSLOG_IJKL_20261120_004.csv",
    )
    settings = settings_from_dict({"sponsors": {"EFGH": {"partner_profile": "standard"}}})
    found = discover(tmp_path, DAY, settings)
    assert (found["ABCD"]["PARTNER"].profile, found["ABCD"]["PARTNER"].sequence) == ("csv_cents", 2)
    assert (found["EFGH"]["PARTNER"].profile, found["EFGH"]["PARTNER"].sequence) == ("standard", 1)
    assert found["IJKL"]["PARTNER"].profile == "standard"  # equal sequences: the standard layout first
    configured = settings_from_dict({"sponsors": {"IJKL": {"partner_profile": "csv_cents"}}})
    assert discover(tmp_path, DAY, configured)["IJKL"]["PARTNER"].profile == "csv_cents"


def test_missing_inbox_is_a_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="cannot be read"):
        discover(tmp_path / "nope", DAY, settings_from_dict({}))


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("AMCASH_RECON_ABCD_20261120_001.txt", True),
        ("AMCASH_POS_ABCD_20261120_001.txt", True),
        ("POSLOG_ABCD_20261120_001.csv", True),
        ("../AMCASH_POS_ABCD_20261120_001.txt", False),
        ("dir/AMCASH_POS_ABCD_20261120_001.txt", False),
        ("AMCASH_POS_ABCD_20261120_001.txt/..", False),
        ("..", False),
        ("", False),
        ("AMCASH_POS_ABCD_20261120_001.txt\n", False),
        ("AMCASH_POS_ABCD_20261120_001.txt\x00.sh", False),
        ("AMCASH_POS_AB.D_20261120_001.txt", False),
        ("AMCASH_POS_ABCD_20261320_001.txt", False),
        ("AMCASH_POSXABCD_20261120_001.txt", False),
        ("amcash_pos_ABCD_20261120_001.txt", False),
    ],
)
def test_remote_name_ok(name: str, ok: bool) -> None:
    assert remote_name_ok(name, settings_from_dict({})) is ok


def test_pattern_matching_is_literal_and_strict() -> None:
    assert compile_pattern("A.{sponsor}_{date}_{seq}.csv").fullmatch("AX ABCD_20261120_001.csv") is None
    assert match_name("A.{sponsor}_{date}_{seq}.csv", "A.ABCD_20261120_001.csv") == ("ABCD", DAY, 1)
    assert match_name("{sponsor}-{date}-{seq}-{sponsor}.txt", "ABCD-20261120-001-ABCD.txt") == (
        "ABCD",
        DAY,
        1,
    )
    assert match_name("{sponsor}-{date}-{seq}-{sponsor}.txt", "ABCD-20261120-001-WXYZ.txt") is None

"""Finding the input files of a date in an inbox (spec §2: names, sequences, profiles)."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from reconciliation.cli import main
from reconciliation.config import settings_from_dict
from reconciliation.errors import FileRejected, SourceError
from reconciliation.inbox import InputFile, compile_pattern, discover, match_name, remote_name_ok
from reconciliation.parsing import open_input, parse_file
from reconciliation.warehouse.db import engine_for
from reconciliation.warehouse.schema import recon_run

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


# -- symbolic links (issue 10: the local inbox followed links to files outside it) ---------------

GOLDEN = Path(__file__).parents[1] / "golden" / "key_match"
PLATFORM_FILE = "AMCASH_RECON_ABCD_20261120_001.txt"
PARTNER_FILE = "AMCASH_POS_ABCD_20261120_001.txt"
LINK_PROBLEM = (
    "the file is a symbolic link, and only regular files are read as input "
    "(copy the file itself into the inbox)"
)


def linked_inbox(tmp_path: Path, target: str) -> Path:
    """An inbox whose platform file is a link: to a file outside it, inside it, or to nothing."""
    inbox, outside = tmp_path / "inbox", tmp_path / "elsewhere"
    inbox.mkdir()
    outside.mkdir()
    shutil.copy(GOLDEN / PARTNER_FILE, inbox / PARTNER_FILE)
    shutil.copy(GOLDEN / PLATFORM_FILE, outside / PLATFORM_FILE)
    shutil.copy(GOLDEN / PLATFORM_FILE, inbox / "platform.copy")
    pointed = {
        "outside": outside / PLATFORM_FILE,
        "inside": Path("platform.copy"),
        "dangling": Path("nowhere"),
    }
    (inbox / PLATFORM_FILE).symlink_to(pointed[target])
    return inbox


@pytest.mark.parametrize("target", ["outside", "inside", "dangling"])
def test_a_link_is_listed_and_refused_when_read(tmp_path: Path, target: str) -> None:
    inbox = linked_inbox(tmp_path, target)
    found = discover(inbox, DAY, settings_from_dict({}))
    assert found["ABCD"]["PLATFORM"].path == inbox / PLATFORM_FILE  # never silently skipped
    with pytest.raises(FileRejected) as caught:
        parse_file(inbox / PLATFORM_FILE, "PLATFORM", hash_key=b"k")
    assert str(caught.value) == f"{PLATFORM_FILE}: {LINK_PROBLEM}"


def test_opening_refuses_a_link_whoever_listed_it(tmp_path: Path) -> None:
    inbox = linked_inbox(tmp_path, "outside")
    with pytest.raises(FileRejected, match="symbolic link"), open_input(inbox / PLATFORM_FILE):
        pass


def test_run_over_an_inbox_with_a_link_is_rejected_in_one_sentence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RECON_HASH_KEY", "test-key")
    inbox = linked_inbox(tmp_path, "outside")
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    config = str(GOLDEN.parent / "engine-only.yaml")
    args = ["--date", "2026-11-20", "--inbox", str(inbox), "--warehouse", url, "--config", config]
    status = main(["run", *args])
    assert status == 3
    err = capsys.readouterr().err
    assert f"{PLATFORM_FILE}: {LINK_PROBLEM}" in err
    assert str(tmp_path / "elsewhere") not in err
    with engine_for(url).connect() as conn:
        row = conn.execute(sa.select(recon_run.c.status, recon_run.c.error)).one()
    assert row.status == "REJECTED" and row.error == f"{PLATFORM_FILE}: {LINK_PROBLEM}"

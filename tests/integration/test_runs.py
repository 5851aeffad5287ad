"""Versioned runs, re-runs, stale dates, failures and the CLI's promises (spec §6, §8)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from reconciliation.cli import main
from reconciliation.warehouse.db import engine_for
from reconciliation.warehouse.schema import (
    metadata,
    recon_break,
    recon_break_event,
    recon_run,
)

GOLDEN = Path(__file__).parents[1] / "golden"
D1, D2 = "2026-11-20", "2026-11-21"


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RECON_HASH_KEY", "test-key")


def recon(*args: str) -> int:
    return main(["run", *args, "--config", str(GOLDEN / "engine-only.yaml")])


def counts(url: str) -> dict[str, int]:
    engine = engine_for(url)
    with engine.connect() as conn:
        return {t: conn.execute(sa.select(sa.func.count()).select_from(metadata.tables[t])).scalar_one()
                for t in metadata.tables}


def current_breaks(url: str) -> list[tuple]:
    with engine_for(url).connect() as conn:
        current = sa.select(recon_run.c.run_id).where(recon_run.c.is_current.is_(True))
        return sorted(conn.execute(sa.select(
            recon_break.c.break_key, recon_break.c.status, recon_break.c.resolution,
        ).where(recon_break.c.run_id.in_(current))).all())


def runs(url: str) -> list[tuple]:
    with engine_for(url).connect() as conn:
        return list(conn.execute(sa.select(
            recon_run.c.sponsor_code, recon_run.c.business_date, recon_run.c.version,
            recon_run.c.status, recon_run.c.is_current,
        ).order_by(recon_run.c.run_id)).all())


def test_rerun_writes_a_new_version_and_keeps_one_current(warehouse_url: str) -> None:
    inbox = GOLDEN / "amount_mismatch"
    assert recon("--date", D1, "--inbox", str(inbox), "--warehouse", warehouse_url) == 0
    first = current_breaks(warehouse_url)
    assert recon("--date", D1, "--inbox", str(inbox), "--warehouse", warehouse_url) == 0
    assert runs(warehouse_url) == [("ABCD", date(2026, 11, 20), 1, "SUCCEEDED", False),
                                   ("ABCD", date(2026, 11, 20), 2, "SUCCEEDED", True)]
    assert current_breaks(warehouse_url) == first


def test_rerun_of_a_day_restores_what_the_superseded_version_did(warehouse_url: str) -> None:
    inbox = GOLDEN / "carry_forward_resolved"
    for day in (D1, D2):
        assert recon("--date", day, "--inbox", str(inbox), "--warehouse", warehouse_url) == 0
    after_first = current_breaks(warehouse_url)
    assert [b[1:] for b in after_first] == [("RESOLVED", "MATCHED_LATER")]
    assert recon("--date", D2, "--inbox", str(inbox), "--warehouse", warehouse_url) == 0
    assert current_breaks(warehouse_url) == after_first
    with engine_for(warehouse_url).connect() as conn:
        notes = conn.execute(sa.select(recon_break_event.c.note)).scalars().all()
    assert any("superseded" in n for n in notes)


def test_rerun_with_a_resubmitted_file_matches_what_was_pending(tmp_path: Path, warehouse_url: str) -> None:
    inbox = tmp_path / "inbox"
    shutil.copytree(GOLDEN / "missing_on_platform", inbox)
    assert recon("--date", D1, "--inbox", str(inbox), "--warehouse", warehouse_url) == 0
    assert [b[1] for b in current_breaks(warehouse_url)] == ["PENDING"]
    # The platform resubmits its file (sequence 002) with the missing record.
    shutil.copy(GOLDEN / "key_match" / "AMCASH_RECON_ABCD_20261120_001.txt",
                inbox / "AMCASH_RECON_ABCD_20261120_002.txt")
    text = (inbox / "AMCASH_RECON_ABCD_20261120_002.txt").read_text()
    (inbox / "AMCASH_RECON_ABCD_20261120_002.txt").write_text(
        text.replace("%%K1%%", "%%M1%%").replace("%%001\n", "%%002\n", 1))
    assert recon("--date", D1, "--inbox", str(inbox), "--warehouse", warehouse_url) == 0
    assert current_breaks(warehouse_url) == []


def test_a_persons_resolution_carries_over_to_the_rerun(warehouse_url: str) -> None:
    inbox = GOLDEN / "conversion_error"
    assert recon("--date", D1, "--inbox", str(inbox), "--warehouse", warehouse_url) == 0
    with engine_for(warehouse_url).begin() as conn:
        conn.execute(recon_break.update().values(status="RESOLVED", resolution="WRITTEN_OFF",
                                                 resolved_by="ana@finance", note="rate card typo"))
    assert recon("--date", D1, "--inbox", str(inbox), "--warehouse", warehouse_url) == 0
    [(_key, status, resolution)] = current_breaks(warehouse_url)
    assert (status, resolution) == ("RESOLVED", "WRITTEN_OFF")


def test_rerunning_an_earlier_date_names_the_stale_dates(warehouse_url: str, capsys) -> None:
    inbox = GOLDEN / "carry_forward_opens"
    for day in (D1, D2):
        assert recon("--date", day, "--inbox", str(inbox), "--warehouse", warehouse_url) == 0
    capsys.readouterr()
    assert recon("--date", D1, "--inbox", str(inbox), "--warehouse", warehouse_url) == 0
    err = capsys.readouterr().err
    assert "2026-11-21" in err and "--cascade" in err
    assert recon("--date", D1, "--inbox", str(inbox), "--warehouse", warehouse_url, "--cascade") == 0
    latest = [r for r in runs(warehouse_url) if r[4]]
    assert [(r[1], r[2]) for r in latest] == [(date(2026, 11, 20), 3), (date(2026, 11, 21), 2)]
    assert [b[1] for b in current_breaks(warehouse_url)] == ["OPEN"]


def test_rejected_run_records_its_row_and_changes_nothing_else(warehouse_url: str) -> None:
    assert recon("--date", D1, "--inbox", str(GOLDEN / "amount_mismatch"),
                 "--warehouse", warehouse_url) == 0
    before = counts(warehouse_url)
    assert recon("--date", D1, "--inbox", str(GOLDEN / "reject_trailer_total"),
                 "--warehouse", warehouse_url) == 3
    after = counts(warehouse_url)
    assert after["recon_run"] == before["recon_run"] + 1
    assert {k: v for k, v in after.items() if k != "recon_run"} == {
        k: v for k, v in before.items() if k != "recon_run"}
    assert runs(warehouse_url)[-1][3:] == ("REJECTED", False)
    assert runs(warehouse_url)[0][4] is True  # the earlier good version stays current


def test_missing_file_is_missing_input(tmp_path: Path, warehouse_url: str, capsys) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(GOLDEN / "key_match" / "AMCASH_POS_ABCD_20261120_001.txt", inbox)
    assert recon("--date", D1, "--inbox", str(inbox), "--warehouse", warehouse_url) == 3
    assert runs(warehouse_url) == [("ABCD", date(2026, 11, 20), 1, "MISSING_INPUT", False)]
    err = capsys.readouterr().err
    assert "MISSING_INPUT" in err and "platform file" in err


def test_a_run_killed_before_commit_leaves_the_warehouse_as_it_was(tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    inbox = GOLDEN / "carry_forward_resolved"
    env = {**os.environ, "RECON_HASH_KEY": "k"}
    cmd = [sys.executable, "-m", "reconciliation.cli", "run", "--inbox", str(inbox), "--warehouse", url]
    assert subprocess.run([*cmd, "--date", D1], env=env, cwd=tmp_path).returncode == 0
    before = counts(url)
    states = current_breaks(url)
    from reconciliation.warehouse.db import dispose_all

    dispose_all()
    killed = subprocess.run([*cmd, "--date", D2], env={**env, "RECON_FAILPOINT": "before-commit"},
                            cwd=tmp_path)
    assert killed.returncode == -9
    assert counts(url) == before
    assert current_breaks(url) == states
    dispose_all()


def test_usage_errors_exit_2_with_one_line(capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["run", "--date", "2026-13-45"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "YYYY-MM-DD" in err


def test_bad_warehouse_url_is_one_sentence(capsys) -> None:
    code = main(["run", "--date", D1, "--inbox", str(GOLDEN / "key_match"), "--warehouse", "nope://x"])
    assert code == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err


def test_unreachable_postgres_is_one_sentence(capsys) -> None:
    code = main(["run", "--date", D1, "--inbox", str(GOLDEN / "key_match"),
                 "--warehouse", "postgresql+psycopg://postgres@127.0.0.1:1/none"])
    assert code == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "warehouse" in err

"""``recon report`` and ``recon breaks``: exit statuses, output, and files written."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
import sqlalchemy as sa

from reconciliation.cli import main
from reconciliation.warehouse.db import engine_for
from tests.unit.reports.conftest import Seeded
from tests.unit.reports.seed import FIRST_DAY, LAST_DAY

D = LAST_DAY.isoformat()


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RECON_CONFIG", raising=False)


def test_report_for_a_night_writes_every_sponsor_and_the_night_view(
        seeded: Seeded, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert main(["report", "--date", D, "--warehouse", seeded.url, "--out", str(out)]) == 0
    printed = capsys.readouterr()
    assert "QRST" in printed.err and "no successful run" in printed.err
    for sponsor, version in (("ABCD", 2), ("WXYZ", 1)):
        folder = out / sponsor / D / f"v{version}"
        assert (folder / "report.html").exists() and (folder / "breaks.xlsx").exists()
        assert f"{sponsor} {D} result: {folder}" in printed.out
    night = (out / "night" / f"{D}.html").read_text()
    assert f'href="../ABCD/{D}/v2/report.html"' in night and "QRST" in night


def test_report_for_a_range_writes_trends_and_a_csv(seeded: Seeded, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["report", "--from", FIRST_DAY.isoformat(), "--to", D, "--sponsor", "ABCD",
                 "--warehouse", seeded.url, "--out", str(out)]) == 0
    rows = list(csv.DictReader((out / "range" / f"{FIRST_DAY}_{D}.csv").open()))
    assert len(rows) == 15 and {r["sponsor"] for r in rows} == {"ABCD"}
    assert "Trends" in (out / "range" / f"{FIRST_DAY}_{D}.html").read_text()


def test_report_errors_are_one_sentence(seeded: Seeded, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    base = ["--warehouse", seeded.url, "--out", str(tmp_path)]
    assert main(["report", "--date", "2026-01-01", *base]) == 1
    assert "no run of 2026-01-01" in capsys.readouterr().err
    assert main(["report", "--from", D, *base]) == 1
    assert "--to" in capsys.readouterr().err
    assert main(["report", "--from", D, "--to", "2026-11-01", *base]) == 1
    with pytest.raises(SystemExit) as usage:
        main(["report", "--date", D, "--from", D])
    assert usage.value.code == 2
    assert "Traceback" not in capsys.readouterr().err


def test_breaks_list_as_csv_and_table(seeded: Seeded, capsys: pytest.CaptureFixture[str]) -> None:
    with engine_for(seeded.url).connect() as conn:
        expected = conn.execute(sa.text(
            "SELECT COUNT(*) FROM recon_break b JOIN recon_run r ON r.run_id = b.run_id WHERE r.is_current "
            "AND b.business_date = :d AND b.sponsor_code = 'ABCD'"), {"d": LAST_DAY}).scalar_one()
    assert main(["breaks", "list", "--date", D, "--sponsor", "abcd", "--status", "all",
                 "--format", "csv", "--warehouse", seeded.url]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == expected and {r["sponsor_code"] for r in rows} == {"ABCD"}
    assert main(["breaks", "list", "--type", "duplicate", "--min-age-days", "3",
                 "--warehouse", seeded.url]) == 0
    table = capsys.readouterr().out
    assert "breaks," in table and "at stake" in table


def test_breaks_show_prints_the_history(seeded: Seeded, capsys: pytest.CaptureFixture[str]) -> None:
    with engine_for(seeded.url).connect() as conn:
        break_id = conn.execute(sa.text("SELECT break_id FROM recon_break WHERE resolved_by = 'a.finance'")
                                ).scalars().first()
    assert main(["breaks", "show", str(break_id), "--warehouse", seeded.url]) == 0
    out = capsys.readouterr().out
    assert f"Break {break_id}" in out and "raised" in out and "a.finance" in out
    assert "collector_hash" not in out and "****" in out
    assert main(["breaks", "show", "987654", "--warehouse", seeded.url]) == 1


def test_breaks_resolve_by_id_and_in_bulk(mutable: Seeded, capsys: pytest.CaptureFixture[str]) -> None:
    url = ["--warehouse", mutable.url]
    with engine_for(mutable.url).connect() as conn:
        target = conn.execute(sa.text("SELECT b.break_id FROM recon_break b JOIN recon_run r ON "
                                      "r.run_id = b.run_id WHERE r.is_current AND b.status = 'OPEN' "
                                      "ORDER BY b.break_id")).scalars().first()
    assert main(["breaks", "resolve", str(target), "--note", "ok", "--by", "j.doe", *url]) == 0
    assert capsys.readouterr().out.strip() == f"resolved 1 break: {target}"
    assert main(["breaks", "resolve", str(target), "--note", "again", "--by", "j.doe", *url]) == 1
    assert "already resolved" in capsys.readouterr().err
    bulk = ["breaks", "resolve", "--filter-type", "TIMESTAMP_DRIFT", "--date", D, "--note", "tolerance",
            "--by", "j.doe", *url]
    assert main([*bulk, "--dry-run"]) == 0
    assert capsys.readouterr().out.startswith("would resolve")
    assert main(bulk) == 0
    assert capsys.readouterr().out.startswith("resolved")
    assert main(bulk) == 0
    assert "nothing to resolve" in capsys.readouterr().out
    assert main(["breaks", "resolve", "1", "--filter-type", "DUPLICATE", "--date", D, "--note", "n",
                 "--by", "x", *url]) == 1
    with pytest.raises(SystemExit) as usage:
        main(["breaks", "resolve", "1", "--by", "x"])
    assert usage.value.code == 2

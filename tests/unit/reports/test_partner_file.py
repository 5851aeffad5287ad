"""The partner's result file: its layout round-trips through read_result_file, and the reader is strict."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from reconciliation.config import Settings
from reconciliation.errors import FileRejected
from reconciliation.reports import partner_file
from reconciliation.reports.model import build_run_report
from reconciliation.reports.partner_file import D_FIELDS, file_name, read_result_file, write_result_file
from reconciliation.warehouse.db import engine_for
from tests.unit.reports.conftest import Seeded
from tests.unit.reports.seed import LAST_DAY
from tests.unit.reports.truth import current_run, run_totals


@pytest.fixture(scope="module")
def written(seeded: Seeded, tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = current_run(seeded.url, "ABCD", LAST_DAY)
    return write_result_file(engine_for(seeded.url), run["run_id"], tmp_path_factory.mktemp("result"))


def test_result_file_round_trips(seeded: Seeded, written: Path) -> None:
    run = current_run(seeded.url, "ABCD", LAST_DAY)
    assert written.name == file_name("ABCD", LAST_DAY, run["version"])
    assert written.name == "AMCASH_RESULT_ABCD_20261120_002.txt"
    parsed = read_result_file(written)
    with engine_for(seeded.url).connect() as conn:
        report = build_run_report(conn, run["run_id"], Settings())
    expected = report.breaks.to_dicts()
    assert [b["break_id"] for b in parsed.breaks] == [b["break_id"] for b in expected]
    for got, want in zip(parsed.breaks, expected, strict=True):
        for name, _ in D_FIELDS:
            if name == "collector_last4":
                assert got[name] == (want["collector"] or "")[-4:]
            elif name.endswith("_datetime"):
                ts = want[name.replace("datetime", "ts")]
                assert got[name] == ts, name
                assert ts is None or got[name].utcoffset() is not None
            else:
                assert got[name] == want[name], name
    assert parsed.header["sponsor_code"] == "ABCD" and parsed.header["business_date"] == LAST_DAY
    assert parsed.header["partner_file"] == run["partner_file"]
    assert parsed.header["partner_sha256"] == run["partner_sha256"]
    assert parsed.header["matched_pairs"] == run["matched_pairs"]
    assert parsed.header["sequence"] == f"{run['version']:03d}"


def test_result_file_trailers_carry_counts_and_totals(seeded: Seeded, written: Path) -> None:
    truth = run_totals(seeded.url, "ABCD", LAST_DAY)
    trailer = read_result_file(written).trailer
    assert trailer["detail_count"] == truth["breaks"]
    assert trailer["record_count"] == truth["breaks"] + 4
    assert trailer["money_at_stake"] == truth["money"]
    assert trailer["high_count"] + trailer["medium_count"] + trailer["low_count"] == truth["breaks"]
    assert trailer["pending_count"] + trailer["open_count"] == truth["unresolved"]
    assert isinstance(trailer["net_delta_dollars"], Decimal)


def test_result_file_is_plain_ascii_in_the_percent_layout(written: Path) -> None:
    data = written.read_bytes()
    data.decode("ascii")
    lines = data.decode().splitlines()
    assert [line.split("%%")[0] for line in lines[:2] + lines[-2:]] == ["H1", "H2", "T1", "T2"]
    assert all(line.startswith("D%%") for line in lines[2:-2])
    assert all(len(line.split("%%")) == 1 + len(D_FIELDS) for line in lines[2:-2])
    assert lines[0].split("%%")[1] == "RESULT"


def _tampered(written: Path, tmp_path: Path, old: str, new: str, name: str | None = None) -> Path:
    path = tmp_path / (name or written.name)
    path.write_text(written.read_text().replace(old, new, 1))
    return path


def test_reader_rejects_a_changed_amount(written: Path, tmp_path: Path) -> None:
    line = written.read_text().splitlines()[2]
    fields = line.split("%%")
    fields[-2] = f"{Decimal(fields[-2]) + 1:.2f}"
    with pytest.raises(FileRejected, match="trailer"):
        read_result_file(_tampered(written, tmp_path, line, "%%".join(fields)))


def test_reader_rejects_a_bad_layout(written: Path, tmp_path: Path) -> None:
    text = written.read_text()
    with pytest.raises(FileRejected, match="fields"):
        read_result_file(_tampered(written, tmp_path, "D%%", "D%%extra%%"))
    with pytest.raises(FileRejected, match="order"):
        path = tmp_path / written.name
        path.write_text("\n".join(text.splitlines()[:-1]) + "\n")
        read_result_file(path)
    with pytest.raises(FileRejected, match="file name"):
        read_result_file(_tampered(written, tmp_path, "", "", name="AMCASH_RESULT_ABCD_20261120_009.txt"))
    with pytest.raises(FileRejected, match="ASCII"):
        read_result_file(_tampered(written, tmp_path, "AIRMILES", "AIRMILÉS"))
    with pytest.raises(FileRejected, match="money"):
        first = text.splitlines()[2]
        read_result_file(_tampered(written, tmp_path, first, first.rsplit("%%", 2)[0] + "%%1e3%%"))


def test_an_empty_night_still_has_headers_and_trailers(tmp_path: Path) -> None:
    path = tmp_path / "AMCASH_RESULT_ABCD_20261120_001.txt"
    path.write_text("H1%%RESULT%%2026-11-21T02:00:00-05:00%%AIRMILES%%PROD%%001\n"
                    "H2%%ABCD%%20261120%%2026-11-20T00:00:00-05:00%%2026-11-21T00:00:00-05:00%%f%%ab%%3%%3\n"
                    "T1%%0%%0%%0%%0%%0%%0\nT2%%0%%4%%0.00%%0.00\n")
    parsed = read_result_file(path)
    assert parsed.breaks == [] and parsed.trailer["money_at_stake"] == Decimal("0.00")


def test_a_file_written_a_few_records_at_a_time_is_the_same_file(
        seeded: Seeded, written: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A big night's result file is written in slices of D records: the bytes do not change."""
    monkeypatch.setattr(partner_file, "_TEXT_SLICE", 3)
    run = current_run(seeded.url, "ABCD", LAST_DAY)
    with engine_for(seeded.url).connect() as conn:
        report = build_run_report(conn, run["run_id"], Settings())
    assert report.breaks.height > 3 * 2
    sliced = partner_file.write_result(report, tmp_path)
    assert sliced.read_bytes() == partner_file.render(report).encode("ascii")
    assert read_result_file(sliced).breaks == read_result_file(written).breaks
    assert list(tmp_path.iterdir()) == [sliced]  # no temporary file left beside it

"""Generated days through the real parser and the gate: clean days pass, breaks never reject."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl

from reconciliation.config import Settings
from reconciliation.generate import generate
from reconciliation.inbox import discover
from reconciliation.parsing import parse_file
from reconciliation.quality.gate import QualityReport, validate_file
from reconciliation.records import PARTNER

DAY = date(2026, 11, 20)


def validate_day(inbox: Path, break_rate: float) -> list[QualityReport]:
    settings = Settings(state_dir=inbox / "state")
    generate(inbox, sponsors=["ABCD", "EFGH"], start=DAY, days=1, records=300, break_rate=break_rate,
             seed=7, csv_sponsors={"EFGH"}, settings=settings)
    reports = []
    for sponsor, files in discover(inbox, DAY, settings).items():
        for side, found in files.items():
            profile = settings.profiles.get(found.profile) if side == PARTNER else None
            parsed = parse_file(found.path, side, hash_key=b"test", profile=profile, sponsor_code=sponsor,
                                business_date=DAY)
            reports.append(validate_file(parsed, settings))
    assert len(reports) == 4
    return reports


def test_a_clean_generated_day_passes_every_expectation(tmp_path: Path) -> None:
    reports = validate_day(tmp_path, break_rate=0)
    assert {r.suite_name for r in reports} == {
        "amcash_platform_standard", "amcash_partner_standard", "amcash_partner_csv_cents"}
    for report in reports:
        assert report.results.get_column("success").all(), report.results.filter(~pl.col("success"))
        assert report.results.get_column("unexpected_count").fill_null(0).sum() == 0


def test_a_day_full_of_breaks_is_never_rejected(tmp_path: Path) -> None:
    """5% of the records in each break case: breaks are the engine's findings, never the gate's."""
    reports = validate_day(tmp_path, break_rate=0.05)
    assert [r.error for r in reports] == [None] * 4
    warned = {w.split(":")[0] for r in reports for w in r.warnings}
    assert warned <= {"confirmation numbers should be unique per txn_type",
                      "miles should equal units × the miles rate",
                      "dollars should equal units × the dollar rate"}

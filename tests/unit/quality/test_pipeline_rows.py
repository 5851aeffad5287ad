"""Through ``pipeline.run_day``: validation rows once per run version, a rejected file stopped."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from reconciliation import pipeline
from reconciliation.config import Settings
from reconciliation.generate import generate
from reconciliation.quality.suites import checks_for
from reconciliation.records import PARTNER, PLATFORM

DAY = date(2026, 11, 20)


def test_each_run_version_stores_its_validation_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECON_HASH_KEY", "quality-test-key")  # the key is explicit, never generated
    from reconciliation.quality.policy import QualityPolicy
    from reconciliation.quality.table import recon_validation
    from reconciliation.warehouse.db import dispose_all, engine_for
    from reconciliation.warehouse.schema import recon_run

    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    settings = Settings(warehouse_url=url, state_dir=tmp_path / "var", reports={"enabled": False})
    inbox = tmp_path / "inbox"
    generate(inbox, sponsors=["ABCD"], start=DAY, days=1, records=200, break_rate=0.01, seed=3,
             settings=settings)
    try:
        first = pipeline.run_day(settings, "ABCD", DAY, inbox)
        second = pipeline.run_day(settings, "ABCD", DAY, inbox)
        platform = inbox / f"AMCASH_RECON_ABCD_{DAY:%Y%m%d}_001.txt"
        lines = platform.read_text().split("\n")
        lines[1] = "H2%%ABCD%%20261120%%2026-11-13T00:00:00-05:00%%2026-11-14T00:00:00-05:00"
        platform.write_text("\n".join(lines))
        third = pipeline.run_day(settings, "ABCD", DAY, inbox)
        with engine_for(url).connect() as conn:
            counts = dict(conn.execute(sa.select(recon_validation.c.run_id, sa.func.count())
                                       .group_by(recon_validation.c.run_id)).all())
            error = conn.execute(sa.select(recon_run.c.error).where(
                recon_run.c.run_id == third.run_id)).scalar_one()
            failed = conn.execute(sa.select(recon_validation.c.expectation).where(
                recon_validation.c.run_id == third.run_id, ~recon_validation.c.success,
                recon_validation.c.severity == "CRITICAL")).scalars().all()
    finally:
        dispose_all()
    per_run = sum(len(checks_for(side, None, QualityPolicy())) for side in (PLATFORM, PARTNER))
    assert [first.status, second.status, third.status] == ["SUCCEEDED", "SUCCEEDED", "REJECTED"]
    assert counts == {first.run_id: per_run, second.run_id: per_run, third.run_id: per_run}
    assert failed == ["ts_within_period"]
    assert error == third.error
    assert error.startswith(f"{platform.name} failed data-quality checks: record times")
    for run in (first, second, third):  # every validated attempt has its Data Docs, a rejected one too
        docs = settings.reports_dir / "ABCD" / str(DAY) / f"v{run.version}" / "data_docs" / "index.html"
        assert run.report_paths["data_docs"] == docs.resolve() and platform.name in docs.read_text()

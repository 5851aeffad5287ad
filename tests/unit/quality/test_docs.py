"""Data Docs: a site per run, listing exactly that run's validations."""

from __future__ import annotations

from pathlib import Path

from reconciliation.config import Settings
from reconciliation.quality.docs import render_data_docs
from reconciliation.quality.gate import validate_file
from reconciliation.records import PARTNER, PLATFORM
from tests.unit.quality.builders import clean_records, parsed_file, set_rows


def test_data_docs_contain_the_runs_validations(tmp_path: Path) -> None:
    bad = set_rows(clean_records(PLATFORM), 3, store_id="12A4")
    reports = [validate_file(parsed_file(PLATFORM, bad), Settings(), run_id=41),
               validate_file(parsed_file(PARTNER), Settings(), run_id=41)]
    index = render_data_docs(reports, tmp_path / "data_docs")
    assert index == tmp_path / "data_docs" / "index.html" and index.is_file()
    html = index.read_text()
    for report in reports:
        assert report.suite_name in html and report.file_name in html
    pages = {p.name: p.read_text() for p in index.parent.glob("validations/**/*.html")}
    platform_page = pages[f"{reports[0].file_name}.html"]
    assert "run-41" in str(next(index.parent.glob("validations/amcash_platform_standard/*")))
    assert "store_id must be 4 digits [CRITICAL]" in platform_page and "12A4" in platform_page
    size = sum(p.stat().st_size for p in index.parent.rglob("*") if p.is_file())
    assert size < 1_000_000  # GX's unreferenced help GIFs and fonts are pruned


def test_rendering_leaves_the_gates_context_current(tmp_path: Path) -> None:
    from great_expectations.data_context.data_context.context_factory import project_manager

    from reconciliation.quality.gate import QualityGate

    with QualityGate() as gate:
        render_data_docs([validate_file(parsed_file(PLATFORM), Settings(), gate=gate)], tmp_path / "docs")
        assert project_manager.get_current_project() is gate.session.context
        strict = Settings(validation={"duplicate_warn_fraction": 0.5})  # a new suite, built after rendering
        assert validate_file(parsed_file(PARTNER), strict, gate=gate).error is None

"""Result rows: personal data masked everywhere, GX errors fail closed, rows fit the warehouse."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import polars as pl
import sqlalchemy as sa

from reconciliation.config import Settings
from reconciliation.quality.docs import render_data_docs
from reconciliation.quality.gate import validate_file
from reconciliation.quality.policy import QualityPolicy
from reconciliation.quality.results import interpret, mask
from reconciliation.quality.suites import checks_for
from reconciliation.records import PLATFORM
from tests.unit.quality.builders import clean_records, parsed_file, set_rows

CARD = "4000123456789010"  # a collector number that strayed into other fields


def test_mask_keeps_the_last_four_of_long_digit_runs() -> None:
    assert mask(f"x{CARD}y") == "x************9010y"
    assert mask("000000000123") == "********0123"
    assert mask("12345678 C0001 0051") == "12345678 C0001 0051"


def test_no_full_collector_number_in_results_error_or_data_docs(tmp_path: Path) -> None:
    records = set_rows(clean_records(PLATFORM), 1, trace_id=CARD)
    records = set_rows(records, 3, confirmation_number=CARD)  # three REDEEMs share it
    report = validate_file(parsed_file(PLATFORM, records), Settings())
    assert {"trace_id_format", "confirmation_unique"} <= set(
        report.results.filter(~pl.col("success")).get_column("expectation"))
    texts = [str(v) for row in report.results.iter_rows() for v in row]
    texts += [report.error or "", *report.warnings]
    assert not any(CARD in t or re.search(r"\d{9,}", t) for t in texts)
    sample = report.results.row(by_predicate=pl.col("expectation") == "trace_id_format", named=True)
    assert sample["unexpected_sample"] == "************9010"
    index = render_data_docs([report], tmp_path / "docs")
    assert not any(CARD in p.read_text() for p in index.parent.rglob("*.html"))


def test_an_expectation_gx_could_not_evaluate_fails_closed() -> None:
    checks = checks_for(PLATFORM, None, QualityPolicy())
    broken = SimpleNamespace(
        expectation_config=SimpleNamespace(meta={"check": "store_id_format"}), success=True, result={},
        exception_info={"metric": {"raised_exception": True, "exception_message": "boom\ntrace"}})
    rows, findings = interpret(SimpleNamespace(results=[broken]), checks, side=PLATFORM, file_name="f",
                               params={}, policy=QualityPolicy(), height=10)
    by_name = dict(zip(rows.get_column("expectation"), findings, strict=True))
    assert by_name["store_id_format"] == (
        "CRITICAL", False, "store_id must be 4 digits: could not be checked (boom)")
    assert by_name["txn_type_values"][1] is False  # no result at all is a failure too
    assert rows.height == len(checks)


def test_rows_insert_into_recon_validation(tmp_path: Path) -> None:
    from reconciliation.quality.table import recon_validation
    from reconciliation.warehouse.db import insert_frame

    records = set_rows(clean_records(PLATFORM), 2, store_id="1")
    report = validate_file(parsed_file(PLATFORM, records), Settings())
    engine = sa.create_engine(f"duckdb:///{tmp_path / 'w.duckdb'}")
    try:
        recon_validation.metadata.create_all(engine, tables=[recon_validation])
        with engine.begin() as conn:
            written = insert_frame(conn, recon_validation, report.results.with_columns(run_id=pl.lit(7)))
        with engine.connect() as conn:
            rows = conn.execute(sa.select(recon_validation).where(~recon_validation.c.success)).all()
    finally:
        engine.dispose()
    assert written == report.results.height
    assert [(r.run_id, r.expectation, r.unexpected_count, r.unexpected_sample) for r in rows] == \
        [(7, "store_id_format", 2, "1")]


def test_importing_the_package_does_not_import_great_expectations() -> None:
    code = ("import sys, reconciliation.quality.gate, reconciliation.quality.docs, "
            "reconciliation.quality.table, reconciliation.quality.suites; "
            "sys.exit('great_expectations' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0

"""The gate, one expectation at a time: each case breaks exactly one and checks the verdict."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import polars as pl
import pytest

from reconciliation.config import Settings
from reconciliation.errors import ConfigError
from reconciliation.quality.gate import QualityReport, validate_file
from reconciliation.quality.policy import QualityPolicy, policy_from
from reconciliation.quality.results import RESULT_SCHEMA
from reconciliation.quality.suites import CRITICAL, PLATFORM_REQUIRED, REQUIRED, WARNING, checks_for
from reconciliation.records import PARTNER, PLATFORM
from tests.unit.quality.builders import DAY, clean_records, parsed_file, set_rows, shift_rows

SETTINGS = Settings()
Mutation = Callable[[pl.DataFrame], pl.DataFrame]


def failed(report: QualityReport) -> set[str]:
    return set(report.results.filter(~pl.col("success")).get_column("expectation"))


def _null(column: str) -> Mutation:
    return lambda r: set_rows(r, 1, **{column: None})


#: (side, expectation broken, mutation of the clean records, overrides of the file)
CASES: list[tuple[str, str, Mutation, dict[str, Any]]] = [
    *((PLATFORM, f"{c}_required", _null(c), {}) for c in REQUIRED + PLATFORM_REQUIRED),
    *((PARTNER, f"{c}_required", _null(c), {}) for c in REQUIRED),
    (PLATFORM, "txn_type_values", lambda r: set_rows(r, 1, txn_type="REFUND"), {}),
    (PARTNER, "txn_type_values", lambda r: set_rows(r, 1, txn_type="SALE"), {}),
    (PLATFORM, "store_id_format", lambda r: set_rows(r, 3, store_id="12A4"), {}),
    (PARTNER, "store_id_format", lambda r: set_rows(r, 1, store_id="123"), {}),
    (PLATFORM, "device_id_format", lambda r: set_rows(r, 1, device_id="1234"), {}),
    (PARTNER, "device_id_format", lambda r: set_rows(r, 1, device_id="x01"), {}),
    (PLATFORM, "trace_id_format", lambda r: set_rows(r, 1, trace_id="12345"), {}),
    (PARTNER, "trace_id_format", lambda r: set_rows(r, 1, trace_id="0000000000001"), {}),
    (PLATFORM, "units_range", lambda r: set_rows(r, 1, units=0, miles=0, dollars=Decimal(0)), {}),
    (PARTNER, "units_range", lambda r: set_rows(r, 1, units=1000, miles=9000, dollars=Decimal(10)), {}),
    (PLATFORM, "miles_range", lambda r: set_rows(r, 1, miles=10_000), {}),
    (PARTNER, "miles_range", lambda r: set_rows(r, 1, miles=-95), {}),
    (PLATFORM, "dollars_range", lambda r: set_rows(r, 1, dollars=Decimal("-10.00")), {}),
    (PARTNER, "dollars_range", lambda r: set_rows(r, 1, dollars=Decimal("-0.01")), {}),
    (PLATFORM, "response_code_values", lambda r: set_rows(r, 1, response_code="0051"), {}),
    (PLATFORM, "origin_values", lambda r: set_rows(r, 1, origin="BATCH"), {}),
    (PARTNER, "response_code_format", lambda r: set_rows(r, 1, response_code="51"), {}),
    (PLATFORM, "sponsor_matches_file", lambda r: set_rows(r, 1, sponsor_code="WXYZ"), {}),
    (PARTNER, "sponsor_matches_file", lambda r: r, {"sponsor_code": "WXYZ"}),
    (PLATFORM, "business_date_matches_file", lambda r: set_rows(r, 1, business_date=date(2026, 11, 19)), {}),
    (PARTNER, "business_date_matches_file", lambda r: r, {"business_date": date(2026, 11, 21)}),
    (PLATFORM, "ts_within_period", lambda r: shift_rows(r, 21, "ts", timedelta(days=-1)), {}),
    (PARTNER, "ts_within_period", lambda r: shift_rows(r, 200, "ts", timedelta(days=1)), {}),
    (PLATFORM, "records_accounted", lambda r: r, {"detail_count": 201}),
    (PARTNER, "records_accounted", lambda r: r.head(150), {"detail_count": 200}),
    (PLATFORM, "confirmation_unique", lambda r: set_rows(r, 3, confirmation_number="C9999999"), {}),
    (PARTNER, "confirmation_unique", lambda r: set_rows(r, 4, confirmation_number="C9999999"), {}),
    (PLATFORM, "miles_conversion", lambda r: shift_rows(r, 3, "miles", 1), {}),
    (PARTNER, "miles_conversion", lambda r: shift_rows(r, 3, "miles", -5), {}),
    (PLATFORM, "dollars_conversion", lambda r: shift_rows(r, 3, "dollars", Decimal("0.01")), {}),
    (PARTNER, "dollars_conversion", lambda r: shift_rows(r, 3, "dollars", Decimal("10.00")), {}),
]


def test_a_clean_file_of_each_side_passes_every_expectation() -> None:
    for side in (PLATFORM, PARTNER):
        report = validate_file(parsed_file(side), SETTINGS)
        assert failed(report) == set()
        assert report.error is None and report.critical_failures == [] and report.warnings == []
        assert report.results.height == len(checks_for(side, None, QualityPolicy()))
        assert report.suite_name == f"amcash_{side.lower()}_standard"


def test_every_expectation_has_a_case_that_breaks_only_it() -> None:
    for side in (PLATFORM, PARTNER):
        names = {c.name for c in checks_for(side, None, QualityPolicy())}
        assert names == {name for s, name, _, _ in CASES if s == side}


@pytest.mark.parametrize(("side", "name", "mutate", "fields"), CASES,
                         ids=[f"{s.lower()}-{n}" for s, n, _, _ in CASES])
def test_breaking_one_expectation(side: str, name: str, mutate: Mutation, fields: dict[str, Any]) -> None:
    report = validate_file(parsed_file(side, mutate(clean_records(side)), **fields), SETTINGS)
    assert failed(report) == {name}
    row = report.results.row(by_predicate=pl.col("expectation") == name, named=True)
    check = next(c for c in checks_for(side, None, QualityPolicy()) if c.name == name)
    assert row["severity"] == check.severity
    if check.severity == CRITICAL:
        assert report.error is not None
        assert report.error.startswith(report.file_name) and check.rule in report.error
        assert len(report.critical_failures) == 1 and report.warnings == []
    else:
        assert check.severity == WARNING
        assert report.error is None and report.critical_failures == []
        assert len(report.warnings) == 1 and check.rule in report.warnings[0]


def test_failure_sentence_counts_the_records() -> None:
    records = set_rows(clean_records(PLATFORM), 3, store_id="12A4")
    report = validate_file(parsed_file(PLATFORM, records), SETTINGS)
    assert report.critical_failures == ["store_id must be 4 digits: 3 of 200 records"]
    assert report.error == (f"{report.file_name} failed data-quality checks: "
                            "store_id must be 4 digits: 3 of 200 records.")
    row = report.results.row(by_predicate=pl.col("expectation") == "store_id_format", named=True)
    assert (row["element_count"], row["unexpected_count"], row["unexpected_sample"]) == (200, 3, "12A4")


def test_a_few_records_outside_the_period_are_stored_but_do_not_reject() -> None:
    records = shift_rows(clean_records(PARTNER), 5, "ts", timedelta(hours=-30))
    report = validate_file(parsed_file(PARTNER, records), SETTINGS)
    row = report.results.row(by_predicate=pl.col("expectation") == "ts_within_period", named=True)
    assert report.error is None and row["success"] and row["unexpected_count"] == 5


def test_a_file_for_the_wrong_day_is_rejected_naming_the_period() -> None:
    records = shift_rows(clean_records(PLATFORM), 200, "ts", timedelta(days=-1))
    report = validate_file(parsed_file(PLATFORM, records), SETTINGS)
    assert report.error is not None
    assert "(2026-11-20 02:00 to 2026-11-21 08:00 UTC): 200 of 200 records" in report.error
    assert "more than the 10% allowed" in report.error


def test_one_duplicate_is_left_to_the_duplicate_break() -> None:
    records = set_rows(clean_records(PLATFORM), 2, confirmation_number="C0000001")
    report = validate_file(parsed_file(PLATFORM, records), SETTINGS)
    row = report.results.row(by_predicate=pl.col("expectation") == "confirmation_unique", named=True)
    assert row["success"] and row["unexpected_count"] == 2 and report.warnings == []


def test_thresholds_come_from_the_configuration() -> None:
    records = shift_rows(clean_records(PLATFORM), 60, "ts", timedelta(days=-1))
    strict = validate_file(parsed_file(PLATFORM, records), SETTINGS)
    lenient = Settings(validation={"period_max_outside_fraction": 0.5})
    assert strict.error is not None and validate_file(parsed_file(PLATFORM, records), lenient).error is None
    near = shift_rows(clean_records(PLATFORM), 200, "ts", timedelta(hours=-20))
    assert validate_file(parsed_file(PLATFORM, near), SETTINGS).error is not None
    wide = Settings(validation={"period_allowance_hours": 12})
    assert validate_file(parsed_file(PLATFORM, near), wide).error is None
    dup = set_rows(clean_records(PLATFORM), 2, confirmation_number="C0000001")
    zero = Settings(validation={"duplicate_warn_fraction": 0})
    assert validate_file(parsed_file(PLATFORM, dup), zero).warnings != []


def test_invalid_validation_settings_are_named() -> None:
    with pytest.raises(ConfigError, match="period_allowance_hour"):
        policy_from({"period_allowance_hour": 3})
    with pytest.raises(ConfigError, match="duplicate_warn_fraction"):
        policy_from({"duplicate_warn_fraction": 5})
    assert policy_from(None) == QualityPolicy()


def test_csv_profile_suite_uses_the_business_day_and_skips_unmapped_columns() -> None:
    settings = Settings()
    profile = settings.profiles["csv_cents"]
    name = f"POSLOG_ABCD_{DAY:%Y%m%d}_001.csv"
    report = validate_file(parsed_file(PARTNER, file_name=name, period_start=None, period_end=None), settings)
    assert report.suite_name == "amcash_partner_csv_cents" and report.error is None
    late = shift_rows(clean_records(PARTNER), 200, "ts", timedelta(hours=20))
    bad = validate_file(parsed_file(PARTNER, late, file_name=name, period_start=None, period_end=None),
                        settings)
    assert failed(bad) == {"ts_within_period"}
    columns = {k: v for k, v in profile.columns.items() if k not in ("response_code", "confirmation_number")}
    thin = Settings(profiles={"thin": type(profile)(**{**vars(profile), "name": "thin", "columns": columns})})
    report = validate_file(parsed_file(PARTNER, profile="thin", period_start=None, period_end=None), thin)
    names = set(report.results.get_column("expectation"))
    assert report.suite_name == "amcash_partner_thin"
    assert not names & {"response_code_format", "confirmation_unique"}


def test_an_empty_file_passes() -> None:
    report = validate_file(parsed_file(PLATFORM, clean_records(PLATFORM, 0)), SETTINGS)
    assert report.error is None and report.results.height > 0


def test_results_have_the_recon_validation_columns() -> None:
    from reconciliation.quality.table import recon_validation

    report = validate_file(parsed_file(PLATFORM), SETTINGS)
    assert report.results.schema == RESULT_SCHEMA
    assert set(report.results.columns) == {c.name for c in recon_validation.columns} - {"run_id"}
    assert report.results.get_column("side").unique().to_list() == [PLATFORM]

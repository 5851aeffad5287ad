"""GX's SQL engine on DuckDB gives the gate's verdicts exactly as GX's pandas engine does.

Every expectation of both sides' suites is broken in turn (the cases of
``test_gate``); both engines must agree on every row: success, counts,
percentages, observed values and the masked samples of unexpected values.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from reconciliation.config import Settings
from reconciliation.quality.gate import QualityGate, QualityReport, validate_file
from reconciliation.records import PARTNER, PLATFORM
from tests.unit.quality.builders import clean_records, parsed_file, set_rows
from tests.unit.quality.test_gate import CASES, Mutation

SETTINGS = Settings()


@pytest.fixture(scope="module")
def gates() -> Iterator[dict[str, QualityGate]]:
    with QualityGate(engine="sql") as sql, QualityGate(engine="pandas") as pandas:
        yield {"sql": sql, "pandas": pandas}


def verdict(report: QualityReport) -> tuple[list[dict[str, Any]], list[tuple[str, bool, str]]]:
    """What the gate decides and stores, without the time it decided it."""
    return report.results.drop("validated_at").to_dicts(), report.findings


def both(gates: dict[str, QualityGate], parsed: Any) -> dict[str, QualityReport]:
    return {name: gate.validate(parsed, SETTINGS) for name, gate in gates.items()}


@pytest.mark.parametrize(("side", "name", "mutate", "fields"), CASES,
                         ids=[f"{s.lower()}-{n}" for s, n, _, _ in CASES])
def test_sql_and_pandas_agree_on_each_broken_expectation(gates: dict[str, QualityGate], side: str, name: str,
                                                         mutate: Mutation, fields: dict[str, Any]) -> None:
    reports = both(gates, parsed_file(side, mutate(clean_records(side)), **fields))
    assert verdict(reports["sql"]) == verdict(reports["pandas"])
    failed = reports["sql"].results.filter(~pl.col("success")).get_column("expectation").to_list()
    assert failed == [name]


def test_sql_and_pandas_agree_on_a_file_broken_everywhere(gates: dict[str, QualityGate]) -> None:
    records = clean_records(PARTNER, 400).with_columns(pl.col(pl.Enum).cast(pl.String))
    for i, (_, _, mutate, fields) in enumerate(c for c in CASES if c[0] == PARTNER and not c[3]):
        broken = mutate(records.slice(10 * i, 10))
        records = pl.concat([records.slice(0, 10 * i), broken, records.slice(10 * i + 10)])
        assert not fields
    reports = both(gates, parsed_file(PARTNER, records))
    assert verdict(reports["sql"]) == verdict(reports["pandas"])
    assert reports["sql"].error is not None


def test_spilled_records_are_read_from_their_parquet_file(gates: dict[str, QualityGate],
                                                          tmp_path: Path) -> None:
    records = set_rows(clean_records(PLATFORM), 3, store_id="12A4")
    in_memory = parsed_file(PLATFORM, records)
    path = tmp_path / "records.parquet"
    records.write_parquet(path)
    spilled = dataclasses.replace(in_memory, records=None, records_path=path)
    sql = gates["sql"].validate(spilled, SETTINGS)
    assert verdict(sql) == verdict(gates["pandas"].validate(in_memory, SETTINGS))
    assert sql.critical_failures == ["store_id must be 4 digits: 3 of 200 records"]


def test_one_gate_validates_many_files_and_leaves_nothing_registered(gates: dict[str, QualityGate]) -> None:
    gate = gates["sql"]
    for side in (PLATFORM, PARTNER, PLATFORM):
        assert gate.validate(parsed_file(side), SETTINGS).error is None
    views = gate.session.duck.connection.execute(
        "SELECT count(*) FROM duckdb_views() WHERE NOT internal").fetchone()
    assert views == (0,)


def test_validate_file_uses_a_given_gate(gates: dict[str, QualityGate]) -> None:
    report = validate_file(parsed_file(PLATFORM), SETTINGS, gate=gates["pandas"])
    assert report.error is None
    with pytest.raises(ValueError, match="unknown GX engine"):
        QualityGate(engine="spark")

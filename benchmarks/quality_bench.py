"""What the data-quality gate costs on a million records per side, by GX engine.

Usage::

    .venv/bin/python benchmarks/quality_bench.py [--records 1000000] [--repeat 3] [--json FILE]

Engines measured, each validating the same suites with the same parameters:

* ``pandas``: the gate as shipped (``validate_file``): Arrow-backed strings,
  NumPy-backed numbers and times, GX's batch fingerprint hashing off.
* ``pandas+hash``: the same with GX's default fingerprint hashing, to show
  what turning it off saves.
* ``duckdb``: the records written to a table in a DuckDB file, validated by
  GX's SQL engine. GX 1.24 cannot run against DuckDB as is (it reads query
  results after closing the connection, and has no DuckDB regex), so two
  shims are applied for the measurement only. Loading the table is timed.

The records are synthetic but realistic in shape: distinct confirmation
numbers, random stores, devices and traces, times over one business day.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reconciliation.config import Settings
from reconciliation.records import PARTNER, PLATFORM, RECORD_SCHEMA, empty_rejected

DAY = date(2026, 11, 20)
PERIOD = (datetime(2026, 11, 20, 5, tzinfo=UTC), datetime(2026, 11, 21, 5, tzinfo=UTC))


def records(side: str, n: int, seed: int) -> pl.DataFrame:
    """``n`` clean normalized records of one side, built without a Python object per record."""
    rng = np.random.default_rng(seed)
    units = rng.integers(1, 40, n)
    idx = pl.int_range(0, n, eager=True)
    start = int(PERIOD[0].timestamp()) * 1_000_000
    ts = pl.Series(start + rng.integers(0, 86_400_000_000, n)).cast(pl.Datetime("us", "UTC"))
    partner = side == PARTNER
    codes = rng.choice(np.array(["0000", "0001", "0051", ""]), n, p=[0.9, 0.03, 0.04, 0.03]) \
        if partner else np.full(n, "0000")
    code = pl.Series(codes).replace("", None)
    frame = pl.DataFrame({
        "side": pl.repeat(side, n, eager=True),
        "sponsor_code": pl.repeat("ABCD", n, eager=True),
        "business_date": pl.repeat(DAY, n, eager=True),
        "line_number": idx + 3,
        "txn_type": pl.Series(np.where(rng.random(n) < 0.05, "REVERSE", "REDEEM")),
        "confirmation_number": "C" + idx.cast(pl.String).str.zfill(12),
        "original_confirmation_number": pl.repeat(None, n, dtype=pl.String, eager=True),
        "ts": ts,
        "partner_ts": ts,
        "store_id": pl.Series(rng.integers(0, 10_000, n)).cast(pl.String).str.zfill(4),
        "device_id": pl.Series(rng.integers(0, 1_000, n)).cast(pl.String).str.zfill(3),
        "card_terminal_id": pl.repeat(None if partner else "T01", n, dtype=pl.String, eager=True),
        "trace_id": pl.Series(rng.integers(0, 10**12, n)).cast(pl.String).str.zfill(12),
        "pos_transaction_id": pl.repeat("R1" if partner else None, n, dtype=pl.String, eager=True),
        "collector_last4": pl.Series(rng.integers(0, 10_000, n)).cast(pl.String).str.zfill(4),
        "collector_hash": rng.integers(-(2**62), 2**62, n),
        "units": units,
        "miles": units * 95,
        "dollars": pl.Series(units * 10).cast(pl.Decimal(12, 2)),
        "response_code": code,
        "origin": pl.repeat(None if partner else "POS", n, dtype=pl.String, eager=True),
    })
    if partner:  # no response, no confirmation number
        frame = frame.with_columns(confirmation_number=pl.when(pl.col("response_code").is_not_null())
                                   .then("confirmation_number"))
    return frame.cast(RECORD_SCHEMA)


def parsed(side: str, frame: pl.DataFrame) -> SimpleNamespace:
    """A ParsedFile-like wrapper of a frame."""
    prefix = "AMCASH_RECON" if side == PLATFORM else "AMCASH_POS"
    return SimpleNamespace(side=side, file_name=f"{prefix}_ABCD_{DAY:%Y%m%d}_001.txt", sha256="0" * 64,
                           sponsor_code="ABCD", business_date=DAY, sequence=1, period_start=PERIOD[0],
                           period_end=PERIOD[1], detail_count=frame.height, records=frame,
                           rejected=empty_rejected())


def bench_pandas(files: dict[str, SimpleNamespace], settings: Settings, repeat: int) -> dict[str, Any]:
    """The shipped gate, per side: median seconds, with the conversion share."""
    from reconciliation.quality import gate

    out: dict[str, Any] = {}
    for side, file in files.items():
        times, converts = [], []
        for _ in range(repeat):
            started = time.perf_counter()
            gate.gx_frame(file.records, settings)
            converts.append(time.perf_counter() - started)
            report = gate.validate_file(file, settings)
            assert report.error is None, report.error
            times.append(report.seconds)
        out[side] = {"seconds": statistics.median(times), "convert_seconds": statistics.median(converts),
                     "expectations": report.results.height}
    return out


def bench_pandas_hash(files: dict[str, SimpleNamespace], settings: Settings) -> dict[str, Any]:
    """The gate with GX's default batch fingerprinting left on."""
    from great_expectations.execution_engine import pandas_execution_engine as engine

    from reconciliation.quality import gate

    engine.HASH_THRESHOLD = 1e9
    try:
        return {side: {"seconds": gate.validate_file(file, settings).seconds} for side, file in files.items()}
    finally:
        engine.HASH_THRESHOLD = 0


def _duckdb_shims() -> None:
    """Make GX 1.24's SQL engine work on DuckDB (measurement only)."""
    import sqlalchemy as sa
    from great_expectations.execution_engine import sqlalchemy_execution_engine as sql_engine
    from great_expectations.expectations.metrics.column_map_metrics import column_values_match_regex as rx

    class _Dialect(str):
        value = "duckdb"

    dialects: Any = (*sql_engine._PERSISTED_CONNECTION_DIALECTS, _Dialect("duckdb"))
    sql_engine._PERSISTED_CONNECTION_DIALECTS = dialects
    original = rx.get_dialect_regex_expression

    def regex(column: Any, regex: str, dialect: Any, positive: bool = True) -> Any:
        name = getattr(getattr(dialect, "dialect", dialect), "name", "")
        if name == "duckdb":
            expr = sa.func.regexp_full_match(column, sa.literal(regex))
            return expr if positive else sa.not_(expr)
        return original(column, regex, dialect, positive)

    rx.get_dialect_regex_expression = regex


def bench_duckdb(files: dict[str, SimpleNamespace], settings: Settings, workdir: Path) -> dict[str, Any]:
    """Load each side into a DuckDB table, then validate it with GX's SQL engine."""
    import duckdb

    from reconciliation.quality import gate, results
    from reconciliation.quality.context import gx_context
    from reconciliation.quality.policy import policy_from
    from reconciliation.quality.suites import gx_suite

    _duckdb_shims()
    context = gx_context().context
    policy = policy_from(settings.validation)
    out: dict[str, Any] = {}
    for side, file in files.items():
        path = workdir / f"{side.lower()}.duckdb"
        started = time.perf_counter()
        view = gate.gx_view(file.records, settings).to_arrow()
        with duckdb.connect(str(path)) as con:
            con.register("view", view)
            con.execute("CREATE TABLE records AS SELECT * FROM view")
        loaded = time.perf_counter() - started
        source = context.data_sources.add_sql(f"duck_{side.lower()}", connection_string=f"duckdb:///{path}")
        batch = source.add_table_asset("records", table_name="records") \
            .add_batch_definition_whole_table("all").get_batch()
        suite, checks = gx_suite(side, None, policy)
        params = gate._parameters(file, settings, policy)
        started = time.perf_counter()
        outcome = batch.validate(suite, expectation_parameters=params,
                                 result_format={"result_format": "BASIC", "partial_unexpected_count": 20})
        validated = time.perf_counter() - started
        _, findings = results.interpret(outcome, checks, side=side, file_name=file.file_name, params=params,
                                        policy=policy, height=file.records.height)
        failed = [text for _, ok, text in findings if not ok]
        out[side] = {"seconds": loaded + validated, "load_seconds": loaded, "validate_seconds": validated,
                     "failed_checks": failed}
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000, help="records per side")
    parser.add_argument("--repeat", type=int, default=3, help="runs of the shipped gate per side")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    os.environ["GX_ANALYTICS_ENABLED"] = "false"
    settings = Settings()
    started = time.perf_counter()
    files = {side: parsed(side, records(side, args.records, seed))
             for seed, side in enumerate((PLATFORM, PARTNER))}
    print(f"generated {args.records:,} records per side in {time.perf_counter() - started:.1f} s")

    started = time.perf_counter()
    from reconciliation.quality import gate

    gate.validate_file(parsed(PLATFORM, records(PLATFORM, 10, 9)), settings)
    first = time.perf_counter() - started
    figures: dict[str, Any] = {"records_per_side": args.records, "first_use_seconds": first}
    figures["pandas"] = bench_pandas(files, settings, args.repeat)
    figures["pandas+hash"] = bench_pandas_hash(files, settings)
    with tempfile.TemporaryDirectory() as tmp:
        figures["duckdb"] = bench_duckdb(files, settings, Path(tmp))

    print(f"\nfirst use (GX import, context, suite): {first:.1f} s once per process\n")
    print(f"| engine | {PLATFORM} s | {PARTNER} s | both sides s |")
    print("|---|---:|---:|---:|")
    for engine in ("pandas", "pandas+hash", "duckdb"):
        row = figures[engine]
        both = row[PLATFORM]["seconds"] + row[PARTNER]["seconds"]
        print(f"| {engine} | {row[PLATFORM]['seconds']:.2f} | {row[PARTNER]['seconds']:.2f} | {both:.2f} |")
    duck = figures["duckdb"]
    print(f"\nduckdb: load {duck[PLATFORM]['load_seconds']:.2f} + validate "
          f"{duck[PLATFORM]['validate_seconds']:.2f} s (platform); "
          f"failed checks: {duck[PLATFORM]['failed_checks'] or 'none'}")
    pandas = figures["pandas"]
    print(f"pandas: of which conversion {pandas[PLATFORM]['convert_seconds']:.2f} s (platform), "
          f"{pandas[PLATFORM]['expectations']} expectations")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""What the data-quality gate costs on a million records per side, by GX engine.

Usage::

    .venv/bin/python benchmarks/quality_bench.py [--records 1000000] [--repeat 3] [--json FILE]
    .venv/bin/python benchmarks/quality_bench.py --files DIR   # a generated day, through the real parser

Engines measured, each validating the same suites with the same parameters
through one :class:`~reconciliation.quality.gate.QualityGate` per engine:

* ``sql``: the gate as shipped: GX's SqlAlchemy engine on an in-process
  DuckDB view of the records held in memory (Arrow, no copy).
* ``sql-spilled``: the same, the records spilled to Parquet and read by DuckDB.
* ``pandas``: GX's pandas engine on a pandas copy of the records (Arrow-backed
  strings, NumPy-backed numbers and times, no batch fingerprint).

Per engine and side: median wall seconds and CPU seconds of the process
(DuckDB's threads included) over ``--repeat`` runs, and how much the
process's peak RSS grew while that engine ran (engines run in the order
above, so a later engine's growth is over the peak an earlier one left).
The records are synthetic but realistic in shape (distinct confirmation
numbers, random stores, devices and traces, times over one business day),
or a generated day's files parsed by ``parse_file``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reconciliation.config import Settings
from reconciliation.parsing import ParsedFile
from reconciliation.records import PARTNER, PLATFORM, RECORD_SCHEMA, empty_rejected

DAY = date(2026, 11, 20)
PERIOD = (datetime(2026, 11, 20, 5, tzinfo=UTC), datetime(2026, 11, 21, 5, tzinfo=UTC))
ENGINES = ("sql", "sql-spilled", "pandas")


def cpu_seconds() -> float:
    """User + system CPU seconds of this process so far (all threads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_mib() -> float:
    """Peak resident set size of this process so far, MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


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


def parsed(side: str, frame: pl.DataFrame) -> ParsedFile:
    """A ParsedFile of a frame, as the standard layout's parser would return it."""
    prefix = "AMCASH_RECON" if side == PLATFORM else "AMCASH_POS"
    name = f"{prefix}_ABCD_{DAY:%Y%m%d}_001.txt"
    return ParsedFile(side=side, path=Path(name), file_name=name, sha256="0" * 64, sponsor_code="ABCD",
                      business_date=DAY, sequence=1, period_start=PERIOD[0], period_end=PERIOD[1],
                      detail_count=frame.height, records=frame, rejected=empty_rejected(),
                      usable_count=frame.height)


def parse_day(folder: Path) -> dict[str, ParsedFile]:
    """Both files of a generated day, parsed in memory."""
    from reconciliation.parsing import parse_file

    names = {PLATFORM: "AMCASH_RECON_*.txt", PARTNER: "AMCASH_POS_*.txt"}
    return {side: parse_file(next(folder.glob(pattern)), side, hash_key=b"benchmark-key")
            for side, pattern in names.items()}


def spilled(files: dict[str, ParsedFile], workdir: Path) -> dict[str, ParsedFile]:
    """The same files with their records written to Parquet, as a spilling parser leaves them."""
    out = {}
    for side, file in files.items():
        path = workdir / f"{side.lower()}.parquet"
        file.frame().write_parquet(path, compression="lz4")
        out[side] = dataclasses.replace(file, records=None, records_path=path)
    return out


def bench(engine: str, files: dict[str, ParsedFile], settings: Settings, repeat: int) -> dict[str, Any]:
    """One gate of an engine validating each side ``repeat`` times: medians, verdicts, RSS growth."""
    from reconciliation.quality.gate import QualityGate

    before = peak_mib()
    out: dict[str, Any] = {}
    with QualityGate(engine="pandas" if engine == "pandas" else "sql") as gate:
        for side, file in files.items():
            walls, cpus = [], []
            for _ in range(repeat):
                wall, cpu = time.perf_counter(), cpu_seconds()
                report = gate.validate(file, settings)
                walls.append(time.perf_counter() - wall)
                cpus.append(cpu_seconds() - cpu)
            out[side] = {"seconds": statistics.median(walls), "cpu_seconds": statistics.median(cpus),
                         "expectations": report.results.height,
                         "failed": sorted(report.critical_failures + report.warnings)}
    out["peak_growth_mib"] = peak_mib() - before
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000, help="synthetic records per side")
    parser.add_argument("--files", type=Path, help="a generated day's folder, parsed instead of synthetic")
    parser.add_argument("--repeat", type=int, default=3, help="validations per engine and side")
    parser.add_argument("--engines", default=",".join(ENGINES),
                        help="comma-separated, of: " + ", ".join(ENGINES))
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    os.environ["GX_ANALYTICS_ENABLED"] = "false"
    settings = Settings()

    from reconciliation.quality.context import import_gx, preload

    started = time.perf_counter()
    importing = preload()  # GX imports while the records are generated or parsed
    files = parse_day(args.files) if args.files else {
        side: parsed(side, records(side, args.records, seed))
        for seed, side in enumerate((PLATFORM, PARTNER))}
    made = time.perf_counter() - started
    importing.join()
    import_gx()
    both = time.perf_counter() - started
    size = files[PLATFORM].usable_count
    print(f"{size:,} platform records ready in {made:.1f} s; with GX imported beside them {both:.1f} s")
    figures: dict[str, Any] = {"records_per_side": size, "ready_seconds": made, "ready_with_gx_seconds": both}
    with tempfile.TemporaryDirectory() as tmp:
        inputs = {"sql": files, "pandas": files, "sql-spilled": spilled(files, Path(tmp))}
        for engine in args.engines.split(","):
            figures[engine] = bench(engine, inputs[engine], settings, args.repeat)

    print(f"| engine | {PLATFORM} s (CPU s) | {PARTNER} s (CPU s) | both sides CPU s | peak RSS growth MiB |")
    print("|---|---:|---:|---:|---:|")
    for engine in args.engines.split(","):
        row = figures[engine]
        cpu = row[PLATFORM]["cpu_seconds"] + row[PARTNER]["cpu_seconds"]
        print(f"| {engine} | {row[PLATFORM]['seconds']:.2f} ({row[PLATFORM]['cpu_seconds']:.2f}) "
              f"| {row[PARTNER]['seconds']:.2f} ({row[PARTNER]['cpu_seconds']:.2f}) | {cpu:.2f} "
              f"| {row['peak_growth_mib']:.0f} |")
    verdicts = {engine: {side: figures[engine][side]["failed"] for side in (PLATFORM, PARTNER)}
                for engine in args.engines.split(",")}
    agree = len({json.dumps(v, sort_keys=True) for v in verdicts.values()}) == 1
    print(f"\nverdicts agree across engines: {agree}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str))
    return 0 if agree else 1


if __name__ == "__main__":
    status = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)  # skip DuckDB's nanobind leak report at teardown (see reconciliation.cli.entry)

"""Baseline 3: datacompy's Polars backend compares the two files on the key.

Runs in its own virtual environment (``var/bench/datacompy-venv``, made by
``bench.py``): datacompy pins an older Polars than the project uses, so it
cannot share the project's. Usage, as ``bench.py`` calls it::

    var/bench/datacompy-venv/bin/python benchmarks/datacompy_baseline.py RESULT_JSON ARGS_JSON

What is timed: reading both files with Polars (the same field split as the
floor), a few lines of preparation (only the partner's successful records,
each side's own time as epoch seconds, numbers typed), then
``datacompy.PolarsCompare`` joined on (txn_type, confirmation_number), with a
600-second tolerance on the time, and ``all_mismatch()`` to materialize the
mismatching rows. The figures are datacompy's: rows only in one file
(missing on the other side), rows whose values differ, per column.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from procstat import child_main, cpu_seconds, hwm_kb

WIDTH = {"PLATFORM": 15, "PARTNER": 13}
FIELDS = {
    "PLATFORM": ("rt", "txn_type", "confirmation_number", "original_confirmation_number",
                 "platform_datetime", "partner_datetime", "store_id", "device_id",
                 "card_terminal_id", "trace_id", "collector_number", "units", "miles", "dollars",
                 "response_code", "origin"),
    "PARTNER": ("rt", "txn_type", "confirmation_number", "original_confirmation_number",
                "partner_datetime", "store_id", "device_id", "trace_id", "pos_transaction_id",
                "collector_number", "units", "miles", "dollars", "response_code"),
}
COMPARED = ("txn_type", "confirmation_number", "ts", "store_id", "device_id", "trace_id", "units",
            "miles", "dollars")


def read(path: Path, side: str) -> Any:
    import polars as pl

    width = 2 * (WIDTH[side] + 1) - 1
    names = [f"column_{i + 1}" for i in range(width)]
    frame = pl.read_csv(path, has_header=False, separator="%", quote_char=None, skip_rows=2,
                        schema={n: pl.String for n in names}, truncate_ragged_lines=True,
                        columns=names[::2])
    frame.columns = list(FIELDS[side])
    own = "platform_datetime" if side == "PLATFORM" else "partner_datetime"
    text = pl.col(own)
    with_offset = text.str.contains(r"(Z|[+-][0-9]{2}:?[0-9]{2})$")
    instant = pl.when(with_offset).then(text).otherwise(text + "-05:00").str.to_datetime(
        "%Y-%m-%dT%H:%M:%S%.f%z", strict=False, time_zone="UTC")
    frame = frame.filter(pl.col("rt") == "D")
    if side == "PARTNER":
        frame = frame.filter(pl.col("response_code").is_in(["0000", "0001"]))
    return frame.with_columns(
        ts=instant.dt.epoch("s"),
        units=pl.col("units").cast(pl.Int64, strict=False),
        miles=pl.col("miles").cast(pl.Int64, strict=False),
        dollars=pl.col("dollars").cast(pl.Float64, strict=False),
    ).select(COMPARED)


def run(args: dict[str, Any]) -> dict[str, Any]:
    import datacompy
    import polars as pl

    inbox = Path(args["inbox"])
    files = {"PLATFORM": next(inbox.glob("AMCASH_RECON_*.txt")),
             "PARTNER": next(inbox.glob("AMCASH_POS_*.txt"))}
    start, cpu = time.perf_counter(), cpu_seconds()
    partner = read(files["PARTNER"], "PARTNER")
    platform = read(files["PLATFORM"], "PLATFORM")
    compare = datacompy.PolarsCompare(partner, platform, join_columns=["txn_type", "confirmation_number"],
                                      abs_tol={"ts": 600}, df1_name="partner", df2_name="platform")
    mismatches = compare.all_mismatch()
    seconds, cpu = time.perf_counter() - start, cpu_seconds() - cpu
    return {
        "seconds": seconds, "cpu_seconds": cpu, "peak_kb": hwm_kb(),
        "only_partner": compare.df1_unq_rows.height, "only_platform": compare.df2_unq_rows.height,
        "intersect": compare.intersect_rows.height, "mismatched_rows": mismatches.height,
        "unequal_by_column": {stat["column"]: stat["unequal_cnt"] for stat in compare.column_stats
                              if stat["unequal_cnt"]},
        "datacompy": datacompy.__version__, "polars": pl.__version__,
    }


if __name__ == "__main__":
    child_main(run)

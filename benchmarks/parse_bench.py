"""Benchmark the file parsers against a naive Polars parse, in time and peak memory.

Writes a synthetic valid platform file and partner file of N detail records
each (vectorized, one million lines at a time), then measures, each in its
own child process so that every peak RSS is its own:

- ``naive``: the whole file read as lines, split on ``%%`` into String
  columns (no validation, no conversion): the baseline to beat;
- ``parse_file``: the real parser (validation, conversion, totals, hashing),
  the records kept in memory;
- ``parse_file spilled``: the same with ``spill_to``, the records written a
  chunk at a time to one Parquet file per side (peak memory is then a few
  chunks, not the file).

Both files in one process share one ``CollectorHasher``, as a run does.

Usage::

    .venv/bin/python benchmarks/parse_bench.py --records 1000000 --workdir /tmp/bench
    .venv/bin/python benchmarks/parse_bench.py --workdir /tmp/day --reuse   # files of ``recon generate``

Records are in time order over the day; collector numbers are drawn from a
pool of N/5 (each collector appears about five times a day), so HMAC work is
realistic; both sides share it, as in a run, when parsed in one process.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import re
import resource
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

SPONSOR, DAY = "ABCD", "20261120"
PLATFORM_FILE = f"AMCASH_RECON_{SPONSOR}_{DAY}_001.txt"
PARTNER_FILE = f"AMCASH_POS_{SPONSOR}_{DAY}_001.txt"
BLOCK = 1_000_000


def _block(start: int, size: int, side: str, rng: np.random.Generator, pool: int, total: int) -> pl.DataFrame:
    """One block of D lines with their txn type, miles and cents (for the trailers).

    Records are in time order over the business day, as a POS log or the
    platform's extract is written.
    """
    index = np.arange(start, start + size)
    frame = pl.DataFrame(
        {
            "i": index,
            "rev": rng.random(size) < 0.05,
            "units": rng.integers(1, 10, size),
            "secs": index * 86_400 // total,
            "collector": rng.integers(0, pool, size) + 6_012_000_000_000_000,
            "unknown": rng.random(size) < 0.02,
        }
    )
    col, day = pl.col, pl.datetime(2026, 11, 20)
    ident = col("i").cast(pl.String)
    stamp = "%Y-%m-%dT%H:%M:%S-05:00"
    fields = [
        pl.lit("D"),
        pl.when(col("rev")).then(pl.lit("REVERSE")).otherwise(pl.lit("REDEEM")),
        pl.format("C{}", ident.str.zfill(12)),
        pl.when(col("rev"))
        .then(pl.format("C{}", (col("i") + 7).cast(pl.String).str.zfill(12)))
        .otherwise(pl.lit("")),
    ]
    if side == "PLATFORM":
        fields.append((day + pl.duration(seconds=col("secs"))).dt.strftime(stamp))
    fields += [
        (day + pl.duration(seconds=col("secs") - 1)).dt.strftime(stamp),
        (col("i") % 5000).cast(pl.String).str.zfill(4),
        (col("i") % 97).cast(pl.String).str.zfill(3),
    ]
    if side == "PLATFORM":
        fields.append(pl.format("T{}", (col("i") % 100_000).cast(pl.String).str.zfill(8)))
    fields.append(ident.str.zfill(12))
    if side == "PARTNER":
        fields.append(pl.format("R{}", ident))
    fields += [
        col("collector").cast(pl.String),
        col("units").cast(pl.String),
        (col("units") * 95).cast(pl.String),
        pl.format("{}.00", (col("units") * 10).cast(pl.String)),
    ]
    if side == "PLATFORM":
        fields += [pl.lit("0000"), pl.lit("POS")]
    else:
        fields.append(pl.when(col("unknown")).then(pl.lit("")).otherwise(pl.lit("0000")))
    return frame.select(
        pl.concat_str(fields, separator="%%").alias("line"),
        "rev",
        (col("units") * 95).alias("miles"),
        (col("units") * 1000).alias("cents"),
    )


def write_file(path: Path, side: str, records: int, seed: int = 7) -> None:
    """A valid standard file of ``records`` D lines (same seed: the sides mirror each other)."""
    rng = np.random.default_rng(seed)
    pool = max(records // 5, 1)
    file_type = "RECON" if side == "PLATFORM" else "POS"
    totals = {"rc": 0, "rm": 0, "vc": 0, "vm": 0, "cents": 0}
    with path.open("wb") as out:
        out.write(f"H1%%{file_type}%%2026-11-21T01:00:00-05:00%%AMCASH%%PROD%%001\n".encode())
        out.write(b"H2%%ABCD%%2026-11-20%%2026-11-20T00:00:00-05:00%%2026-11-21T00:00:00-05:00\n")
        for start in range(0, records, BLOCK):
            block = _block(start, min(BLOCK, records - start), side, rng, pool, records)
            block.select("line").write_csv(out, include_header=False, quote_style="never")
            sums = block.select(
                (~pl.col("rev")).sum().alias("rc"),
                pl.col("miles").filter(~pl.col("rev")).sum().alias("rm"),
                pl.col("rev").sum().alias("vc"),
                pl.col("miles").filter(pl.col("rev")).sum().alias("vm"),
                (
                    pl.col("cents").filter(~pl.col("rev")).sum() - pl.col("cents").filter(pl.col("rev")).sum()
                ).alias("cents"),
            ).row(0, named=True)
            for key, value in sums.items():
                totals[key] += int(value or 0)
        net = totals["cents"]
        sign, net = ("-" if net < 0 else ""), abs(net)
        out.write(f"T1%%{totals['rc']}%%{totals['rm']}%%{totals['vc']}%%{totals['vm']}\n".encode())
        net_miles = totals["rm"] - totals["vm"]
        out.write(f"T2%%{records}%%{records + 4}%%{net_miles}%%{sign}{net // 100}.{net % 100:02d}\n".encode())


def naive_one(path: str, side: str) -> pl.DataFrame:
    """The baseline: lines into one String column, split on ``%%`` into String columns."""
    width = 16 if side == "PLATFORM" else 14
    lines = pl.read_csv(path, separator="\x01", has_header=False, quote_char=None, schema={"line": pl.String})
    parts = lines.select(pl.col("line").str.split("%%").alias("p"))
    return parts.select([pl.col("p").list.get(i, null_on_oob=True).alias(f"f{i}") for i in range(width)])


def naive(paths: list[tuple[str, str]]) -> int:
    """The naive parse of one or more files in one process (frames kept)."""
    kept = [naive_one(path, side) for path, side in paths]
    return sum(frame.height - 4 for frame in kept)


def parsed(paths: list[tuple[str, str]], spill: bool = False) -> int:
    """The real parser, on one or more files in one process (results kept, as in a run).

    With ``spill`` the records go to ``<file>.parquet`` beside each file.
    """
    from reconciliation.parsing import parse_file
    from reconciliation.privacy import CollectorHasher

    key = b"bench-key"
    hasher = CollectorHasher(key)
    kept = [
        parse_file(Path(path), side, hash_key=key, hasher=hasher,
                   spill_to=Path(path).with_suffix(".parquet") if spill else None)
        for path, side in paths
    ]  # fmt: skip
    return sum(p.detail_count for p in kept)


def _child(task: str, args: Any, queue: Any) -> None:
    import pyarrow.parquet  # noqa: F401  (imports are not what is measured)

    import reconciliation.parsing  # noqa: F401

    wall, cpu = time.perf_counter(), time.process_time()
    count = naive(args) if task == "naive" else parsed(args, spill=task == "spill")
    queue.put((count, time.perf_counter() - wall, time.process_time() - cpu, peak_rss()))


def peak_rss() -> int:
    """This process's peak RSS in bytes: Linux's VmHWM (``ru_maxrss`` may carry the parent's across exec)."""
    status = Path("/proc/self/status")
    if status.exists():
        found = re.search(r"VmHWM:\s+(\d+) kB", status.read_text())
        if found:
            return int(found[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def measure(task: str, args: Any) -> tuple[int, float, float, int]:
    """Run one measurement in a fresh (spawned) process: (records, wall s, cpu s, peak RSS bytes)."""
    context = mp.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_child, args=(task, args, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=1_000_000, help="D records per side")
    parser.add_argument("--workdir", type=Path, default=Path("var/bench"), help="where the files are written")
    parser.add_argument("--reuse", action="store_true", help="reuse files already in --workdir")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    platform, partner = args.workdir / PLATFORM_FILE, args.workdir / PARTNER_FILE
    if not (args.reuse and platform.exists() and partner.exists()):
        started = time.perf_counter()
        write_file(platform, "PLATFORM", args.records)
        write_file(partner, "PARTNER", args.records)
        print(f"wrote 2 x {args.records:,} records in {time.perf_counter() - started:.1f} s")
    sizes = f"{platform.stat().st_size / 1e9:.2f} GB + {partner.stat().st_size / 1e9:.2f} GB"
    print(f"files: {sizes}\n")
    both = [(str(platform), "PLATFORM"), (str(partner), "PARTNER")]
    runs = [
        ("naive PLATFORM", "naive", [(str(platform), "PLATFORM")]),
        ("naive PARTNER", "naive", [(str(partner), "PARTNER")]),
        ("naive both, one process", "naive", both),
        ("parse_file PLATFORM", "parse", [(str(platform), "PLATFORM")]),
        ("parse_file PARTNER", "parse", [(str(partner), "PARTNER")]),
        ("parse_file both, one process", "parse", both),
        ("spilled PLATFORM", "spill", [(str(platform), "PLATFORM")]),
        ("spilled PARTNER", "spill", [(str(partner), "PARTNER")]),
        ("spilled both, one process", "spill", both),
    ]
    load = os.getloadavg()[0]
    results = {label: measure(task, task_args) for label, task, task_args in runs}
    print(f"{os.cpu_count()} CPUs; load average {load:.1f} before, {os.getloadavg()[0]:.1f} after\n")
    header = (
        f"{'measurement':<30} {'records':>12} {'wall s':>8} {'cpu s':>8} {'records/s':>12} {'peak RSS':>10}"
    )
    print(header + "\n" + "-" * len(header))
    for label, (count, wall, cpu, peak) in results.items():
        rate = count / wall
        print(f"{label:<30} {count:>12,} {wall:>8.2f} {cpu:>8.2f} {rate:>12,.0f} {peak / 2**30:>8.2f} GB")
    _, naive_wall, naive_cpu, naive_peak = results["naive both, one process"]
    print(f"\nboth sides in one process: naive {naive_wall:.2f} s ({naive_cpu:.2f} CPU s), "
          f"peak {naive_peak / 2**30:.2f} GB")  # fmt: skip
    for label in ("parse_file both, one process", "spilled both, one process"):
        _, wall, cpu, peak = results[label]
        print(f"{label.split(' both')[0]}: {wall:.2f} s ({cpu:.2f} CPU s), peak {peak / 2**30:.2f} GB; "
              f"ratio to naive: time {wall / naive_wall:.2f}, memory {peak / naive_peak:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()

"""The workbench's breaks page over a warehouse of 1,000,000 breaks: first page and a filtered page.

Fills a DuckDB warehouse (cached under ``--workdir``) with ``--breaks``
current breaks spread over 20 sponsors and 50 business dates (every type,
severity and status; amounts from $0 to $500), then times, as the API
server would serve them (a fresh read-only connection per request, the
query, the HTML), the default first page (unresolved breaks, most urgent
first) and a filtered page (one sponsor, one type, a date range, an amount
floor, page 3). Each is requested ``--repeat`` times; the median and the
slowest are printed. Server time only: the browser's rendering is not in it.

Usage::

    .venv/bin/python benchmarks/workbench_bench.py [--breaks 1000000] [--repeat 7] [--workdir var/bench]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins"))

from reconciliation.config import Settings  # noqa: E402
from reconciliation.warehouse.db import engine_for, ensure_schema, insert_frame, write_transaction  # noqa: E402
from reconciliation.warehouse.schema import BREAK_TYPES, SEVERITY, recon_break, recon_run  # noqa: E402
from reconciliation.workbench.config import WorkbenchConfig  # noqa: E402
from reconciliation.workbench.core import Workbench  # noqa: E402

SPONSORS = [f"S{i:03d}" for i in range(20)]
START = date(2026, 10, 1)
DAYS = 50


def fill(path: Path, count: int) -> None:
    """A warehouse with one current run per sponsor-day and ``count`` breaks."""
    url = f"duckdb:///{path}"
    engine = engine_for(url)
    ensure_schema(engine)
    now = datetime.now(UTC)
    runs = pl.DataFrame(
        [
            {
                "run_id": i + 1,
                "sponsor_code": s,
                "business_date": START + timedelta(days=d),
                "version": 1,
                "status": "SUCCEEDED",
                "is_current": True,
                "started_at": now,
                "finished_at": now,
            }
            for i, (s, d) in enumerate((s, d) for s in SPONSORS for d in range(DAYS))
        ]
    )
    rng = np.random.default_rng(7)
    run_ix = rng.integers(0, runs.height, count)
    types = np.array(BREAK_TYPES)[rng.integers(0, len(BREAK_TYPES), count)]
    cents = rng.integers(0, 50_000, count)
    breaks = (
        pl.DataFrame(
            {
                "break_id": np.arange(1, count + 1),
                "run_ix": run_ix,
                "break_type": types,
                "status": np.array(["OPEN", "PENDING", "RESOLVED"])[rng.integers(0, 3, count)],
                "delta": cents,
                "conf": rng.integers(10**9, 10**10, count).astype(str),
            }
        )
        .with_columns(
            run_id=pl.col("run_ix") + 1,
            sponsor_code=pl.Series(runs["sponsor_code"].to_numpy()[run_ix]),
            business_date=pl.Series(runs["business_date"].to_numpy()[run_ix]),
            severity=pl.col("break_type").replace_strict(SEVERITY),
            delta_dollars=(pl.col("delta").cast(pl.Decimal(12, 0)) / 100).cast(pl.Decimal(12, 2)),
        )
        .select(
            "break_id",
            pl.format("{}|{}", "break_type", "break_id").alias("break_key"),
            "run_id",
            "sponsor_code",
            "business_date",
            "break_type",
            "severity",
            "status",
            pl.lit("BOTH").alias("side"),
            pl.lit("REDEEM").alias("txn_type"),
            pl.col("conf").alias("confirmation_number"),
            "delta_dollars",
            pl.lit(now).alias("raised_at"),
            pl.lit(now).alias("updated_at"),
        )
    )
    missing = {
        c.name: pl.lit(None, dtype=pl.String) for c in recon_break.columns if c.name not in breaks.columns
    }
    frame = breaks.with_columns(**missing).with_columns(
        pl.col(c.name).cast(pl.Int64)
        for c in recon_break.columns
        if c.name in missing and str(c.type).startswith("BIGINT")
    )
    with write_transaction(engine) as conn:
        insert_frame(
            conn,
            recon_run,
            runs.with_columns(
                **{c.name: pl.lit(None) for c in recon_run.columns if c.name not in runs.columns}
            ),
        )
        insert_frame(conn, recon_break, _typed(frame))
    engine.dispose()


def _typed(frame: pl.DataFrame) -> pl.DataFrame:
    from reconciliation.warehouse.db import polars_type

    return frame.select(pl.col(c.name).cast(polars_type(c.type)) for c in recon_break.columns)


def timed(work: Any, repeat: int) -> tuple[float, float]:
    """Median and slowest wall time of ``work()`` in milliseconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), max(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--breaks", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--workdir", type=Path, default=ROOT / "var" / "bench")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    path = args.workdir / f"workbench_{args.breaks}.duckdb"
    if not path.exists():
        start = time.perf_counter()
        fill(path, args.breaks)
        print(f"filled {path} with {args.breaks:,} breaks in {time.perf_counter() - start:.1f} s")

    from amcash_plugin.workbench.app import create_app
    from fastapi.testclient import TestClient

    class BenchUser:
        def get_name(self) -> str:
            return "bench"

    async def resolve(token: str) -> BenchUser:
        return BenchUser()

    bench = Workbench(Settings(warehouse_url=f"duckdb:///{path}"), WorkbenchConfig(roles={"bench": "viewer"}))
    client = TestClient(create_app(bench, resolve_user=resolve))
    client.cookies.set("_token", "bench")
    filtered = "/breaks?sponsor=S007&type=AMOUNT_MISMATCH&from=2026-10-10&to=2026-11-10&min_amount=100&page=3"
    for name, url in (("first page (unresolved, most urgent first)", "/breaks"), ("filtered page", filtered)):
        response = client.get(url)
        assert response.status_code == 200, response.text[:300]
        median, worst = timed(lambda u=url: client.get(u), args.repeat)
        print(f"{name:<44} median {median:7.1f} ms   slowest {worst:7.1f} ms   ({url})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

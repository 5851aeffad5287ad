"""The measurement children of ``benchmarks/bench.py`` (project venv).

Run as ``python benchmarks/baselines.py RESULT_JSON ARGS_JSON``; ``ARGS_JSON``
holds ``kind`` (``generate``, ``floor``, ``duckdb``, ``project``, ``cold`` or
``startup``) and its parameters. Each kind imports what it needs before its clock starts, measures,
and writes its figures to RESULT_JSON (see ``procstat.child_main``). The peak
RSS is the child's own, so every measurement gets a fresh process.

The datacompy baseline lives in ``datacompy_baseline.py``: it runs in its own
virtual environment (datacompy pins an older Polars than the project's).
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(HERE.parent))

from procstat import Stages, child_main, cpu_seconds, hwm_kb  # noqa: E402

#: Detail record field counts after the record type (spec §2.1).
WIDTH = {"PLATFORM": 15, "PARTNER": 13}
#: The break types the plain-SQL baseline classifies (the "main" ones of issue 6).
SQL_TYPES = ("MISSING_ON_PLATFORM", "MISSING_AT_PARTNER", "AMOUNT_MISMATCH", "TIMESTAMP_DRIFT",
             "DUPLICATE")


def input_files(inbox: Path) -> dict[str, Path]:
    """The platform and partner file of the (single) sponsor-day in ``inbox``."""
    return {"PLATFORM": next(inbox.glob("AMCASH_RECON_*.txt")),
            "PARTNER": next(inbox.glob("AMCASH_POS_*.txt"))}


# -- generation ---------------------------------------------------------------------------


def run_generate(args: dict[str, Any]) -> dict[str, Any]:
    """Generate one sponsor-day with the project's generator into ``args['out']``."""
    from datetime import date

    import polars as pl

    from reconciliation.generate import generate

    out = Path(args["out"])
    start = time.perf_counter()
    result = generate(out, sponsors=[args["sponsor"]], start=date.fromisoformat(args["date"]),
                      days=1, records=args["records"], break_rate=args["break_rate"],
                      seed=args["seed"])
    seconds = time.perf_counter() - start
    by_type = dict(result.truth.group_by("break_type").len().iter_rows())
    records = dict(result.files.select("side", "records").iter_rows())
    return {"seconds": seconds, "summary": result.summary(), "truth_by_type": by_type,
            "records": records, "rejected": result.rejected.height, "cases": result.cases,
            "bytes": {side: os.path.getsize(p) for side, p in input_files(out).items()},
            "polars": pl.__version__}


# -- baseline 1: the floor -------------------------------------------------------------------


def floor_read(path: Path, side: str) -> Any:
    """Polars reads one file into its fields, all as strings, and does nothing else.

    ``%`` is the separator (a ``%%`` becomes two ``%`` around an empty column,
    which is not kept), the two header lines are skipped, shorter trailer
    rows are padded with nulls. This is the same split the project's parser
    starts from, without any of its checks.
    """
    import polars as pl

    width = 2 * (WIDTH[side] + 1) - 1
    names = [f"column_{i + 1}" for i in range(width)]
    return pl.read_csv(path, has_header=False, separator="%", quote_char=None, skip_rows=2,
                       schema={n: pl.String for n in names}, truncate_ragged_lines=True,
                       columns=names[::2])


def run_floor(args: dict[str, Any]) -> dict[str, Any]:
    import polars as pl

    files = input_files(Path(args["inbox"]))
    start, cpu = time.perf_counter(), cpu_seconds()
    frames = {side: floor_read(path, side) for side, path in files.items()}
    seconds, cpu = time.perf_counter() - start, cpu_seconds() - cpu
    return {"seconds": seconds, "cpu_seconds": cpu, "rows": {s: f.height for s, f in frames.items()},
            "peak_kb": hwm_kb(), "polars": pl.__version__}


# -- baseline 2: the reconciliation as plain DuckDB SQL ---------------------------------------

_READ = ("read_csv('{path}', delim='%%', header=false, skip=2, all_varchar=true, "
         "null_padding=true, quote='', escape='', auto_detect=false, strict_mode=false, "
         "columns={columns})")

PLATFORM_COLUMNS = ("rt", "txn_type", "confirmation_number", "original_confirmation_number",
                    "platform_datetime", "partner_datetime", "store_id", "device_id",
                    "card_terminal_id", "trace_id", "collector_number", "units", "miles",
                    "dollars", "response_code", "origin")
PARTNER_COLUMNS = ("rt", "txn_type", "confirmation_number", "original_confirmation_number",
                   "partner_datetime", "store_id", "device_id", "trace_id", "pos_transaction_id",
                   "collector_number", "units", "miles", "dollars", "response_code")


def _instant(column: str) -> str:
    """A spec §2.1 datetime as TIMESTAMPTZ; without an offset it is EST (UTC-05:00)."""
    return (f"CASE WHEN regexp_matches({column}, '(Z|[+-][0-9]{{2}}:?[0-9]{{2}})$') "
            f"THEN try_cast({column} AS TIMESTAMPTZ) "
            f"ELSE try_cast({column} || '-05:00' AS TIMESTAMPTZ) END")


def sql_statements(platform: Path, partner: Path, tolerance_s: int = 600) -> list[str]:
    """Read both files, full outer join on (txn_type, confirmation_number), classify breaks.

    Types are cast with ``try_cast`` (a value that does not parse becomes
    NULL: this baseline does no record validation). Partner records count
    when their response code is 0000 or 0001. Breaks: DUPLICATE (a second or
    later record with the same key on one side), MISSING_ON_PLATFORM,
    MISSING_AT_PARTNER, AMOUNT_MISMATCH (units, miles or dollars differ),
    TIMESTAMP_DRIFT (the two sides' own times more than the tolerance apart).
    """
    def columns(names: tuple[str, ...]) -> str:
        return "{" + ", ".join(f"'{n}': 'VARCHAR'" for n in names) + "}"

    def side(name: str, path: Path, names: tuple[str, ...], own_time: str, where: str) -> str:
        return f"""
        CREATE TEMP TABLE {name} AS
        SELECT row_number() OVER () + 2 AS line_number, txn_type, confirmation_number,
               {_instant(own_time)} AS ts, store_id, device_id, trace_id,
               try_cast(units AS INTEGER) AS units, try_cast(miles AS INTEGER) AS miles,
               try_cast(dollars AS DECIMAL(18, 2)) AS dollars, response_code
        FROM {_READ.format(path=path, columns=columns(names))}
        WHERE rt = 'D' {where}"""

    keyed = """
        CREATE TEMP TABLE {name}_k AS
        SELECT *, row_number() OVER (PARTITION BY txn_type, confirmation_number
                                     ORDER BY line_number) AS occurrence
        FROM {name} WHERE confirmation_number IS NOT NULL"""
    return [
        "SET TimeZone = 'UTC'",
        side("q", platform, PLATFORM_COLUMNS, "platform_datetime", ""),
        side("p", partner, PARTNER_COLUMNS, "partner_datetime",
             "AND response_code IN ('0000', '0001')"),
        keyed.format(name="q"),
        keyed.format(name="p"),
        f"""
        CREATE TABLE breaks AS
        WITH pq AS (
            SELECT coalesce(p.txn_type, q.txn_type) AS txn_type,
                   coalesce(p.confirmation_number, q.confirmation_number) AS confirmation_number,
                   p.line_number AS partner_line, q.line_number AS platform_line,
                   p.units AS p_units, q.units AS q_units, p.miles AS p_miles, q.miles AS q_miles,
                   p.dollars AS p_dollars, q.dollars AS q_dollars, p.ts AS p_ts, q.ts AS q_ts
            FROM (SELECT * FROM p_k WHERE occurrence = 1) p
            FULL OUTER JOIN (SELECT * FROM q_k WHERE occurrence = 1) q
              ON p.txn_type = q.txn_type AND p.confirmation_number = q.confirmation_number
        )
        SELECT 'MISSING_ON_PLATFORM' AS break_type, 'PARTNER' AS side, txn_type,
               confirmation_number, partner_line, platform_line, p_dollars - 0 AS delta_dollars
        FROM pq WHERE platform_line IS NULL
        UNION ALL
        SELECT 'MISSING_AT_PARTNER', 'PLATFORM', txn_type, confirmation_number, partner_line,
               platform_line, q_dollars
        FROM pq WHERE partner_line IS NULL
        UNION ALL
        SELECT 'AMOUNT_MISMATCH', 'BOTH', txn_type, confirmation_number, partner_line,
               platform_line, p_dollars - q_dollars
        FROM pq WHERE partner_line IS NOT NULL AND platform_line IS NOT NULL
          AND (p_units IS DISTINCT FROM q_units OR p_miles IS DISTINCT FROM q_miles
               OR p_dollars IS DISTINCT FROM q_dollars)
        UNION ALL
        SELECT 'TIMESTAMP_DRIFT', 'BOTH', txn_type, confirmation_number, partner_line,
               platform_line, 0
        FROM pq WHERE partner_line IS NOT NULL AND platform_line IS NOT NULL
          AND abs(epoch(p_ts) - epoch(q_ts)) > {tolerance_s}
        UNION ALL
        SELECT 'DUPLICATE', 'PARTNER', txn_type, confirmation_number, line_number, NULL, dollars
        FROM p_k WHERE occurrence > 1
        UNION ALL
        SELECT 'DUPLICATE', 'PLATFORM', txn_type, confirmation_number, NULL, line_number, dollars
        FROM q_k WHERE occurrence > 1
        """,
    ]


def run_duckdb(args: dict[str, Any]) -> dict[str, Any]:
    import duckdb

    files = input_files(Path(args["inbox"]))
    database = Path(args["database"])
    database.unlink(missing_ok=True)
    start, cpu = time.perf_counter(), cpu_seconds()
    con = duckdb.connect(str(database))
    for statement in sql_statements(files["PLATFORM"], files["PARTNER"]):
        con.execute(statement)
    by_type = dict(con.execute("SELECT break_type, count(*) FROM breaks GROUP BY 1").fetchall())
    con.close()
    seconds, cpu = time.perf_counter() - start, cpu_seconds() - cpu
    return {"seconds": seconds, "cpu_seconds": cpu, "breaks_by_type": by_type, "peak_kb": hwm_kb(),
            "duckdb": duckdb.__version__}


# -- the project's pipeline ---------------------------------------------------------------------


def _wrap(owner: Any, name: str, stages: Stages, stage: str) -> bool:
    """Time every call of ``owner.name`` as ``stage``; False when the project has no such function."""
    original = getattr(owner, name, None)
    if original is None:
        return False

    def timed(*a: Any, **k: Any) -> Any:
        with stages.stage(stage):
            return original(*a, **k)

    setattr(owner, name, timed)
    return True


def _wrap_context(owner: Any, name: str, stages: Stages, stage: str) -> bool:
    """Same for a function returning a context manager: timed from enter to exit (commit)."""
    from contextlib import contextmanager

    original = getattr(owner, name, None)
    if original is None:
        return False

    @contextmanager
    def timed(*a: Any, **k: Any) -> Any:
        with stages.stage(stage):
            manager = original(*a, **k)
            value = manager.__enter__()
            try:
                yield value
            except BaseException:
                if not manager.__exit__(*sys.exc_info()):
                    raise
            else:
                with stages.stage("commit"):
                    manager.__exit__(None, None, None)

    setattr(owner, name, timed)
    return True


def _wrap_inserts(owners: list[Any], stages: Stages) -> None:
    """Time each bulk insert (of a frame, or of rows from the parse's Parquet) by its table."""
    for owner in owners:
        for name in ("insert_frame", "insert_rows"):
            original = getattr(owner, name, None)
            if original is None:
                continue

            def timed(conn: Any, table: Any, frame: Any, _original: Any = original) -> Any:
                with stages.stage(f"insert:{table.name}"):
                    return _original(conn, table, frame)

            setattr(owner, name, timed)


def found_vs_truth(url: str, inbox: Path) -> dict[str, Any]:
    """Current breaks in the warehouse against ``ground_truth.csv``, as multisets of natural keys.

    The key is (sponsor, business date, break type, side, txn_type,
    confirmation number, status), with the truth's ``expected_status``.
    """
    import polars as pl
    import sqlalchemy as sa

    from reconciliation.warehouse.db import engine_for
    from reconciliation.warehouse.schema import recon_break, recon_run

    with engine_for(url).connect() as conn:
        current = sa.select(recon_run.c.run_id).where(recon_run.c.is_current.is_(True))
        rows = conn.execute(sa.select(
            recon_break.c.sponsor_code, recon_break.c.business_date, recon_break.c.break_type,
            recon_break.c.side, recon_break.c.txn_type, recon_break.c.confirmation_number,
            recon_break.c.status).where(recon_break.c.run_id.in_(current))).all()
    found = Counter((r[0], str(r[1]), r[2], r[3], r[4] or "", r[5] or "", r[6]) for r in rows)
    truth_frame = pl.read_csv(inbox / "ground_truth.csv", infer_schema=False)
    truth = Counter((r["sponsor_code"], r["business_date"], r["break_type"], r["side"],
                     r["txn_type"] or "", r["confirmation_number"] or "", r["expected_status"])
                    for r in truth_frame.iter_rows(named=True))
    missing, extra = truth - found, found - truth
    return {
        "found": sum(found.values()), "expected": sum(truth.values()),
        "missing": sum(missing.values()), "extra": sum(extra.values()),
        "equal": not missing and not extra,
        "missing_by_type": dict(Counter(k[2] for k in missing.elements())),
        "extra_by_type": dict(Counter(k[2] for k in extra.elements())),
        "examples": [list(k) for k in list(missing)[:3] + list(extra)[:3]],
    }


@contextmanager
def warehouse(args: dict[str, Any], work: Path) -> Iterator[str]:
    """A fresh warehouse for one measurement: a DuckDB file, or a throwaway PostgreSQL database.

    With ``args["postgres"]`` (an administrator URL of the server) a database
    is created for the run and dropped afterwards.
    """
    if not args.get("postgres"):
        for leftover in work.glob("warehouse.duckdb*"):
            leftover.unlink()
        yield f"duckdb:///{work / 'warehouse.duckdb'}"
        return
    import sqlalchemy as sa

    admin_url: str = args["postgres"]
    name = f"recon_bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        from reconciliation.warehouse.db import dispose_all

        dispose_all()
        with admin.connect() as conn:
            conn.execute(sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"), {"n": name})
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def run_project(args: dict[str, Any]) -> dict[str, Any]:
    """``pipeline.run_day`` into a fresh warehouse, with every stage timed by a wrapper."""
    imports_start = time.perf_counter()
    os.environ["RECON_HASH_KEY"] = "benchmark-key"


    # The data-quality gate imports Great Expectations on first use (seconds,
    # and a fixed cost per process): done here, outside the clock, and reported.
    from reconciliation.quality.context import import_gx

    gx_start = time.perf_counter()
    import_gx()
    gx_seconds: float | None = time.perf_counter() - gx_start
    if args["reports"]:
        import reconciliation.reports  # noqa: F401
    imports_seconds = time.perf_counter() - imports_start

    work = Path(args["workdir"])
    with warehouse(args, work) as url:
        return _run_project(args, work, url, imports_seconds, gx_seconds)


def _run_project(args: dict[str, Any], work: Path, url: str, imports_seconds: float,
                 gx_seconds: float | None) -> dict[str, Any]:
    from datetime import date

    import polars as pl

    from reconciliation import pipeline
    from reconciliation.config import Settings

    settings = Settings(warehouse_url=url, state_dir=work / "state")
    stages = Stages()
    wrapped = {
        "parse": _wrap(pipeline, "parse_file", stages, "parse"),
        "validate": _wrap(pipeline, "_validate", stages, "validate"),
        "match": _wrap(pipeline, "reconcile", stages, "match"),
        "transaction": _wrap_context(pipeline, "write_transaction", stages, "transaction"),
        "reports": _wrap(pipeline, "_reports", stages, "reports"),
    }
    import reconciliation.warehouse.runs as runs
    import reconciliation.warehouse.writer as writer

    _wrap_inserts([runs, writer], stages)
    _wrap(pipeline, "load_context", stages, "load_context")
    if not args["reports"]:
        pipeline._reports = lambda *a, **k: None
    with stages.stage("run_day"):
        outcome = pipeline.run_day(settings, args["sponsor"], date.fromisoformat(args["date"]),
                                   Path(args["inbox"]), triggered_by="benchmark")
    peak_kb = stages.finish()
    if outcome.status != "SUCCEEDED":
        raise RuntimeError(f"run_day ended {outcome.status}: {outcome.error}")
    s = stages.seconds
    reports = s.get("reports", 0.0)
    # Wall time of the pipeline as the issue scopes it: everything run_day does
    # up to and including the commit and its post-commit check; the reports
    # written after the commit are measured apart.
    e2e = s["run_day"] - reports
    write = s.get("transaction", 0.0) - s.get("match", 0.0)
    other = e2e - s.get("parse", 0.0) - s.get("validate", 0.0) - s.get("transaction", 0.0)
    breakdown = {"parse": s.get("parse"), "validate": s.get("validate"), "match": s.get("match"),
                 "write": write if wrapped["transaction"] else None, "other": other,
                 "reports": reports if args["reports"] else None}
    peaks = {"parse": stages.stage_peak_kb.get("parse"),
             "validate": stages.stage_peak_kb.get("validate"),
             "match": stages.stage_peak_kb.get("match"),
             "write": stages.stage_peak_kb.get("transaction"),
             "reports": stages.stage_peak_kb.get("reports")}
    e2e_peak = max(v for k, v in peaks.items() if v is not None and k != "reports")
    c = stages.cpu
    cpu = c["run_day"] - c.get("reports", 0.0)
    stage_cpu = {"parse": c.get("parse"), "validate": c.get("validate"), "match": c.get("match"),
                 "write": (c["transaction"] - c.get("match", 0.0)) if "transaction" in c else None,
                 "other": cpu - c.get("parse", 0.0) - c.get("validate", 0.0) - c.get("transaction", 0.0),
                 "reports": c.get("reports") if args["reports"] else None}
    # Where the write stage goes: each table's bulk insert, reading the context, the commit.
    write_parts = {name: (s[name], c[name], stages.stage_peak_kb[name]) for name in s
                   if name.startswith("insert:") or name in ("load_context", "commit")}
    check = found_vs_truth(url, Path(args["inbox"]))
    return {
        "seconds": e2e, "cpu_seconds": cpu, "stage_cpu": stage_cpu, "write_parts": write_parts,
        "run_day_seconds": s["run_day"], "stages": breakdown,
        "stage_peak_kb": peaks, "peak_kb": peak_kb, "e2e_peak_kb": max(e2e_peak, 0),
        "imports_seconds": imports_seconds, "gx_import_seconds": gx_seconds,
        "counts": outcome.counts, "truth_check": check, "wrapped": wrapped,
        "polars": pl.__version__,
    }


# -- whole processes, as an operator runs them ----------------------------------------------------


def recon_executable() -> str:
    """The installed ``recon`` beside this interpreter."""
    path = Path(sys.executable).with_name("recon")
    return str(path) if path.exists() else shutil.which("recon") or "recon"


def timed_process(command: list[str], cwd: Path, log: Path) -> dict[str, Any]:
    """Run one command to its end: wall seconds, CPU seconds and peak RSS of that process alone."""
    env = {**os.environ, "RECON_HASH_KEY": "benchmark-key"}
    env.pop("RECON_CONFIG", None)
    with open(log, "ab") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=out)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise RuntimeError(f"{' '.join(command[1:3])} exited {code} (see {log})")
    return {"seconds": seconds, "cpu_seconds": usage.ru_utime + usage.ru_stime, "peak_kb": usage.ru_maxrss}


def run_cold(args: dict[str, Any]) -> dict[str, Any]:
    """``recon run`` with its defaults in a new process: imports, the gate, reports, Data Docs."""
    work = Path(args["workdir"])
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    url = f"duckdb:///{work / 'warehouse.duckdb'}"
    result = timed_process([recon_executable(), "run", "--date", args["date"], "--sponsor", args["sponsor"],
                            "--inbox", str(Path(args["inbox"]).resolve()), "--warehouse", url],
                           work, work / "recon.log")
    result["truth_check"] = found_vs_truth(url, Path(args["inbox"]))
    pages = (work / "var" / "reports").rglob("*.html")
    result["reports"] = sorted(str(page.relative_to(work)) for page in pages)[:5]
    return result


#: The commands whose start-up is measured, with the warehouse and date filled in.
STARTUP_COMMANDS = {
    "recon --help": ["--help"],
    "recon breaks list": ["breaks", "list", "--limit", "20", "--warehouse", "{url}"],
    "recon report": ["report", "--date", "{date}", "--warehouse", "{url}", "--out", "{out}"],
}


def run_startup(args: dict[str, Any]) -> dict[str, Any]:
    """Wall and CPU seconds of the commands that validate no file (median of ``repeat`` runs).

    The warehouse holds one small reconciled night (``args["inbox"]``), so
    ``recon report`` writes real reports but its time is mostly start-up.
    """
    work = Path(args["workdir"])
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    url = f"duckdb:///{work / 'warehouse.duckdb'}"
    inbox = str(Path(args["inbox"]).resolve())
    config = work / "no-gate.yaml"  # the night only has to exist: the gate's time is not measured here
    config.write_text("validation:\n  enabled: false\n")
    timed_process([recon_executable(), "run", "--date", args["date"], "--inbox", inbox, "--warehouse", url,
                   "--config", str(config)], work, work / "recon.log")
    fill = {"url": url, "date": args["date"], "out": str(work / "reports")}
    commands: dict[str, Any] = {}
    for label, template in STARTUP_COMMANDS.items():
        runs = [timed_process([recon_executable(), *(part.format(**fill) for part in template)], work,
                              work / "recon.log") for _ in range(args.get("repeat", 3))]
        commands[label] = {key: statistics.median(r[key] for r in runs)
                           for key in ("seconds", "cpu_seconds", "peak_kb")}
    slowest = max(c["seconds"] for c in commands.values())
    return {"seconds": slowest, "cpu_seconds": max(c["cpu_seconds"] for c in commands.values()),
            "commands": commands}


KINDS = {"generate": run_generate, "floor": run_floor, "duckdb": run_duckdb,
         "project": run_project, "cold": run_cold, "startup": run_startup}

if __name__ == "__main__":
    child_main(lambda args: KINDS[args["kind"]](args))

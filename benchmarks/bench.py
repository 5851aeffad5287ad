"""``make bench``: the pipeline against a floor and two baselines, on the same files, in one run.

For each size N it generates (or reuses, cached by N, seed and break rate
under ``--workdir``) one sponsor-day of N platform records with every break
type injected, then measures, each in a fresh child process so that the peak
RSS is its own:

* **project**: ``reconciliation.pipeline.run_day`` into a fresh DuckDB
  warehouse (parse, validate, match, classify, write, commit), with the time,
  CPU time and peak RSS of each stage; the finance reports ``run_day`` writes
  after the commit are timed apart (and skipped above ``--reports-max``);
* **floor**: Polars reads both files into their fields, nothing else;
* **DuckDB SQL**: the main break types in plain SQL (``benchmarks/baselines.py``);
* **datacompy**: its Polars backend compares both files on the key, in its
  own virtual environment (``benchmarks/datacompy_baseline.py``);
* **postgres**: the project's ``run_day`` as above into a throwaway database
  of the PostgreSQL server (``--postgres``), up to ``--postgres-max``;
* **cold**: the whole ``recon run`` process with its defaults (imports, the
  gate, reports, Data Docs), as an operator runs it;
* **startup** (once, on a small night): ``recon --help``, ``recon breaks
  list`` and ``recon report`` as whole processes.

At every size the breaks the pipeline wrote are compared with the
generator's ground truth. The tables are printed and written to ``--out``
(default ``docs/benchmarks.md``); the hand-written notes between the
``<!-- notes -->`` markers of an existing file are kept.

Sizes measured by an earlier invocation and not by this one (a 30M night is
run once: ``--sizes 30000000 --only project,duckdb``) are carried into the
tables from its results file, dated, unless ``--no-carry``.

Usage::

    .venv/bin/python benchmarks/bench.py [--sizes 100000,1000000,10000000] [--quick]
        [--out docs/benchmarks.md] [--skip-datacompy] [--workdir var/bench]
"""

from __future__ import annotations

import argparse
import json
import os
import platform as host
import re
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SPONSOR = "ABCD"
DATE = "2026-11-20"
DATACOMPY_REQUIREMENT = "datacompy==1.1.0"
QUICK_SIZE = 2_000
GIB = 1024 * 1024  # KiB per GiB
NOTES_START, NOTES_END = "<!-- notes -->", "<!-- /notes -->"
MEASUREMENTS = ("project", "postgres", "cold", "floor", "duckdb", "datacompy", "startup")
#: Measured once per invocation (on a small night), not per size.
ONCE = ("startup",)
LABELS = {
    "project": "project pipeline, end to end",
    "postgres": "project pipeline, PostgreSQL warehouse",
    "cold": "`recon run` cold process with its defaults",
    "floor": "floor: Polars reads both files",
    "duckdb": "DuckDB SQL reconciliation",
    "datacompy": "datacompy (Polars backend)",
    "startup": "start-up of the commands that validate no file",
}
PG_ADMIN_URL = os.environ.get("RECON_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
STARTUP_LIMIT = 1.0
STAGES = ("parse", "validate", "match", "write", "other")
STAGE_LABELS = {
    "parse": "parse both files (`parse_file` x2)",
    "validate": "validate (`quality.gate.validate_file` x2)",
    "match": "match and classify (`matching.engine.reconcile`)",
    "write": "write to the warehouse and commit",
    "other": "the rest of `run_day` (schema check, file discovery, stale dates)",
    "reports": "reports after the commit (not in end to end)",
}


def log(message: str) -> None:
    print(f"[bench {datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


# -- children -----------------------------------------------------------------------------------


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


_STARTS = re.compile(r"\] (\S+) starts at RSS ([0-9.]+) GiB")
_ENDS = re.compile(r"\] (\S+) ends after ([0-9.]+) s, peak ([0-9.]+) GiB")


def _progress(text: str) -> dict[str, Any]:
    """Stages a failed child finished (seconds, peak GiB) and the one it was in when it stopped."""
    done: dict[str, list[float]] = {}
    running = None
    for line in text.splitlines():
        if found := _STARTS.search(line):
            running = (found[1], float(found[2]))
        elif found := _ENDS.search(line):
            entry = done.setdefault(found[1], [0.0, 0.0])
            entry[0] += float(found[2])
            entry[1] = max(entry[1], float(found[3]))
            if running and running[0] == found[1]:
                running = None
    return {"done": done, "running": running}


#: Largest RSS a child may reach before the parent stops it (0: no limit); set from --max-rss-gib.
max_rss_kb = 0


def run_child(python: Path | str, script: Path, args: dict[str, Any], logs: Path,
              name: str) -> dict[str, Any]:
    """Run one measurement child; its result dict plus the process's wall time and load."""
    logs.mkdir(parents=True, exist_ok=True)
    result_path = logs / f"{name}.json"
    result_path.unlink(missing_ok=True)
    load = os.getloadavg()[0]
    start = time.perf_counter()
    watched = 0
    with open(logs / f"{name}.log", "w") as out:
        proc = subprocess.Popen([str(python), str(script), str(result_path), json.dumps(args)],
                                stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
        # Guard the shared machine: a child past --max-rss-gib is stopped (and
        # reported as such) before the kernel's OOM killer picks a victim.
        while proc.poll() is None:
            watched = max(watched, _rss_kb(proc.pid))
            if max_rss_kb and watched > max_rss_kb:
                proc.kill()
                proc.wait()
                break
            time.sleep(0.2)
    wall = time.perf_counter() - start
    if result_path.exists():
        result = json.loads(result_path.read_text())
    elif max_rss_kb and watched > max_rss_kb:
        result = {"ok": False, "peak_kb": watched,
                  "error": f"stopped at {watched / GIB:.1f} GiB RSS, over the "
                  f"--max-rss-gib limit of {max_rss_kb / GIB:.0f} GiB, after {wall:.0f} s"}
    else:
        tail = (logs / f"{name}.log").read_text()[-2000:]
        result = {"ok": False, "error": f"the child exited {proc.returncode} without a result "
                  f"(killed? out of memory?): {tail.strip().splitlines()[-1:] or ''}"}
    if not result.get("ok"):
        result["progress"] = _progress((logs / f"{name}.log").read_text(errors="replace"))
    result["process_seconds"] = wall
    result["load_before"], result["load_after"] = load, os.getloadavg()[0]
    if not result.get("ok"):
        log(f"{name} failed: {result.get('error')} (see {logs / (name + '.log')})")
    return result


def ensure_data(size: int, seed: int, break_rate: float, workdir: Path) -> dict[str, Any]:
    """The generated sponsor-day for (size, seed, break rate), generating it once."""
    folder = workdir / "data" / f"n{size}-seed{seed}-rate{break_rate:g}"
    marker = folder / "generation.json"
    if marker.exists():
        info = json.loads(marker.read_text())
        info["cached"] = True
        return info
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    log(f"generating {size:,} records per side into {folder}")
    args = {"kind": "generate", "out": str(tmp), "sponsor": SPONSOR, "date": DATE,
            "records": size, "break_rate": break_rate, "seed": seed}
    info = run_child(sys.executable, HERE / "baselines.py", args, workdir / "logs",
                     f"generate-{size}")
    if not info.get("ok"):
        raise SystemExit(f"generation of {size:,} records failed: {info.get('error')}")
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    info.update(inbox=str(folder), size=size, seed=seed, break_rate=break_rate)
    marker.write_text(json.dumps(info, indent=1))
    info["cached"] = False
    return info


def postgres_missing(url: str) -> str | None:
    """Why the PostgreSQL server cannot be used (None when it can)."""
    import sqlalchemy as sa

    try:
        engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
    except Exception as exc:  # any reason the server is unusable skips its row
        return f"PostgreSQL at {sa.engine.make_url(url).render_as_string()} is unavailable " \
               f"({type(exc).__name__})"
    return None


def carried_sizes(workdir: Path, measured: set[int], now: str
                  ) -> dict[int, tuple[str, dict[str, Any], dict[str, dict[str, Any]]]]:
    """Sizes an earlier invocation measured and this one did not: (when, data, results), newest first."""
    found: dict[int, tuple[str, dict[str, Any], dict[str, dict[str, Any]]]] = {}
    for path in sorted(workdir.glob("results-*.json"), reverse=True):
        stamp = path.stem.removeprefix("results-")
        if stamp >= now:
            continue
        try:
            saved = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        for key, res in saved.get("results", {}).items():
            size = int(key)
            if size in measured or size in found or str(key) in saved.get("carried", {}):
                continue
            if any(r.get("ok") for r in res.values()) and key in saved.get("data", {}):
                when = datetime.strptime(stamp, "%Y%m%dT%H%M%S").strftime("%Y-%m-%d %H:%M UTC")
                found[size] = (when, saved["data"][key], res)
    return found


def datacompy_python(workdir: Path) -> Path:
    """The datacompy venv's interpreter, creating the venv the first time."""
    venv = workdir / "datacompy-venv"
    python = venv / "bin" / "python"
    probe = [str(python), "-c", "import datacompy, polars"]
    if python.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return python
    log(f"creating {venv} with {DATACOMPY_REQUIREMENT} (it pins polars<1.45)")
    base = shutil.which("python3") or sys.executable
    subprocess.run([base, "-m", "venv", "--clear", str(venv)], check=True)
    uv = Path(sys.executable).parent / "uv"
    if uv.exists():
        install = [str(uv), "pip", "install", "-q", "--python", str(python), DATACOMPY_REQUIREMENT]
    else:
        install = [str(python), "-m", "pip", "install", "-q", DATACOMPY_REQUIREMENT]
    subprocess.run(install, check=True)
    subprocess.run(probe, check=True)
    return python


def measure(kind: str, size: int, data: dict[str, Any], workdir: Path, opts: argparse.Namespace,
            repeat: int) -> dict[str, Any]:
    """``repeat`` runs of one measurement; the median wall time, the largest peak."""
    inbox = data["inbox"]
    scratch = workdir / "runs" / f"{kind}-{size}"
    scratch.mkdir(parents=True, exist_ok=True)
    runs = []
    for attempt in range(repeat):
        name = f"{kind}-{size}-{attempt + 1}"
        log(f"{LABELS[kind]}, {size:,} records per side (run {attempt + 1} of {repeat})")
        if kind == "datacompy":
            result = run_child(datacompy_python(workdir), HERE / "datacompy_baseline.py",
                               {"inbox": inbox}, workdir / "logs", name)
        else:
            args: dict[str, Any] = {"kind": kind, "inbox": inbox}
            if kind == "duckdb":
                args["database"] = str(scratch / "sql.duckdb")
            if kind in ("project", "postgres"):
                args.update(kind="project", workdir=str(scratch), sponsor=SPONSOR, date=DATE,
                            reports=size <= opts.reports_max)
                if kind == "postgres":
                    args["postgres"] = opts.postgres
            if kind in ("cold", "startup"):
                args.update(workdir=str(scratch), sponsor=SPONSOR, date=DATE)
            result = run_child(sys.executable, HERE / "baselines.py", args, workdir / "logs", name)
        if result.get("ok"):
            log(f"  {result['seconds']:.2f} s, peak {result['peak_kb'] / GIB:.2f} GiB")
        runs.append(result)
    good = [r for r in runs if r.get("ok")]
    if not good:
        return runs[0]
    best = sorted(good, key=lambda r: r["seconds"])[len(good) // 2]
    summary = dict(best)
    summary["runs"] = [r["seconds"] for r in good]
    summary["peak_kb"] = max(r["peak_kb"] for r in good)
    if "e2e_peak_kb" in best:
        summary["e2e_peak_kb"] = max(r["e2e_peak_kb"] for r in good)
    return summary


# -- facts and figures ----------------------------------------------------------------------------


def machine_facts() -> dict[str, Any]:
    facts: dict[str, Any] = {"nproc": len(os.sched_getaffinity(0)), "cpu": "?", "memory_gib": 0.0}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                facts["cpu"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                facts["memory_gib"] = int(line.split()[1]) / GIB
    except OSError:
        pass
    facts["kernel"] = host.release()
    facts["python"] = host.python_version()
    for package in ("polars", "duckdb", "sqlalchemy", "great-expectations"):
        try:
            facts[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            facts[package] = "-"
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                                capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True).stdout.strip()
        facts["commit"] = commit + (" (with uncommitted changes)" if dirty else "")
    except OSError:
        facts["commit"] = "?"
    return facts


def gib(kb: float | None) -> str:
    return "-" if kb is None else f"{kb / GIB:.2f} GiB"


def secs(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" if value < 100 else f"{value:.0f}"


def megabytes(size: int) -> str:
    return f"{size / 1e6:,.0f} MB" if size >= 10e6 else f"{size / 1e6:.2f} MB"


def ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b <= 0:
        return "-"
    return f"{a / b:.2f}x"


def generator_command(size: int, seed: int, rate: float) -> str:
    return (f".venv/bin/recon generate --out DIR --sponsors {SPONSOR} --start-date {DATE} "
            f"--days 1 --records {size} --break-rate {rate:g} --seed {seed}")


def size_section(size: int, data: dict[str, Any], res: dict[str, dict[str, Any]]) -> list[str]:
    records = sum(data["records"].values())
    project = res.get("project", {})
    lines = [f"### {size:,} records per side", ""]
    lines.append(
        f"Files: {data['records']['PLATFORM']:,} platform and {data['records']['PARTNER']:,} "
        f"partner detail records ({megabytes(data['bytes']['PLATFORM'])} and "
        f"{megabytes(data['bytes']['PARTNER'])}); generated in {data['seconds']:.1f} s "
        f"(peak {gib(data.get('peak_kb'))}). Records per second count both files.")
    lines += ["", "| measurement | wall s | CPU s | records/s | peak RSS | project ÷ this (wall) "
              "| project ÷ this (CPU) |", "|---|---:|---:|---:|---:|---:|---:|"]
    for kind in MEASUREMENTS:
        r = res.get(kind)
        if r is None:
            continue
        if not r.get("ok"):
            what = "skipped" if r.get("skipped") else "failed"
            lines.append(f"| {LABELS[kind]} | {what}: {r.get('error', '?')[:160]} | | | "
                         f"{gib(r.get('peak_kb'))} | | |")
            continue
        peak = r.get("e2e_peak_kb", r["peak_kb"])
        same = kind == "project"
        lines.append(
            f"| {LABELS[kind]} | {secs(r['seconds'])} | {secs(r.get('cpu_seconds'))} | "
            f"{records / r['seconds']:,.0f} | {gib(peak)} | "
            f"{'' if same else ratio(project.get('seconds'), r['seconds'])} | "
            f"{'' if same else ratio(project.get('cpu_seconds'), r.get('cpu_seconds'))} |")
    if project.get("ok"):
        lines.append("")
        cold = project["seconds"] + project["imports_seconds"]
        extra = [f"A fresh `recon run` process also pays {secs(project['imports_seconds'])} s "
                 f"of imports before the clock starts (of which Great Expectations: "
                 f"{secs(project.get('gx_import_seconds'))} s): "
                 f"{secs(project['seconds'] + project['imports_seconds'])} s cold, "
                 f"{ratio(cold, res.get('floor', {}).get('seconds'))} the floor."]
        if project["stages"].get("reports") is not None:
            extra.append(f"The reports `run_day` writes after the commit took a further "
                         f"{secs(project['stages']['reports'])} s (peak "
                         f"{gib(project['stage_peak_kb'].get('reports'))}): "
                         f"{secs(project['run_day_seconds'])} s for the whole `run_day`.")
        else:
            extra.append("Reports were not written at this size (`--reports-max`).")
        lines.append(" ".join(extra))
        lines += ["", "Stages of the project's run (one `run_day`, timed by wrappers around its "
                  "stage functions):", "", "| stage | wall s | share | CPU s | peak RSS |",
                  "|---|---:|---:|---:|---:|"]
        for stage in (*STAGES, "reports"):
            value = project["stages"].get(stage)
            if value is None:
                continue
            share = "" if stage == "reports" else f"{value / project['seconds'] * 100:.0f}%"
            lines.append(f"| {STAGE_LABELS[stage]} | {secs(value)} | {share} | "
                         f"{secs(project['stage_cpu'].get(stage))} | "
                         f"{gib(project['stage_peak_kb'].get(stage))} |")
            if stage == "write":
                parts = sorted(project.get("write_parts", {}).items(), key=lambda kv: -kv[1][0])
                for name, (wall, cpu, peak) in parts:
                    if wall >= 0.05 * value or name == "commit":
                        what = name.replace("insert:", "insert into `") + (
                            "`" if name.startswith("insert:") else "")
                        lines.append(f"| &nbsp;&nbsp;of which {what} | {secs(wall)} | "
                                     f"{wall / project['seconds'] * 100:.0f}% | {secs(cpu)} | {gib(peak)} |")
        check = project["truth_check"]
        verdict = "equal to the ground truth" if check["equal"] else (
            f"NOT equal to the ground truth: {check['missing']:,} missing "
            f"{check['missing_by_type']}, {check['extra']:,} extra {check['extra_by_type']}")
        lines += ["", f"Correctness: {check['found']:,} breaks written, {check['expected']:,} in "
                  f"`ground_truth.csv`; the breaks are {verdict}."]
    elif project and project.get("progress", {}).get("done"):
        progress = project["progress"]
        lines += ["", "The project's run did not finish. Stages it completed before it was "
                  "stopped (from the child's log):", "", "| stage | wall s | peak RSS |",
                  "|---|---:|---:|"]
        for name, (wall, peak) in progress["done"].items():
            if name != "run_day":
                lines.append(f"| {name} | {secs(wall)} | {peak:.2f} GiB |")
        if progress.get("running"):
            name, rss = progress["running"]
            lines.append(f"| {name} (running when stopped; RSS at its start) | - | {rss:.2f} GiB |")
    found = []
    duck, dc = res.get("duckdb", {}), res.get("datacompy", {})
    truth = data["truth_by_type"]
    if duck.get("ok"):
        found.append("DuckDB SQL: " + ", ".join(
            f"{t} {duck['breaks_by_type'].get(t, 0):,} (truth {truth.get(t, 0):,})"
            for t in sorted(duck["breaks_by_type"])))
    if dc.get("ok"):
        found.append(f"datacompy: {dc['only_partner']:,} rows only in the partner file, "
                     f"{dc['only_platform']:,} only in the platform file, "
                     f"{dc['mismatched_rows']:,} matched rows with unequal values "
                     f"({', '.join(f'{c} {n:,}' for c, n in dc['unequal_by_column'].items())})")
    if found:
        lines += ["", "What the baselines found (they classify less than the pipeline, see "
                  "below): " + "; ".join(found) + "."]
    return [*lines, ""]


def startup_section(startup: dict[str, Any] | None) -> list[str]:
    """The start-up table: each command as a whole process, median of three runs."""
    if not startup:
        return []
    lines = ["### Start-up of the commands that validate no file", ""]
    if not startup.get("ok"):
        return [*lines, f"Not measured: {startup.get('error', '?')}", ""]
    lines += [f"Each command as a new process on a warehouse holding one {QUICK_SIZE:,}-record night "
              "(median of three runs; `recon report` writes that night's reports).", "",
              "| command | wall s | CPU s | peak RSS |", "|---|---:|---:|---:|"]
    for label, r in startup["commands"].items():
        lines.append(f"| `{label}` | {r['seconds']:.2f} | {r['cpu_seconds']:.2f} | {gib(r['peak_kb'])} |")
    return [*lines, ""]


def _ok(r: dict[str, Any] | None) -> bool:
    return bool(r and r.get("ok"))


def issue11_targets(results: dict[int, dict[str, dict[str, Any]]],
                    startup: dict[str, Any] | None) -> list[str]:
    """The issue-11 targets, each met or missed as computed from the figures above."""
    rows: list[tuple[str, str, str]] = []

    def verdict(x: float, limit: float, unit: str = "x") -> str:
        return "met" if x <= limit else f"missed: {x:.2f}{unit} for {limit:g}{unit}"

    for size in (1_000_000, 10_000_000):
        res = results.get(size, {})
        p, d = res.get("project"), res.get("duckdb")
        label = f"{size:,}: end to end ≤ 1.0x DuckDB SQL"
        if _ok(p) and _ok(d):
            assert p is not None and d is not None
            x = p["seconds"] / d["seconds"]
            rows.append((label, f"{x:.2f}x ({secs(p['seconds'])} s vs {secs(d['seconds'])} s)",
                         verdict(x, 1.0)))
        else:
            rows.append((label, "not measured", "-"))
    ten = results.get(10_000_000, {})
    cold, duck = ten.get("cold"), ten.get("duckdb")
    if _ok(cold) and _ok(duck):
        assert cold is not None and duck is not None
        x = cold["seconds"] / duck["process_seconds"]
        rows.append(("10,000,000: cold `recon run` process ≤ 1.5x DuckDB SQL's process",
                     f"{x:.2f}x ({secs(cold['seconds'])} s vs {secs(duck['process_seconds'])} s)",
                     verdict(x, 1.5)))
    else:
        rows.append(("10,000,000: cold `recon run` process ≤ 1.5x DuckDB SQL's process", "not measured", "-"))
    for size in (10_000_000, 30_000_000):
        p = results.get(size, {}).get("project")
        label = f"{size:,}: peak RSS ≤ 3 GiB"
        if _ok(p):
            assert p is not None
            peak = p["e2e_peak_kb"] / GIB
            rows.append((label, f"{peak:.2f} GiB", verdict(peak, 3.0, " GiB")))
        elif p is not None:
            rows.append((label, "did not complete", f"missed: {str(p.get('error', 'failed'))[:80]}"))
        else:
            rows.append((label, "not measured", "-"))
    one = results.get(1_000_000, {})
    pg, duckwh = one.get("postgres"), one.get("project")
    if _ok(pg) and _ok(duckwh):
        assert pg is not None and duckwh is not None
        x = pg["seconds"] / duckwh["seconds"]
        rows.append(("1,000,000: PostgreSQL warehouse ≤ 2x the DuckDB warehouse",
                     f"{x:.2f}x ({secs(pg['seconds'])} s vs {secs(duckwh['seconds'])} s)", verdict(x, 2.0)))
    else:
        rows.append(("1,000,000: PostgreSQL warehouse ≤ 2x the DuckDB warehouse", "not measured", "-"))
    if _ok(startup):
        assert startup is not None
        for label, r in startup["commands"].items():
            rows.append((f"`{label}` starts in < {STARTUP_LIMIT:g} s", f"{r['seconds']:.2f} s",
                         "met" if r["seconds"] < STARTUP_LIMIT else f"missed: {r['seconds']:.2f} s"))
    else:
        rows.append(("commands that validate no file start in < 1 s", "not measured", "-"))
    return ["## Targets (issue 11)", "", "| target | measured | verdict |", "|---|---|---|",
            *[f"| {a} | {b} | {c} |" for a, b, c in rows], ""]


def targets(results: dict[int, dict[str, dict[str, Any]]]) -> list[str]:
    rows = []

    def ok(r: dict[str, Any] | None) -> bool:
        return bool(r and r.get("ok"))

    for size, res in results.items():
        p = res.get("project")
        if not ok(p):
            continue
        assert p is not None
        f = res.get("floor")
        if ok(f):
            assert f is not None
            x = p["seconds"] / f["seconds"]
            rows.append((f"{size:,}: end to end ≤ 2x the floor", f"{x:.1f}x",
                         "met" if x <= 2 else f"missed by {x / 2:.1f}x"))
        for kind in ("duckdb", "datacompy"):
            b = res.get(kind)
            if ok(b):
                assert b is not None
                x = p["seconds"] / b["seconds"]
                rows.append((f"{size:,}: faster than {LABELS[kind]}", f"{x:.2f}x its time",
                             "met" if x < 1 else f"missed: {x:.1f}x slower"))
    big = results.get(10_000_000, {}).get("project")
    if ok(big):
        assert big is not None
        peak = big["e2e_peak_kb"] / GIB
        rows.append(("10,000,000 per side within 6 GB peak", f"{peak:.2f} GiB",
                     "met" if peak * GIB * 1024 <= 6e9 else f"missed by {peak * GIB * 1024 / 6e9:.1f}x"))
    elif big is not None:
        rows.append(("10,000,000 per side within 6 GB peak", "did not complete",
                     f"missed: {big.get('error', 'failed')}"))
    one = results.get(1_000_000, {}).get("project")
    if big is not None and not ok(big) and ok(one):
        assert one is not None
        done = big.get("progress", {}).get("done", {})
        same = [k for k in ("parse", "validate", "match") if k in done and one["stages"].get(k)]
        if same:
            x = sum(done[k][0] for k in same) / sum(one["stages"][k] for k in same)
            rows.append(("1M → 10M costs ≤ 11x the time", f"{x:.1f}x over the stages 10M finished "
                         f"({', '.join(same)})", "not measurable end to end (10M did not finish)"))
    if ok(big) and ok(one):
        assert big is not None and one is not None
        x = big["seconds"] / one["seconds"]
        rows.append(("1M → 10M costs ≤ 11x the time", f"{x:.1f}x",
                     "met" if x <= 11 else f"missed by {x / 11:.2f}x"))
    if not rows:
        return []
    return ["## Targets (issue 6)", "", "| target | measured | verdict |", "|---|---|---|",
            *[f"| {a} | {b} | {c} |" for a, b, c in rows], ""]


METHOD = """\
## What is measured

Every measurement runs in a fresh child process; its peak RSS is the child's
own `VmHWM` (from `/proc/self/status`), stage peaks are taken by resetting the
mark (`/proc/self/clear_refs`) at each stage boundary. Wall and CPU time
(user + system, all threads) cover the work only: imports happen before the
clock starts (the project's one-time import cost is reported beside it).
All four read the same generated files.

* **project, end to end**: `reconciliation.pipeline.run_day` for the
  sponsor-day into a fresh DuckDB warehouse file: parse both files, the
  Great Expectations gate, `matching.engine.reconcile` (match and classify,
  spec §4 steps 1-9), the daily limit, and every warehouse write in one
  transaction up to the commit. The stage rows come from wrappers around
  `parsing.parse_file`, `pipeline._validate`, `pipeline.reconcile` and
  `pipeline.write_transaction` in the same run; "write" is the transaction
  minus the matching inside it. The finance reports `run_day` writes after
  the commit are not part of the issue's end to end and are shown apart.
* **project, PostgreSQL warehouse**: the same `run_day` into a database
  created for the run on the PostgreSQL server of `--postgres` and dropped
  after it (up to `--postgres-max`). CPU seconds are the client's; the
  server's own work shows in the wall time only.
* **`recon run` cold process**: the installed `recon run --date --sponsor
  --inbox --warehouse` in a new process with no configuration, so with its
  defaults: imports, the Great Expectations gate, the run, the reports and
  Data Docs. Wall time, CPU time and peak RSS are the process's own (from
  `wait4`); its breaks are checked against the ground truth too. The
  issue-11 target compares it with the DuckDB SQL child's whole process.
* **start-up**: `recon --help`, `recon breaks list` and `recon report` as
  new processes on a warehouse holding one 2,000-record night, the median
  of three runs each.
* **floor**: `pl.read_csv` of each file with `%` as the separator, the two
  header lines skipped, only the field columns kept, all as strings
  (`benchmarks/baselines.py: floor_read`). Nothing is checked, typed or kept
  beyond the two frames. (Reading bare lines without splitting them is about
  3x faster still, but is not reading the records.)
* **DuckDB SQL**: `read_csv(..., delim='%%')` of both files into typed
  temporary tables (times as instants, money as DECIMAL), duplicates by
  `row_number()` over the key, a full outer join on (txn_type,
  confirmation_number) and the breaks MISSING_ON_PLATFORM,
  MISSING_AT_PARTNER, AMOUNT_MISMATCH, TIMESTAMP_DRIFT and DUPLICATE written
  to a table of a DuckDB file (`benchmarks/baselines.py: sql_statements`). No
  record validation, no fallback match, no reversal, conversion or
  auto-refund rules (so it reports the auto-refunded REDEEMs, the fallback
  matches and the unknown-outcome pairs as MISSING_AT_PARTNER), no trailer
  check, no record, match or summary tables.
* **datacompy**: datacompy's `PolarsCompare` on (txn_type,
  confirmation_number) of both files read with Polars as in the floor, the
  partner's successful records only, each side's own time as epoch seconds
  with a 600 s tolerance, then `all_mismatch()`
  (`benchmarks/datacompy_baseline.py`). It runs in `var/bench/datacompy-venv`
  because datacompy pins polars<1.45. It only says which rows are on one side
  and which columns differ; it has no break types.

The generated sponsor-day holds every break type the generator can inject
into a single day (LATE_REVERSAL, DAILY_LIMIT_EXCEEDED and carry-forward
need a second day), at `--break-rate` instances of each case per record, plus
declined, unknown-outcome, auto-refunded, fallback-matched and rejected
records. Generated files are cached under `--workdir`/data by size, seed and
rate and reused by later runs.
"""


def render(opts: argparse.Namespace, facts: dict[str, Any], data: dict[int, dict[str, Any]],
           results: dict[int, dict[str, dict[str, Any]]], notes: str | None,
           once: dict[str, dict[str, Any]] | None = None, carried: dict[int, str] | None = None) -> str:
    once, carried = once or {}, carried or {}
    loads = [r[k] for res in results.values() for r in res.values() if r.get("ok")
             for k in ("load_before", "load_after")]
    dc = next((r for res in results.values() for r in [res.get("datacompy", {})] if r.get("ok")), {})
    lines = [
        "# Benchmarks", "",
        f"Written by `benchmarks/bench.py {' '.join(opts.argv)}` (`make bench`) on "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, commit {facts['commit']}. "
        "Re-run `make bench` (all three sizes, about 10 minutes and 3 GB of generated files; "
        "`make bench BENCH_ARGS='--sizes 1000000'` for one) to reproduce; the notes at the end "
        "are kept across runs.", "",
        "## Machine", "",
        f"{facts['nproc']} cores ({facts['cpu']}), {facts['memory_gib']:.1f} GiB memory, "
        f"Linux {facts['kernel']}; Python {facts['python']}, Polars {facts['polars']}, "
        f"DuckDB {facts['duckdb']}, SQLAlchemy {facts['sqlalchemy']}, Great Expectations "
        f"{facts['great-expectations']}"
        + (f"; datacompy {dc['datacompy']} with Polars {dc['polars']}" if dc else "") + ".",
    ]
    if loads:
        busy = max(loads)
        lines.append("")
        lines.append(f"Load average around the measurements: {min(loads):.1f} to {busy:.1f}"
                     + (" — the machine was not quiet (other work shared its cores), so wall "
                        "times are inflated; the CPU-time columns are the steadier comparison."
                        if busy > facts["nproc"] * 0.75 else "."))
    lines += ["", "## Inputs", "", "One sponsor-day per size, made with the project's generator:",
              "", "```sh"]
    lines += [generator_command(size, opts.seed, opts.break_rate) for size in data]
    lines += ["```", ""]
    lines += ["## Results", ""]
    for size in results:
        section = size_section(size, data[size], results[size])
        if size in carried:
            section[1:1] = ["", f"(Measured by an earlier run, {carried[size]}, and carried into this page.)"]
        lines += section
    lines += startup_section(once.get("startup"))
    lines += issue11_targets(results, once.get("startup"))
    lines += targets(results)
    lines += [METHOD]
    lines += ["## Notes", "", NOTES_START, notes.strip() if notes else
              "(No notes yet: analysis of the figures goes here and survives re-runs.)",
              NOTES_END, ""]
    return "\n".join(lines)


def existing_notes(path: Path) -> str | None:
    if not path.exists():
        return None
    text = path.read_text()
    if NOTES_START in text and NOTES_END in text:
        return text.split(NOTES_START, 1)[1].split(NOTES_END, 1)[0]
    return None


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100000,1000000,10000000",
                        help="records per side, comma-separated (default 100000,1000000,10000000)")
    parser.add_argument("--quick", action="store_true",
                        help=f"one tiny size ({QUICK_SIZE:,}) for a CI smoke test")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md",
                        help="Markdown file to write (default docs/benchmarks.md)")
    parser.add_argument("--skip-datacompy", action="store_true",
                        help="do not run (or install) the datacompy baseline")
    parser.add_argument("--workdir", type=Path, default=ROOT / "var" / "bench",
                        help="generated files, warehouses, logs and the datacompy venv")
    parser.add_argument("--seed", type=int, default=6, help="generator seed (default 6)")
    parser.add_argument("--break-rate", type=float, default=0.01,
                        help="instances of each break case per record (default 0.01)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs of each measurement; the median is reported (default 1)")
    parser.add_argument("--reports-max", type=int, default=1_000_000,
                        help="let run_day write its reports (timed apart) up to this size")
    parser.add_argument("--max-rss-gib", type=float, default=20.0,
                        help="stop a measurement whose RSS passes this (default 20; 0: no limit)")
    parser.add_argument("--only", default=",".join(MEASUREMENTS),
                        help=f"measurements to run (default all: {','.join(MEASUREMENTS)})")
    parser.add_argument("--postgres", default=PG_ADMIN_URL, metavar="URL",
                        help="administrator URL of the PostgreSQL server the postgres row creates its "
                             "throwaway database on (default $RECON_BENCH_PG or the local server)")
    parser.add_argument("--postgres-max", type=int, default=1_000_000,
                        help="measure the PostgreSQL warehouse up to this size (default 1000000)")
    parser.add_argument("--no-carry", action="store_true",
                        help="show only the sizes measured now (not earlier runs' other sizes)")
    opts = parser.parse_args(argv)
    opts.argv = argv
    try:
        opts.size_list = [QUICK_SIZE] if opts.quick else [
            int(s.replace("_", "")) for s in opts.sizes.split(",") if s.strip()]
    except ValueError:
        parser.error(f"--sizes must be comma-separated whole numbers, not {opts.sizes!r}")
    if not opts.size_list or min(opts.size_list) < 1:
        parser.error("--sizes needs at least one size of 1 or more")
    opts.kinds = [k for k in opts.only.split(",") if k]
    if set(opts.kinds) - set(MEASUREMENTS):
        parser.error(f"--only takes some of {','.join(MEASUREMENTS)}")
    if opts.skip_datacompy and "datacompy" in opts.kinds:
        opts.kinds.remove("datacompy")
    return opts


def main(argv: list[str] | None = None) -> int:
    global max_rss_kb
    opts = parse_args(sys.argv[1:] if argv is None else argv)
    max_rss_kb = int(opts.max_rss_gib * GIB)
    workdir = opts.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    facts = machine_facts()
    data: dict[int, dict[str, Any]] = {}
    results: dict[int, dict[str, dict[str, Any]]] = {}
    stamp_now = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    for size in opts.size_list:
        data[size] = ensure_data(size, opts.seed, opts.break_rate, workdir)
        results[size] = {}
        for kind in MEASUREMENTS:
            if kind not in opts.kinds or kind in ONCE:
                continue
            if kind == "postgres" and size > opts.postgres_max:
                continue
            if kind == "postgres" and (why := postgres_missing(opts.postgres)):
                results[size][kind] = {"ok": False, "skipped": True, "error": why}
                log(f"PostgreSQL row skipped: {why}")
                continue
            results[size][kind] = measure(kind, size, data[size], workdir, opts, opts.repeat)
        (workdir / f"results-{stamp_now}.json").write_text(
            json.dumps({"facts": facts, "data": data, "results": results}, indent=1, default=str))
    once: dict[str, dict[str, Any]] = {}
    if "startup" in opts.kinds:
        small = ensure_data(QUICK_SIZE, opts.seed, opts.break_rate, workdir)
        once["startup"] = measure("startup", QUICK_SIZE, small, workdir, opts, 1)
    carried = {} if opts.no_carry else carried_sizes(workdir, set(results), stamp_now)
    for size, (when, old_data, old_results) in carried.items():
        data[size], results[size] = old_data, old_results
        log(f"carried the {size:,} figures of {when} into the tables")
    results = dict(sorted(results.items()))
    (workdir / f"results-{stamp_now}.json").write_text(json.dumps(
        {"facts": facts, "data": data, "results": results, "once": once,
         "carried": {str(k): v[0] for k, v in carried.items()}}, indent=1, default=str))
    out = opts.out
    text = render(opts, facts, data, results, existing_notes(out), once,
                  {size: when for size, (when, _, _) in carried.items()})
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(text)
    log(f"wrote {out}")
    failed = [f"{kind} at {size:,}" for size, res in results.items() if size not in carried
              for kind, r in res.items() if not r.get("ok") and not r.get("skipped")]
    failed += [kind for kind, r in once.items() if not r.get("ok")]
    if failed:
        log("failed: " + ", ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

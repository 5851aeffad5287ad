"""``make bench`` at a tiny size runs and writes its tables (issues 6 and 11; figures are never asserted)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def test_quick_benchmark_writes_the_table(tmp_path: Path) -> None:
    out = tmp_path / "b.md"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench.py"), "--quick", "--skip-datacompy",
         "--out", str(out), "--workdir", str(tmp_path / "work")],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    text = out.read_text()
    assert "| measurement | wall s | CPU s | records/s | peak RSS |" in text
    for label in ("project pipeline, end to end", "floor: Polars reads both files",
                  "DuckDB SQL reconciliation", "`recon run` cold process with its defaults"):
        row = next((line for line in text.splitlines() if line.startswith(f"| {label} |")), None)
        assert row is not None, label
        assert "failed" not in row, row
    assert "datacompy (Polars backend) |" not in text
    assert "| parse both files" in text and "| match and classify" in text
    assert "the breaks are equal to the ground truth" in text
    assert "## Machine" in text and "recon generate --out DIR" in text
    for command in ("recon --help", "recon breaks list", "recon report"):
        assert f"| `{command}` |" in text, command
    assert "## Targets (issue 11)" in text
    assert "| `recon --help` starts in < 1 s |" in text
    # The PostgreSQL row is there, measured or skipped when the server is not.
    assert "| project pipeline, PostgreSQL warehouse |" in text


def _bench() -> Any:
    spec = importlib.util.spec_from_file_location("bench", ROOT / "benchmarks" / "bench.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_issue11_targets_are_computed_from_the_figures() -> None:
    bench = _bench()
    gib = bench.GIB

    def row(seconds: float, peak_gib: float = 1.0, process: float | None = None) -> dict[str, Any]:
        return {"ok": True, "seconds": seconds, "e2e_peak_kb": peak_gib * gib,
                "process_seconds": process or seconds + 0.5}

    results = {
        1_000_000: {"project": row(2.0), "duckdb": row(2.1), "postgres": row(4.5)},
        10_000_000: {"project": row(9.0, peak_gib=2.5), "duckdb": row(7.6, process=8.0),
                     "cold": row(11.0)},
        30_000_000: {"project": {"ok": False, "error": "stopped at 20 GiB"}},
    }
    startup = {"ok": True, "commands": {"recon --help": {"seconds": 0.1},
                                        "recon report": {"seconds": 1.4}}}
    lines = "\n".join(bench.issue11_targets(results, startup))
    assert "| 1,000,000: end to end ≤ 1.0x DuckDB SQL | 0.95x" in lines and "| met |" in lines
    assert "10,000,000: end to end ≤ 1.0x DuckDB SQL | 1.18x" in lines and "missed: 1.18x for 1x" in lines
    assert "cold `recon run` process ≤ 1.5x DuckDB SQL's process | 1.38x" in lines
    assert "| 10,000,000: peak RSS ≤ 3 GiB | 2.50 GiB | met |" in lines
    assert "| 30,000,000: peak RSS ≤ 3 GiB | did not complete | missed: stopped at 20 GiB |" in lines
    assert "PostgreSQL warehouse ≤ 2x the DuckDB warehouse | 2.25x" in lines
    assert "| `recon --help` starts in < 1 s | 0.10 s | met |" in lines
    assert "| `recon report` starts in < 1 s | 1.40 s | missed: 1.40 s |" in lines


def test_sizes_measured_earlier_are_carried(tmp_path: Path) -> None:
    bench = _bench()
    old = {"data": {"30000000": {"records": {}}}, "results": {
        "30000000": {"project": {"ok": True, "seconds": 300.0}},
        "1000000": {"project": {"ok": True, "seconds": 2.0}}}}
    (tmp_path / "results-20261201T010203.json").write_text(json.dumps(old))
    carried = bench.carried_sizes(tmp_path, {1_000_000}, "20261207T000000")
    assert list(carried) == [30_000_000]
    when, _, res = carried[30_000_000]
    assert when == "2026-12-01 01:02 UTC" and res["project"]["seconds"] == 300.0
    assert bench.carried_sizes(tmp_path, {1_000_000}, "20261130T000000") == {}

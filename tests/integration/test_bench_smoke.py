"""``make bench`` at a tiny size runs and writes its tables (issues 6 and 11; figures are never asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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

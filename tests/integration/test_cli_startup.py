"""Commands that validate no file start at once: they never import the run's heavy stages.

``recon --help``, ``recon breaks ...`` and ``recon report`` are run as an
operator runs them, the installed ``recon`` executable in a new process, with
Python's import log on (``PYTHONPROFILEIMPORTTIME``); the test then says which
modules each must not have loaded. Start-up time follows from what is
imported (Great Expectations and pandas alone take seconds), and an import
list does not flake on a busy machine the way a stopwatch would.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

GOLDEN = Path(__file__).parents[1] / "golden"
DAY = "2026-11-20"
#: What only a run needs: the gate (not its policy, which the configuration reads), the parsers,
#: the matching engine, the transfer.
RUN_ONLY = ("great_expectations", "pandas", "paramiko", "reconciliation.pipeline",
            "reconciliation.quality.gate", "reconciliation.parsing", "reconciliation.matching",
            "reconciliation.transfer",
            "reconciliation.generate")
#: What a command that opens no warehouse needs none of.
WAREHOUSE = ("sqlalchemy", "polars", "duckdb", "duckdb_engine", "pyarrow", "numpy", "alembic", "psycopg",
             "pydantic", "yaml", "rich", "xlsxwriter", "jinja2", "reconciliation.warehouse",
             "reconciliation.reports")
#: Reading the warehouse hands DuckDB's rows to Polars directly, never through PyArrow (and NumPy).
ARROW = ("pyarrow", "numpy")
#: The configuration file's validators and reader: without a file, the settings need none of them.
CONFIG_MODELS = ("pydantic", "yaml", "reconciliation.config_schema")
#: What printing a few breaks does without: frames (Polars reads whole tables for reports).
FRAMES = ("polars", *ARROW, *CONFIG_MODELS)
#: The writers of the report files, which listing breaks does not need.
REPORT_WRITERS = ("xlsxwriter", "jinja2", "reconciliation.reports.excel", "reconciliation.reports.runner")


def recon() -> str:
    """The installed ``recon`` executable beside this interpreter."""
    path = Path(sys.executable).with_name("recon")
    return str(path) if path.exists() else shutil.which("recon") or "recon"


def imported(args: list[str], cwd: Path) -> set[str]:
    """Run ``recon`` with ``args`` as a user would; returns every module the process imported."""
    env = {**os.environ, "PYTHONPROFILEIMPORTTIME": "1", "RECON_HASH_KEY": "test-key"}
    env.pop("RECON_CONFIG", None)
    done = subprocess.run([recon(), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    modules = {line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines()
               if line.startswith("import time:") and "|" in line}
    assert "reconciliation.cli" in modules, done.stderr[-2000:]
    return modules


def loaded(modules: set[str], names: tuple[str, ...]) -> list[str]:
    """Which of ``names`` (packages with their submodules) are among ``modules``."""
    return sorted(n for n in names if any(m == n or m.startswith(n + ".") for m in modules))


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A working directory and a DuckDB warehouse holding one reconciled night."""
    work = tmp_path_factory.mktemp("startup")
    url = f"duckdb:///{work / 'warehouse.duckdb'}"
    env = {**os.environ, "RECON_HASH_KEY": "test-key"}
    env.pop("RECON_CONFIG", None)
    for args in (["generate", "--out", "inbox", "--sponsors", "ABCD", "--days", "1", "--records", "300"],
                 ["run", "--date", DAY, "--inbox", "inbox", "--config", str(GOLDEN / "engine-only.yaml"),
                  "--warehouse", url]):
        done = subprocess.run([recon(), *args], cwd=work, env=env, capture_output=True, text=True,
                              timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
    return work, url


def test_help_imports_no_warehouse_and_no_run_stage(tmp_path: Path) -> None:
    modules = imported(["--help"], tmp_path)
    assert loaded(modules, RUN_ONLY + WAREHOUSE) == []
    for sub in (["breaks", "list", "--help"], ["report", "--help"], ["run", "--help"]):
        assert loaded(imported(sub, tmp_path), RUN_ONLY) == [], sub


def test_breaks_commands_import_no_run_stage_nor_report_writer(night: tuple[Path, str]) -> None:
    work, url = night
    listed = imported(["breaks", "list", "--warehouse", url, "--limit", "5"], work)
    assert loaded(listed, RUN_ONLY + REPORT_WRITERS + FRAMES) == []
    assert "duckdb" in listed  # it did read the warehouse
    shown = imported(["breaks", "show", "1", "--warehouse", url], work)
    assert loaded(shown, RUN_ONLY + REPORT_WRITERS + FRAMES) == []


def test_report_imports_no_run_stage(night: tuple[Path, str]) -> None:
    work, url = night
    modules = imported(["report", "--date", DAY, "--warehouse", url, "--out", str(work / "reports")], work)
    assert loaded(modules, RUN_ONLY) == []
    assert loaded(modules, ARROW + CONFIG_MODELS) == []
    assert (work / "reports" / "night" / f"{DAY}.html").is_file()

"""The package installs on its own and runs (issue 10).

A clean virtual environment gets the package as a built wheel — not an
editable install, so templates and data files must really be in it — with
only the dependencies ``pyproject.toml`` declares, resolved from the local
package cache at exactly the versions the project's own environment holds
(the cache's index may know newer releases whose files were never fetched,
and an offline install must not choose those). Then ``recon generate`` and ``recon run`` are used as a new
user would, from an empty directory.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.packaging

REPO = Path(__file__).resolve().parents[2]
UV = Path(sys.executable).with_name("uv")
DAY = "2026-11-20"


def _source_copy(target: Path) -> Path:
    """The files a wheel is built from, copied so the build leaves nothing in the worktree."""
    target.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, target / name)
    shutil.copytree(REPO / "reconciliation", target / "reconciliation",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return target


def _data_files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"}


def test_a_clean_install_generates_and_reconciles(tmp_path: Path) -> None:
    assert UV.exists(), f"uv is not installed beside {sys.executable} (make install puts it there)"
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    python = venv / "bin" / "python"
    source = _source_copy(tmp_path / "src")
    offline = [] if os.environ.get("RECON_TEST_ONLINE") else ["--offline"]
    pins = subprocess.run([str(UV), "pip", "freeze", "--exclude-editable", "--python", sys.executable],
                          capture_output=True, text=True, check=True, timeout=60).stdout
    constraints = tmp_path / "constraints.txt"
    constraints.write_text(pins, encoding="utf-8")
    done = subprocess.run([str(UV), "pip", "install", "--quiet", *offline, "--python", str(python),
                           "--constraint", str(constraints), str(source)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr

    site = subprocess.run([str(python), "-c", "import reconciliation, pathlib; "
                           "print(pathlib.Path(reconciliation.__file__).parent)"],
                          capture_output=True, text=True, cwd=tmp_path, check=True).stdout.strip()
    assert Path(site).is_relative_to(venv), site  # the wheel's copy, not the worktree
    missing = _data_files(REPO / "reconciliation") - _data_files(Path(site))
    assert not missing, f"files of the source tree missing from the wheel: {sorted(missing)}"

    work = tmp_path / "work"
    work.mkdir()
    recon = venv / "bin" / "recon"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    done = subprocess.run([str(recon), "generate", "--out", "inbox", "--sponsors", "ABCD", "--start-date",
                           DAY, "--days", "1", "--records", "200"],
                          capture_output=True, text=True, cwd=work, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    done = subprocess.run([str(recon), "run", "--date", DAY, "--inbox", "inbox", "--warehouse",
                           "duckdb:///warehouse.duckdb"], capture_output=True, text=True, cwd=work,
                          env={**env, "RECON_HASH_KEY": "clean-install-test-key"}, timeout=600)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert "SUCCEEDED" in done.stdout
    reports = work / "var" / "reports" / "ABCD" / DAY / "v1"
    for name in ("report.html", "breaks.xlsx", "breaks.csv", "AMCASH_RESULT_ABCD_20261120_001.txt",
                 "data_docs/index.html"):
        assert (reports / name).stat().st_size > 0, name

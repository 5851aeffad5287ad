"""A run's scratch directory: removed when the run ends, and swept when its process died."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from reconciliation.run.workdir import WORK, WorkDir, sweep


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_the_directory_goes_when_the_run_ends_even_by_an_error(tmp_path: Path) -> None:
    state = tmp_path / "var"
    with pytest.raises(RuntimeError), WorkDir(state) as work:
        work.file("PLATFORM.parquet").write_bytes(b"x")
        raise RuntimeError("the run failed")
    assert not (state / WORK).exists() and not state.exists()  # nor the state directory it made


def test_only_this_hosts_dead_processes_are_swept(tmp_path: Path) -> None:
    root = tmp_path / WORK
    host = socket.gethostname()
    dead = root / f"{host}_{dead_pid()}_abc"
    alive = root / f"{host}_{os.getpid()}_def"
    elsewhere = root / f"another-host_{dead_pid()}_ghi"
    for path in (dead, alive, elsewhere):
        path.mkdir(parents=True)
        (path / "PARTNER.parquet").write_bytes(b"x")
    assert sweep(root) == [dead]
    assert not dead.exists() and alive.exists() and elsewhere.exists()

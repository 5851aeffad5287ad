"""Fixtures for the SFTP tests: the real sshd, generated partner files, and settings that point at them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest_sshd import Sshd, sftp_server, sshd  # noqa: F401

START = date(2026, 11, 20)
SPONSORS = {"ABCD": {}, "WXYZ": {"partner_profile": "csv_cents"}}
#: These tests are about transfers; the data-quality gate has its own tests and costs seconds per file.
NO_GATE = {"enabled": False}


@pytest.fixture(scope="session")
def night(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small generated night: two sponsors (one CSV partner), two days, every break type."""
    from reconciliation.generate import generate

    out = tmp_path_factory.mktemp("night")
    generate(out, sponsors=list(SPONSORS), start=START, days=2, records=300, break_rate=0.01, seed=5,
             csv_sponsors={"WXYZ"})
    return out


@pytest.fixture
def settings_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Build settings whose state directory, warehouse and SFTP source are this test's."""
    from reconciliation.config import settings_from_dict
    from reconciliation.warehouse.db import dispose_all

    monkeypatch.setenv("RECON_HASH_KEY", "sftp-test-key")

    def build(server: Sshd, **extra: Any) -> Any:
        raw = {"state_dir": str(tmp_path / "state"), "warehouse": f"duckdb:///{tmp_path / 'w.duckdb'}",
               "sponsors": SPONSORS, "sftp": server.sftp_settings(), **extra}
        return settings_from_dict(raw, base_dir=tmp_path)

    yield build
    dispose_all()

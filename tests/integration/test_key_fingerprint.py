"""The warehouse records the collector key it was written with; another key is refused before any write.

Two sponsors reconciled with two keys into one warehouse used to find no
collector in common (0 DAILY_LIMIT_EXCEEDED breaks where there were 200),
silently. Now the second key fails in one sentence and writes nothing.
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import pytest
import sqlalchemy as sa

from reconciliation import pipeline
from reconciliation.cli import main
from reconciliation.cli.common import settings_from_args
from reconciliation.errors import KeyMismatch
from reconciliation.warehouse.db import engine_for
from reconciliation.warehouse.meta import KEY_FINGERPRINT, key_fingerprint
from reconciliation.warehouse.schema import metadata, warehouse_meta

GOLDEN = Path(__file__).parents[1] / "golden"
CONFIG = GOLDEN / "engine-only.yaml"
D1, D2 = "2026-11-20", "2026-11-21"
KEY_1, KEY_2 = "first-collector-key", "second-collector-key"


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def recon(monkeypatch: pytest.MonkeyPatch, key: str, *args: str) -> int:
    monkeypatch.setenv("RECON_HASH_KEY", key)
    return main(["run", *args, "--config", str(CONFIG)])


def counts(url: str) -> dict[str, int]:
    with engine_for(url).connect() as conn:
        return {t: conn.execute(sa.select(sa.func.count()).select_from(metadata.tables[t])).scalar_one()
                for t in metadata.tables}


def test_a_run_with_another_key_fails_in_one_sentence_and_writes_nothing(
        warehouse_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    inbox = GOLDEN / "carry_forward_resolved"
    assert recon(monkeypatch, KEY_1, "--date", D1, "--inbox", str(inbox), "--warehouse", warehouse_url) == 0
    before = counts(warehouse_url)
    capsys.readouterr()

    empty = tmp_path / "empty-inbox"
    empty.mkdir()
    for day, folder in ((D2, inbox), (D1, inbox), (D2, empty)):  # a run, a re-run, a missing-input day
        assert recon(monkeypatch, KEY_2, "--date", day, "--inbox", str(folder), "--sponsor", "ABCD",
                     "--warehouse", warehouse_url) == 1
        captured = capsys.readouterr()
        err = captured.err.strip()
        assert len(err.splitlines()) == 1, err
        assert key_fingerprint(KEY_1.encode()) in err and key_fingerprint(KEY_2.encode()) in err
        assert KEY_1 not in err and KEY_2 not in err and "RECON_HASH_KEY" in err
        assert "unexpected error" not in err and "Traceback" not in err
        assert counts(warehouse_url) == before

    # the warehouse's own key still works
    assert recon(monkeypatch, KEY_1, "--date", D2, "--inbox", str(inbox), "--warehouse", warehouse_url) == 0


def test_the_fingerprint_is_recorded_at_the_first_write_and_reveals_nothing(
        warehouse_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert recon(monkeypatch, KEY_1, "--date", D1, "--inbox", str(GOLDEN / "key_match"),
                 "--warehouse", warehouse_url) == 0
    with engine_for(warehouse_url).connect() as conn:
        stored = conn.execute(sa.select(warehouse_meta.c.value).where(
            warehouse_meta.c.name == KEY_FINGERPRINT)).scalar_one()
    assert stored == key_fingerprint(KEY_1.encode()) and len(stored) == 16
    assert stored not in hashlib.sha256(KEY_1.encode()).hexdigest()
    assert KEY_1 not in stored and KEY_1.encode().hex() not in stored
    assert key_fingerprint(KEY_2.encode()) != stored


def test_the_dag_path_checks_the_key_before_the_gate_writes(
        warehouse_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """``gate_day`` (the DAG's validation task) records rejected days itself: it checks first too."""
    assert recon(monkeypatch, KEY_1, "--date", D1, "--inbox", str(GOLDEN / "key_match"),
                 "--warehouse", warehouse_url) == 0
    before = counts(warehouse_url)
    monkeypatch.setenv("RECON_HASH_KEY", KEY_2)
    settings = settings_from_args(argparse.Namespace(config=CONFIG, warehouse=warehouse_url))
    from datetime import date

    for call in (pipeline.gate_day, pipeline.run_day):
        with pytest.raises(KeyMismatch) as caught:
            call(settings, "ABCD", date(2026, 11, 20), GOLDEN / "reject_trailer_total")
        assert len(str(caught.value).splitlines()) == 1
        assert counts(warehouse_url) == before

"""The run path from parsed files to committed rows: scratch files, the gate's kept parse, both backends.

- the same days reconciled into DuckDB and into PostgreSQL write the same rows;
- after a run on PostgreSQL the loaded tables have been analyzed;
- a run leaves no scratch files, whether it succeeded, failed or was killed
  (a killed run's are swept by the next run);
- the DAG's gate parses and validates each file once: the reconcile step
  uses what the gate kept while the files are the same, and parses again
  when they changed;
- a DuckDB warehouse runs under a bounded memory limit unless its URL sets one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from reconciliation import pipeline
from reconciliation.config import Settings
from reconciliation.generate import generate
from reconciliation.run.workdir import WORK
from reconciliation.warehouse.connection import DUCKDB_MEMORY_LIMIT
from reconciliation.warehouse.db import Warehouse, engine_for
from reconciliation.warehouse.schema import metadata, recon_record, recon_run
from tests.conftest import fresh_postgres

D1, D2 = date(2026, 11, 20), date(2026, 11, 21)
GOLDEN = Path(__file__).parents[1] / "golden"
#: Columns that differ between two runs by nature: when things happened.
CLOCK = {"started_at", "finished_at", "raised_at", "updated_at", "changed_at", "applied_at"}


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECON_HASH_KEY", "run-path-key")


@pytest.fixture(scope="module")
def inbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("inbox")
    generate(folder, sponsors=["ABCD"], start=D1, days=2, records=400, break_rate=0.05, seed=11,
             settings=Settings())
    return folder


def settings_for(url: str, state: Path, validate: bool = False) -> Settings:
    return Settings(warehouse_url=url, state_dir=state, reports={"enabled": False},
                    validation={"enabled": validate})


def _plain(value: Any) -> Any:
    return value.astimezone(UTC) if isinstance(value, datetime) else value


def table_rows(url: str) -> dict[str, list[tuple]]:
    """Every row of every warehouse table but the clock columns, sorted."""
    out = {}
    with engine_for(url).connect() as conn:
        for name, table in metadata.tables.items():
            if name in ("recon_schema_version",):
                continue
            cols = [c for c in table.columns if c.name not in CLOCK]
            rows = conn.execute(sa.select(*cols)).all()
            out[name] = sorted((tuple(_plain(v) for v in r) for r in rows), key=repr)
    return out


def left_over(state: Path) -> list[Path]:
    return sorted((state / WORK).rglob("*")) if (state / WORK).exists() else []


@pytest.mark.postgres
def test_duckdb_and_postgres_write_the_same_rows(inbox: Path, tmp_path: Path, duckdb_url: str,
                                                  pg_database: str) -> None:
    pg_url = fresh_postgres(pg_database)
    for url in (duckdb_url, pg_url):
        settings = settings_for(url, tmp_path / "var")
        for day in (D1, D2):
            assert pipeline.run_day(settings, "ABCD", day, inbox).status == "SUCCEEDED"
    duck, pg = table_rows(duckdb_url), table_rows(pg_url)
    assert duck["recon_record"] and duck["recon_break"] and duck["recon_match"]
    assert {k: len(v) for k, v in duck.items()} == {k: len(v) for k, v in pg.items()}
    assert duck == pg
    assert left_over(tmp_path / "var") == []


@pytest.mark.postgres
def test_a_postgres_run_analyzes_what_it_loaded(inbox: Path, tmp_path: Path, pg_database: str) -> None:
    url = fresh_postgres(pg_database)
    before = datetime.now(UTC)
    assert pipeline.run_day(settings_for(url, tmp_path / "var"), "ABCD", D1, inbox).status == "SUCCEEDED"
    with engine_for(url).connect() as conn:
        analyzed = dict(conn.execute(sa.text(
            "SELECT relname, last_analyze FROM pg_stat_user_tables WHERE relname IN "
            "('recon_record', 'recon_match', 'recon_break')")).all())
    assert set(analyzed) == {"recon_record", "recon_match", "recon_break"}
    assert all(when is not None and when >= before for when in analyzed.values()), analyzed


def test_a_run_leaves_no_scratch_files_when_it_succeeds_or_fails(inbox: Path, tmp_path: Path,
                                                                 duckdb_url: str,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    state = tmp_path / "var"
    settings = settings_for(duckdb_url, state)
    seen: list[Path] = []
    original = pipeline.parse_file

    def parse(*args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs["spill_to"])
        return original(*args, **kwargs)

    monkeypatch.setattr(pipeline, "parse_file", parse)
    assert pipeline.run_day(settings, "ABCD", D1, inbox).status == "SUCCEEDED"
    assert seen and all(path.is_relative_to(state / WORK) for path in seen)  # the parse was spilled
    assert left_over(state) == [] and not any(path.exists() for path in seen)

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("matching broke")

    monkeypatch.setattr(pipeline, "reconcile", broken)
    outcome = pipeline.run_day(settings, "ABCD", D2, inbox)
    assert outcome.status == "FAILED" and "matching broke" in (outcome.error or "")
    assert left_over(state) == []
    with engine_for(duckdb_url).connect() as conn:  # nothing of the failed run but its row
        assert conn.execute(sa.select(sa.func.count()).select_from(recon_record).where(
            recon_record.c.business_date == D2)).scalar_one() == 0


def test_a_killed_runs_scratch_files_are_swept_by_the_next_run(inbox: Path, tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    config = tmp_path / "recon.yaml"
    config.write_text("state_dir: var\nvalidation:\n  enabled: false\nreports:\n  enabled: false\n")
    cmd = [sys.executable, "-m", "reconciliation.cli", "run", "--inbox", str(inbox), "--warehouse", url,
           "--config", str(config), "--date", D1.isoformat()]
    env = {**os.environ, "RECON_HASH_KEY": "run-path-key"}
    killed = subprocess.run(cmd, env={**env, "RECON_FAILPOINT": "before-commit"}, cwd=tmp_path)
    assert killed.returncode == -9
    assert left_over(tmp_path / "var"), "a killed process cannot clean up: its files are there"
    with engine_for(url).connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(recon_record)).scalar_one() == 0
    assert subprocess.run(cmd, env=env, cwd=tmp_path).returncode == 0
    assert left_over(tmp_path / "var") == []


def test_the_gates_parse_is_used_by_the_reconcile_step(inbox: Path, tmp_path: Path, duckdb_url: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_for(duckdb_url, tmp_path / "var", validate=True)
    calls = {"parse": 0, "validate": 0}
    parse, validate = pipeline.parse_file, pipeline._validate

    def counted_parse(*args: Any, **kwargs: Any) -> Any:
        calls["parse"] += 1
        return parse(*args, **kwargs)

    def counted_validate(*args: Any, **kwargs: Any) -> Any:
        calls["validate"] += 1
        return validate(*args, **kwargs)

    monkeypatch.setattr(pipeline, "parse_file", counted_parse)
    monkeypatch.setattr(pipeline, "_validate", counted_validate)
    with Warehouse(duckdb_url) as store:
        gate, checked = pipeline.gate_day(settings, "ABCD", D1, inbox, store=store)
        assert gate.status == "PASSED" and checked is not None and checked.is_file()
        assert calls == {"parse": 2, "validate": 1}
        outcome = pipeline.run_day(settings, "ABCD", D1, inbox, checked=checked, store=store)
        assert outcome.status == "SUCCEEDED"
        assert calls == {"parse": 2, "validate": 1}  # neither parsed nor validated again
        assert not checked.parent.exists()  # what the gate kept is gone once committed
        with store.engine.connect() as conn:
            run = conn.execute(sa.select(recon_run).where(recon_run.c.run_id == outcome.run_id)).one()
        assert run.partner_records == outcome.counts["partner_records"] > 0

        # The files changed between the gate and the reconcile: parsed and validated afresh.
        gate, checked = pipeline.gate_day(settings, "ABCD", D2, inbox, store=store)
        assert checked is not None and calls == {"parse": 4, "validate": 2}
        kept = json.loads(checked.read_text())
        kept["sha256"]["PLATFORM"] = "0" * 64
        checked.write_text(json.dumps(kept))
        outcome = pipeline.run_day(settings, "ABCD", D2, inbox, checked=checked, store=store)
        assert outcome.status == "SUCCEEDED"
        assert calls == {"parse": 6, "validate": 3}
    assert not (tmp_path / "var" / "kept").exists()
    assert left_over(tmp_path / "var") == []


def test_a_duckdb_warehouse_runs_under_its_memory_limit(inbox: Path, tmp_path: Path) -> None:
    """DuckDB's buffers are bounded by default (not 80% of the machine); a URL's own limit wins."""
    import duckdb

    def shown(limit: str) -> str:
        with duckdb.connect(config={"memory_limit": limit}) as plain:
            row = plain.execute("SELECT current_setting('memory_limit')").fetchone()
        assert row is not None
        return str(row[0])

    default = f"duckdb:///{tmp_path / 'default.duckdb'}"
    own = f"duckdb:///{tmp_path / 'own.duckdb'}?memory_limit=2GB"
    for url, limit in ((default, DUCKDB_MEMORY_LIMIT), (own, "2GB")):
        assert pipeline.run_day(settings_for(url, tmp_path / "var"), "ABCD", D1, inbox).status == "SUCCEEDED"
        with engine_for(url).connect() as conn:
            assert conn.exec_driver_sql("SELECT current_setting('memory_limit')").scalar() == shown(limit)

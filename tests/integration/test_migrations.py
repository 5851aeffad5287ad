"""Schema upgrades: a warehouse of the release before migrations is upgraded without losing a row.

The "previous release" warehouse is created by a frozen copy of release
aa4f1fa's table definitions (``previous_release``) and filled with the rows
of a real night: the same files reconciled by this code into a scratch
warehouse, whose rows of those tables are copied over (the tables' layout is
the same, which is what revision 0001_initial asserts). Then ``recon db
upgrade`` runs as an operator would, every row is compared, and new runs go
on from the upgraded data. On DuckDB and on a throwaway PostgreSQL database.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from reconciliation import pipeline
from reconciliation import warehouse as warehouse_package
from reconciliation.cli import main
from reconciliation.warehouse import migrate
from reconciliation.warehouse.db import dispose_all, engine_for
from reconciliation.warehouse.migrations import HEAD, VERSION_TABLE
from reconciliation.warehouse.schema import metadata, recon_break, recon_run
from tests.integration import previous_release

GOLDEN = Path(__file__).parents[1] / "golden"
PG_ADMIN_URL = os.environ.get("RECON_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
D1, D2 = "2026-11-20", "2026-11-21"


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RECON_HASH_KEY", "migration-test-key")
    yield
    dispose_all()


def _pg_admin() -> sa.Engine:
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect():
            pass
    except sa.exc.OperationalError:
        pytest.skip(f"PostgreSQL is not reachable at {PG_ADMIN_URL}")
    return admin


@pytest.fixture
def new_pg() -> Iterator[Iterator[str]]:
    """A factory of empty throwaway PostgreSQL databases, all dropped afterwards."""
    admin = _pg_admin()
    names: list[str] = []

    def make() -> Iterator[str]:
        while True:
            name = f"recon_test_mig_{uuid.uuid4().hex[:10]}"
            with admin.connect() as conn:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
            names.append(name)
            yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"

    yield make()
    dispose_all()
    with admin.connect() as conn:
        for name in names:
            conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                 "WHERE datname = :n"), {"n": name})
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Iterator[str]]:
    """A factory of empty warehouses on one backend."""
    if request.param == "duckdb":
        yield (f"duckdb:///{tmp_path / f'w{i}.duckdb'}" for i in range(100))
    else:
        yield request.getfixturevalue("new_pg")


def recon(*args: str, config: Path) -> int:
    code = main([*args, "--config", str(config)])
    return code


def _config(tmp_path: Path) -> Path:
    """Validation on (so recon_validation gets rows), reports off (not under test here)."""
    path = tmp_path / "recon.yaml"
    path.write_text("reports:\n  enabled: false\n", encoding="utf-8")
    return path


def _previous_release_night(tmp_path: Path, urls: Iterator[str]) -> tuple[str, dict[str, list[tuple]]]:
    """A warehouse as release aa4f1fa left it after a night; returns its URL and its rows."""
    scratch, old = next(urls), next(urls)
    config = _config(tmp_path)
    for folder in ("key_match", "rejected_records", "carry_forward_resolved"):
        assert recon("run", "--date", D1, "--inbox", str(GOLDEN / folder), "--warehouse", scratch,
                      config=config) == 0
    dispose_all()
    previous_release.create(old)
    rows = previous_release.copy_rows(scratch, old)
    empty = [name for name, found in rows.items() if not found]
    assert not empty, f"the night left no rows in {empty}: the test would prove nothing for them"
    return old, previous_release.all_rows(old)


def _tables(url: str) -> set[str]:
    with engine_for(url).connect() as conn:
        return set(sa.inspect(conn).get_table_names())


def test_a_previous_release_warehouse_is_upgraded_without_losing_a_row(
        tmp_path: Path, empty_url: Iterator[str], capsys: pytest.CaptureFixture[str]) -> None:
    url, before = _previous_release_night(tmp_path, empty_url)
    config = _config(tmp_path)
    capsys.readouterr()

    assert recon("run", "--date", D2, "--inbox", str(GOLDEN / "carry_forward_resolved"),
                 "--warehouse", url, config=config) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert f"recon db upgrade --warehouse {url}" in err and "nothing was written" in err
    dispose_all()
    assert previous_release.all_rows(url) == before

    assert recon("db", "upgrade", "--warehouse", url, config=config) == 0
    out = capsys.readouterr().out
    assert f"stamped {migrate.BASELINE}" in out and "applied 0002_warehouse_meta" in out
    assert f"now at {migrate.head()}" in out
    dispose_all()
    after = previous_release.all_rows(url)
    fence = after.pop("recon_schema_version")
    assert fence[0] == before.pop("recon_schema_version")[0] and [r[0] for r in fence] == [1, 2]
    assert after == before  # every row of every table, value for value
    assert {VERSION_TABLE, "warehouse_meta"} <= _tables(url)

    # the upgraded rows go on being used: D2 resolves the break D1 left pending
    pipeline.forget_warehouse(url)
    assert recon("run", "--date", D2, "--inbox", str(GOLDEN / "carry_forward_resolved"),
                 "--warehouse", url, config=config) == 0
    with engine_for(url).connect() as conn:
        resolved = conn.execute(sa.select(recon_break.c.resolution).where(
            recon_break.c.business_date == date(2026, 11, 20))).scalars().all()
        versions = conn.execute(sa.select(recon_run.c.business_date, recon_run.c.version)
                                .order_by(recon_run.c.run_id)).all()
    assert "MATCHED_LATER" in resolved
    assert [v for _, v in versions] == [1, 2, 3, 1]
    assert recon("db", "upgrade", "--warehouse", url, config=config) == 0
    assert "nothing to do" in capsys.readouterr().out


def test_an_empty_warehouse_is_created_at_head_and_matches_the_code(
        tmp_path: Path, empty_url: Iterator[str]) -> None:
    url = next(empty_url)
    assert recon("run", "--date", D1, "--inbox", str(GOLDEN / "key_match"), "--warehouse", url,
                 config=GOLDEN / "engine-only.yaml") == 0
    engine = engine_for(url)
    with engine.connect() as conn:
        assert migrate.state_of(conn).kind == "current"
        assert migrate.context_of(conn).get_current_revision() == migrate.head()
        assert "alembic_version" not in _tables(url)  # the name another Alembic user may have
        if conn.dialect.name == "postgresql":  # DuckDB's reflection is too coarse to compare types
            for module in pkgutil.iter_modules(warehouse_package.__path__):  # tables defined there
                importlib.import_module(f"{warehouse_package.__name__}.{module.name}")
            importlib.import_module("reconciliation.quality.table")
            # Every table the code defines must be exactly what the migrations made; a table
            # only the migrations know (one whose module is not imported here) is not compared.
            only_in_database = {"include_object": lambda obj, name, kind, reflected, other: not (
                kind == "table" and reflected and other is None)}
            context = MigrationContext.configure(conn, opts={
                "version_table": VERSION_TABLE, **only_in_database})
            diff = compare_metadata(context, metadata)
            assert diff == [], f"the migrations and schema.py disagree: {diff}"
    assert set(metadata.tables) <= _tables(url)


def test_a_warehouse_behind_head_is_refused_until_upgraded(
        tmp_path: Path, empty_url: Iterator[str], capsys: pytest.CaptureFixture[str]) -> None:
    url = next(empty_url)
    engine = engine_for(url)
    with engine.begin() as conn:
        from alembic import command

        command.upgrade(migrate.alembic_config(conn), migrate.BASELINE)
    config = GOLDEN / "engine-only.yaml"
    capsys.readouterr()
    assert recon("run", "--date", D1, "--inbox", str(GOLDEN / "key_match"), "--warehouse", url,
                 config=config) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"schema revision {migrate.BASELINE}" in err
    assert "recon db upgrade" in err
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(recon_run)).scalar_one() == 0
    assert recon("db", "status", "--warehouse", url, config=config) == 1
    assert recon("db", "upgrade", "--warehouse", url, config=config) == 0
    out = capsys.readouterr().out
    assert "stamped" not in out and "applied 0002_warehouse_meta" in out
    pipeline.forget_warehouse(url)
    assert recon("run", "--date", D1, "--inbox", str(GOLDEN / "key_match"), "--warehouse", url,
                 config=config) == 0


def test_a_warehouse_of_a_newer_release_is_refused(
        tmp_path: Path, empty_url: Iterator[str], capsys: pytest.CaptureFixture[str]) -> None:
    url = next(empty_url)
    config = GOLDEN / "engine-only.yaml"
    assert recon("run", "--date", D1, "--inbox", str(GOLDEN / "key_match"), "--warehouse", url,
                 config=config) == 0
    with engine_for(url).begin() as conn:
        conn.execute(sa.text(f"UPDATE {VERSION_TABLE} SET version_num = '0099_future'"))
    pipeline.forget_warehouse(url)
    capsys.readouterr()
    for command in (["run", "--date", D1, "--inbox", str(GOLDEN / "key_match")], ["db", "upgrade"]):
        assert recon(*command, "--warehouse", url, config=config) == 1
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "0099_future" in err and "newer release" in err


def test_an_upgraded_warehouse_is_fenced_off_from_the_previous_release(
        tmp_path: Path, empty_url: Iterator[str]) -> None:
    """Release aa4f1fa refuses a warehouse whose recon_schema_version is above 1 (no key check there)."""
    url = next(empty_url)
    assert recon("run", "--date", D1, "--inbox", str(GOLDEN / "key_match"), "--warehouse", url,
                 config=GOLDEN / "engine-only.yaml") == 0
    with engine_for(url).connect() as conn:
        top = conn.execute(sa.text("SELECT max(version) FROM recon_schema_version")).scalar_one()
    assert top == 2  # aa4f1fa's ensure_schema: "newer than this code's 1; upgrade the package"


def test_a_new_revision_is_one_file_in_versions(tmp_path: Path) -> None:
    """The revision chain is read from the folder; the head known without Alembic is its head."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(migrate.alembic_config())
    chain = [r.revision for r in script.walk_revisions()][::-1]
    assert chain[:2] == ["0001_initial", "0002_warehouse_meta"]
    assert script.get_current_head() == chain[-1] == migrate.head() == HEAD


def test_a_database_shared_with_another_alembic_user_is_left_alone(
        tmp_path: Path, empty_url: Iterator[str]) -> None:
    """Airflow's metadata has its own ``alembic_version``: the warehouse neither reads nor touches it."""
    url = next(empty_url)
    with engine_for(url).begin() as conn:
        conn.execute(sa.text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)"))
        conn.execute(sa.text("INSERT INTO alembic_version VALUES ('a1b2c3d4airflow')"))
    assert recon("run", "--date", D1, "--inbox", str(GOLDEN / "key_match"), "--warehouse", url,
                 config=GOLDEN / "engine-only.yaml") == 0
    with engine_for(url).connect() as conn:
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all() == [
            "a1b2c3d4airflow"]
        assert migrate.state_of(conn).kind == "current"


def test_tables_dropped_by_hand_are_made_again(tmp_path: Path, empty_url: Iterator[str]) -> None:
    url = next(empty_url)
    config = GOLDEN / "engine-only.yaml"
    args = ("run", "--date", D1, "--inbox", str(GOLDEN / "key_match"), "--warehouse", url)
    assert recon(*args, config=config) == 0
    importlib.import_module("reconciliation.warehouse.workbench")  # its tables join ``metadata``
    metadata.drop_all(engine_for(url))  # the version row stays behind
    pipeline.forget_warehouse(url)
    assert recon(*args, config=config) == 0
    with engine_for(url).connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(recon_run)).scalar_one() == 1


def test_a_refusal_masks_the_password_and_says_what_to_run() -> None:
    behind = migrate.SchemaState(None, True, migrate.head(), True)
    with_password = migrate.refusal("postgresql+psycopg://recon:s3cret@db/warehouse", behind)
    assert "s3cret" not in with_password and "recon:***@db/warehouse" in with_password
    assert "recon db upgrade with the --warehouse or --config" in with_password
    plain = migrate.refusal("duckdb:///var/w.duckdb", behind)
    assert plain.endswith("recon db upgrade --warehouse duckdb:///var/w.duckdb")


def test_a_failed_upgrade_leaves_the_warehouse_at_its_revision(
        tmp_path: Path, empty_url: Iterator[str], capsys: pytest.CaptureFixture[str]) -> None:
    """DDL is transactional on both backends: 0002 creates its table, then fails, and nothing stays."""
    url = next(empty_url)
    engine = engine_for(url)
    with engine.begin() as conn:
        from alembic import command

        command.upgrade(migrate.alembic_config(conn), migrate.BASELINE)
        # 0002 records version 2 after creating its table: this row makes that insert fail
        conn.execute(sa.text("INSERT INTO recon_schema_version VALUES (2, CURRENT_TIMESTAMP)"))
    capsys.readouterr()
    assert recon("db", "upgrade", "--warehouse", url, config=GOLDEN / "engine-only.yaml") == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "[SQL:" not in err and "upgrading the warehouse" in err
    with engine.connect() as conn:
        assert migrate.state_of(conn).revision == migrate.BASELINE
        assert not sa.inspect(conn).has_table("warehouse_meta")

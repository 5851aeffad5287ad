"""``make demo``: a realistic night reconciled by the real DAG, from a fresh clone, in a few minutes.

What it does, all under ``var/demo/`` (wiped first, so every demo starts clean):

1. an Airflow home with a SQLite metadata database (``airflow db migrate``);
2. a generated night: sponsors ABCD, EFGH and WXYZ (WXYZ's POS writes CSV),
   two consecutive business dates, about 50,000 records per sponsor-day,
   every break type injected, and the ground truth of what must be found;
3. the collector hash key, made explicitly by ``recon key generate`` (a key is
   never created implicitly) and named in the demo's configuration;
4. an SFTP server on 127.0.0.1 holding the files (a throwaway host key and
   client key; the DAG verifies the host key like in production);
5. ``airflow dags test`` of ``amcash_reconciliation`` for each night, as the
   02:00 EST scheduled runs would be: wait, download, reconcile, upload the
   partners' result files, night summary;
6. a summary: per sponsor-day status and breaks, whether the warehouse equals
   the ground truth, and where to look.

Set ``DEMO_RECORDS`` for a smaller or larger night.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from datetime import date, datetime, timedelta, timezone
from datetime import time as clock
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
VAR = ROOT / "var" / "demo"
BIN = Path(sys.executable).parent
SPONSORS = ["ABCD", "EFGH", "WXYZ"]
CSV_SPONSOR = "WXYZ"
START = date(2026, 11, 20)
DAYS = 2
RECORDS = int(os.environ.get("DEMO_RECORDS", "50000"))
EST = timezone(timedelta(hours=-5))

sys.path.insert(0, str(ROOT / "demo"))


def say(text: str) -> None:
    print(f"[demo {time.strftime('%H:%M:%S')}] {text}", flush=True)


def run(args: list[str], env: dict[str, str], log: Path) -> int:
    """Run a command with its output in ``log``; returns its exit status."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as out:
        return subprocess.run(args, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT).returncode


def airflow_env() -> dict[str, str]:
    """Airflow pointed at this repository's DAGs and plugins, with its home under var/demo."""
    home = VAR / "airflow"
    # The demo's key file is its only key: one inherited from the shell would be a second source.
    inherited = {k: v for k, v in os.environ.items() if k not in ("RECON_HASH_KEY", "RECON_HASH_KEY_FILE")}
    return {**inherited,
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "GX_ANALYTICS_ENABLED": "False",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}


def generate_night() -> Path:
    from reconciliation.generate import generate

    night = VAR / "night"
    result = generate(night, sponsors=SPONSORS, start=START, days=DAYS, records=RECORDS, break_rate=0.002,
                      seed=2026, csv_sponsors={CSV_SPONSOR})
    say(result.summary())
    return night


def make_key(env: dict[str, str]) -> Path | None:
    """The collector hash key, made as an operator would: ``recon key generate``."""
    key = VAR / "secrets" / "collector-hash.key"
    log = VAR / "logs" / "key-generate.log"
    if run([str(BIN / "recon"), "key", "generate", "--out", str(key)], env, log) != 0:
        say(f"recon key generate failed; see {log}")
        return None
    say(f"collector hash key generated in {key} (mode 0600)")
    return key


def write_config(server: Any, key: Path) -> Path:
    import yaml

    config = VAR / "recon.yaml"
    config.write_text(yaml.safe_dump({
        "warehouse": f"duckdb:///{VAR / 'warehouse.duckdb'}",
        "state_dir": str(VAR / "state"),
        "hash_key": {"file": str(key)},
        "sponsors": {"ABCD": {}, "EFGH": {}, CSV_SPONSOR: {"partner_profile": "csv_cents"}},
        "sftp": {"conn_id": "amcash_sftp", "inbox_dir": "/inbox", "outbox_dir": "/outbox",
                 "known_hosts": str(server.known_hosts)},
        # The workbench's two demo users: fiona resolves, admin approves above $100 (four eyes).
        "workbench": {"roles": {"admin": "approver", "fiona": "resolver"}, "four_eyes_dollars": "100.00"},
    }, sort_keys=False))
    return config


def connections(server: Any, config: Path) -> dict[str, str]:
    """The DAG's connection and variables, as environment variables (nothing stored anywhere)."""
    return {"AIRFLOW_CONN_AMCASH_SFTP": json.dumps({
                "conn_type": "sftp", "host": server.host, "port": server.port, "login": server.user,
                "extra": {"key_file": str(server.client_key), "known_hosts": str(server.known_hosts)}}),
            "AIRFLOW_VAR_AMCASH_CONFIG": str(config),
            "AIRFLOW_VAR_AMCASH_WAIT_MINUTES": "5",
            "AIRFLOW_VAR_AMCASH_POKE_SECONDS": "5"}


def main() -> int:
    started = time.monotonic()
    shutil.rmtree(VAR, ignore_errors=True)
    VAR.mkdir(parents=True)
    env = airflow_env()
    say(f"Airflow home {VAR / 'airflow'}: migrating the metadata database ...")
    if run([str(BIN / "airflow"), "db", "migrate"], env, VAR / "logs" / "db-migrate.log") != 0:
        say(f"airflow db migrate failed; see {VAR / 'logs' / 'db-migrate.log'}")
        return 1
    key = make_key(env)
    if key is None:
        return 1
    say(f"generating {len(SPONSORS)} sponsors x {DAYS} days x {RECORDS:,} records ...")
    night = generate_night()

    import sftp_server

    server = sftp_server.start(VAR / "sftp")
    for path in sorted(night.iterdir()):
        if path.name.startswith(("AMCASH_", "POSLOG_")):
            shutil.copy(path, server.inbox / path.name)
    say(f"SFTP server on {server.host}:{server.port} (host key in {server.known_hosts}) serving "
        f"{len(list(server.inbox.iterdir()))} files")
    env.update(connections(server, write_config(server, key)))
    statuses = []
    try:
        for offset in range(DAYS):
            day = START + timedelta(days=offset)
            run_at = datetime.combine(day + timedelta(days=1), clock(2), EST)  # the scheduled 02:00 run
            log = VAR / "logs" / f"dags-test-{day}.log"
            say(f"airflow dags test amcash_reconciliation {run_at.isoformat()}  (business date {day}) ...")
            status = run([str(BIN / "airflow"), "dags", "test", "amcash_reconciliation", run_at.isoformat()],
                         env, log)
            statuses.append(status)
            say(f"  {'succeeded' if status == 0 else 'FAILED'}; log: {log}")
    finally:
        server.stop()
    import summary

    ok = summary.report(VAR, night, SPONSORS, [START + timedelta(days=i) for i in range(DAYS)],
                        outbox=server.outbox)
    say(f"done in {time.monotonic() - started:.0f} s")
    return 0 if ok and not any(statuses) else 1


if __name__ == "__main__":
    sys.exit(main())

"""The production topology on this machine: real Airflow 3.3 components as separate processes.

``Stack`` starts what ``docker-compose.yaml`` describes, without Docker: an
``api-server``, a ``scheduler``, a ``dag-processor``, a ``triggerer`` and two
``celery worker`` processes (CeleryExecutor, broker the local Redis on a
database number of its own), Airflow's metadata database and Celery's result
backend in a throwaway PostgreSQL database, the warehouse in another, and the
OpenSSH ``sshd`` fixture as the partners' drop box. Every process runs in its
own session (process group) under an isolated ``AIRFLOW_HOME`` in a
temporary directory, tagged with the stack's id in its environment.

``stop()`` ends every process it started (the group, then anything still
carrying the tag), drops both databases, flushes its Redis database and
removes its directory: no state is left behind.

The Airflow settings are the same ``AIRFLOW__...`` names as in
``docker-compose.yaml``: the constants come from ``scripts/airflow.env``,
which compose reads too (``tests/stack/test_settings.py`` keeps the two in
step); the rest is what differs on this machine (URLs, ports, secrets made
here) and test tuning (short heartbeats and retry delays).

Command line (``make stack`` / ``make stack-stop``)::

    python -m tests.stack.harness up [--port 8080] [--redis-db 12] [--dir var/stack]
    python -m tests.stack.harness down [--dir var/stack]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ENV_FILE = REPO / "scripts" / "airflow.env"
PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
DAG_ID = "amcash_reconciliation"
USER = "admin"
CONFIGURED = {"ABCD": {}, "EFGH": {}, "WXYZ": {"partner_profile": "csv_cents"}}
COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
WORKERS = ("worker1", "worker2")
#: Imported by each Celery worker before it forks its pool, so task processes (forked from the pool)
#: inherit them instead of importing Great Expectations and Polars again for every task: on a busy
#: 2-core machine that import alone is most of a task's minute. Speed only; nothing else changes.
WORKER_PRELOAD = ("polars", "pyarrow", "great_expectations", "sqlalchemy", "paramiko",
                  "reconciliation.pipeline", "reconciliation.quality.gate", "reconciliation.transfer",
                  "reconciliation.reports")
PRELOADED_MAIN = ("import importlib, sys; [importlib.import_module(m) for m in sys.argv[1].split(',')]; "
                  "sys.argv = ['airflow', *sys.argv[2:]]; from airflow.__main__ import main; main()")

#: Test tuning: the deployment's settings with shorter clocks (none of them changes behaviour).
FAST = {
    "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "30",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "3",
    "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "10",
    "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "60",
    "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
    "AIRFLOW__CELERY__WORKER_CONCURRENCY": "4",
    "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "2",
    "AIRFLOW_VAR_AMCASH_RETRY_DELAY_SECONDS": "2",
    "AIRFLOW_VAR_AMCASH_POKE_SECONDS": "3",
}


def read_env_file(path: Path = ENV_FILE) -> dict[str, str]:
    """``KEY=value`` lines of an env file (compose's ``env_file`` format, no interpolation)."""
    values = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def pg_url(database: str, driver: str = "postgresql+psycopg") -> str:
    return f"{driver}://{PG_USER}@{PG_HOST}:{PG_PORT}/{database}"


def worker_hostname() -> str:
    """The host name a worker reports for its task instances (``[core] hostname_callable``).

    Two workers on one machine would both say the machine's name; in compose
    each container has a name of its own. This gives each its worker name.
    """
    import socket

    return os.environ.get("AMCASH_STACK_WORKER") or socket.getfqdn()


def services_missing() -> str | None:
    """Why the stack cannot run here (PostgreSQL, Redis or sshd missing), or None."""
    import socket

    from tests.integration.conftest_sshd import SSHD

    for name, port in (("PostgreSQL", PG_PORT), ("Redis", REDIS_PORT)):
        try:
            socket.create_connection((PG_HOST, port), timeout=2).close()
        except OSError:
            return f"{name} is not reachable on 127.0.0.1:{port} (run scripts/services.sh)"
    if not SSHD.exists():
        return f"OpenSSH sshd is not installed at {SSHD}"
    if not (BIN / "airflow").exists():
        return "airflow is not installed in this environment"
    return None


def _admin_sql(*statements: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(pg_url("postgres"), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            for statement in statements:
                conn.execute(sa.text(statement))
    finally:
        engine.dispose()


def _drop_database(name: str) -> None:
    _admin_sql(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'",
               f'DROP DATABASE IF EXISTS "{name}"')


def _flush_redis(db: int) -> None:
    import redis

    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=db)
    try:
        client.flushdb()
    finally:
        client.close()


def _tagged(tag: str, root: Path) -> list[int]:
    """Processes of the stack: working in its directory, or carrying its tag in their environment.

    (Celery renames its processes, which overwrites the environment block they
    show, hence the working directory too.)
    """
    found = []
    needle = f"AMCASH_STACK_ID={tag}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cwd = Path(os.readlink(entry / "cwd"))
            if cwd == root or root in cwd.parents or needle in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


@dataclass
class Stack:
    """A running stack (or one described by its state file, for ``down``)."""

    root: Path
    port: int
    redis_db: int
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:10])
    password: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    pids: dict[str, int] = field(default_factory=dict)
    sshd_pid: int | None = None
    sftp: dict[str, Any] = field(default_factory=dict)
    keep_root: bool = False

    # -- names ----------------------------------------------------------------------------------------------
    @property
    def home(self) -> Path:
        return self.root / "airflow"

    @property
    def meta_db(self) -> str:
        return f"amcash_stack_af_{self.tag}"

    @property
    def warehouse_db(self) -> str:
        return f"amcash_stack_wh_{self.tag}"

    @property
    def warehouse_url(self) -> str:
        return pg_url(self.warehouse_db)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def state_dir(self) -> Path:
        return self.root / "state"

    @property
    def inbox(self) -> Path:
        return Path(self.sftp["inbox"])

    @property
    def outbox(self) -> Path:
        return Path(self.sftp["outbox"])

    @property
    def hash_key(self) -> str:
        return (self.root / "hash.key").read_text().strip()

    def log(self, name: str) -> Path:
        return self.root / "logs" / f"{name}.log"

    # -- environment ----------------------------------------------------------------------------------------
    def environment(self) -> dict[str, str]:
        """What every component gets: the shared settings, this machine's values, test tuning."""
        from tests.integration.airflow.conftest import postgres_connection

        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "RECON_", "PYTEST"))}
        env.update(read_env_file())
        secrets_file = json.loads((self.root / "secrets.json").read_text())
        env.update({
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(self.home / "passwords.json"),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.base_url}/execution/",
            "AIRFLOW__CORE__FERNET_KEY": secrets_file["fernet"],
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets_file["jwt"],
            "AIRFLOW__API__SECRET_KEY": secrets_file["api"],
            "AIRFLOW__API__BASE_URL": self.base_url,
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": pg_url(self.meta_db),
            "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + pg_url(self.meta_db),
            "AIRFLOW__CELERY__BROKER_URL": f"redis://{REDIS_HOST}:{REDIS_PORT}/{self.redis_db}",
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(secrets_file["ports"]["triggerer"]),
            "AIRFLOW_VAR_AMCASH_CONFIG": str(self.root / "recon.yaml"),
            "AIRFLOW_VAR_AMCASH_STATE_DIR": str(self.state_dir),
            "AIRFLOW_VAR_AMCASH_SCHEDULE": "0 2 * * *",
            "AIRFLOW_VAR_AMCASH_TIMEZONE": "Etc/GMT+5",
            "AIRFLOW_VAR_AMCASH_WAIT_MINUTES": "360",
            "AIRFLOW_CONN_AMCASH_WAREHOUSE": postgres_connection(self.warehouse_url),
            "AIRFLOW_CONN_AMCASH_SFTP": json.dumps({
                "conn_type": "sftp", "host": self.sftp["host"], "port": self.sftp["port"],
                "login": self.sftp["user"],
                "extra": {"key_file": self.sftp["key"], "known_hosts": self.sftp["known_hosts"]}}),
            "RECON_HASH_KEY": self.hash_key,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
            "AMCASH_STACK_ID": self.tag,
        })
        env.update(FAST)
        return env

    # -- start ----------------------------------------------------------------------------------------------
    def start(self, timeout: float = 240.0) -> Stack:
        """Bring everything up; on any failure, take down what was started and raise."""
        try:
            self._prepare()
            self._migrate()
            for name in COMPONENTS:
                self.spawn(name, name.split())
            for index, name in enumerate(WORKERS):
                self.start_worker(name, index)
            self.wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _prepare(self) -> None:
        from cryptography.fernet import Fernet

        from tests.integration.conftest_sshd import free_port, start_sshd

        for folder in (self.home, self.root / "logs", self.state_dir, self.root / "sshd"):
            folder.mkdir(parents=True, exist_ok=True)
        (self.root / "hash.key").write_text(secrets.token_hex(32) + "\n")
        os.chmod(self.root / "hash.key", 0o600)
        (self.root / "secrets.json").write_text(json.dumps({
            "fernet": Fernet.generate_key().decode(), "jwt": secrets.token_hex(32),
            "api": secrets.token_hex(32),
            "ports": {"triggerer": free_port(), **{name: free_port() for name in WORKERS}}}))
        os.chmod(self.root / "secrets.json", 0o600)
        passwords = self.home / "passwords.json"
        passwords.write_text(json.dumps({USER: self.password}))
        os.chmod(passwords, 0o600)
        server = start_sshd(self.root / "sshd")
        self.sshd_pid = server.process.pid
        self.sftp = {"host": server.host, "port": server.port, "user": server.user,
                     "key": str(server.user_key),
                     "known_hosts": str(server.known_hosts), "inbox": str(server.inbox),
                     "outbox": str(server.outbox)}
        import yaml

        (self.root / "recon.yaml").write_text(yaml.safe_dump({
            "state_dir": str(self.state_dir),
            "sponsors": CONFIGURED,
            "reports": {"environment": "CERT"},
            "sftp": {"conn_id": "amcash_sftp", "inbox_dir": str(server.inbox),
                     "outbox_dir": str(server.outbox)},
        }, sort_keys=False))
        _flush_redis(self.redis_db)
        _admin_sql(f'CREATE DATABASE "{self.meta_db}"', f'CREATE DATABASE "{self.warehouse_db}"')
        self.save()

    def _migrate(self) -> None:
        with self.log("db-migrate").open("wb") as out:
            done = subprocess.run([str(BIN / "airflow"), "db", "migrate"], env=self.environment(), stdout=out,
                                  stderr=subprocess.STDOUT, cwd=self.root, timeout=600)
        if done.returncode != 0:
            raise RuntimeError(f"airflow db migrate failed:\n{self.log('db-migrate').read_text()[-3000:]}")

    def spawn(self, name: str, args: list[str], extra: dict[str, str] | None = None,
              preload: tuple[str, ...] = ()) -> int:
        """Start one component in its own session; its output goes to ``logs/<name>.log``."""
        out = self.log(name).open("ab")
        command = [sys.executable, "-c", PRELOADED_MAIN, ",".join(preload)] if preload \
            else [str(BIN / "airflow")]
        process = subprocess.Popen([*command, *args], env={**self.environment(), **(extra or {})},
                                   stdout=out, stderr=subprocess.STDOUT, cwd=self.root,
                                   start_new_session=True)
        out.close()
        self.pids[name] = process.pid
        self.save()
        return process.pid

    def start_worker(self, name: str, index: int | None = None, extra: dict[str, str] | None = None) -> int:
        """A Celery worker named ``name@<host>`` with its own log-server port."""
        ports = json.loads((self.root / "secrets.json").read_text())["ports"]
        env = {"AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(ports[name]), "AMCASH_STACK_WORKER": name,
               "AIRFLOW__CORE__HOSTNAME_CALLABLE": "tests.stack.harness.worker_hostname", **(extra or {})}
        return self.spawn(name, ["celery", "worker", "--celery-hostname", f"{name}@%h", "--without-mingle",
                                 "--without-gossip"], env, preload=WORKER_PRELOAD)

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Signal a component's whole process group (SIGKILL: the machine lost it)."""
        pid = self.pids.pop(name)
        _signal_group(pid, sig)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            _reap(pid)
            if not _alive(pid):
                break
            time.sleep(0.2)
        self.save()

    def consume(self, worker: str, on: bool, queue: str = "default") -> None:
        """Make a running worker stop or resume taking tasks of ``queue`` (Celery's remote control).

        What an operator does with ``celery control cancel_consumer``/``add_consumer``: the worker
        stays up and finishes what it holds, but takes nothing new from the queue until resumed.
        """
        from celery import Celery

        app = Celery(broker=f"redis://{REDIS_HOST}:{REDIS_PORT}/{self.redis_db}")
        try:
            names = [n for reply in app.control.ping(timeout=5) for n in reply if n.startswith(f"{worker}@")]
            if len(names) != 1:
                raise RuntimeError(f"worker {worker} did not answer a ping (answers: {names})")
            control = app.control.add_consumer if on else app.control.cancel_consumer
            replies = control(queue, destination=names, reply=True, timeout=10)
            if not replies:
                raise RuntimeError(f"worker {worker} did not confirm consuming={on} for {queue}")
            queues = app.control.inspect(destination=names, timeout=5).active_queues() or {}
            if (queue in {q["name"] for q in queues.get(names[0], [])}) != on:
                raise RuntimeError(f"worker {worker} still has consuming={not on} for {queue}: {queues}")
        finally:
            app.close()

    def wait_ready(self, timeout: float) -> None:
        """API up, the DAG parsed, both workers ready."""
        import httpx

        deadline = time.monotonic() + timeout
        ready: set[str] = set()
        while time.monotonic() < deadline:
            for name, pid in self.pids.items():
                if not _alive(pid):
                    raise RuntimeError(f"{name} exited:\n{self.log(name).read_text()[-3000:]}")
            if "api" not in ready:
                try:
                    if httpx.get(f"{self.base_url}/api/v2/monitor/health", timeout=5).status_code == 200:
                        ready.add("api")
                except httpx.HTTPError:
                    pass
            if "api" in ready and "dag" not in ready:
                from tests.stack.api import AirflowApi

                if AirflowApi(self.base_url, USER, self.password).get(f"/api/v2/dags/{DAG_ID}",
                                                                      ok=(200, 404)).get("dag_id"):
                    ready.add("dag")
            for name in WORKERS:
                if name in self.pids and " ready." in self.log(name).read_text(errors="replace"):
                    ready.add(name)
            if ready >= {"api", "dag", *WORKERS}:
                return
            time.sleep(1)
        raise TimeoutError(f"the stack was not ready within {timeout:.0f} s (ready: {sorted(ready)}); "
                           f"logs in {self.root / 'logs'}")

    # -- state ----------------------------------------------------------------------------------------------
    def save(self) -> None:
        data = asdict(self)
        data["root"] = str(self.root)
        (self.root / "stack.json").write_text(json.dumps(data, indent=2))

    @classmethod
    def load(cls, root: Path) -> Stack:
        data = json.loads((root / "stack.json").read_text())
        data["root"] = Path(data["root"])
        return cls(**data)

    # -- stop -----------------------------------------------------------------------------------------------
    def stop(self) -> None:
        """Stop everything this stack started and remove every trace of it."""
        for pid in self.pids.values():
            _signal_group(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_alive(p) for p in self.pids.values()):
            for pid in self.pids.values():
                _reap(pid)
            time.sleep(0.3)
        for pid in self.pids.values():
            _signal_group(pid, signal.SIGKILL)
            _reap(pid)
        for pid in _tagged(self.tag, self.root):  # whatever left its group (task processes, pool children)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.pids.clear()
        if self.sshd_pid:
            for pid in [self.sshd_pid]:
                try:
                    os.kill(pid, signal.SIGTERM)
                    time.sleep(0.3)
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                _reap(pid)
            self.sshd_pid = None
        from reconciliation.warehouse.db import dispose_all

        dispose_all()
        for name in (self.meta_db, self.warehouse_db):
            _drop_database(name)
        _flush_redis(self.redis_db)
        if not self.keep_root:
            shutil.rmtree(self.root, ignore_errors=True)

    # -- data -----------------------------------------------------------------------------------------------
    def generate(self, folder: str, sponsors: list[str], start: date, days: int = 1, records: int = 300,
                 seed: int = 7, csv_sponsors: set[str] | frozenset[str] = frozenset()) -> Path:
        """Generated files (and their ground truth) for sponsors and days, in ``<root>/nights/<folder>``."""
        from reconciliation.generate import generate

        out = self.root / "nights" / folder
        generate(out, sponsors=sponsors, start=start, days=days, records=records, break_rate=0.01, seed=seed,
                 csv_sponsors=csv_sponsors)
        return out

    def deliver(self, night: Path, sponsors: list[str] | None = None, days: list[date] | None = None,
                kinds: tuple[str, ...] = ("AMCASH_", "POSLOG_")) -> list[str]:
        """Put a night's files in the drop box (optionally only some sponsors, days or sides)."""
        placed = []
        for path in sorted(night.iterdir()):
            if not path.name.startswith(kinds):
                continue
            if sponsors and not any(f"_{s}_" in path.name for s in sponsors):
                continue
            if days and not any(d.strftime("%Y%m%d") in path.name for d in days):
                continue
            tmp = self.inbox / f".{path.name}.tmp"
            shutil.copy(path, tmp)
            tmp.replace(self.inbox / path.name)
            placed.append(path.name)
        return placed


def _cli(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.stack.harness", description=__doc__.split("\n")[0])
    parser.add_argument("action", choices=["up", "down"])
    parser.add_argument("--dir", type=Path, default=REPO / "var" / "stack")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--redis-db", type=int, default=12)
    args = parser.parse_args(argv)
    root = args.dir.resolve()
    if args.action == "down":
        if not (root / "stack.json").exists():
            print(f"no stack is running from {root}")
            return 0
        Stack.load(root).stop()
        print("stack stopped: processes ended, databases dropped, Redis database flushed, files removed")
        return 0
    if (root / "stack.json").exists():
        print(f"a stack is already running from {root}; stop it first: make stack-stop", file=sys.stderr)
        return 1
    problem = services_missing()
    if problem:
        print(f"cannot start the stack: {problem}", file=sys.stderr)
        return 1
    root.mkdir(parents=True, exist_ok=True)
    stack = Stack(root=root, port=args.port, redis_db=args.redis_db)
    print(f"starting the stack in {root} (logs in {root / 'logs'}) ...", flush=True)
    stack.start(timeout=600)
    start = date(2026, 11, 20)
    night = stack.generate("demo", sorted(CONFIGURED), start, days=2, records=2000, seed=2026,
                           csv_sponsors={"WXYZ"})
    placed = stack.deliver(night)
    print(f"""
AM Cash on Airflow is running: api-server, scheduler, dag-processor, triggerer, 2 Celery workers.
  UI:        {stack.base_url}   user {USER}, password {stack.password}
  drop box:  sftp://{stack.sftp['host']}:{stack.sftp['port']}{stack.inbox} ({len(placed)} files for {start}
             and the day after)
  warehouse: {pg_url(stack.warehouse_db)}
The DAG {DAG_ID} starts paused: unpause it, then Trigger with params, e.g.
  {{"business_date": "{start}", "wait_minutes": 0}}  (docs/operations.md is the playbook)
Stop everything (processes, databases, Redis db {stack.redis_db}, files): make stack-stop""")
    return 0


if __name__ == "__main__":
    sys.exit(_cli())


__all__ = ["Stack", "read_env_file", "services_missing"]

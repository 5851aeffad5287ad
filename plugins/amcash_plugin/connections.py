"""Airflow connections and variables -> the reconciliation's settings, warehouse and SFTP endpoint.

In Airflow, secrets live in connections (or a secrets backend), never in the
YAML configuration: the warehouse's password in the ``amcash_warehouse``
connection, the SFTP key or password in ``amcash_sftp``. This module is the
only place that turns them into what ``reconciliation`` understands, so the
DAG and the ``recon`` command share one configuration file and differ only
in where credentials come from.

Variables (Airflow Variables, or ``AIRFLOW_VAR_*`` environment variables):

- ``amcash_config``: path of the reconciliation YAML (else ``$RECON_CONFIG``);
- ``amcash_state_dir``: state directory, overriding the YAML's (default ``$AIRFLOW_HOME/amcash``
  without a YAML): in a cluster, a volume every worker shares;
- ``amcash_warehouse_conn_id`` / ``amcash_sftp_conn_id``: connection ids (defaults below).
"""

from __future__ import annotations

import os
import re
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from reconciliation.config import Settings
    from reconciliation.transfer import Endpoint

WAREHOUSE_CONN_ID = "amcash_warehouse"
SFTP_CONN_ID = "amcash_sftp"
#: Airflow connection types and the SQLAlchemy driver that serves them.
DRIVERS = {"postgres": "postgresql+psycopg", "postgresql": "postgresql+psycopg", "duckdb": "duckdb"}


#: A URL with a password in it (``scheme://user:password@host...``).
URL_WITH_PASSWORD = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s/@:'\"]*:[^\s@'\"]+@[^\s'\"]*")


def masked(text: str) -> str:
    """``text`` with the password of every URL in it replaced by ``***`` (for messages and logs)."""
    from sqlalchemy.engine import make_url

    def hide(match: re.Match[str]) -> str:
        try:
            return make_url(match.group(0)).render_as_string(hide_password=True)
        except Exception:  # not a SQLAlchemy URL: hide what sits between ':' and '@' all the same
            scheme, rest = match.group(0).split("://", 1)
            user, _, host = rest.partition("@")
            return f"{scheme}://{user.split(':', 1)[0]}:***@{host}"

    return URL_WITH_PASSWORD.sub(hide, text)


def variable(key: str) -> str | None:
    """An Airflow Variable (environment first, so tests and parsing never need the API); None if unset."""
    env = os.environ.get(f"AIRFLOW_VAR_{key.upper()}")
    if env is not None:
        return env
    from airflow.sdk import Variable
    from airflow.sdk.exceptions import AirflowRuntimeError, ErrorType

    try:
        value = Variable.get(key)
    except AirflowRuntimeError as exc:
        if exc.error.error == ErrorType.VARIABLE_NOT_FOUND:
            return None
        raise
    return None if value is None else str(value)


def connection(conn_id: str) -> Any | None:
    """The Airflow connection, or None when it is not defined."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return None


def warehouse_url(conn: Any) -> str:
    """A SQLAlchemy URL from an Airflow connection.

    ``extra.sqlalchemy_url`` wins when given (any backend); otherwise a
    ``postgres`` connection becomes ``postgresql+psycopg://`` and a ``duckdb``
    connection names its file in ``host`` or ``schema``.
    """
    import sqlalchemy as sa

    extra = conn.extra_dejson
    if extra.get("sqlalchemy_url"):
        return str(extra["sqlalchemy_url"])
    kind = (conn.conn_type or "").lower()
    driver = DRIVERS.get(kind)
    if driver is None:
        raise ValueError(f"connection {conn.conn_id} has type {conn.conn_type!r}; use postgres or duckdb, "
                         "or set extra.sqlalchemy_url")
    if driver == "duckdb":
        return f"duckdb:///{conn.host or conn.schema}"
    url = sa.engine.URL.create(driver, username=conn.login or None, password=conn.password or None,
                               host=conn.host or None, port=conn.port or None, database=conn.schema or None)
    return url.render_as_string(hide_password=False)


def load_settings() -> Settings:
    """The reconciliation settings for a task: the YAML, then Airflow's connections on top."""
    from reconciliation.config import DEFAULT_WAREHOUSE, SftpSource, load_settings
    from reconciliation.config import Settings as SettingsType

    path = variable("amcash_config") or os.environ.get("RECON_CONFIG")
    settings = load_settings(path) if path else SettingsType(state_dir=_default_state_dir())
    state_dir = variable("amcash_state_dir")
    if state_dir:  # where state lives is the deployment's choice (a volume shared by the workers)
        settings = replace(settings, state_dir=Path(state_dir))
    conn = connection(variable("amcash_warehouse_conn_id") or WAREHOUSE_CONN_ID)
    if conn is not None:
        settings = replace(settings, warehouse_url=warehouse_url(conn))
    elif settings.warehouse_url == DEFAULT_WAREHOUSE:  # relative to a worker's cwd: pin it to the state dir
        settings = replace(settings, warehouse_url=f"duckdb:///{settings.state_dir / 'warehouse.duckdb'}")
    sftp_id = variable("amcash_sftp_conn_id")
    if sftp_id:
        settings = replace(settings, sftp=replace(settings.sftp or SftpSource(), conn_id=sftp_id))
    return settings


def _default_state_dir() -> Path:
    return Path(os.environ.get("AIRFLOW_HOME", Path.home() / "airflow")) / "amcash"


def sftp_endpoint(settings: Settings) -> Endpoint:
    """The SFTP endpoint: the Airflow connection if it exists, else the YAML's ``sftp`` section.

    Credentials are resolved with the SFTP provider's ``SFTPHook`` (login,
    password, ``key_file`` or ``private_key`` extras, ``host_key``), so the
    connection is written exactly as for any SFTP task. The session itself is
    opened by ``reconciliation.transfer``, because it verifies the host key
    against the known-hosts file the connection's ``known_hosts`` extra (or the
    YAML) names and says which key it saw; the provider's own client only
    knows the system file and retries a refused key as if it were a network
    error. A connection that turns host key checking off is refused.
    """
    from reconciliation.config import SftpSource
    from reconciliation.errors import ConfigError
    from reconciliation.transfer import Endpoint, endpoint_from_source

    source = settings.sftp or SftpSource()
    conn = connection(source.conn_id)
    if conn is None:
        if settings.sftp is None:
            raise ConfigError(f"no Airflow connection {source.conn_id!r} and no sftp section in the "
                              "configuration: nowhere to fetch the files from")
        return endpoint_from_source(source)
    from airflow.providers.sftp.hooks.sftp import SFTPHook

    hook = SFTPHook(ssh_conn_id=source.conn_id)
    if hook.no_host_key_check or hook.allow_host_key_change:
        raise ConfigError(f"connection {source.conn_id} turns host key checking off; AM Cash files are only "
                          "fetched from servers whose host key is verified (set known_hosts or host_key)")
    known_hosts = conn.extra_dejson.get("known_hosts") or source.known_hosts
    return Endpoint(host=hook.remote_host, port=int(hook.port or 22), username=str(hook.username),
                    password=hook.password or None, key_file=hook.key_file, pkey=hook.pkey,
                    known_hosts=os.path.expanduser(known_hosts) if known_hosts else None,
                    host_keys=(hook.host_key,) if hook.host_key is not None else (),
                    timeout=float(hook.conn_timeout or 30))


def known_hosts_for(settings: Settings) -> str | None:
    """The known-hosts file a deferrable trigger should verify against (same rule as above)."""
    from reconciliation.config import SftpSource

    source = settings.sftp or SftpSource()
    conn = connection(source.conn_id)
    path = (conn.extra_dejson.get("known_hosts") if conn is not None else None) or source.known_hosts
    return os.path.expanduser(path) if path else None

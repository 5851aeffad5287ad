"""Facts about the warehouse itself (``warehouse_meta``), first of all the collector key's fingerprint.

Collector numbers reach the warehouse only as keyed hashes, and matching
across days and sponsors (the daily limit, reversal history) compares those
hashes. A run with another key hashes the same collector differently and
finds nothing to compare, silently. So the warehouse records a fingerprint
of the key it was first written with, and every run checks its own key
against it before writing anything.

The fingerprint is an HMAC of a fixed label under the key, cut to 16 hex
digits: it tells keys apart without revealing the key or a plain hash of it.
"""

from __future__ import annotations

import hashlib
import hmac

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from reconciliation.errors import KeyMismatch
from reconciliation.warehouse.failures import shown
from reconciliation.warehouse.schema import warehouse_meta

#: The ``warehouse_meta`` name of the collector key's fingerprint.
KEY_FINGERPRINT = "collector_key_fingerprint"

_LABEL = b"amcash collector key fingerprint"


def key_fingerprint(key: bytes) -> str:
    """A short, non-reversible identifier of the collector hash key."""
    return hmac.new(key, _LABEL, hashlib.sha256).hexdigest()[:16]


def read_meta(conn: Connection, name: str) -> str | None:
    """One ``warehouse_meta`` value, or None when it is not recorded."""
    return conn.execute(sa.select(warehouse_meta.c.value).where(warehouse_meta.c.name == name)
                        ).scalar_one_or_none()


def write_meta(conn: Connection, name: str, value: str) -> None:
    """Record or replace one ``warehouse_meta`` value (inside the caller's write transaction)."""
    conn.execute(warehouse_meta.delete().where(warehouse_meta.c.name == name))
    conn.execute(warehouse_meta.insert().values(name=name, value=value))


def check_key(conn: Connection, fingerprint: str) -> None:
    """Refuse a key whose fingerprint is not the one the warehouse was written with.

    Raises:
        KeyMismatch: another key wrote the warehouse.
    """
    recorded = read_meta(conn, KEY_FINGERPRINT)
    if recorded is not None and recorded != fingerprint:
        raise KeyMismatch(
            f"the collector hash key in use (fingerprint {fingerprint}) is not the key the warehouse "
            f"{shown(conn.engine.url)} was written with (fingerprint {recorded}), so nothing was "
            f"written; set RECON_HASH_KEY or the key file to the warehouse's key and run again")


def claim_key(conn: Connection, fingerprint: str) -> None:
    """Check the key and, at the warehouse's first write, record its fingerprint.

    Called inside every run's write transaction, under the write lock, so
    two first runs with different keys cannot both claim the warehouse.
    """
    check_key(conn, fingerprint)
    if read_meta(conn, KEY_FINGERPRINT) is None:
        write_meta(conn, KEY_FINGERPRINT, fingerprint)


__all__ = ["KEY_FINGERPRINT", "check_key", "claim_key", "key_fingerprint", "read_meta", "write_meta"]

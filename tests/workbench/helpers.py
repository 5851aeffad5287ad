"""Small helpers of the workbench tests: sign in, read the form token, pick breaks."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')


def sign_in(client: Any, token: str) -> None:
    """Put a JWT in the ``_token`` cookie, as Airflow's login does."""
    client.cookies.clear()
    client.cookies.set("_token", token)


def csrf(client: Any, path: str = "/breaks") -> str:
    """The form token of the signed-in session, read from a page."""
    page = client.get(path)
    assert page.status_code == 200, page.text[:500]
    found = CSRF.search(page.text)
    assert found, "the page has no form token"
    return found.group(1)


def query(url: str, sql: str, **params: Any) -> list[Any]:
    """Rows of a read-only query on the warehouse (the DuckDB file is opened and closed)."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return list(conn.execute(sa.text(sql), params).all())
    finally:
        engine.dispose()


def open_break(
    url: str, at_least: Decimal | None = None, below: Decimal | None = None, status: str = "OPEN"
) -> int:
    """The id of a current break in a status with its money at stake in a range."""
    rows = query(
        url,
        "SELECT b.break_id, abs(coalesce(b.delta_dollars, 0)) FROM recon_break b JOIN recon_run r "
        "ON r.run_id = b.run_id WHERE r.is_current AND b.status = :s AND b.break_id NOT IN "
        "(SELECT break_id FROM recon_approval WHERE status = 'PENDING') ORDER BY b.break_id",
        s=status,
    )
    for break_id, stake in rows:
        if (at_least is None or stake >= at_least) and (below is None or stake < below):
            return int(break_id)
    raise AssertionError(f"no {status} break in the seeded warehouse with stake in [{at_least}, {below})")

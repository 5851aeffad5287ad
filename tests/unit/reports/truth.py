"""What the warehouse says, in plain SQL, independent of the report code under test."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from html.parser import HTMLParser
from typing import Any

import sqlalchemy as sa

from reconciliation.warehouse.db import engine_for

RUN_BREAKS = """
    FROM recon_break b JOIN recon_run r ON r.run_id = b.run_id
    WHERE r.is_current AND b.sponsor_code = :s AND (b.business_date = :d OR b.run_id = :rid)
"""


def current_run(url: str, sponsor: str, day: date) -> dict[str, Any]:
    with engine_for(url).connect() as conn:
        return dict(conn.execute(sa.text(
            "SELECT * FROM recon_run WHERE sponsor_code = :s AND business_date = :d AND is_current"),
            {"s": sponsor, "d": day}).mappings().one())


def run_totals(url: str, sponsor: str, day: date) -> dict[str, Any]:
    """Breaks by type, money at stake, both sides' successful totals and pairs of a sponsor-day."""
    run = current_run(url, sponsor, day)
    args = {"s": sponsor, "d": day, "rid": run["run_id"]}
    with engine_for(url).connect() as conn:
        by_type = {t: (int(n), Decimal(m)) for t, n, m in conn.execute(sa.text(
            "SELECT b.break_type, COUNT(*), SUM(ABS(b.delta_dollars))" + RUN_BREAKS
            + " GROUP BY b.break_type"), args)}
        unresolved = conn.execute(sa.text("SELECT COUNT(*)" + RUN_BREAKS + " AND b.status <> 'RESOLVED'"),
                                  args).scalar_one()
        sides = {(side, txn): (int(n), int(mi), Decimal(d)) for side, txn, n, mi, d in conn.execute(sa.text(
            "SELECT side, txn_type, COUNT(*), SUM(miles), SUM(dollars) FROM recon_record "
            "WHERE run_id = :rid AND (side = 'PLATFORM' OR response_code IN ('0000', '0001')) "
            "GROUP BY side, txn_type"), args)}
        pairs = conn.execute(sa.text("SELECT COUNT(*) FROM recon_match WHERE run_id = :rid"),
                             args).scalar_one()
    return {"run": run, "by_type": by_type, "breaks": sum(n for n, _ in by_type.values()),
            "money": sum((m for _, m in by_type.values()), Decimal("0.00")), "unresolved": unresolved,
            "sides": sides, "pairs": pairs}


class _Values(HTMLParser):
    """Text of every element carrying ``data-k``."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, str] = {}
        self.stack: list[tuple[str, str | None]] = []
        self.break_ids: list[int] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("data-break"):
            self.break_ids.append(int(a["data-break"] or 0))
        self.stack.append((tag, a.get("data-k")))
        if a.get("data-k"):
            self.values[a["data-k"] or ""] = ""

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data: str) -> None:
        for _, key in self.stack:
            if key:
                self.values[key] += data


def html_values(html: str) -> tuple[dict[str, str], list[int]]:
    """``data-k`` values (stripped) and the break ids listed, in order."""
    parser = _Values()
    parser.feed(html)
    return {k: v.strip() for k, v in parser.values.items()}, parser.break_ids


def dollars(text: str) -> Decimal:
    """'$1,234.50' or '-$3.00' -> Decimal."""
    match = re.fullmatch(r"([-+]?)\$([\d,]+\.\d\d)", text.strip())
    assert match, text
    value = Decimal(match.group(2).replace(",", ""))
    return -value if match.group(1) == "-" else value

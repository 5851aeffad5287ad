"""Night and range views: failed sponsors first, totals equal the warehouse's, each break once."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa

from reconciliation.config import Settings
from reconciliation.reports.night import build_night, build_range, write_night, write_range
from reconciliation.warehouse.db import engine_for
from tests.unit.reports.conftest import Seeded
from tests.unit.reports.seed import FIRST_DAY, LAST_DAY
from tests.unit.reports.truth import dollars, html_values


def _current_breaks(url: str, start: object, end: object) -> tuple[int, Decimal, dict[str, Decimal]]:
    with engine_for(url).connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT b.sponsor_code, COUNT(*), SUM(ABS(b.delta_dollars)) FROM recon_break b JOIN recon_run r "
            "ON r.run_id = b.run_id WHERE r.is_current AND b.business_date BETWEEN :a AND :b "
            "GROUP BY b.sponsor_code"), {"a": start, "b": end}).all()
    by = {s: Decimal(m) for s, _, m in rows}
    return sum(n for _, n, _ in rows), sum(by.values(), Decimal("0.00")), by


def test_night_lists_failed_sponsors_first_and_totals_tie_to_the_warehouse(seeded: Seeded,
                                                                           tmp_path: Path) -> None:
    count, money, by_sponsor = _current_breaks(seeded.url, LAST_DAY, LAST_DAY)
    with engine_for(seeded.url).connect() as conn:
        night = build_night(conn, LAST_DAY, Settings())
    assert night.sponsors[0].sponsor == "QRST" and night.sponsors[0].failed
    assert night.sponsors[0].current is None
    assert night.money == money and sum(s.breaks for s in night.sponsors) == count
    assert {s.sponsor: s.money for s in night.sponsors if s.current} == by_sponsor
    path = write_night(engine_for(seeded.url), Settings(), LAST_DAY, tmp_path)
    values, _ = html_values(path.read_text())
    assert dollars(values["money_at_stake"]) == money
    assert dollars(values["money:ABCD"]) == by_sponsor["ABCD"]
    assert "T1 redeem_miles 9120" in path.read_text()


def test_range_counts_each_break_once_and_covers_every_day(seeded: Seeded, tmp_path: Path) -> None:
    start = FIRST_DAY - timedelta(days=2)
    count, money, by_sponsor = _current_breaks(seeded.url, start, LAST_DAY)
    with engine_for(seeded.url).connect() as conn:
        rng = build_range(conn, start, LAST_DAY)
    assert len(rng.days) == 17 and rng.days[0]["sponsors"] == 0
    assert rng.totals["breaks"] == count and rng.totals["money"] == money
    assert {s["sponsor"]: s["money"] for s in rng.sponsors if s["breaks"]} == by_sponsor
    assert sum((d["money"] for d in rng.days), Decimal("0.00")) == money
    assert rng.totals["failed"] == 1
    paths = write_range(engine_for(seeded.url), start, LAST_DAY, tmp_path)
    values, _ = html_values(paths["html"].read_text())
    assert dollars(values["money_at_stake"]) == money and int(values["breaks"]) == count
    assert len(paths["csv"].read_text().splitlines()) == 1 + len(rng.rows)

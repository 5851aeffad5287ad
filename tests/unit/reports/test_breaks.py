"""The break workflow: filters, history, resolving with an audit trail, resolutions surviving re-runs."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import polars as pl
import pytest
import sqlalchemy as sa

from reconciliation import breaks as workflow
from reconciliation.config import Settings
from reconciliation.errors import ReconError
from reconciliation.reports.model import build_run_report
from reconciliation.warehouse.context import restorable_breaks
from reconciliation.warehouse.db import engine_for, read_frame, write_transaction
from reconciliation.warehouse.schema import INITIAL_STATUS, recon_break, recon_break_event
from reconciliation.warehouse.writer import insert_breaks, insert_run, supersede
from tests.unit.reports.conftest import Seeded
from tests.unit.reports.seed import BREAK_COLS, LAST_DAY, run_clock
from tests.unit.reports.truth import current_run

NOW = datetime(2026, 11, 21, 14, 30, tzinfo=UTC)


def _ids(url: str, where: str, **params: object) -> list[int]:
    with engine_for(url).connect() as conn:
        return list(conn.execute(sa.text(
            "SELECT b.break_id FROM recon_break b JOIN recon_run r ON r.run_id = b.run_id "
            f"WHERE r.is_current AND {where} ORDER BY b.break_id"), params).scalars())


def _events(url: str, break_id: int) -> list[dict[str, object]]:
    with engine_for(url).connect() as conn:
        return workflow.history(conn, break_id)


def test_list_filters_match_the_warehouse(seeded: Seeded) -> None:
    cases: list[tuple[workflow.BreakFilter, str, dict[str, object]]] = [
        (workflow.BreakFilter(day=LAST_DAY, status="ALL", as_of=LAST_DAY), "b.business_date = :d", {}),
        (workflow.BreakFilter(sponsor="WXYZ", as_of=LAST_DAY),
         "b.sponsor_code = 'WXYZ' AND b.status IN ('PENDING', 'OPEN')", {}),
        (workflow.BreakFilter(break_type="MISSING_AT_PARTNER", status="OPEN", as_of=LAST_DAY),
         "b.break_type = 'MISSING_AT_PARTNER' AND b.status = 'OPEN'", {}),
        (workflow.BreakFilter(status="RESOLVED", as_of=LAST_DAY), "b.status = 'RESOLVED'", {}),
        (workflow.BreakFilter(min_age_days=7, as_of=LAST_DAY),
         "b.business_date <= :old AND b.status IN ('PENDING', 'OPEN')", {}),
    ]
    with engine_for(seeded.url).connect() as conn:
        for flt, where, _ in cases:
            got = workflow.list_breaks(conn, flt)
            want = _ids(seeded.url, where, d=LAST_DAY, old=LAST_DAY - timedelta(days=7))
            assert want and sorted(row["break_id"] for row in got) == want, where
    assert all(row["age_days"] >= 7 for row in got)


def test_the_listed_rows_are_the_report_table_row_for_row(seeded: Seeded) -> None:
    """``list_breaks`` orders and shapes rows itself; it must agree with the reports' ``breaks_table``."""
    from reconciliation.reports.columns import breaks_table
    from reconciliation.warehouse.schema import recon_break
    from reconciliation.zones import parse_zone

    zone = parse_zone("America/Toronto")
    for status in ("ALL", "UNRESOLVED"):
        flt = workflow.BreakFilter(status=status, as_of=LAST_DAY)
        with engine_for(seeded.url).connect() as conn:
            listed = workflow.list_breaks(conn, flt, zone)
            first = workflow.list_breaks(conn, flt, zone, limit=5)
            frame = read_frame(conn, sa.select(recon_break).where(*flt.where()))
        table = breaks_table(frame, zone, LAST_DAY).to_dicts()
        assert len(table) > 5 and listed == table, status
        assert first == table[:5]


def test_list_rejects_unknown_filters() -> None:
    with pytest.raises(ReconError, match="break type"):
        workflow.BreakFilter(break_type="NOPE")
    with pytest.raises(ReconError, match="status"):
        workflow.BreakFilter(status="CLOSED")


def test_resolve_writes_the_break_and_an_audit_row(mutable: Seeded) -> None:
    target = _ids(mutable.url, "b.status = 'OPEN'")[0]
    engine = engine_for(mutable.url)
    before = len(_events(mutable.url, target))
    resolved = workflow.resolve(engine, [target], note="credited in partner ledger", by="j.doe", now=NOW)
    assert resolved == [target]
    with engine.connect() as conn:
        row = workflow.get_break(conn, target)
    assert (row["status"], row["resolution"], row["resolved_by"], row["note"]) == (
        "RESOLVED", "RESOLVED_BY_USER", "j.doe", "credited in partner ledger")
    assert row["resolved_date"] == date(2026, 11, 21)  # 09:30 EST
    events = _events(mutable.url, target)
    assert len(events) == before + 1
    last = events[-1]
    assert (last["old_status"], last["new_status"], last["changed_by"], last["note"], last["run_id"],
            last["resolution"]) == ("OPEN", "RESOLVED", "j.doe", "credited in partner ledger", None,
                                    "RESOLVED_BY_USER")
    assert last["changed_at"] == NOW


def test_resolve_many_is_all_or_nothing(mutable: Seeded) -> None:
    open_ids = _ids(mutable.url, "b.status = 'OPEN'")[:3]
    done = _ids(mutable.url, "b.status = 'RESOLVED'")[0]
    engine = engine_for(mutable.url)
    for bad, message in ((done, "already resolved"), (999999, "not in the warehouse")):
        with pytest.raises(ReconError, match=message):
            workflow.resolve(engine, [*open_ids, bad], note="n", by="j.doe")
    assert _ids(mutable.url, "b.status = 'OPEN'")[:3] == open_ids
    assert workflow.resolve(engine, open_ids, note="batch", by="j.doe", resolution="written_off") == open_ids
    with engine.connect() as conn:
        assert {workflow.get_break(conn, i)["resolution"] for i in open_ids} == {"WRITTEN_OFF"}


def test_resolve_refuses_superseded_breaks_and_bad_input(mutable: Seeded) -> None:
    engine = engine_for(mutable.url)
    with engine.connect() as conn:
        old: int = conn.execute(sa.text(
            "SELECT MIN(b.break_id) FROM recon_break b JOIN recon_run r ON r.run_id = b.run_id "
            "WHERE NOT r.is_current")).scalar_one()
    with pytest.raises(ReconError, match="superseded version 1"):
        workflow.resolve(engine, [old], note="n", by="j.doe")
    target = _ids(mutable.url, "b.status = 'OPEN'")[0]
    for kwargs, message in (({"note": " "}, "note"), ({"by": ""}, "name"), ({"by": "run:7"}, "reserved"),
                            ({"resolution": "MATCHED_LATER"}, "MATCHED_LATER"),
                            ({"resolution": "no spaces allowed"}, "upper-case")):
        args = {"note": "n", "by": "j.doe", **kwargs}
        with pytest.raises(ReconError, match=message):
            workflow.resolve(engine, [target], **args)  # type: ignore[arg-type]


def test_bulk_resolve_by_type_and_date(mutable: Seeded) -> None:
    engine = engine_for(mutable.url)
    where = "b.break_type = 'MISSING_AT_PARTNER' AND b.business_date = :d AND b.status IN ('PENDING', 'OPEN')"
    wanted = _ids(mutable.url, where, d=LAST_DAY)
    assert wanted
    flt = workflow.BreakFilter(day=LAST_DAY, break_type="MISSING_AT_PARTNER")
    assert workflow.resolve_matching(engine, flt, note="n", by="j.doe", dry_run=True) == wanted
    assert _ids(mutable.url, where, d=LAST_DAY) == wanted
    assert workflow.resolve_matching(engine, flt, note="partner re-sent", by="j.doe") == wanted
    assert _ids(mutable.url, where, d=LAST_DAY) == []
    assert all(_events(mutable.url, i)[-1]["changed_by"] == "j.doe" for i in wanted)
    with pytest.raises(ReconError, match="--date"):
        workflow.resolve_matching(engine, workflow.BreakFilter(break_type="DUPLICATE"), note="n", by="x")


def _rerun(url: str, sponsor: str, day: date) -> int:
    """Re-run a day the way the engine writes it: a new current version re-raising the same breaks."""
    engine = engine_for(url)
    run = current_run(url, sponsor, day)
    with write_transaction(engine) as conn:
        previous = list(conn.execute(sa.text("SELECT run_id FROM recon_run WHERE sponsor_code = :s AND "
                                             "business_date = :d"), {"s": sponsor, "d": day}).scalars())
        raised = read_frame(conn, sa.select(recon_break).where(recon_break.c.run_id == run["run_id"]))
        again = raised.select(*BREAK_COLS).with_columns(
            status=pl.col("break_type").replace_strict(INITIAL_STATUS, return_dtype=pl.String))
        supersede(conn, sponsor, day)
        now = run_clock(day) + timedelta(days=2)
        new = insert_run(conn, {**{k: run[k] for k in run if k != "run_id"}, "version": run["version"] + 1,
                                "is_current": True, "started_at": now, "finished_at": now})
        insert_breaks(conn, again, run_id=new, sponsor=sponsor, previous_runs=previous, now=now)
    return new


def test_a_resolved_break_stays_resolved_when_its_day_is_run_again(mutable: Seeded) -> None:
    engine = engine_for(mutable.url)
    target = _ids(mutable.url, "b.sponsor_code = 'WXYZ' AND b.business_date = :d AND b.status = 'OPEN'",
                  d=LAST_DAY)[0]
    with engine.connect() as conn:
        key = workflow.get_break(conn, target)["break_key"]
    workflow.resolve(engine, [target], note="partner refunded the collector", by="a.finance", now=NOW)
    new_run = _rerun(mutable.url, "WXYZ", LAST_DAY)
    with engine.connect() as conn:
        twin = conn.execute(sa.select(recon_break).where(recon_break.c.break_key == key,
                                                         recon_break.c.run_id == new_run)).mappings().one()
        report = build_run_report(conn, new_run, Settings())
        with pytest.raises(ReconError, match=f"current version is break {twin['break_id']}"):
            workflow.resolve(engine, [target], note="n", by="x")
    assert (twin["status"], twin["resolution"], twin["resolved_by"], twin["note"]) == (
        "RESOLVED", "RESOLVED_BY_USER", "a.finance", "partner refunded the collector")
    events = _events(mutable.url, twin["break_id"])
    assert [(e["old_status"], e["new_status"], e["changed_by"]) for e in events] == [
        (None, "OPEN", f"run:{new_run}"), ("OPEN", "RESOLVED", "a.finance")]
    shown = report.breaks.filter(pl.col("break_id") == twin["break_id"])
    assert shown["status"].to_list() == ["RESOLVED"]


def test_a_person_resolution_is_not_undone_by_re_running_a_later_day(mutable: Seeded) -> None:
    """A re-run restores what the superseded run did to other days' breaks, but not what a person did."""
    engine = engine_for(mutable.url)
    with engine.connect() as conn:
        opened = conn.execute(sa.select(recon_break_event.c.break_id, recon_break_event.c.run_id).where(
            recon_break_event.c.new_status == "OPEN", recon_break_event.c.old_status == "PENDING")
        ).first()
        assert opened is not None
        assert opened.break_id in restorable_breaks(conn, [opened.run_id])["break_id"].to_list()
    workflow.resolve(engine, [opened.break_id], note="checked with partner", by="j.doe", now=NOW)
    with engine.connect() as conn:
        assert opened.break_id not in restorable_breaks(conn, [opened.run_id])["break_id"].to_list()


def test_a_regenerated_report_shows_what_was_open_that_morning(mutable: Seeded) -> None:
    engine = engine_for(mutable.url)
    run_id = current_run(mutable.url, "ABCD", LAST_DAY)["run_id"]
    with engine.connect() as conn:
        before = build_run_report(conn, run_id, Settings()).carried
    target = int(before["break_id"][0])
    workflow.resolve(engine, [target], note="late fix", by="j.doe", now=NOW + timedelta(days=1))
    with engine.connect() as conn:
        after = build_run_report(conn, run_id, Settings()).carried
    assert after["break_id"].to_list() == before["break_id"].to_list()
    row = after.filter(pl.col("break_id") == target).row(0, named=True)
    assert (row["status_then"], row["status"], row["resolved_by"]) == ("OPEN", "RESOLVED", "j.doe")
    with engine.connect() as conn:
        now_view = build_run_report(conn, _rerun(mutable.url, "ABCD", LAST_DAY), Settings()).carried
    assert target not in now_view["break_id"].to_list()

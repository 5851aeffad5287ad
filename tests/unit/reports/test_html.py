"""The run report's HTML: totals equal the warehouse's, nothing external, collectors masked."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciliation.config import Settings
from reconciliation.reports import write_run_reports
from reconciliation.reports.html import money, number, render_run
from reconciliation.reports.model import build_run_report
from reconciliation.warehouse.db import engine_for
from tests.unit.reports.conftest import Seeded
from tests.unit.reports.seed import LAST_DAY
from tests.unit.reports.truth import current_run, dollars, html_values, run_totals

#: Anything that would make a browser reach out: schemes, protocol-relative
#: references, CSS imports and url(), and tags that load resources.
EXTERNAL = re.compile(r"https?:|ftp:|//[a-z0-9]|@import|url\(|<script|<link|<iframe|<img|<object|<embed|"
                      r"src=|srcset=|xlink:href|xmlns", re.IGNORECASE)


@pytest.fixture(scope="module")
def reports(seeded: Seeded, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Path]]:
    """ABCD's and WXYZ's reports of the last night, written once per backend."""
    out = tmp_path_factory.mktemp("reports")
    engine = engine_for(seeded.url)
    return {s: write_run_reports(engine, current_run(seeded.url, s, LAST_DAY)["run_id"], Settings(), out)
            for s in ("ABCD", "WXYZ")}


@pytest.mark.parametrize("sponsor", ["ABCD", "WXYZ"])
def test_html_totals_equal_the_warehouse(seeded: Seeded, reports: dict[str, dict[str, Path]],
                                         sponsor: str) -> None:
    truth = run_totals(seeded.url, sponsor, LAST_DAY)
    values, break_ids = html_values(reports[sponsor]["html"].read_text())
    assert dollars(values["money_at_stake"]) == truth["money"] > 0
    assert int(values["breaks"]) == truth["breaks"] == len(break_ids)
    assert int(values["unresolved"]) == truth["unresolved"]
    assert int(values["matched_pairs"]) == truth["pairs"]
    for break_type, (count, stake) in truth["by_type"].items():
        assert int(values[f"count:{break_type}"]) == count
        assert dollars(values[f"money:{break_type}"]) == stake
    for side, key in (("PARTNER", "partner"), ("PLATFORM", "platform")):
        for txn, label in (("REDEEM", "Redemptions"), ("REVERSE", "Reversals")):
            n, miles, amount = truth["sides"].get((side, txn), (0, 0, Decimal("0.00")))
            assert int(values[f"{key}:{label}: count"].replace(",", "")) == n
            assert int(values[f"{key}:{label}: miles"].replace(",", "")) == miles
            assert dollars(values[f"{key}:{label}: dollars"]) == amount
    ties = all(truth["sides"].get(("PARTNER", t)) == truth["sides"].get(("PLATFORM", t))
               for t in ("REDEEM", "REVERSE"))
    assert values["ties"] == ("Tie" if ties else "Do not tie")


def test_html_header_names_sponsor_date_version_and_checksums(seeded: Seeded,
                                                              reports: dict[str, dict[str, Path]]) -> None:
    run = current_run(seeded.url, "ABCD", LAST_DAY)
    html = reports["ABCD"]["html"].read_text()
    assert "Sponsor ABCD" in html and str(LAST_DAY) in html and f"v{run['version']}" in html
    for side in ("partner", "platform"):
        assert run[f"{side}_file"] in html and run[f"{side}_sha256"] in html
    assert "v1 succeeded · v2 succeeded (current)" in html


def test_html_references_nothing_external(reports: dict[str, dict[str, Path]]) -> None:
    for paths in reports.values():
        for kind in ("html", "night"):
            html = paths[kind].read_text()
            assert not EXTERNAL.search(html), EXTERNAL.search(html)
            assert html.count("<svg") >= 2


def test_html_shows_collectors_as_last_four_digits_only(seeded: Seeded,
                                                        reports: dict[str, dict[str, Path]]) -> None:
    html = reports["ABCD"]["html"].read_text()
    shown = re.findall(r"\*{4}(\d+)", html)
    assert shown and all(len(d) == 4 for d in shown)
    assert not re.search(r"\d{13,19}", re.sub(r"<[^>]+>", " ", html).replace(" ", ""))


def test_carried_open_breaks_are_those_open_when_the_run_finished(seeded: Seeded) -> None:
    with engine_for(seeded.url).connect() as conn:
        report = build_run_report(conn, current_run(seeded.url, "ABCD", LAST_DAY)["run_id"], Settings())
        from sqlalchemy import text
        resolved_later = conn.execute(text(
            "SELECT COUNT(*) FROM recon_break b JOIN recon_run r ON r.run_id = b.run_id WHERE r.is_current "
            "AND b.sponsor_code = 'ABCD' AND b.business_date < :d AND b.status IN ('PENDING', 'OPEN')"),
            {"d": LAST_DAY}).scalar_one()
    carried = report.carried
    assert carried.height == resolved_later  # nothing changed after the last run in the seed
    assert (carried["business_date"] < LAST_DAY).all()
    assert set(carried["status_then"].to_list()) <= {"PENDING", "OPEN"}
    assert sum(g.count for g in report.aging) == carried.height
    assert report.aging[0].count == carried.filter(carried["age_days"] == 1).height


def test_history_covers_fourteen_days_and_marks_days_without_runs(seeded: Seeded) -> None:
    with engine_for(seeded.url).connect() as conn:
        report = build_run_report(conn, current_run(seeded.url, "WXYZ", LAST_DAY)["run_id"], Settings())
    assert len(report.history) == 14 and report.history[-1].day == LAST_DAY
    assert [p.state for p in report.history[-3:]] == ["current"] * 3
    assert {p.state for p in report.history[:-3]} == {"none"}
    assert report.history[-1].money == report.money_at_stake


def test_reports_of_a_superseded_version_show_its_own_breaks(seeded: Seeded) -> None:
    from sqlalchemy import text
    with engine_for(seeded.url).connect() as conn:
        old = conn.execute(text("SELECT run_id FROM recon_run WHERE sponsor_code = 'ABCD' AND "
                                "business_date = :d AND version = 1"), {"d": LAST_DAY}).scalar_one()
        count = conn.execute(text("SELECT COUNT(*) FROM recon_break WHERE run_id = :r"),
                             {"r": old}).scalar_one()
        report = build_run_report(conn, old, Settings())
    html = render_run(report)
    assert report.breaks.height == count
    assert "superseded" in html


def test_money_formatting_is_exact() -> None:
    assert money(Decimal("1234.5")) == "$1,234.50"
    assert money(Decimal("-0.10"), signed=True) == "-$0.10"
    assert money(Decimal("3"), signed=True) == "+$3.00"
    assert money(None) == ""


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.none(), st.decimals(min_value=-10**9, max_value=10**9, places=2)), max_size=20),
       st.lists(st.one_of(st.none(), st.integers(min_value=-10**12, max_value=10**12)), max_size=20))
def test_break_list_formats_money_and_numbers_like_the_rest_of_the_page(
        amounts: list[Decimal | None], counts: list[int | None]) -> None:
    from reconciliation.reports.html import _money, _number

    money_frame = pl.DataFrame({"v": amounts}, schema={"v": pl.Decimal(12, 2)})
    for signed in (False, True):
        assert money_frame.select(_money(pl.col("v"), signed)).to_series().to_list() == [
            money(a, signed=signed) for a in amounts]
    count_frame = pl.DataFrame({"v": counts}, schema={"v": pl.Int64})
    assert count_frame.select(_number(pl.col("v"))).to_series().to_list() == [number(c) for c in counts]


def test_reports_refuse_runs_that_did_not_succeed(seeded: Seeded) -> None:
    from sqlalchemy import text

    from reconciliation.errors import ReconError
    with engine_for(seeded.url).connect() as conn:
        rejected = conn.execute(text("SELECT run_id FROM recon_run WHERE status = 'REJECTED'")).scalar_one()
        with pytest.raises(ReconError, match="REJECTED"):
            build_run_report(conn, rejected, Settings())
        with pytest.raises(ReconError, match="not in the warehouse"):
            build_run_report(conn, 99999, Settings())


def test_reports_are_written_where_promised(seeded: Seeded, reports: dict[str, dict[str, Path]]) -> None:
    paths = reports["ABCD"]
    version = current_run(seeded.url, "ABCD", LAST_DAY)["version"]
    folder = paths["html"].parent
    assert folder.parts[-3:] == ("ABCD", LAST_DAY.isoformat(), f"v{version}")
    assert {p.name for p in folder.iterdir()} == {
        "report.html", "breaks.xlsx", "breaks.csv", f"AMCASH_RESULT_ABCD_{LAST_DAY:%Y%m%d}_{version:03d}.txt"}
    assert paths["night"].name == f"{LAST_DAY}.html"
    assert isinstance(LAST_DAY, date)


def test_rejected_rows_escape_each_cell_as_markupsafe_would() -> None:
    from markupsafe import escape

    from reconciliation.reports.html import rejected_rows, title

    rows = [{"side": "PARTNER", "file_name": "A&B<x>.txt", "line_number": 7,
             "reason": "bad \"quote\" 'x' <b>"},
            {"side": "PLATFORM", "file_name": "f", "line_number": 123456789, "reason": "ünïcode — ok"}]
    one_by_one = "".join(
        f'<tr><td>{escape(title(x["side"]))}</td><td class="mono">{escape(x["file_name"])}</td>'
        f'<td class="n">{escape(x["line_number"])}</td><td>{escape(x["reason"])}</td></tr>' for x in rows)
    assert str(rejected_rows(rows)) == one_by_one
    assert str(rejected_rows([])) == ""

"""Inline SVG charts: readable axes, escaped labels, no URL."""

from __future__ import annotations

from decimal import Decimal

from reconciliation.reports import charts


def test_axes_end_on_round_numbers() -> None:
    assert [charts.nice_top(v) for v in (0, 3, 7, 10, 11, 180, Decimal("1234.56"))] == [
        1, 5, 10, 10, 20, 200, 2000]
    assert charts.ticks(Decimal(200)) == [0, 50, 100, 150, 200]
    assert charts.ticks(Decimal(500)) == [0, 100, 200, 300, 400, 500]


def test_charts_escape_labels_and_reference_nothing() -> None:
    bars = charts.hbars([charts.Bar("<script>x</script>", 3, "3 · $1.00"),
                         charts.Bar("zero", 0, "0")], label="t")
    cols = charts.columns([charts.Column("11-20", ((Decimal("12.50"), "#000", "a & b"),), text="$12")],
                          label="c")
    line = charts.line([("a", 1), ("b", 4)], label="l")
    for svg in (bars, cols, line):
        assert svg.startswith("<svg") and "http" not in svg and "<script" not in svg
    assert "&lt;script&gt;" in bars and "a &amp; b" in cols
    assert "No breaks" in charts.hbars([], label="empty")
